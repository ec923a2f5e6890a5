"""What the fuzz tests share: hypothesis settings (bounded in CI, long with
DWS_FUZZ_EXAMPLES), the refusal contract of a decoder, mutation strategies and the corpus.

The contract of every decoder of something read from `.dataworkspace/` or a remote: on any
input it returns a value or raises FormatError/IntegrityError (never another exception);
whatever it accepts satisfies the validation invariants and re-encodes canonically.
"""

from __future__ import annotations

import json
import os
import random
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from dws.errors import FormatError, IntegrityError

T = TypeVar("T")

CORPUS = Path(__file__).resolve().parent / "corpus"
REFUSALS = (FormatError, IntegrityError)
LONG_EXAMPLES = int(os.environ.get("DWS_FUZZ_EXAMPLES", "0") or 0)


def fuzz_settings(ci_examples: int) -> settings:
    """``ci_examples`` per test in CI (derandomized, so CI is reproducible); with
    DWS_FUZZ_EXAMPLES=N (``make fuzz``), N random examples per test."""
    return settings(
        max_examples=LONG_EXAMPLES or ci_examples,
        derandomize=not LONG_EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.filter_too_much,
            HealthCheck.large_base_example,
        ],
    )


def decode_or_none(decoder: Callable[[bytes], T], data: bytes) -> T | None:
    """The decoded value, or None when the decoder refused the input with a documented
    error; any other exception propagates and fails the test."""
    try:
        return decoder(data)
    except REFUSALS:
        return None


# ---- corpus ---------------------------------------------------------------------------


def corpus_files(decoder: str) -> list[Path]:
    """The corpus of one decoder: ``accept-*`` files must decode, ``refuse-*`` must not."""
    folder = CORPUS / decoder
    return sorted(p for p in folder.iterdir() if p.name.startswith(("accept-", "refuse-")))


def corpus_seeds(decoder: str) -> list[bytes]:
    """The accepted inputs of a decoder's corpus: the seeds mutations start from."""
    return [p.read_bytes() for p in corpus_files(decoder) if p.name.startswith("accept-")]


def all_corpus_cases() -> Iterator[tuple[str, Path]]:
    """(decoder, file) for every corpus file."""
    for folder in sorted(CORPUS.iterdir()):
        if folder.is_dir():
            for path in corpus_files(folder.name):
                yield folder.name, path


# ---- hostile values and fragments -----------------------------------------------------

DEEP = 5000

HOSTILE_STRINGS = [
    "",
    ".",
    "..",
    "../x",
    "../../../../tmp/evil",
    "/etc/passwd",
    "/",
    "a/../../b",
    "a//b",
    "a/",
    ".dataworkspace",
    "sub/.dataworkspace/x",
    "a\x00b",
    "\x00",
    "\x1b[2J\x1b[31mred",
    "\u202eevil",
    "é日本",
    "x" * 5000,
    "HEAD",
    "-rf",
    "a\nb",
    "0" * 64,
    "f" * 63,
    "F" * 64,
    "g" * 64,
    " " + "a" * 63,
]

HOSTILE_VALUES: list[Any] = [
    *HOSTILE_STRINGS,
    None,
    True,
    False,
    0,
    -1,
    1,
    2,
    2**31,
    2**62,
    2**63,
    2**64,
    -(2**63),
    10**30,
    10**1000,
    0.5,
    -0.0,
    1e308,
    [],
    {},
    [1],
    {"": None},
    ["../x"],
    {"../x": "../y"},
]

# textual fragments spliced into encodings (byte-level: JSON cannot express them all)
HOSTILE_FRAGMENTS = [
    b"\xff",
    b"\xfe\xff",
    b"\xef\xbb\xbf",
    b"\xed\xa0\x80",
    b"\xc0\x80",
    b"\x00",
    b"\\u0000",
    b"\\ud800",
    b"\\udc00\\ud800",
    b'"',
    b"\\",
    b",",
    b"}",
    b"]",
    b"[" * DEEP,
    b'{"a":' * 200,
    b"9" * 400,
    b"9" * 5000,
    b"1e400",
    b"-",
    b"NaN",
    b"Infinity",
    b"null",
    b"true",
    b'"../../x"',
    b'"/abs"',
    b'".dataworkspace"',
    b" ",
    b"\n",
]


# a value nested too deep for Python's json module, spliced in as text
DEEP_MARKER = "__deeply_nested__"
DEEP_JSON = b"[" * DEEP + b"]" * DEEP


# ---- JSON-level mutations -------------------------------------------------------------


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _paths(child, (*prefix, index))


def _get(value: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        value = value[part]
    return value


def mutate_json(doc: Any, rng: random.Random, hostile: Any) -> Any:
    """One structural change at a random node: replace it, delete it, add an unknown key,
    or wrap it (lists and objects in place of scalars)."""
    paths = list(_paths(doc))
    path = paths[rng.randrange(len(paths))]
    if not path:
        return hostile if rng.random() < 0.5 else doc
    parent = _get(doc, path[:-1])
    key = path[-1]
    action = rng.randrange(5)
    if action == 0:
        parent[key] = hostile
    elif action == 1:
        if isinstance(parent, dict):
            del parent[key]
        else:
            parent.pop(key)
    elif action == 2 and isinstance(parent, dict):
        parent[f"unknown_{rng.randrange(99)}"] = hostile
    elif action == 3:
        parent[key] = [parent[key]] if rng.random() < 0.5 else {"value": parent[key]}
    elif isinstance(parent, list):
        parent.insert(key, hostile)
    else:
        parent[key] = hostile
    return doc


def dump_json(doc: Any, rng: random.Random) -> bytes:
    """Encode canonically most of the time, otherwise with whitespace or ASCII escapes."""
    style = rng.randrange(4)
    if style == 0:
        return json.dumps(doc, indent=2).encode()
    if style == 1:
        return json.dumps(doc, sort_keys=True).encode()
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode(
        "utf-8", "surrogatepass"
    )


def duplicate_a_key(data: bytes, rng: random.Random) -> bytes:
    """Repeat the first key of the top-level object with another value (JSON allows it;
    parsers disagree on which one wins)."""
    if not data.startswith(b"{") or len(data) < 3:
        return data
    replacement = rng.choice([b'"x"', b"0", b"null", b"[]", b'"../x"'])
    end = data.find(b":")
    if end < 0:
        return data
    return data[:1] + data[1:end] + b":" + replacement + b"," + data[1:]


# ---- byte-level mutations -------------------------------------------------------------


def mutate_bytes(data: bytes, rng: random.Random) -> bytes:
    """Flip a bit, truncate, cut a range, or splice in a hostile fragment."""
    if not data:
        return rng.choice(HOSTILE_FRAGMENTS)
    position = rng.randrange(len(data) + 1)
    action = rng.randrange(4)
    if action == 0 and position < len(data):
        flipped = data[position] ^ (1 << rng.randrange(8))
        return data[:position] + bytes([flipped]) + data[position + 1 :]
    if action == 1:
        return data[:position]
    if action == 2:
        return data[:position] + data[position + rng.randrange(1, 40) :]
    return data[:position] + rng.choice(HOSTILE_FRAGMENTS) + data[position:]


def mutated_json_inputs(
    seeds: list[bytes], reseal: Callable[[Any], Any] | None = None
) -> st.SearchStrategy[bytes]:
    """Inputs made from valid encodings: JSON-level and byte-level mutations, optionally
    re-sealed (``reseal`` recomputes a record's id, as a forger with dws's code would), so
    the checks behind the checksum are reached too."""

    @st.composite
    def build(draw: st.DrawFn) -> bytes:
        seed = draw(st.sampled_from(seeds))
        rng = random.Random(draw(st.integers(0, 2**32)))
        rounds = draw(st.integers(1, 3))
        data = seed
        if draw(st.booleans()):
            doc = json.loads(seed)
            for _ in range(rounds):
                hostile = draw(st.sampled_from(HOSTILE_VALUES))
                if isinstance(hostile, (list, dict)):
                    hostile = json.loads(json.dumps(hostile))
                doc = mutate_json(doc, rng, hostile)
            deep = rng.random() < 0.05
            if deep:
                doc = mutate_json(doc, rng, DEEP_MARKER)
            if reseal is not None and draw(st.booleans()):
                doc = reseal(doc)
            data = dump_json(doc, rng)
            if deep:
                data = data.replace(f'"{DEEP_MARKER}"'.encode(), DEEP_JSON)
            if rng.random() < 0.1:
                data = duplicate_a_key(data, rng)
        if draw(st.booleans()):
            for _ in range(rounds):
                data = mutate_bytes(data, rng)
        return data

    return build()


arbitrary_bytes = st.one_of(
    st.binary(max_size=300),
    st.builds(lambda parts: b"".join(parts), st.lists(st.sampled_from(HOSTILE_FRAGMENTS))),
)
