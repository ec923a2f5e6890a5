"""Keeping what a restore is about to overwrite: the content now at chosen paths, stored
as a tree of its own (a recovery record's state), and written back later where nothing
else stands (docs/reliability.md, "Recovery records")."""

from __future__ import annotations

import os
import stat as stat_module
from collections import defaultdict

from msgspec import Struct

from dws.errors import UsageError
from dws.model.digest import hash_bytes
from dws.model.progress import Progress
from dws.model.tree import TreeEntry, make_tree
from dws.model.treediff import TreeLoader, diff_trees
from dws.resources.base import PutBackPlan
from dws.resources.local_files.applying import Restorer
from dws.resources.local_files.scanner import Scanner, refuse_unreadable
from dws.resources.local_files.statcache import NoCache
from dws.resources.pathhash import hash_path
from dws.store.base import ObjectStore
from dws.store.trees import put_tree


class SavedPaths(Struct):
    """A tree holding only the saved paths, and what it holds."""

    tree: str
    files: int = 0
    bytes: int = 0


def save_paths(root: str, paths: list[str], store: ObjectStore, generation: int) -> SavedPaths:
    """Store whatever is at ``paths`` (relative to ``root``: files, symlinks, whole
    directories) and return a tree that holds exactly those paths. A path below another
    one is saved with it; a path where nothing is any more is left out."""
    chosen = sorted(set(paths))
    chosen_set = set(chosen)
    by_dir: dict[str, list[TreeEntry]] = defaultdict(list)
    saved = SavedPaths("")
    for rel in chosen:
        if any(parent in chosen_set for parent in _parents(rel)):
            continue
        entry = _save_one(os.path.join(root, rel), rel.rpartition("/")[2], store, generation)
        if entry is None:
            continue
        found, count = entry
        by_dir[rel.rpartition("/")[0]].append(found)
        saved.files += count
        saved.bytes += found.size if found.kind != "symlink" else 0
    saved.tree = _build(by_dir, store)
    return saved


def _parents(rel: str) -> list[str]:
    parts = rel.split("/")
    return ["/".join(parts[:i]) for i in range(1, len(parts))]


def _save_one(
    path: str, name: str, store: ObjectStore, generation: int
) -> tuple[TreeEntry, int] | None:
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    if stat_module.S_ISLNK(st.st_mode):
        target = os.readlink(path)
        encoded = os.fsencode(target)
        return TreeEntry(name, "symlink", hash_bytes(encoded), len(encoded), target=target), 0
    if stat_module.S_ISDIR(st.st_mode):
        scan = Scanner(
            path, NoCache(), store=store, generation=generation, tree_store=store, put_trees=True
        ).scan()
        refuse_unreadable(scan.unreadable, path)
        return TreeEntry(name, "dir", scan.root_id, scan.bytes), scan.files
    if not stat_module.S_ISREG(st.st_mode):
        return None
    oid, size = store.put_file(path)
    return TreeEntry(name, "file", oid, size, bool(st.st_mode & stat_module.S_IXUSR)), 1


def _build(by_dir: dict[str, list[TreeEntry]], store: ObjectStore) -> str:
    """Store the trees from the deepest directory up; return the root's id."""
    dirs = set(by_dir)
    for rel in list(dirs):
        dirs.update(_parents(rel))
    dirs.add("")
    for rel in sorted(dirs - {""}, key=lambda d: -d.count("/")):
        tree = make_tree(by_dir.get(rel, []))
        size = sum(entry.size for entry in tree.entries if entry.kind != "symlink")
        parent, _, name = rel.rpartition("/")
        by_dir[parent].append(TreeEntry(name, "dir", put_tree(store, tree), size))
    return put_tree(store, make_tree(by_dir.get("", [])))


def plan_put_back(name: str, root: str, load: TreeLoader, tree: str) -> PutBackPlan:
    """Compare the saved ``tree`` with what is under ``root`` now; touch nothing."""
    plan = PutBackPlan(name, root)
    for change in diff_trees(load, None, tree):
        new = change.new
        assert new is not None
        path = os.path.join(root, change.path)
        if not os.path.lexists(path):
            plan.changes.append(change)
            if not new.is_dir:
                plan.writes.append(change.path)
        elif new.is_dir:
            if not (os.path.isdir(path) and not os.path.islink(path)):
                plan.clashes.append(change.path)
        elif hash_path(path) == (new.kind, new.id):
            plan.present.append(change.path)
        else:
            plan.clashes.append(change.path)
    return plan


def apply_put_back(
    plan: PutBackPlan, store: ObjectStore, generation: int, progress: Progress
) -> None:
    """Write a checked put-back (never over anything: each path written is new)."""
    if plan.clashes:
        raise UsageError("a put-back with clashes cannot be applied")
    os.makedirs(plan.root, exist_ok=True)
    Restorer(plan.root, store, generation).apply(plan.changes, progress)
