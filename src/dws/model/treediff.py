"""Walking and comparing Merkle trees through a loader (id -> Tree); no I/O of its own.

Unchanged subtrees have equal ids, so a diff costs time proportional to what changed.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from dws.model.tree import EMPTY_TREE_ID, Tree, TreeEntry

TreeLoader = Callable[[str], Tree]


@dataclass(frozen=True, slots=True)
class Change:
    """One path that differs: ``old`` is what the first side has there, ``new`` the second.

    Directory entries appear only as markers for directories that are created (``old`` is
    None, emitted before their contents) or removed (``new`` is None, after their contents).
    """

    path: str
    old: TreeEntry | None
    new: TreeEntry | None

    @property
    def status(self) -> str:
        """added, deleted or modified."""
        if self.old is None:
            return "added"
        if self.new is None:
            return "deleted"
        return "modified"

    @property
    def is_dir_marker(self) -> bool:
        """True for the create/remove marker of a directory."""
        entry = self.new or self.old
        return entry is not None and entry.is_dir

    @property
    def visible(self) -> bool:
        """Shown to users: files, links and empty directories (others are implied)."""
        entry = self.new or self.old
        return entry is not None and (not entry.is_dir or entry.id == EMPTY_TREE_ID)


def _join(prefix: str, name: str) -> str:
    return f"{prefix}/{name}" if prefix else name


class _Descend:
    """Yielded by a walking generator: run ``inner`` to its end, then resume the walker."""

    __slots__ = ("inner",)

    def __init__(self, inner: Iterator[Any]) -> None:
        self.inner = inner


def _flatten(walker: Iterator[Any]) -> Iterator[Any]:
    """Run nested walkers on an explicit stack, so the depth of a tree (which a crafted one
    can make arbitrary) never reaches Python's recursion limit; order is as if recursive."""
    stack = [walker]
    while stack:
        try:
            item = next(stack[-1])
        except StopIteration:
            stack.pop()
            continue
        if isinstance(item, _Descend):
            stack.append(item.inner)
        else:
            yield item


def diff_trees(
    load: TreeLoader, old_id: str | None, new_id: str | None, prefix: str = ""
) -> Iterator[Change]:
    """Yield every change turning tree ``old_id`` into tree ``new_id`` (None = no tree)."""
    result: Iterator[Change] = _flatten(_diff(load, old_id, new_id, prefix))
    return result


def _diff(load: TreeLoader, old_id: str | None, new_id: str | None, prefix: str) -> Iterator[Any]:
    if old_id == new_id:
        return
    old = load(old_id).by_name() if old_id else {}
    new = load(new_id).by_name() if new_id else {}
    for name in sorted(old.keys() | new.keys()):
        before, after = old.get(name), new.get(name)
        path = _join(prefix, name)
        if before is not None and after is not None:
            if before.is_dir and after.is_dir:
                yield _Descend(_diff(load, before.id, after.id, path))
                continue
            if before.same_content(after):
                continue
            if not before.is_dir and not after.is_dir:
                yield Change(path, before, after)
                continue
        if before is not None:
            yield _Descend(_expand(load, before, path, removed=True))
        if after is not None:
            yield _Descend(_expand(load, after, path, removed=False))


def _expand(load: TreeLoader, entry: TreeEntry, path: str, *, removed: bool) -> Iterator[Any]:
    if not entry.is_dir:
        yield Change(path, entry, None) if removed else Change(path, None, entry)
        return
    if not removed:
        yield Change(path, None, entry)
    for child in load(entry.id).entries:
        yield _Descend(_expand(load, child, _join(path, child.name), removed=removed))
    if removed:
        yield Change(path, entry, None)


def walk_tree(load: TreeLoader, root_id: str, prefix: str = "") -> Iterator[tuple[str, TreeEntry]]:
    """Yield (path, entry) for every entry below ``root_id``, parents before children."""
    result: Iterator[tuple[str, TreeEntry]] = _flatten(_walk(load, root_id, prefix))
    return result


def _walk(load: TreeLoader, root_id: str, prefix: str) -> Iterator[Any]:
    for entry in load(root_id).entries:
        path = _join(prefix, entry.name)
        yield path, entry
        if entry.is_dir:
            yield _Descend(_walk(load, entry.id, path))


def lookup(load: TreeLoader, root_id: str | None, path: str) -> TreeEntry | None:
    """The entry at ``path`` below ``root_id``, or None."""
    if root_id is None:
        return None
    entry: TreeEntry | None = None
    current = root_id
    for part in path.split("/"):
        if entry is not None and not entry.is_dir:
            return None
        entry = _named(load(current), part)
        if entry is None:
            return None
        current = entry.id
    return entry


def _named(tree: Tree, name: str) -> TreeEntry | None:
    """The entry ``name`` of ``tree`` by binary search (entries are sorted by name), so a
    lookup in a directory of a million entries costs no dictionary of them."""
    entries = tree.entries
    index = bisect.bisect_left(entries, name, key=_entry_name)
    if index < len(entries) and entries[index].name == name:
        return entries[index]
    return None


def _entry_name(entry: TreeEntry) -> str:
    return entry.name


def caching_loader(load: TreeLoader, cache_size: int = 4096) -> TreeLoader:
    """Wrap a loader so each tree is loaded and parsed once (bounded cache)."""
    cache: dict[str, Tree] = {}

    def cached(ident: str) -> Tree:
        tree = cache.get(ident)
        if tree is None:
            tree = load(ident)
            if len(cache) >= cache_size:
                cache.pop(next(iter(cache)))
            cache[ident] = tree
        return tree

    return cached
