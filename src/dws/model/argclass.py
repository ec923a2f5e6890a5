"""Classifying the arguments of `dws run`: pure rules, no I/O.

Each argument is looked at for a path: a positional token, the value after an option
(``--out data/x``), the part after ``=`` (``--out=data/x``, ``data.path=data/x``), the value
attached to a one-letter option (``-odata/x``), each part of a comma-separated list
(``--in a.csv,b.csv``) and each match of a glob (``'data/*.csv'``). What a path is depends
on the resource it lies in and what lineage knows about it (see ``PathFacts``); everything
that is not a path inside a resource is a parameter.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from msgspec import Struct

from dws.model.roles import Role

_NUMBER_RE = re.compile(r"-\d[\d._eE+-]*|-\.\d+")
_SECRET_NAME_RE = re.compile(r"SECRET|TOKEN|PASSW|CREDENTIAL|(^|_)KEY($|_)|AUTH", re.IGNORECASE)
_URL_CREDENTIALS_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^/@\s]*:[^/@\s]*@")
_GLOB_CHARS = frozenset("*?[")
_ATTACHED_RE = re.compile(r"-([A-Za-z])(.+)")
_EXTENSION_RE = re.compile(r"[^./]\.[A-Za-z][A-Za-z0-9_]*$")
_KEY_RE = re.compile(r"(\+\+|\+|~)?[A-Za-z_][A-Za-z0-9_.-]*")


def looks_secret(name: str) -> bool:
    """True for names such as ``AWS_SECRET_ACCESS_KEY``, ``--api-key`` or ``password``."""
    return bool(_SECRET_NAME_RE.search(name.lstrip("-").replace("-", "_")))


def secret_arguments(classified: list[Classified]) -> list[str]:
    """Arguments that would put a secret in the run record: the value of an option named
    like a secret (``--password X``, ``--api-key=X``) or a URL with ``user:password@``."""
    found = []
    for item in classified:
        if item.option is not None and looks_secret(item.option):
            found.append(item.option)
        elif _URL_CREDENTIALS_RE.search(item.token):
            found.append("a URL with a password")
    return found


class ArgKind(StrEnum):
    """What an argument turned out to be."""

    PROGRAM = "program"
    CODE = "code"
    INPUT = "input"
    OUTPUT = "output"
    PARAM = "param"
    FLAG = "flag"
    AMBIGUOUS = "ambiguous"


class PathFacts(Struct, frozen=True):
    """What is known about a path inside a resource. ``key`` is the workspace-relative
    path (the key of overrides and remembered answers)."""

    key: str
    resource: str
    path: str
    role: Role
    exists: bool
    produced_by_other_step: bool = False
    output_of_this_step: bool = False
    remembered: ArgKind | None = None


@dataclass(frozen=True)
class Classified:
    """One argument: ``value`` is the part that was classified (after ``=`` for
    ``--opt=value``), ``option`` the option it belongs to, if any."""

    index: int
    token: str
    value: str
    option: str | None
    kind: ArgKind
    facts: PathFacts | None
    reason: str


FactsLookup = Callable[[str], PathFacts | None]
GlobExpand = Callable[[str], list[str]]
"""Given a token with glob characters, the existing paths it matches, as tokens relative
to the same directory (a relative glob gives relative matches)."""


class _Rules(Struct, frozen=True):
    """What classifying a value needs besides the value itself."""

    lookup: FactsLookup
    overrides: dict[str, ArgKind]
    expand: GlobExpand | None


def is_option(token: str) -> bool:
    """True for ``-x`` / ``--name`` tokens (a negative number is a value, ``-`` is stdin)."""
    return token.startswith("-") and token != "-" and not _NUMBER_RE.fullmatch(token)


def looks_like_path(value: str) -> bool:
    """A missing path is only taken for an output when it looks like one (has a '/' or an
    extension); a bare word such as ``5`` or ``adam`` stays a parameter."""
    base = value.rstrip("/").rsplit("/", 1)[-1]
    return "/" in value or ("." in base.strip("."))


def is_glob(value: str) -> bool:
    """True for a value with glob characters (``*``, ``?``, ``[``) that is not a URL."""
    return "://" not in value and not _GLOB_CHARS.isdisjoint(value)


def looks_like_attached_path(value: str) -> bool:
    """The value of ``-odata/x.csv``: it has a '/' or ends in an extension (``.csv``), so
    numbers (``-n1.5``) and bundled flags (``-xvf``) are not taken for paths."""
    return "/" in value or _EXTENSION_RE.search(value) is not None


def split_key_value(token: str) -> tuple[str, str] | None:
    """``key=value`` (Hydra style: ``data.path=x``, ``+out=x``, ``~key=x``) as
    ``(key, value)``, or None when the part before ``=`` is not an identifier."""
    key, equals, value = token.partition("=")
    if not equals or not value or not _KEY_RE.fullmatch(key):
        return None
    return key, value


def classify_path(facts: PathFacts, overrides: dict[str, ArgKind]) -> tuple[ArgKind, str]:
    """The kind of a path inside a resource, and why."""
    if facts.key in overrides:
        return overrides[facts.key], "given with -i/-o"
    if facts.role is Role.CODE:
        return (
            (ArgKind.CODE, "a file in a code resource")
            if facts.exists
            else (
                ArgKind.PARAM,
                "not an existing file",
            )
        )
    if facts.role is Role.SOURCE_DATA:
        return ArgKind.INPUT, "in source-data"
    if facts.remembered is not None:
        return facts.remembered, "remembered answer for this step"
    if not facts.exists:
        return ArgKind.OUTPUT, f"missing path in {facts.role.value}"
    if facts.output_of_this_step:
        return ArgKind.OUTPUT, "an output of an earlier run of this step"
    if facts.produced_by_other_step:
        return ArgKind.INPUT, "produced by an earlier step"
    return ArgKind.AMBIGUOUS, f"existing path in {facts.role.value} that no step produced"


def _facts(value: str, rules: _Rules) -> PathFacts | None:
    return rules.lookup(value) if value and "://" not in value else None


def _known(facts: PathFacts | None, overrides: dict[str, ArgKind]) -> bool:
    """A path that is there (or named with -i/-o) is taken as it is, never split."""
    return facts is not None and (facts.exists or facts.key in overrides)


def _names_a_path(items: list[Classified]) -> bool:
    return any(item.kind is not ArgKind.PARAM for item in items)


def _classify_value(
    index: int,
    token: str,
    value: str,
    option: str | None,
    facts: PathFacts | None,
    overrides: dict[str, ArgKind],
) -> Classified:
    if facts is None:
        return Classified(index, token, value, option, ArgKind.PARAM, None, "not in a resource")
    if not facts.exists and facts.key not in overrides and not looks_like_path(value):
        return Classified(index, token, value, option, ArgKind.PARAM, facts, "not a path")
    kind, reason = classify_path(facts, overrides)
    return Classified(index, token, value, option, kind, facts, reason)


def classify_match(facts: PathFacts, overrides: dict[str, ArgKind]) -> tuple[ArgKind, str]:
    """The kind of a path a glob matched: a glob is read, never written, so what would be
    an output or ambiguous is an input (-i/-o still win)."""
    kind, reason = classify_path(facts, overrides)
    if facts.key in overrides:
        return kind, reason
    if kind in (ArgKind.OUTPUT, ArgKind.AMBIGUOUS):
        return ArgKind.INPUT, "matched by a glob (read, not written)"
    return kind, f"{reason}, matched by a glob"


def _classify_glob(
    index: int, token: str, value: str, option: str | None, rules: _Rules
) -> list[Classified]:
    """One item per match inside a resource; a parameter when nothing matches."""
    matches = dict.fromkeys(rules.expand(value)) if rules.expand is not None else {}
    items = []
    for match in matches:
        facts = _facts(match, rules)
        if facts is not None:
            kind, reason = classify_match(facts, rules.overrides)
            items.append(Classified(index, token, match, option, kind, facts, reason))
    if items:
        return items
    reason = "a glob that matches nothing in a resource" if rules.expand else "a glob"
    return [Classified(index, token, value, option, ArgKind.PARAM, None, reason)]


def _classify_part(
    index: int, token: str, value: str, option: str | None, rules: _Rules
) -> list[Classified]:
    """A single value: a path, a glob, or a parameter."""
    facts = _facts(value, rules)
    if is_glob(value) and not _known(facts, rules.overrides):
        return _classify_glob(index, token, value, option, rules)
    return [_classify_value(index, token, value, option, facts, rules.overrides)]


def _classify_values(
    index: int, token: str, value: str, option: str | None, rules: _Rules
) -> list[Classified]:
    """A value, or each part of a comma-separated list when the whole is not a path that
    is there and a part is a path (``--in a.csv,b.csv``)."""
    if "," in value and not _known(_facts(value, rules), rules.overrides):
        parts = [part for part in value.split(",") if part]
        items = [
            item for part in parts for item in _classify_part(index, token, part, option, rules)
        ]
        if _names_a_path(items):
            return items
    return _classify_part(index, token, value, option, rules)


def _classify_attached(index: int, token: str, rules: _Rules) -> list[Classified]:
    """``-idata/a.csv``: the value of a one-letter option written without a space; empty
    when the rest is not a path inside a resource (``-xvf`` stays a flag)."""
    match = _ATTACHED_RE.fullmatch(token)
    if match is None or not looks_like_attached_path(match[2]):
        return []
    items = _classify_values(index, token, match[2], f"-{match[1]}", rules)
    return items if _names_a_path(items) else []


def _classify_key_value(index: int, token: str, rules: _Rules) -> list[Classified]:
    """``data.path=data/a.csv``: the value classified like ``--opt=value`` with the key as
    the option; empty when the value is not a path (``a=b`` stays one parameter)."""
    split = split_key_value(token)
    if split is None or _known(_facts(token, rules), rules.overrides):
        return []
    items = _classify_values(index, token, split[1], split[0], rules)
    return items if _names_a_path(items) else []


def classify_argv(
    argv: list[str],
    lookup: FactsLookup,
    overrides: dict[str, ArgKind] | None = None,
    *,
    expand: GlobExpand | None = None,
) -> list[Classified]:
    """Classify every token of ``argv``, in order; ``overrides`` (from -i/-o) win over the
    rules. A token gives one item, or one per path it names (each match of a glob, each
    part of a list), all with the token's index. Without ``expand`` a glob is a parameter."""
    rules = _Rules(lookup, overrides or {}, expand)
    out: list[Classified] = []
    pending_option: str | None = None
    options_done = False
    for index, token in enumerate(argv):
        if index == 0:
            facts = lookup(token)
            if facts is not None and facts.role is Role.CODE and facts.exists:
                out.append(Classified(0, token, token, None, ArgKind.CODE, facts, "the program"))
            else:
                out.append(Classified(0, token, token, None, ArgKind.PROGRAM, None, "the program"))
            continue
        if not options_done and token == "--":
            options_done, pending_option = True, None
            out.append(Classified(index, token, token, None, ArgKind.FLAG, None, "end of options"))
            continue
        if not options_done and is_option(token):
            name, equals, value = token.partition("=")
            attached = [] if equals else _classify_attached(index, token, rules)
            if equals:
                out.extend(_classify_values(index, token, value, name, rules))
            elif attached:
                out.extend(attached)
            else:
                out.append(Classified(index, token, token, None, ArgKind.FLAG, None, "an option"))
            pending_option = None if equals or attached else token
            continue
        keyed = _classify_key_value(index, token, rules)
        out.extend(keyed or _classify_values(index, token, token, pending_option, rules))
        pending_option = None
    return out


def parameters(classified: list[Classified]) -> dict[str, str | bool]:
    """Parameters of a command line: ``--epochs 5`` and ``--epochs=5`` give
    ``{"epochs": "5"}``, a bare ``--verbose`` gives ``{"verbose": True}``, a positional
    value at index 3 gives ``{"arg3": value}``. The parameter parts of one list are joined
    again with commas."""
    params: dict[str, str | bool] = {}
    owners: dict[str, int] = {}
    for i, item in enumerate(classified):
        if item.kind is ArgKind.FLAG and item.token != "--":
            following = classified[i + 1] if i + 1 < len(classified) else None
            takes_value = following is not None and following.option == item.token
            if not takes_value:
                params[_param_name(item.token)] = True
        elif item.kind is ArgKind.PARAM:
            name = _param_name(item.option) if item.option else f"arg{item.index}"
            earlier = params.get(name) if owners.get(name) == item.index else None
            params[name] = f"{earlier},{item.value}" if isinstance(earlier, str) else item.value
            owners[name] = item.index
    return params


def _param_name(option: str) -> str:
    return option.lstrip("-") or option
