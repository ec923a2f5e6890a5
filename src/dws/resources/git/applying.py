"""Carrying out a git restore plan with plumbing commands only (no checkout, reset or stash,
so no checkout hook runs, and nothing but HEAD, the index and the planned files change):

1. the index becomes the commit's tree (`git read-tree --reset`, keeping cached stat data);
2. files the target no longer has are deleted, and directories left empty removed;
3. files that come from the commit are written by `git checkout-index` (filters apply);
4. files that come from the patch tree are written from the object store, each to a
   temporary name renamed into place;
5. the staged entries of the patch tree go into the index (`git update-index --index-info`);
6. HEAD moves last: onto the branch, or detached at the commit.
"""

from __future__ import annotations

import contextlib
import os
import stat

from dws.errors import DwsError
from dws.model.tree import TreeEntry
from dws.resources.git.excludes import Excludes
from dws.resources.git.gitcmd import Git
from dws.resources.git.planning import GitRestorePlan, HeadMove
from dws.resources.git.worktree import EXECUTABLE, SYMLINK
from dws.store.base import ObjectStore
from dws.store.fileio import removing_on_error, temp_name

REFLOG_MESSAGE = "dws restore"


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def apply_plan(git: Git, store: ObjectStore, plan: GitRestorePlan, excludes: Excludes) -> None:
    """Bring the repository to the plan's target."""
    assert plan.target is not None and plan.head is not None
    root = git.worktree
    for leftover in plan.leftovers:
        with contextlib.suppress(OSError):
            os.unlink(os.path.join(root, leftover))
    commit = plan.target.commit
    git.run("read-tree", *(["--reset", commit] if commit else ["--empty"]))
    removed = [c.path for c in plan.changes if c.old is not None and c.new is None]
    for path in removed:
        _remove(root, path)
    _prune_empty_parents(root, removed, excludes)
    from_patch = set(plan.target.dirty)
    from_commit = [c.path for c in plan.changes if c.new is not None and c.path not in from_patch]
    if from_commit:
        for path in from_commit:
            _clear_empty_dir(root, path)
        paths = b"".join(os.fsencode(p) + b"\0" for p in from_commit)
        git.run("checkout-index", "-f", "-z", "--stdin", input=paths)
    writer = FileWriter(root, store)
    for change in plan.changes:
        if change.new is not None and change.path in from_patch:
            writer.write(change.path, change.old, change.new)
    _stage(git, store, plan, excludes)
    git.run("update-index", "-q", "--refresh", ok=(0, 1))
    current = plan.current
    if current is None or (current.work.head, current.work.branch) != (
        plan.head.commit,
        plan.head.branch,
    ):
        _move_head(git, plan.head)


def _remove(root: str, path: str) -> None:
    full = os.path.join(root, path)
    try:
        if stat.S_ISDIR(os.lstat(full).st_mode):
            return  # a directory where a file was recorded is left for the user
        os.unlink(full)
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise DwsError(f"cannot remove {full}: {exc.strerror or exc}") from None


def _prune_empty_parents(root: str, removed: list[str], excludes: Excludes) -> None:
    """Remove the directories that deleting ``removed`` left empty, as git does."""
    parents = {p.rpartition("/")[0] for p in removed} - {""}
    for parent in sorted(parents, key=lambda p: -p.count("/")):
        current = parent
        while current and current not in excludes:
            try:
                os.rmdir(os.path.join(root, current))
            except OSError:
                break  # not empty (or gone): stop climbing
            current = current.rpartition("/")[0]


def _clear_empty_dir(root: str, path: str) -> None:
    full = os.path.join(root, path)
    with contextlib.suppress(OSError):
        if stat.S_ISDIR(os.lstat(full).st_mode):
            os.rmdir(full)  # an empty directory where a file goes (planning checked it)


class FileWriter:
    """Writes patch-tree entries: each file to a temporary name, renamed into place."""

    def __init__(self, root: str, store: ObjectStore) -> None:
        self.root = root
        self.store = store
        self.umask = _umask()

    def write(self, path: str, old: TreeEntry | None, new: TreeEntry) -> None:
        full = os.path.join(self.root, path)
        try:
            self._parents(path)
            _clear_empty_dir(self.root, path)
            mode = (0o777 if new.exec else 0o666) & ~self.umask
            if new.kind == "symlink":
                assert new.target is not None
                tmp = temp_name(os.path.dirname(full))
                os.symlink(new.target, tmp)
                with removing_on_error(tmp):
                    os.replace(tmp, full)
            elif old is not None and old.kind == "file" and old.id == new.id:
                os.chmod(full, mode)
            else:
                tmp = temp_name(os.path.dirname(full))
                with removing_on_error(tmp):
                    self.store.materialize(new.id, tmp, mode)
                    os.chmod(tmp, mode)
                    os.replace(tmp, full)
        except OSError as exc:
            raise DwsError(f"cannot restore {full}: {exc.strerror or exc}") from None

    def _parents(self, path: str) -> None:
        current = self.root
        for part in path.split("/")[:-1]:
            current = os.path.join(current, part)
            try:
                mode = os.lstat(current).st_mode
            except FileNotFoundError:
                os.mkdir(current)
                continue
            if not stat.S_ISDIR(mode):
                raise DwsError(f"refusing to write through {current}: it is not a real directory")


def _stage(git: Git, store: ObjectStore, plan: GitRestorePlan, excludes: Excludes) -> None:
    """Put the recorded staged entries into the index (staged deletions remove entries)."""
    assert plan.target is not None
    zero = "0" * len(plan.target.commit or "0" * 40)
    lines = []
    for path in excludes.keep(plan.target.staged):
        entry = plan.overlay.index.get(path)
        if entry is None:
            lines.append(f"0 {zero}\t{path}")
            continue
        if entry.kind == "symlink":
            assert entry.target is not None
            mode, data = SYMLINK, os.fsencode(entry.target)
        else:
            mode, data = (EXECUTABLE if entry.exec else "100644"), store.get_verified(entry.id)
        oid = git.text("hash-object", "-w", "--no-filters", "--stdin", input=data)
        lines.append(f"{mode} {oid}\t{path}")
    if lines:
        payload = b"".join(os.fsencode(line) + b"\0" for line in lines)
        git.run("update-index", "-z", "--index-info", input=payload)


def _move_head(git: Git, head: HeadMove) -> None:
    if head.branch is not None:
        git.run("symbolic-ref", "-m", REFLOG_MESSAGE, "HEAD", f"refs/heads/{head.branch}")
    elif head.commit is not None:
        git.run("update-ref", "--no-deref", "-m", REFLOG_MESSAGE, "HEAD", head.commit)
