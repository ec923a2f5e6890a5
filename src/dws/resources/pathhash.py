"""Content ids of single paths, for lineage: a file's blob id, a directory's tree id."""

from __future__ import annotations

import os
import stat as stat_module

from dws.model.digest import hash_bytes
from dws.model.runs import PathKind
from dws.model.tree import Tree
from dws.model.treediff import TreeLoader
from dws.resources.local_files.scanner import Scanner
from dws.resources.local_files.statcache import NoCache
from dws.store.base import ObjectStore
from dws.store.hashing import hash_file
from dws.store.trees import put_tree

PathId = tuple[PathKind, str | None]
MISSING: PathId = ("missing", None)


def hash_path(path: str, tree_store: ObjectStore | None = None) -> PathId:
    """(kind, id) of whatever is at ``path`` now, without following a final symlink.
    Directories are hashed as Merkle trees; with ``tree_store`` their trees are stored."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return MISSING
    if stat_module.S_ISLNK(st.st_mode):
        return "symlink", hash_bytes(os.fsencode(os.readlink(path)))
    if stat_module.S_ISDIR(st.st_mode):
        scanner = Scanner(
            path, NoCache(), store=None, generation=0, tree_store=tree_store, put_trees=True
        )
        return "dir", scanner.scan().root_id
    return "file", hash_file(path)[0]


def persist_trees(store: ObjectStore, load: TreeLoader, tree_id: str) -> None:
    """Put ``tree_id`` and every tree below it into ``store``, children before parents (a
    stored tree's subtrees are always stored); blobs are not needed."""
    found: list[Tree] = []
    pending, seen = [tree_id], set()
    while pending:
        oid = pending.pop()
        if oid in seen or store.has(oid):
            continue
        seen.add(oid)
        tree = load(oid)
        found.append(tree)
        pending.extend(entry.id for entry in tree.entries if entry.is_dir)
    for tree in reversed(found):
        put_tree(store, tree)
