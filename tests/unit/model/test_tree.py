"""Merkle tree objects: canonical encoding and hostile-input validation."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from dws.errors import FormatError, IntegrityError
from dws.model import tree as tree_module
from dws.model.digest import hash_bytes
from dws.model.tree import (
    EMPTY_TREE,
    EMPTY_TREE_ID,
    MAX_SIZE,
    Tree,
    TreeEntry,
    decode_tree,
    encode_tree,
    make_tree,
    tree_id,
)

A = hash_bytes(b"a")
B = hash_bytes(b"b")


def sample_entries() -> list[TreeEntry]:
    return [
        TreeEntry("b.txt", "file", A, 1),
        TreeEntry("run.sh", "file", B, 1, exec=True),
        TreeEntry("sub", "dir", EMPTY_TREE_ID, 0),
        TreeEntry("link", "symlink", hash_bytes(b"b.txt"), 5, target="b.txt"),
        TreeEntry("日本 é.csv", "file", A, 1),
        TreeEntry(".hidden", "file", B, 1),
    ]


def raw_tree(entries: list[dict[str, Any]]) -> bytes:
    """Canonical bytes (decode_tree refuses anything else) of arbitrary entries."""
    doc = {"entries": entries}
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def entry(name: str = "a", **changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"name": name, "kind": "file", "id": A, "size": 1}
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def test_encoding_is_independent_of_entry_order() -> None:
    entries = sample_entries()
    encodings = set()
    for seed in range(10):
        shuffled = entries[:]
        random.Random(seed).shuffle(shuffled)
        encodings.add(encode_tree(make_tree(shuffled)))
    assert len(encodings) == 1


def test_encoding_is_compact_with_sorted_keys_and_entries() -> None:
    data = encode_tree(make_tree(sample_entries()))
    assert b" " not in data.replace("日本 é".encode(), b"")
    assert b"\n" not in data
    parsed = json.loads(data)
    names = [e["name"] for e in parsed["entries"]]
    assert names == sorted(names)
    for item in parsed["entries"]:
        assert list(item) == sorted(item)


def test_defaults_are_omitted_so_ids_stay_stable() -> None:
    data = encode_tree(make_tree([TreeEntry("a", "file", A, 1)]))
    assert json.loads(data) == {"entries": [{"id": A, "kind": "file", "name": "a", "size": 1}]}


def test_round_trip() -> None:
    tree = make_tree(sample_entries())
    assert decode_tree(encode_tree(tree)) == tree
    assert tree_id(tree) == hash_bytes(encode_tree(tree))


def test_different_content_gives_different_ids() -> None:
    one = make_tree([TreeEntry("a", "file", A, 1)])
    variants = [
        make_tree([TreeEntry("a", "file", B, 1)]),
        make_tree([TreeEntry("a", "file", A, 1, exec=True)]),
        make_tree([TreeEntry("b", "file", A, 1)]),
        make_tree([TreeEntry("a", "file", A, 1), TreeEntry("b", "file", A, 1)]),
    ]
    ids = {tree_id(one), *(tree_id(v) for v in variants)}
    assert len(ids) == 5


def test_empty_tree() -> None:
    assert decode_tree(encode_tree(EMPTY_TREE)) == EMPTY_TREE
    assert tree_id(Tree([])) == EMPTY_TREE_ID


def test_by_name_and_same_content() -> None:
    tree = make_tree(sample_entries())
    by_name = tree.by_name()
    assert by_name["sub"].is_dir
    assert not by_name["b.txt"].is_dir
    f = TreeEntry("x", "file", A, 1)
    assert f.same_content(TreeEntry("other-name", "file", A, 1))
    assert not f.same_content(None)
    assert not f.same_content(TreeEntry("x", "file", A, 1, exec=True))
    assert not f.same_content(TreeEntry("x", "file", B, 1))
    assert not f.same_content(TreeEntry("x", "symlink", A, 1, target="t"))


# ---- hostile or malformed input ------------------------------------------------------------


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ([entry("b"), entry("a")], "unsorted"),
        ([entry("a"), entry("a")], "duplicated"),
        ([entry("a"), entry("a", kind="dir", id=EMPTY_TREE_ID, size=0)], "duplicated"),
        ([entry("a", id="x" * 64)], "malformed object id"),
        ([entry("a", id=A.upper())], "malformed object id"),
        ([entry("a", id=A[:40])], "malformed object id"),
        ([entry("a", size=-1)], "implausible size"),
        ([entry("a", size=MAX_SIZE)], "implausible size"),
        ([entry("a", kind="symlink")], "symlink target"),
        ([entry("a", target="b")], "symlink target"),
        ([entry("a", kind="dir", target="b")], "symlink target"),
        ([entry("a", kind="symlink", target="")], "symlink target"),
        ([entry("a", kind="symlink", target="x\x00y")], "symlink target"),
        ([entry("a", kind="dir", exec=True)], "exec bit"),
        ([entry("a", kind="symlink", target="t", exec=True)], "exec bit"),
        ([entry("..")], "invalid file name"),
        ([entry(".")], "invalid file name"),
        ([entry("")], "invalid file name"),
        ([entry("a/b")], "invalid file name"),
        ([entry("/etc")], "invalid file name"),
        ([entry("a\x00")], "invalid file name"),
        ([entry(".dataworkspace")], ".dataworkspace"),
        ([entry("a", kind="fifo")], "malformed tree"),
        ([entry("a", size="1")], "malformed tree"),
        ([entry("a", size=1.5)], "malformed tree"),
        ([entry("a", exec="yes")], "malformed tree"),
        ([{"name": 7, "kind": "file", "id": A, "size": 1}], "malformed tree"),
        ([{"kind": "file", "id": A, "size": 1}], "malformed tree"),
    ],
)
def test_hostile_entries_are_refused(entries: list[dict[str, Any]], message: str) -> None:
    with pytest.raises(FormatError, match=message):
        decode_tree(raw_tree(entries))


def test_boolean_size_is_refused() -> None:
    with pytest.raises(FormatError):
        decode_tree(raw_tree([entry("a", size=True)]))


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"not json",
        b"{",
        b"[]",
        b"null",
        b'{"entries": {}}',
        b'{"entries": null}',
        b"{}",
        b"\xff\xfe",
        b'{"entries": []} trailing',
    ],
)
def test_non_tree_bytes_are_refused(data: bytes) -> None:
    with pytest.raises(FormatError, match="malformed tree"):
        decode_tree(data)


def test_format_errors_are_integrity_errors_with_exit_code_4() -> None:
    with pytest.raises(IntegrityError) as info:
        decode_tree(b"nonsense")
    assert info.value.exit_code == 4


def test_huge_input_is_refused_before_parsing(monkeypatch: pytest.MonkeyPatch) -> None:
    assert tree_module.MAX_TREE_BYTES <= 1 << 30
    monkeypatch.setattr(tree_module, "MAX_TREE_BYTES", 1024)
    small = encode_tree(make_tree([TreeEntry("a", "file", A, 1)]))
    assert decode_tree(small).entries[0].name == "a"
    big = raw_tree([entry(f"f{i:05}") for i in range(100)])
    assert len(big) > 1024
    with pytest.raises(FormatError, match="implausibly large"):
        decode_tree(big)


def test_huge_input_at_the_real_limit_is_refused() -> None:
    data = b" " * (tree_module.MAX_TREE_BYTES + 1)
    with pytest.raises(FormatError, match="implausibly large"):
        decode_tree(data)


def test_large_sizes_below_the_limit_are_accepted() -> None:
    tree = decode_tree(raw_tree([entry("a", size=MAX_SIZE - 1)]))
    assert tree.entries[0].size == MAX_SIZE - 1
