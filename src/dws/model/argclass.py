"""Classifying the arguments of `dws run` (DESIGN §5): pure rules, no I/O.

Each argument is looked at for a path: a positional token, the value after an option
(``--out data/x``), or the part after ``=`` (``--out=data/x``). What a path is depends on
the resource it lies in and what lineage knows about it (see ``PathFacts``); everything
that is not a path inside a resource is a parameter.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from dws.model.roles import Role

_NUMBER_RE = re.compile(r"-\d[\d._eE+-]*|-\.\d+")
_SECRET_NAME_RE = re.compile(r"SECRET|TOKEN|PASSW|CREDENTIAL|(^|_)KEY($|_)|AUTH", re.IGNORECASE)
_URL_CREDENTIALS_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^/@\s]*:[^/@\s]*@")


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


@dataclass(frozen=True)
class PathFacts:
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


def is_option(token: str) -> bool:
    """True for ``-x`` / ``--name`` tokens (a negative number is a value, ``-`` is stdin)."""
    return token.startswith("-") and token != "-" and not _NUMBER_RE.fullmatch(token)


def looks_like_path(value: str) -> bool:
    """A missing path is only taken for an output when it looks like one (has a '/' or an
    extension); a bare word such as ``5`` or ``adam`` stays a parameter."""
    base = value.rstrip("/").rsplit("/", 1)[-1]
    return "/" in value or ("." in base.strip("."))


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


def _classify_value(
    index: int,
    token: str,
    value: str,
    option: str | None,
    lookup: FactsLookup,
    overrides: dict[str, ArgKind],
) -> Classified:
    facts = lookup(value) if value and "://" not in value else None
    if facts is None:
        return Classified(index, token, value, option, ArgKind.PARAM, None, "not in a resource")
    if not facts.exists and facts.key not in overrides and not looks_like_path(value):
        return Classified(index, token, value, option, ArgKind.PARAM, facts, "not a path")
    kind, reason = classify_path(facts, overrides)
    return Classified(index, token, value, option, kind, facts, reason)


def classify_argv(
    argv: list[str], lookup: FactsLookup, overrides: dict[str, ArgKind] | None = None
) -> list[Classified]:
    """Classify every token of ``argv``; ``overrides`` (from -i/-o) win over the rules."""
    overrides = overrides or {}
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
            if equals:
                out.append(_classify_value(index, token, value, name, lookup, overrides))
                pending_option = None
            else:
                out.append(Classified(index, token, token, None, ArgKind.FLAG, None, "an option"))
                pending_option = token
            continue
        out.append(_classify_value(index, token, token, pending_option, lookup, overrides))
        pending_option = None
    return out


def parameters(classified: list[Classified]) -> dict[str, str | bool]:
    """Parameters of a command line: ``--epochs 5`` and ``--epochs=5`` give
    ``{"epochs": "5"}``, a bare ``--verbose`` gives ``{"verbose": True}``, a positional
    value at index 3 gives ``{"arg3": value}``."""
    params: dict[str, str | bool] = {}
    for i, item in enumerate(classified):
        if item.kind is ArgKind.FLAG and item.token != "--":
            following = classified[i + 1] if i + 1 < len(classified) else None
            takes_value = following is not None and following.option == item.token
            if not takes_value:
                params[_param_name(item.token)] = True
        elif item.kind is ArgKind.PARAM:
            name = _param_name(item.option) if item.option else f"arg{item.index}"
            params[name] = item.value
    return params


def _param_name(option: str) -> str:
    return option.lstrip("-") or option
