"""Checking a local-files restore plan against the disk before anything is touched."""

from __future__ import annotations

import os
import stat

from dws.model.tree import TreeEntry
from dws.model.treediff import Change, TreeLoader, lookup
from dws.resources.base import RestorePlan
from dws.store.base import ObjectStore


def check_plan(
    plan: RestorePlan,
    root: str,
    load: TreeLoader,
    saved_trees: list[str | None],
    store: ObjectStore,
) -> None:
    """Fill ``plan``'s conflicts (unsaved work restore would overwrite), recoverable paths
    (overwritten content no saved state holds but the store does), blocked paths
    (untracked files restore would have to delete) and missing objects, in one pass over
    its changes (which may be a stream too large to hold)."""
    removed_dirs: set[str] = set()
    replaced: list[str] = []  # removed directories a file or a link takes the place of
    on_disk = _DiskProbe(root)
    for change in plan.changes:
        old, new = change.old, change.new
        if old is not None and not old.is_dir:
            if not any(old.same_content(lookup(load, t, change.path)) for t in saved_trees):
                # content the store holds (a deleted snapshot's, say) loses nothing
                held = old.kind == "file" and store.has(old.id)
                (plan.recoverable if held else plan.conflicts).append(change.path)
        elif old is not None:
            removed_dirs.add(change.path)
        elif _is_file_add(change):
            # a directory's removal comes before what takes its place
            if change.path in removed_dirs:
                replaced.append(change.path)
            elif on_disk(change.path):
                plan.conflicts.append(change.path)  # an untracked (ignored) file in the way
        if _needs_blob(old, new) and new is not None and not store.has(new.id):
            plan.missing_objects.append(change.path)
    if replaced:
        plan.blocked.extend(_untracked_inside(root, replaced, plan))


def _is_file_add(change: Change) -> bool:
    return change.old is None and change.new is not None and not change.new.is_dir


class _DiskProbe:
    """Does something exist at a path, reached through real directories only (a symlinked
    parent does not count: restore replaces it rather than writing through it)?"""

    def __init__(self, root: str) -> None:
        self.root = root
        self._real_dirs: dict[str, bool] = {"": True}

    def _real_dir(self, rel: str) -> bool:
        known = self._real_dirs.get(rel)
        if known is None:
            parent = rel.rpartition("/")[0]
            try:
                mode = os.lstat(os.path.join(self.root, rel)).st_mode
                known = self._real_dir(parent) and stat.S_ISDIR(mode)
            except OSError:
                known = False
            self._real_dirs[rel] = known
        return known

    def __call__(self, rel: str) -> bool:
        parent = rel.rpartition("/")[0]
        return self._real_dir(parent) and os.path.lexists(os.path.join(self.root, rel))


def _needs_blob(old: TreeEntry | None, new: TreeEntry | None) -> bool:
    """True when restoring ``new`` means writing content (not just a chmod)."""
    if new is None or new.kind != "file":
        return False
    return not (old is not None and old.kind == "file" and old.id == new.id)


def _untracked_inside(root: str, replaced: list[str], plan: RestorePlan) -> list[str]:
    """Paths of untracked (ignored) files inside directories that must become something
    else: restore cannot delete them without losing data nobody snapshotted."""
    inside = tuple(f"{directory}/" for directory in replaced)
    known = {c.path for c in plan.changes if c.old is not None and c.path.startswith(inside)}
    blocked = []
    for directory in sorted(replaced):
        for dirpath, dirnames, filenames in os.walk(os.path.join(root, directory)):
            for name in dirnames + filenames:
                rel = os.path.relpath(os.path.join(dirpath, name), root)
                if rel not in known:
                    blocked.append(rel)
    return blocked
