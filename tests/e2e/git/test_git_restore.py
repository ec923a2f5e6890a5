"""Restore of git resources: exact round trips, branch and detached HEAD handling, fetching
a commit from a remote, refusals that change nothing, and --force recovery."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from helpers.cli import api, api_snapshot, assert_error, dws, ok
from helpers.git import (
    commit,
    git,
    head_ref,
    porcelain,
    repo_state,
    rev,
    work_files,
    write,
)

from .test_git_snapshot import make_every_kind_of_change


def recorded(repo: Path) -> tuple[bytes, str, str, dict[str, object]]:
    """What a restore must bring back: status, HEAD, branch and the files."""
    return porcelain(repo), rev(repo, "HEAD"), head_ref(repo), work_files(repo)


def test_every_kind_of_change_round_trips(code_ws: Path) -> None:
    repo = code_ws / "code"
    make_every_kind_of_change(repo)
    (repo / "run.sh").write_text("#!/bin/sh\n")
    (repo / "run.sh").chmod(0o755)
    api_snapshot(code_ws, "v1")
    v1 = recorded(repo)
    commit(repo, "everything", {"main.py": "print('v2')\n"})
    write(repo, {"later.txt": "later\n", "notes.txt": "changed\n"})
    (repo / "link").unlink()
    api_snapshot(code_ws, "v2")
    v2 = recorded(repo)

    ok(dws(code_ws, "restore", "v1"))
    # main moved on since v1, so HEAD is detached at v1's commit; status and files are v1's
    assert porcelain(repo) == v1[0]
    assert rev(repo, "HEAD") == v1[1]
    assert work_files(repo) == v1[3]

    ok(dws(code_ws, "restore", "v2"))  # back onto main, whose tip v2 recorded
    assert recorded(repo) == v2


def test_restore_stays_on_the_branch_when_its_tip_is_unchanged(code_ws: Path) -> None:
    repo = code_ws / "code"
    api_snapshot(code_ws, "v1")
    git(repo, "switch", "-q", "-c", "feature")
    commit(repo, "feature work", {"main.py": "print('feature')\n"})
    api_snapshot(code_ws, "v2")

    result = ok(dws(code_ws, "restore", "v1"))

    assert head_ref(repo) == "refs/heads/main"
    assert (repo / "main.py").read_text() == "print('v1')\n"
    assert "detached" not in result.err
    assert rev(repo, "feature") != rev(repo, "main")  # no branch moved


def test_a_branch_that_moved_on_gives_a_detached_head_and_a_note(code_ws: Path) -> None:
    repo = code_ws / "code"
    api_snapshot(code_ws, "v1")
    old = rev(repo, "HEAD")
    new = commit(repo, "moves main", {"main.py": "print('v2')\n"})
    api_snapshot(code_ws, "v2")

    result = ok(dws(code_ws, "restore", "v1"))

    assert head_ref(repo) == "detached"
    assert rev(repo, "HEAD") == old
    assert rev(repo, "main") == new  # the branch itself is never moved
    assert "detached" in result.err and "moved on" in result.err


def test_a_detached_head_is_restored_detached(code_ws: Path) -> None:
    repo = code_ws / "code"
    first = rev(repo, "HEAD")
    commit(repo, "second", {"main.py": "print('v2')\n"})
    git(repo, "switch", "-q", "--detach", first)
    api_snapshot(code_ws, "v1")
    git(repo, "switch", "-q", "main")
    api_snapshot(code_ws, "v2")

    ok(dws(code_ws, "restore", "v1"))

    assert head_ref(repo) == "detached" and rev(repo, "HEAD") == first


def test_a_commit_only_on_the_remote_is_fetched(code_ws: Path, tmp_path: Path) -> None:
    repo = code_ws / "code"
    origin = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", str(origin))
    git(repo, "remote", "add", "origin", origin.as_uri())
    wanted = commit(repo, "pushed, then lost locally", {"main.py": "print('remote')\n"})
    git(repo, "push", "-q", "origin", "main")
    api_snapshot(code_ws, "v1")
    git(repo, "reset", "-q", "--hard", "HEAD~1")
    git(repo, "update-ref", "-d", "refs/remotes/origin/main")
    git(repo, "reflog", "expire", "--expire=now", "--all")
    git(repo, "gc", "-q", "--prune=now")
    assert git(repo, "cat-file", "-t", wanted, check=False).strip() != "commit"
    api_snapshot(code_ws, "v2")

    result = ok(dws(code_ws, "restore", "v1"))

    assert rev(repo, "HEAD") == wanted
    assert (repo / "main.py").read_text() == "print('remote')\n"
    assert "fetched" in result.err


def test_a_commit_that_is_nowhere_is_an_integrity_error(code_ws: Path) -> None:
    repo = code_ws / "code"
    lost = commit(repo, "lost", {"main.py": "print('lost')\n"})
    api_snapshot(code_ws, "v1")
    git(repo, "reset", "-q", "--hard", "HEAD~1")
    git(repo, "reflog", "expire", "--expire=now", "--all")
    git(repo, "gc", "-q", "--prune=now")
    api_snapshot(code_ws, "v2")
    before = repo_state(repo)

    result = dws(code_ws, "restore", "v1")

    assert_error(result, 4, contains=lost[:12], max_lines=3)
    assert repo_state(repo) == before


UNSAVED = {
    "unstaged": lambda repo: write(repo, {"main.py": "print('unsaved')\n"}),
    "untracked": lambda repo: write(repo, {"scratch é.txt": "unsaved\n"}),
    "staged-only": lambda repo: (
        write(repo, {"main.py": "print('staged')\n"}),
        git(repo, "add", "main.py"),
        write(repo, {"main.py": "print('v2')\n"}),
    ),
    "binary": lambda repo: write(repo, {"lib/util.py": bytes(range(200))}),
}


@pytest.mark.parametrize("kind", list(UNSAVED))
def test_unsaved_changes_refuse_with_exit_3_and_change_nothing(code_ws: Path, kind: str) -> None:
    repo = code_ws / "code"
    api_snapshot(code_ws, "v1")
    commit(repo, "v2", {"main.py": "print('v2')\n"})
    api_snapshot(code_ws, "v2")
    UNSAVED[kind](repo)
    before = repo_state(repo)

    result = dws(code_ws, "restore", "v1")

    assert_error(result, 3, max_lines=3, contains="--force")
    assert "code/" in result.err  # the unsaved paths are named
    assert repo_state(repo) == before


def test_force_saves_the_unsaved_changes_as_a_patch_that_applies(code_ws: Path) -> None:
    repo = code_ws / "code"
    api_snapshot(code_ws, "v1")
    write(repo, {"main.py": "print('unsaved work')\n", "new é.bin": bytes(range(256))})
    git(repo, "rm", "-q", "lib/util.py")

    result = ok(dws(code_ws, "restore", "v1", "--force"))

    assert (repo / "main.py").read_text() == "print('v1')\n"
    assert not (repo / "new é.bin").exists() and (repo / "lib/util.py").exists()
    match = re.search(r"saved to (\S+\.patch)", result.err)
    assert match, result.err
    patch = Path(match.group(1))
    assert patch.is_file() and ".dataworkspace/local/recovered" in str(patch)
    git(repo, "apply", "--3way", str(patch))
    assert (repo / "main.py").read_text() == "print('unsaved work')\n"
    assert (repo / "new é.bin").read_bytes() == bytes(range(256))
    assert not (repo / "lib/util.py").exists()


def test_ignored_files_are_left_alone_and_never_overwritten(code_ws: Path) -> None:
    repo = code_ws / "code"
    commit(repo, "ignore logs", {".gitignore": "*.log\n"})
    write(repo, {"run.log": "ignored output\n"})
    api_snapshot(code_ws, "v1")
    commit(repo, "v2", {"main.py": "print('v2')\n"})
    api_snapshot(code_ws, "v2")

    ok(dws(code_ws, "restore", "v1"))
    assert (repo / "run.log").read_text() == "ignored output\n"

    git(repo, "switch", "-q", "main")
    write(repo, {"out/x.log": "tracked\n"})
    git(repo, "add", "-f", "out/x.log")
    git(repo, "commit", "-q", "-m", "track a file where an ignored one will stand")
    git(repo, "rm", "-q", "--cached", "out/x.log")
    git(repo, "commit", "-q", "-m", "untrack it")
    api_snapshot(code_ws, "v3")
    git(repo, "switch", "-q", "--detach", "HEAD~1")
    api_snapshot(code_ws, "v4")
    git(repo, "switch", "-q", "main")
    write(repo, {"out/x.log": "ignored, in the way\n"})
    before = repo_state(repo)

    result = dws(code_ws, "restore", "v4")

    assert_error(result, 3, max_lines=3, contains="ignored")
    assert repo_state(repo) == before


def test_the_workspace_repository_with_data_inside(own_ws: Path) -> None:
    root = own_ws
    api_snapshot(root, "v1")
    state = api(root).show("v1")[0].resources["project"].state
    assert state["dirty"] == []  # neither data/raw nor .dataworkspace/ belong to it
    commit(root, "v2 code", {"train.py": "lr = 0.2\n"})
    write(root, {"data/raw/a.csv": "3,4\n", "untracked.txt": "u\n"})
    api_snapshot(root, "v2")
    snapshots = sorted(p.name for p in (root / ".dataworkspace/snapshots").iterdir())

    ok(dws(root, "restore", "v1"))

    assert (root / "train.py").read_text() == "lr = 0.1\n"
    assert not (root / "untracked.txt").exists()
    assert (root / "data/raw/a.csv").read_text() == "1,2\n"  # restored by its own resource
    assert sorted(p.name for p in (root / ".dataworkspace/snapshots").iterdir()) == snapshots
    ok(dws(root, "restore", "v2"))
    assert (root / "train.py").read_text() == "lr = 0.2\n"
    assert (root / "data/raw/a.csv").read_text() == "3,4\n"


def test_restoring_the_workspace_repository_never_touches_tracked_data(own_ws: Path) -> None:
    root = own_ws
    commit(root, "data committed too", {"data/raw/a.csv": "1,2\n"})
    api_snapshot(root, "v1")
    commit(root, "new data and code", {"data/raw/a.csv": "9,9\n", "train.py": "lr = 0.3\n"})
    api_snapshot(root, "v2")

    ok(dws(root, "restore", "v1", "--only", "project"))

    assert (root / "train.py").read_text() == "lr = 0.1\n"
    assert (root / "data/raw/a.csv").read_text() == "9,9\n"  # owned by raw, left alone
    assert (root / ".dataworkspace/workspace.json").is_file()


def test_a_missing_repository_is_a_clear_error(code_ws: Path) -> None:
    api_snapshot(code_ws, "v1")
    shutil.rmtree(code_ws / "code")

    result = dws(code_ws, "snapshot", "v2")

    assert_error(result, 2, contains="missing")


def test_a_repository_without_commits_round_trips(tmp_path: Path) -> None:
    import dws as dws_api

    root = tmp_path / "ws"
    repo = root / "code"
    repo.mkdir(parents=True)
    git(repo, "init", "-q")
    write(repo, {"a.txt": "first\n"})
    git(repo, "add", "a.txt")
    ws = dws_api.Workspace.init(str(root))
    ws.add_resource("git", str(repo), "code", name="code")
    api_snapshot(root, "v1")
    v1 = (porcelain(repo), work_files(repo))
    write(repo, {"a.txt": "second\n", "b.txt": "b\n"})
    api_snapshot(root, "v2")

    ok(dws(root, "restore", "v1"))

    assert (porcelain(repo), work_files(repo)) == v1


def test_dry_run_shows_the_plan_and_the_refusal_and_changes_nothing(code_ws: Path) -> None:
    repo = code_ws / "code"
    api_snapshot(code_ws, "v1")
    commit(repo, "v2", {"main.py": "print('v2')\n"})
    api_snapshot(code_ws, "v2")
    write(repo, {"scratch.txt": "unsaved\n"})
    before = repo_state(repo)

    result = ok(dws(code_ws, "restore", "v1", "--dry-run"))
    doc = ok(dws(code_ws, "--json", "restore", "v1", "--dry-run"))

    assert "would refuse" in result.err and "code/scratch.txt" in result.err
    assert "modified  main.py" in result.out
    assert '"scratch.txt"' in doc.out and "detached" in doc.out  # conflicts and notes
    assert repo_state(repo) == before
