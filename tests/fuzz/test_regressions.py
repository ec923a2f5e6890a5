"""Regressions found while fuzzing that need more than one input file: declared sizes that
must not be trusted, depths that must not recurse, a hostile index in a real store."""

from __future__ import annotations

import os
import tracemalloc
from pathlib import Path

import pytest
from blake3 import blake3

import dws.model.tree as tree_module
from dws.errors import FormatError, IntegrityError
from dws.model.digest import hash_bytes
from dws.model.records import MAX_RECORD_BYTES, decode_snapshot
from dws.model.tree import EMPTY_TREE_ID, Tree, TreeEntry, decode_tree, make_tree, tree_id
from dws.model.treediff import diff_trees, walk_tree
from dws.store import packfile
from dws.store.packed import PACK_THRESHOLD, PackedObjectStore

from .seeds import tree_cases


def test_a_record_larger_than_the_limit_is_refused_before_parsing() -> None:
    with pytest.raises(FormatError, match="implausibly large"):
        decode_snapshot(b" " * (MAX_RECORD_BYTES + 1))


def test_a_tree_larger_than_the_limit_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    data = tree_cases()["accept-every-kind.json"]
    monkeypatch.setattr(tree_module, "MAX_TREE_BYTES", len(data) - 1)
    with pytest.raises(FormatError, match="implausibly large"):
        decode_tree(data)


def _chain(depth: int) -> tuple[str, dict[str, Tree]]:
    trees = {EMPTY_TREE_ID: Tree([])}
    current = EMPTY_TREE_ID
    for _ in range(depth):
        tree = make_tree([TreeEntry("d", "dir", current, 0)])
        current = tree_id(tree)
        trees[current] = tree
    return current, trees


def test_walking_and_diffing_a_very_deep_tree_does_not_recurse() -> None:
    """A crafted (or just deep) tree 5,000 directories deep: walking it once hit Python's
    recursion limit (RecursionError, an internal error in every command)."""
    root, trees = _chain(5000)
    assert sum(1 for _ in walk_tree(trees.__getitem__, root)) == 5000
    changes = list(diff_trees(trees.__getitem__, None, root))
    assert len(changes) == 5000
    assert changes[0].path == "d" and changes[-1].path == "/".join(["d"] * 5000)
    assert [c.path for c in diff_trees(trees.__getitem__, root, None)][-1] == "d"


def test_the_entry_length_limit_covers_every_object_dws_packs() -> None:
    assert PACK_THRESHOLD <= packfile.MAX_ENTRY_LENGTH


def test_a_hostile_index_in_a_store_never_allocates_its_declared_length(tmp_path: Path) -> None:
    """An index entry claiming 2^62 bytes made a read ask the OS for that much memory; it is
    refused as an integrity error before anything is allocated."""
    store = PackedObjectStore.create(str(tmp_path / "objects"))
    oid = store.put_bytes(b"small object")
    store.flush()
    (index_name,) = [n for n in os.listdir(store.packs_dir) if n.endswith(".idx")]
    body = bytearray((Path(store.packs_dir) / index_name).read_bytes()[:-32])
    entry_at = 8 + 4 + 256 * 4
    body[entry_at + 40 : entry_at + 48] = (1 << 62).to_bytes(8, "little")
    name = blake3(bytes(body)).hexdigest()
    pack = Path(store.packs_dir) / index_name.replace(".idx", ".pack")
    os.rename(pack, Path(store.packs_dir) / f"{name}.pack")
    os.unlink(Path(store.packs_dir) / index_name)
    (Path(store.packs_dir) / f"{name}.idx").write_bytes(bytes(body) + blake3(bytes(body)).digest())
    reader = PackedObjectStore(str(tmp_path / "objects"))
    tracemalloc.start()
    try:
        with pytest.raises(IntegrityError):
            reader.get_bytes(oid)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        reader.close()
        store.close()
    assert peak < 1 << 20
    assert hash_bytes(b"small object") == oid
