"""Tree objects in a store, and file hashing."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dws.errors import FormatError, IntegrityError
from dws.model.digest import hash_bytes
from dws.model.tree import TreeEntry, encode_tree, make_tree
from dws.store.base import ObjectMissingError
from dws.store.hashing import SMALL_FILE, hash_file
from dws.store.memory import MemoryObjectStore
from dws.store.trees import get_tree, put_tree, store_loader


def test_put_and_get_tree() -> None:
    store = MemoryObjectStore()
    tree = make_tree([TreeEntry("a", "file", hash_bytes(b"a"), 1)])
    oid = put_tree(store, tree)
    assert oid == hash_bytes(encode_tree(tree))
    assert get_tree(store, oid) == tree


def test_a_corrupt_tree_object_is_an_integrity_error() -> None:
    store = MemoryObjectStore()
    oid = put_tree(store, make_tree([TreeEntry("a", "file", hash_bytes(b"a"), 1)]))
    other = encode_tree(make_tree([TreeEntry("b", "file", hash_bytes(b"b"), 1)]))
    store.corrupt(oid, other)
    with pytest.raises(IntegrityError, match="corrupt"):
        get_tree(store, oid)


def test_a_hostile_tree_object_is_a_format_error() -> None:
    store = MemoryObjectStore()
    oid = store.put_bytes(
        b'{"entries":[{"name":"..","kind":"file","id":"%s","size":1}]}'
        % (hash_bytes(b"x").encode())
    )
    with pytest.raises(FormatError):
        get_tree(store, oid)


def test_a_missing_tree_object() -> None:
    with pytest.raises(ObjectMissingError):
        get_tree(MemoryObjectStore(), hash_bytes(b"nothing"))


def test_store_loader_caches() -> None:
    store = MemoryObjectStore()
    tree = make_tree([TreeEntry("a", "file", hash_bytes(b"a"), 1)])
    oid = put_tree(store, tree)
    load = store_loader(store)
    assert load(oid) == tree
    store.delete(oid)
    assert load(oid) == tree  # served from the cache


@pytest.mark.parametrize("size", [0, 1, 1000, SMALL_FILE, SMALL_FILE + 1, (6 << 20) + 5])
def test_hash_file_matches_hash_bytes(tmp_path: Path, size: int) -> None:
    data = os.urandom(size)
    path = tmp_path / "f"
    path.write_bytes(data)
    assert hash_file(str(path)) == (hash_bytes(data), size)


def test_hash_file_of_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        hash_file(str(tmp_path / "missing"))
