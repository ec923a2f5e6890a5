"""Helpers of the git tests: real repositories built with the git executable in temp dirs,
and a record of everything a git command could change, to prove that nothing did."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

from helpers.cli import manifest

# A fixed identity and no user or system configuration, so the tests behave the same on
# every machine (no signing, no hooks path, no default branch from ~/.gitconfig).
GIT_ENV = {
    "GIT_AUTHOR_NAME": "Test",
    "GIT_AUTHOR_EMAIL": "test@example.com",
    "GIT_COMMITTER_NAME": "Test",
    "GIT_COMMITTER_EMAIL": "test@example.com",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
}


def git(repo: Path, *args: str, check: bool = True) -> str:
    """Run git in ``repo`` and return its stdout."""
    proc = subprocess.run(
        ["git", "-c", "init.defaultBranch=main", "-c", "protocol.file.allow=always", *args],
        cwd=repo,
        capture_output=True,
        env={**os.environ, **GIT_ENV},
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed: {proc.stderr.decode()}")
    return proc.stdout.decode("utf-8", "surrogateescape")


def write(root: Path, files: dict[str, str | bytes]) -> None:
    """Create or overwrite files (parents included)."""
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode() if isinstance(content, str) else content)


def init_repo(root: Path, files: dict[str, str | bytes] | None = None) -> Path:
    """A repository at ``root`` with one commit of ``files`` (empty commit if none)."""
    root.mkdir(parents=True, exist_ok=True)
    git(root, "init", "-q")
    write(root, files or {})
    git(root, "add", "-A")
    git(root, "commit", "-q", "--allow-empty", "-m", "initial")
    return root


def commit(root: Path, message: str, files: dict[str, str | bytes] | None = None) -> str:
    """Write ``files``, commit everything, return the new commit id."""
    write(root, files or {})
    git(root, "add", "-A")
    git(root, "commit", "-q", "--allow-empty", "-m", message)
    return rev(root, "HEAD")


def rev(root: Path, ref: str) -> str:
    """The commit id ``ref`` names."""
    return git(root, "rev-parse", "--verify", ref).strip()


def porcelain(root: Path) -> bytes:
    """`git status --porcelain=v1 -z` (untracked files listed one by one)."""
    proc = subprocess.run(
        ["git", "status", "--porcelain=v1", "-z", "--untracked-files=all"],
        cwd=root,
        capture_output=True,
        check=True,
        env={**os.environ, **GIT_ENV},
    )
    return proc.stdout


def head_ref(root: Path) -> str:
    """'refs/heads/NAME' when on a branch, else 'detached'."""
    return git(root, "symbolic-ref", "-q", "HEAD", check=False).strip() or "detached"


def work_files(root: Path) -> dict[str, Any]:
    """Files and links of the working tree (git tracks no directories), .git left out."""
    return {
        path: entry
        for path, entry in manifest(root).items()
        if entry[0] != "dir" and path != ".git" and not path.startswith(".git/")
    }


def repo_state(root: Path) -> dict[str, Any]:
    """Everything a dws command must leave alone when it refuses: status, HEAD, refs,
    stash, the index file's bytes and every file of the working tree."""
    return {
        "status": porcelain(root),
        "head": git(root, "rev-parse", "HEAD", check=False).strip(),
        "head_ref": head_ref(root),
        "refs": git(root, "for-each-ref", "--format=%(refname) %(objectname)"),
        "stash": git(root, "stash", "list"),
        "index": (root / ".git" / "index").read_bytes() if (root / ".git/index").exists() else b"",
        "files": work_files(root),
    }


def state_of(root: Path, tag: str, resource: str) -> dict[str, Any]:
    """The recorded state of ``resource`` in snapshot ``tag`` (read from the record)."""
    meta = root / ".dataworkspace"
    snapshot_id = (meta / "tags" / tag).read_text().strip()
    record = json.loads((meta / "snapshots" / f"{snapshot_id}.json").read_text())
    state: dict[str, Any] = record["resources"][resource]["state"]
    return state
