"""Planning a git restore: what changes, what would be lost, what is in the way. Nothing in
the repository is touched (the commit may be fetched: that only adds objects)."""

from __future__ import annotations

import os
import stat

from msgspec import Struct, field

from dws.errors import DwsError, IntegrityError, RefusedError
from dws.model.tree import TreeEntry
from dws.model.treediff import Change, TreeLoader
from dws.resources.base import RestorePlan, State
from dws.resources.git.gitcmd import Git, GitError
from dws.resources.git.overlay import Overlay, load_overlay
from dws.resources.git.state import Capture, GitState
from dws.resources.git.views import Commits, View, compare
from dws.store.base import ObjectStore


class HeadMove(Struct):
    """Where HEAD goes: onto ``branch`` (whose tip is ``commit``), or detached at ``commit``."""

    commit: str | None
    branch: str | None


class GitRestorePlan(RestorePlan):
    """A restore plan with what applying it needs beyond the file changes."""

    target: GitState | None = None
    overlay: Overlay = field(default_factory=Overlay)
    current: Capture | None = None
    head: HeadMove | None = None


def target_view(state: GitState, overlay: Overlay, commits: Commits) -> View:
    """The working tree ``state`` records (paths now owned by other resources left out)."""
    dirty = {p for p in overlay.dirty if p not in commits.excludes}
    return View(state.commit, dirty, {p: e for p, e in overlay.work.items() if p in dirty})


def current_view(capture: Capture) -> View:
    """The working tree as it is."""
    return View(capture.work.head, set(capture.overlay.dirty), capture.overlay.work)


def index_entries(
    commits: Commits, commit: str | None, overlay: Overlay, paths: set[str]
) -> dict[str, TreeEntry | None]:
    """What the index holds at each of ``paths`` in a state."""
    committed = commits.entries(commit, [p for p in paths if p not in overlay.staged])
    staged = set(overlay.staged)
    return {p: overlay.index.get(p) if p in staged else committed.get(p) for p in paths}


def plan(
    git: Git,
    commits: Commits,
    load: TreeLoader,
    store: ObjectStore,
    name: str,
    target_state: State,
    saved: list[State],
    current: Capture,
) -> GitRestorePlan:
    """The plan to bring the repository to ``target_state``."""
    target = GitState.parse(target_state)
    overlay = load_overlay(load, target.patch, target.dirty, target.staged)
    notes = fetch_if_missing(git, target)
    if target.commit is None and current.work.head is not None:
        raise RefusedError(
            f"resource {name!r} was snapshotted before its first commit; restoring it would "
            "mean emptying the repository's history, which dws does not do"
        )
    wanted = target_view(target, overlay, commits)
    changes = compare(commits, current_view(current), wanted)
    result = GitRestorePlan(
        name,
        changes,
        leftovers=current.work.leftovers,
        notes=notes,
        target=target,
        overlay=overlay,
        current=current,
    )
    result.conflicts = _conflicts(commits, load, current, target, overlay, saved, changes)
    result.blocked = _blocked(git.worktree, changes)
    result.missing_objects = _missing(store, changes, wanted, overlay)
    result.head = head_move(git, target, current, result.notes)
    return result


def fetch_if_missing(git: Git, target: GitState) -> list[str]:
    """Fetch the target commit from the repository's remotes (or the recorded URL) when
    it is not in the repository; IntegrityError when it is nowhere."""
    commit = target.commit
    if commit is None or git.has_commit(commit):
        return []
    remotes = git.text("remote").split()
    sources = [*remotes, *([target.url] if target.url else [])]
    error = "the repository has no remotes"
    for source in sources:
        for args in (["--no-write-fetch-head", source, commit], [source]):
            try:
                git.run("fetch", "--quiet", "--no-tags", "--no-recurse-submodules", *args)
            except GitError as exc:
                error = exc.message
                continue
            if git.has_commit(commit):
                return [f"fetched commit {commit[:10]} from {source}"]
    raise IntegrityError(
        f"commit {commit[:12]} of the snapshot is not in {git.worktree} and could not be "
        f"fetched from {', '.join(sources) or 'anywhere'}; nothing was changed",
        details=[error],
    )


def _saved_versions(
    commits: Commits, load: TreeLoader, states: list[GitState], paths: set[str]
) -> dict[str, list[TreeEntry]]:
    """For each path, the versions the given states hold there (working tree and index)."""
    out: dict[str, list[TreeEntry]] = {p: [] for p in paths}
    for state in states:
        try:
            overlay = load_overlay(load, state.patch, state.dirty, state.staged)
            held = commits.resolve(target_view(state, overlay, commits), paths)
            indexed = index_entries(commits, state.commit, overlay, paths)
        except DwsError:
            continue  # a state whose objects or commit are gone saves nothing
        for path in paths:
            out[path].extend(e for e in (held[path], indexed[path]) if e is not None)
    return out


def _conflicts(
    commits: Commits,
    load: TreeLoader,
    current: Capture,
    target: GitState,
    overlay: Overlay,
    saved: list[State],
    changes: list[Change],
) -> list[str]:
    """Uncommitted versions restore would replace that no saved state or the target holds."""
    dirty = current.work.dirty
    at_risk: dict[str, list[TreeEntry]] = {}
    for change in changes:
        if change.old is not None and change.path in dirty:
            at_risk.setdefault(change.path, []).append(change.old)
    staged = current.overlay.index
    wanted = index_entries(commits, target.commit, overlay, set(staged))
    for path, entry in staged.items():
        if not entry.same_content(wanted[path]):
            at_risk.setdefault(path, []).append(entry)
    if not at_risk:
        return []
    states = [target]
    for state in saved:
        try:
            states.append(GitState.parse(state))
        except DwsError:
            continue
    versions = _saved_versions(commits, load, states, set(at_risk))
    head = commits.entries(current.work.head, list(at_risk))
    conflicts = []
    for path, entries in sorted(at_risk.items()):
        known = [*versions[path], *([head[path]] if path in head else [])]
        if any(not any(e.same_content(k) for k in known) for e in entries):
            conflicts.append(path)
    return conflicts


def _blocked(root: str, changes: list[Change]) -> list[str]:
    """Paths where something the repository does not know (an ignored file, a directory
    holding ignored files) stands where restore must write."""
    removed = {c.path for c in changes if c.old is not None}
    blocked: list[str] = []
    for change in changes:
        if change.new is None:
            continue
        in_the_way = _ancestor_in_the_way(root, change.path, removed)
        if in_the_way is None and change.old is None:
            in_the_way = _occupied(root, change.path, removed)
        if in_the_way is not None and in_the_way not in blocked:
            blocked.append(in_the_way)
    return blocked


def _ancestor_in_the_way(root: str, path: str, removed: set[str]) -> str | None:
    parts = path.split("/")
    for depth in range(1, len(parts)):
        ancestor = "/".join(parts[:depth])
        try:
            mode = os.lstat(os.path.join(root, ancestor)).st_mode
        except FileNotFoundError:
            return None
        if stat.S_ISDIR(mode):
            continue
        return None if ancestor in removed else ancestor
    return None


def _occupied(root: str, path: str, removed: set[str]) -> str | None:
    full = os.path.join(root, path)
    try:
        mode = os.lstat(full).st_mode
    except FileNotFoundError:
        return None
    if not stat.S_ISDIR(mode):
        return path
    for dirpath, _dirnames, filenames in os.walk(full):
        for filename in filenames:
            rel = os.path.relpath(os.path.join(dirpath, filename), root).replace(os.sep, "/")
            if rel not in removed:
                return rel
    return None


def _missing(
    store: ObjectStore, changes: list[Change], wanted: View, overlay: Overlay
) -> list[str]:
    """Paths whose recorded bytes restore needs but the object store lacks."""
    missing = []
    for change in changes:
        new, old = change.new, change.old
        if new is None or new.kind != "file" or change.path not in wanted.dirty:
            continue
        if old is not None and old.kind == "file" and old.id == new.id:
            continue
        if not store.has(new.id):
            missing.append(change.path)
    for path, entry in overlay.index.items():
        if entry.kind == "file" and not store.has(entry.id) and path not in missing:
            missing.append(path)
    return missing


def head_move(git: Git, target: GitState, current: Capture, notes: list[str]) -> HeadMove:
    """Where HEAD goes, with a note when that is not simply where it was recorded."""
    commit, branch = target.commit, target.branch
    here = (current.work.head, current.work.branch)
    if commit is None:
        return HeadMove(None, branch)
    tip = None
    if branch is not None:
        tip = git.text("rev-parse", "-q", "--verify", f"refs/heads/{branch}^{{commit}}", ok=(0, 1))
    move = HeadMove(commit, branch if tip == commit else None)
    if (move.commit, move.branch) != here:
        _orphan_note(git, current, commit, notes)
        if branch is not None and tip != commit:
            where = f"now at {tip[:10]}" if tip else "it no longer exists"
            notes.append(
                f"HEAD detached at {commit[:10]}: branch {branch} has moved on since the "
                f"snapshot ({where}); `git switch {branch}` returns to it"
            )
        elif branch is None:
            notes.append(f"HEAD detached at {commit[:10]}, as when the snapshot was taken")
    return move


def _orphan_note(git: Git, current: Capture, commit: str, notes: list[str]) -> None:
    head = current.work.head
    if current.work.branch is not None or head is None or head == commit:
        return
    holders = git.text("for-each-ref", "--count=1", "--contains", head, "--format=%(refname)")
    if not holders:
        notes.append(
            f"the detached HEAD {head[:10]} is on no branch; keep it with "
            f"`git -C {git.worktree} branch NAME {head[:10]}`"
        )
