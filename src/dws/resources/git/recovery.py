"""Saving uncommitted work before a forced restore replaces it, as a patch that `git apply`
understands, without touching the user's index, refs or stash.

The working tree is added to a private index (``GIT_INDEX_FILE`` under the workspace's
``local/``), written as a git tree, and diffed against HEAD with ``--binary``; git's object
database only gains loose objects that nothing references. The patch is stored in the
object store and written to ``local/recovered/`` where the user can apply it.
"""

from __future__ import annotations

import contextlib
import os
import time

from dws.resources.git.excludes import Excludes
from dws.resources.git.gitcmd import Git, split_z
from dws.store.base import ObjectStore
from dws.store.fileio import write_new_file

_DIFF = ("diff-tree", "-p", "-r", "--binary", "--full-index", "--no-ext-diff", "--no-textconv")


def _empty_tree(git: Git) -> str:
    return git.text("hash-object", "-t", "tree", "--stdin", "-w", input=b"")


def _unignored(git: Git, prefixes: list[str]) -> list[str]:
    """Excluded directories git does not ignore anyway (naming an ignored one makes
    `git add` fail)."""
    if not prefixes:
        return []
    listed = b"".join(os.fsencode(p) + b"\0" for p in prefixes)
    ignored = split_z(git.run("check-ignore", "-z", "--stdin", input=listed, ok=(0, 1)))
    names = {os.fsdecode(p) for p in ignored}
    return [p for p in prefixes if p not in names]


def _work_tree(git: Git, index: str, head: str | None, excludes: Excludes) -> str:
    """The tree of the working tree (untracked files included, ignored ones not)."""
    private = git.with_index(index)
    private.run("read-tree", *([head] if head else ["--empty"]))
    keep = Excludes(_unignored(git, excludes.prefixes))
    private.run("add", "-A", "--", *keep.pathspecs())
    return private.text("write-tree")


def save_unsaved(
    git: Git,
    store: ObjectStore,
    local_dir: str,
    name: str,
    head: str | None,
    excludes: Excludes,
    *,
    index_differs: bool,
) -> str:
    """Save every uncommitted change of the working tree (and, when ``index_differs``, the
    staged versions as a second patch) and return the note telling the user where it is
    and how to get it back."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    folder = os.path.join(local_dir, "recovered")
    os.makedirs(folder, exist_ok=True)
    index = os.path.join(local_dir, f"git-{name}-{os.getpid()}.index")
    base = head or _empty_tree(git)
    try:
        work_tree = _work_tree(git, index, head, excludes)
        patch = git.run(*_DIFF, base, work_tree)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(index)
        real_index = os.path.join(git.worktree, git.text("rev-parse", "--git-path", "index"))
        staged_tree = _staged_tree(git, real_index, index) if index_differs else None
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(index)
    paths = [_write(folder, f"{name}-{stamp}.patch", patch)]
    oids = [store.put_bytes(patch)]
    if staged_tree is not None and staged_tree != work_tree:
        staged = git.run(*_DIFF, base, staged_tree)
        paths.append(_write(folder, f"{name}-{stamp}-staged.patch", staged))
        oids.append(store.put_bytes(staged))
    against = f"commit {head[:10]}" if head else "an empty repository"
    staged_note = f" (staged versions that differ: {paths[1]})" if paths[1:] else ""
    return (
        f"changes not yet snapshotted were saved to {paths[0]} (object {oids[0][:10]})"
        f"{staged_note}; they were made against {against}: get them back with "
        f"`git -C {git.worktree} apply --3way {paths[0]}`"
    )


def _staged_tree(git: Git, real_index: str, private: str) -> str | None:
    """The tree of the user's index, written from a copy so the index is left as it is."""
    try:
        with open(real_index, "rb") as handle:
            data = handle.read()
    except FileNotFoundError:
        return None
    write_new_file(private, data)
    return git.with_index(private).text("write-tree")


def _write(folder: str, filename: str, data: bytes) -> str:
    path = os.path.join(folder, filename)
    counter = 1
    while os.path.exists(path):
        stem, ext = os.path.splitext(filename)
        path = os.path.join(folder, f"{stem}-{counter}{ext}")
        counter += 1
    write_new_file(path, data)
    return path
