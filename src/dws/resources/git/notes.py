"""The lines `dws status` and `dws diff` show for a repository beside its changed files:
branch, commit, the commits in between, uncommitted paths."""

from __future__ import annotations

from dws.resources.git.gitcmd import Git
from dws.resources.git.state import GitState
from dws.resources.git.worktree import WorkState

MAX_LINES = 20


def _where(commit: str | None, branch: str | None) -> str:
    if commit is None:
        return f"no commit yet on branch {branch}" if branch else "no commit yet"
    if branch is None:
        return f"detached HEAD at {commit[:10]}"
    return f"branch {branch} at {commit[:10]}"


def _commits_between(git: Git, old: str | None, new: str | None) -> list[str]:
    """'N commit(s) ...' and the newest commits' one-line logs from ``old`` to ``new``."""
    if old == new or new is None:
        return []
    missing = [c[:10] for c in (old, new) if c is not None and not git.has_commit(c)]
    if missing:
        return [f"commit {', '.join(missing)} is not in the repository (fetch to compare)"]
    span = f"{old}..{new}" if old else new
    count = int(git.text("rev-list", "--count", span))
    lines = [f"{count} commit(s) from {old[:10] if old else 'the start'} to {new[:10]}:"]
    log = git.text("log", f"--max-count={MAX_LINES}", "--format=%h %s", span)
    lines += [f"  {line}" for line in log.splitlines()]
    if count > MAX_LINES:
        lines.append(f"  ... and {count - MAX_LINES} more")
    if old is not None:
        behind = int(git.text("rev-list", "--count", f"{new}..{old}"))
        if behind:
            lines.append(f"{behind} commit(s) of {old[:10]} are not in {new[:10]}")
    return lines


def status_notes(git: Git, base: GitState | None, work: WorkState) -> list[str]:
    """Where HEAD is, what moved since ``base``, and git's view of the dirty paths."""
    lines = [_where(work.head, work.branch)]
    if base is not None:
        if base.branch != work.branch:
            lines.append(f"at the snapshot: {_where(base.commit, base.branch)}")
        lines += _commits_between(git, base.commit, work.head)
    if work.dirty:
        lines.append(f"{len(work.dirty)} uncommitted path(s) (git's status codes):")
        for path in sorted(work.dirty)[:MAX_LINES]:
            code = work.dirty[path].code.replace(".", " ")
            lines.append(f"  {code} {path}")
        if len(work.dirty) > MAX_LINES:
            lines.append(f"  ... and {len(work.dirty) - MAX_LINES} more")
    return lines + work.warnings


def diff_notes(git: Git, old: GitState, new: GitState) -> list[str]:
    """Branch and commits from one recorded state to another."""
    lines = []
    if (old.commit, old.branch) != (new.commit, new.branch):
        lines.append(f"{_where(old.commit, old.branch)} -> {_where(new.commit, new.branch)}")
    lines += _commits_between(git, old.commit, new.commit)
    if len(old.dirty) != len(new.dirty) or old.patch != new.patch:
        lines.append(f"uncommitted paths: {len(old.dirty)} -> {len(new.dirty)}")
    return lines
