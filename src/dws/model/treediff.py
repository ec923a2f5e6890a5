"""Walking and comparing Merkle trees through a loader (id -> Tree); no I/O of its own.

Unchanged subtrees have equal ids, so a diff costs time proportional to what changed.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from msgspec import Struct

from dws.model.tree import EMPTY_TREE_ID, Tree, TreeEntry

TreeLoader = Callable[[str], Tree]


class Change(Struct, frozen=True):
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
        child_path = _join(path, child.name)
        if child.is_dir:
            yield _Descend(_expand(load, child, child_path, removed=removed))
        else:  # a file or a link: no walker of its own (most entries; twice as fast)
            yield Change(child_path, child, None) if removed else Change(child_path, None, child)
    if removed:
        yield Change(path, entry, None)


class ChangeStream:
    """The changes of one diff, produced again on each pass instead of held, so a restore
    of a million files can check them in one pass and apply them in another without
    keeping a million changes in memory.

    A first pass that finds at most ``keep`` changes keeps them, and later passes replay
    them (most diffs are small; producing them again would only cost time). ``len()`` and
    ``visible_count`` are counted by the first whole pass (run on demand). Every pass
    yields the same changes in the same order: ``produce`` must be a pure diff."""

    def __init__(self, produce: Callable[[], Iterator[Change]], keep: int) -> None:
        self._produce = produce
        self._keep = keep
        self._kept: list[Change] | None = None
        self._count: int | None = None
        self._visible = 0

    def __iter__(self) -> Iterator[Change]:
        # decided when the pass starts: list() asks len() between iter() and reading
        if self._kept is not None:
            yield from self._kept
        else:
            yield from self._pass()

    def _pass(self) -> Iterator[Change]:
        kept: list[Change] | None = []
        count = visible = 0
        for change in self._produce():
            count += 1
            visible += change.visible
            if kept is not None and len(kept) < self._keep:
                kept.append(change)
            else:
                kept = None  # too many to keep: later passes produce them again
            yield change
        self._count, self._visible, self._kept = count, visible, kept

    def _counted(self) -> int:
        if self._count is None:
            for _ in self._pass():
                pass
        assert self._count is not None
        return self._count

    def __len__(self) -> int:
        return self._counted()

    def __bool__(self) -> bool:
        if self._count is not None:
            return self._count > 0
        return next(iter(self._produce()), None) is not None

    def __contains__(self, item: object) -> bool:
        return any(change == item for change in self)

    @property
    def visible_count(self) -> int:
        """How many changes are worth showing a user (see ``Change.visible``)."""
        self._counted()
        return self._visible


def visible_count(changes: Iterable[Change]) -> int:
    """How many of ``changes`` are worth showing a user (counted once by a stream)."""
    if isinstance(changes, ChangeStream):
        return changes.visible_count
    return sum(1 for change in changes if change.visible)


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


CACHED_ENTRIES = 1 << 16  # tree entries a caching loader keeps decoded (about 16 MB)
# trees a caching loader keeps whatever their size: a lookup goes from the root to a
# directory of a million entries and back, and dropping one for the other would decode the
# big one again on every lookup
CACHED_ALWAYS = 8


def caching_loader(load: TreeLoader, max_entries: int | None = None) -> TreeLoader:
    """Wrap a loader so each tree is loaded and parsed once while it is in use: the trees
    used least recently go when those kept hold more than ``max_entries`` entries
    (default ``CACHED_ENTRIES``), except the ``CACHED_ALWAYS`` most recent, so memory does
    not grow with the workspace."""
    limit = CACHED_ENTRIES if max_entries is None else max_entries
    cache: dict[str, Tree] = {}
    held = 0

    def cached(ident: str) -> Tree:
        nonlocal held
        tree = cache.pop(ident, None)
        if tree is None:
            tree = load(ident)
            held += len(tree.entries)
            while len(cache) >= CACHED_ALWAYS and held > limit:
                oldest = next(iter(cache))
                held -= len(cache.pop(oldest).entries)
        cache[ident] = tree  # the most recently used is last
        return tree

    return cached
