"""Storing and loading Merkle tree objects."""

from __future__ import annotations

from dws.errors import IntegrityError
from dws.model.digest import hash_bytes
from dws.model.tree import Tree, decode_tree, encode_tree
from dws.model.treediff import TreeLoader, caching_loader
from dws.store.base import ObjectStore


def put_tree(store: ObjectStore, tree: Tree) -> str:
    """Store a tree object and return its id."""
    return store.put_bytes(encode_tree(tree))


def get_tree(store: ObjectStore, oid: str) -> Tree:
    """Load, verify, validate and parse a tree object."""
    data = store.get_bytes(oid)
    if hash_bytes(data) != oid:
        raise IntegrityError(f"tree object {oid[:12]} is corrupt (content does not match its id)")
    return decode_tree(data)


def store_loader(store: ObjectStore) -> TreeLoader:
    """A cached tree loader reading from ``store``."""
    return caching_loader(lambda oid: get_tree(store, oid))
