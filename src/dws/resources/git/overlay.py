"""Uncommitted changes as a dws Merkle tree (the ``patch`` of a git state).

The patch tree has up to two directories: ``work/`` holds every dirty path that exists in
the working tree, with its bytes as they are on disk; ``index/`` holds the staged version
of every path whose index entry differs from HEAD. Together with the state's ``dirty`` and
``staged`` lists this describes the index and the working tree exactly: a dirty path
missing from ``work/`` is deleted in the working tree, a staged path missing from
``index/`` is a staged deletion, and any other path is as in the commit.
"""

from __future__ import annotations

from collections.abc import Iterator

from msgspec import Struct, field

from dws.errors import FormatError
from dws.model.tree import Tree, TreeEntry, encode_tree, make_tree, tree_id
from dws.model.treediff import TreeLoader, walk_tree
from dws.resources.base import ObjectRef

WORK = "work"
INDEX = "index"


class Overlay(Struct):
    """What the patch tree holds, as flat path -> entry maps (files and symlinks only)."""

    dirty: list[str] = field(default_factory=list)
    staged: list[str] = field(default_factory=list)
    work: dict[str, TreeEntry] = field(default_factory=dict)
    index: dict[str, TreeEntry] = field(default_factory=dict)

    def work_entry(self, path: str) -> TreeEntry | None:
        """The working file recorded at a dirty ``path`` (None: deleted)."""
        return self.work.get(path)


def build_tree(files: dict[str, TreeEntry]) -> tuple[TreeEntry | None, dict[str, bytes]]:
    """Nested tree objects for flat ``files``: (root entry or None if empty, {id: bytes})."""
    objects: dict[str, bytes] = {}

    def build(name: str, children: dict[str, TreeEntry]) -> TreeEntry:
        groups: dict[str, dict[str, TreeEntry]] = {}
        entries = []
        for path, entry in children.items():
            head, sep, rest = path.partition("/")
            if sep:
                groups.setdefault(head, {})[rest] = entry
            else:
                entries.append(_renamed(entry, head))
        for sub, grandchildren in groups.items():
            entries.append(build(sub, grandchildren))
        tree = make_tree(entries)
        data = encode_tree(tree)
        oid = tree_id(tree)
        objects[oid] = data
        size = sum(e.size for e in entries if e.kind != "symlink")
        return TreeEntry(name, "dir", oid, size)

    if not files:
        return None, objects
    return build("", files), objects


def _renamed(entry: TreeEntry, name: str) -> TreeEntry:
    return TreeEntry(name, entry.kind, entry.id, entry.size, entry.exec, entry.target)


def patch_tree(overlay: Overlay) -> tuple[str | None, dict[str, bytes]]:
    """The patch tree of ``overlay``: (root id or None when nothing is dirty, {id: bytes})."""
    if not overlay.dirty:
        return None, {}
    objects: dict[str, bytes] = {}
    top = []
    for name, files in ((WORK, overlay.work), (INDEX, overlay.index)):
        entry, built = build_tree(files)
        if entry is not None:
            objects.update(built)
            top.append(_renamed(entry, name))
    root = make_tree(top)
    objects[tree_id(root)] = encode_tree(root)
    return tree_id(root), objects


def _flatten(load: TreeLoader, root: Tree, name: str) -> dict[str, TreeEntry]:
    entry = root.by_name().get(name)
    if entry is None or not entry.is_dir:
        return {}
    return {path: e for path, e in walk_tree(load, entry.id) if not e.is_dir}


def load_overlay(
    load: TreeLoader, patch: str | None, dirty: list[str], staged: list[str]
) -> Overlay:
    """The overlay recorded in a state (an empty one when ``patch`` is None)."""
    if patch is None:
        return Overlay(list(dirty), list(staged))
    root = load(patch)
    work = _flatten(load, root, WORK)
    index = _flatten(load, root, INDEX)
    if not set(work) <= set(dirty) or not set(index) <= set(staged):
        raise FormatError(f"patch tree {patch[:12]} holds paths its state does not list")
    return Overlay(list(dirty), list(staged), work, index)


def patch_refs(load: TreeLoader, patch: str) -> Iterator[ObjectRef]:
    """Every object the patch tree needs: its trees and the blobs of its files."""
    yield ObjectRef(patch, True)
    for _, entry in walk_tree(load, patch):
        if entry.is_dir:
            yield ObjectRef(entry.id, True)
        elif entry.kind == "file":
            yield ObjectRef(entry.id, False)
