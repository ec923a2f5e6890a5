"""The recorded state of a git resource, and capturing the current one.

``{"commit", "branch", "url", "patch", "dirty", "staged"}`` (see docs/format.md): the
commit HEAD pointed to (null before the first commit), the branch (null when detached),
the remote's URL without credentials (null without remotes), the patch tree of
uncommitted changes (null when clean; see ``overlay``), the dirty paths and the staged ones.
"""

from __future__ import annotations

import re
from typing import Any

from msgspec import Struct

from dws.errors import FormatError
from dws.model.ids import check_object_id
from dws.model.paths import check_relative_path
from dws.resources.base import State
from dws.resources.git.excludes import Excludes
from dws.resources.git.gitcmd import Git
from dws.resources.git.overlay import Overlay
from dws.resources.git.urls import strip_credentials
from dws.resources.git.worktree import (
    WorkState,
    blob_entry,
    check_utf8,
    read_work_state,
    work_entry,
)
from dws.store.base import ObjectStore

_COMMIT_RE = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
_BAD_BRANCH_RE = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]|\.\.|@\{|^[-/.]|[/.]$|\.lock$|//")


class GitState(Struct, frozen=True):
    """A parsed, validated git state."""

    commit: str | None
    branch: str | None
    url: str | None
    patch: str | None
    dirty: list[str]
    staged: list[str]

    def to_json(self) -> State:
        """The state as recorded in a snapshot."""
        return {
            "commit": self.commit,
            "branch": self.branch,
            "url": self.url,
            "patch": self.patch,
            "dirty": self.dirty,
            "staged": self.staged,
        }

    @classmethod
    def parse(cls, state: State) -> GitState:
        """Validate a state read from a record; FormatError on anything malformed."""
        commit = state.get("commit")
        if commit is not None and not (isinstance(commit, str) and _COMMIT_RE.fullmatch(commit)):
            raise FormatError(f"malformed commit id in git state: {str(commit)[:80]!r}")
        branch = state.get("branch")
        if branch is not None and not is_branch_name(branch):
            raise FormatError(f"malformed branch name in git state: {str(branch)[:80]!r}")
        url = state.get("url")
        if url is not None and (not isinstance(url, str) or "\x00" in url):
            raise FormatError("malformed remote URL in git state")
        patch = state.get("patch")
        if patch is not None:
            check_object_id(patch, "patch tree id in git state")
        dirty = _paths(state.get("dirty", []), "dirty")
        staged = _paths(state.get("staged", []), "staged")
        if not set(staged) <= set(dirty) or (patch is None) != (not dirty):
            raise FormatError("inconsistent dirty, staged and patch fields in git state")
        return cls(commit, branch, url, patch, dirty, staged)


def is_branch_name(value: Any) -> bool:
    """A name git accepts under refs/heads/ (and no option-like or traversing one)."""
    return isinstance(value, str) and bool(value) and not _BAD_BRANCH_RE.search(value)


def _paths(value: Any, what: str) -> list[str]:
    if not isinstance(value, list):
        raise FormatError(f"git state: {what} must be a list of paths")
    paths = [check_relative_path(p) for p in value]
    if paths != sorted(set(paths)):
        raise FormatError(f"git state: {what} paths must be sorted and unique")
    return paths


class Capture(Struct):
    """The repository now: HEAD, branch, dirty paths, and the overlay describing them."""

    work: WorkState
    overlay: Overlay


def capture(git: Git, excludes: Excludes, store: ObjectStore | None) -> Capture:
    """Read the current state; with ``store``, also store every uncommitted file's bytes
    (the working file's, and the staged blob's) there. Nothing in the repository changes."""
    work = read_work_state(git, excludes)
    dirty = sorted(check_utf8(p, git.worktree) for p in work.dirty)
    staged = [p for p in dirty if work.dirty[p].staged]
    overlay = Overlay(dirty, staged)
    for path in dirty:
        if work.dirty[path].in_work:
            entry = work_entry(git.worktree, path, store)
            if entry is not None:
                overlay.work[path] = entry
    indexed = {p: work.dirty[p].index for p in staged}
    blobs = dict(git.read_blobs(i[1] for i in indexed.values() if i is not None))
    for path, index in indexed.items():
        if index is None:
            continue
        data = blobs.get(index[1])
        if data is None:
            raise FormatError(f"staged object {index[1]} of {path} is missing from {git.worktree}")
        if store is not None:
            store.put_bytes(data)
        overlay.index[path] = blob_entry(path.rsplit("/", 1)[-1], index[0], data)
    return Capture(work, overlay)


def remote_url(git: Git, branch: str | None) -> str | None:
    """The URL of the branch's remote, else of ``origin``, else of the first remote."""
    remotes = git.text("remote").split()
    if not remotes:
        return None
    preferred = None
    if branch is not None:
        preferred = git.text("config", "--get", f"branch.{branch}.remote", ok=(0, 1)) or None
    for name in (preferred, "origin", remotes[0]):
        if name in remotes:
            url = git.text("config", "--get", f"remote.{name}.url", ok=(0, 1))
            if url:
                return strip_credentials(url)
    return None
