"""Snapshot, status and diff of git resources: what is recorded, and that recording never
changes the repository (index bytes, refs, stash, files)."""

from __future__ import annotations

import os
from pathlib import Path

from helpers.cli import as_json, assert_error, dws, ok
from helpers.git import commit, git, repo_state, rev, state_of, write

BINARY = bytes(range(256)) * 3


def make_every_kind_of_change(repo: Path) -> None:
    """Staged, unstaged, both, untracked (binary, unicode, spaces), deletions, a rename,
    a symlink and an exec-bit change, on top of main.py and lib/util.py."""
    write(repo, {"main.py": "print('staged')\n"})
    git(repo, "add", "main.py")
    write(repo, {"main.py": "print('staged, then edited')\n"})  # MM
    git(repo, "mv", "lib/util.py", "lib/helpers.py")  # a staged rename
    write(repo, {"data é/日本 a b.bin": BINARY, "notes.txt": "untracked\n"})
    write(repo, {"staged new.txt": "added\n"})
    git(repo, "add", "staged new.txt")
    os.symlink("notes.txt", repo / "link")


def test_a_clean_repository_records_commit_and_branch(code_ws: Path) -> None:
    ok(dws(code_ws, "snapshot", "v1"))

    state = state_of(code_ws, "v1", "code")
    assert state == {
        "commit": rev(code_ws / "code", "HEAD"),
        "branch": "main",
        "url": None,
        "patch": None,
        "dirty": [],
        "staged": [],
    }


def test_snapshot_records_uncommitted_changes_and_touches_nothing(code_ws: Path) -> None:
    repo = code_ws / "code"
    make_every_kind_of_change(repo)
    before = repo_state(repo)

    ok(dws(code_ws, "snapshot", "v1"))

    assert repo_state(repo) == before  # index bytes, refs, stash, status and files
    state = state_of(code_ws, "v1", "code")
    assert state["dirty"] == [
        "data é/日本 a b.bin",
        "lib/helpers.py",
        "lib/util.py",
        "link",
        "main.py",
        "notes.txt",
        "staged new.txt",
    ]
    assert state["staged"] == ["lib/helpers.py", "lib/util.py", "main.py", "staged new.txt"]
    assert state["patch"] is not None
    assert git(repo, "stash", "list") == ""
    assert "dws" not in git(repo, "for-each-ref", "--format=%(refname)")


def test_snapshot_of_an_unchanged_repository_makes_no_new_record(code_ws: Path) -> None:
    write(code_ws / "code", {"notes.txt": "dirty\n"})
    first = ok(dws(code_ws, "snapshot", "v1"))
    second = ok(dws(code_ws, "snapshot", "v2"))

    assert "recorded" in first.out
    assert state_of(code_ws, "v1", "code") == state_of(code_ws, "v2", "code")
    assert "no new snapshot" in second.out


def test_status_shows_branch_commit_and_dirty_files(code_ws: Path) -> None:
    repo = code_ws / "code"
    ok(dws(code_ws, "snapshot", "v1"))
    write(repo, {"main.py": "print('edited')\n", "new file.txt": "x\n"})

    text = ok(dws(code_ws, "status")).out
    doc = as_json(dws(code_ws, "--json", "status"))

    head = rev(repo, "HEAD")[:10]
    assert f"branch main at {head}" in text
    assert " M main.py" in text and "?? new file.txt" in text
    item = next(r for r in doc["resources"] if r["name"] == "code")
    assert {(c["path"], c["status"]) for c in item["changes"]} == {
        ("main.py", "modified"),
        ("new file.txt", "added"),
    }
    assert any("2 uncommitted path(s)" in note for note in item["notes"])


def test_status_after_committing_the_snapshotted_changes_is_clean(code_ws: Path) -> None:
    repo = code_ws / "code"
    write(repo, {"main.py": "print('v2')\n", "new.txt": "n\n"})
    ok(dws(code_ws, "snapshot", "v1"))
    commit(repo, "commit what was snapshotted")

    doc = as_json(dws(code_ws, "--json", "status"))

    item = next(r for r in doc["resources"] if r["name"] == "code")
    assert item["changes"] == []  # the same bytes, now committed
    assert any("1 commit(s)" in note for note in item["notes"])


def test_diff_lists_commits_between_and_files_changed(code_ws: Path) -> None:
    repo = code_ws / "code"
    ok(dws(code_ws, "snapshot", "v1"))
    commit(repo, "tune the model", {"main.py": "print('v2')\n"})
    commit(repo, "add a loader", {"lib/load.py": "def load(): ...\n"})
    ok(dws(code_ws, "snapshot", "v2"))

    text = ok(dws(code_ws, "diff", "v1", "v2")).out
    doc = as_json(dws(code_ws, "--json", "diff", "v1", "v2"))

    assert "2 commit(s)" in text and "tune the model" in text and "add a loader" in text
    item = next(r for r in doc["resources"] if r["name"] == "code")
    assert {(c["path"], c["status"]) for c in item["changes"]} == {
        ("main.py", "modified"),
        ("lib/load.py", "added"),
    }


def test_the_remote_url_is_recorded_without_credentials(code_ws: Path) -> None:
    repo = code_ws / "code"
    git(repo, "remote", "add", "origin", "https://alice:s3cret@example.com/org/code.git")

    ok(dws(code_ws, "snapshot", "v1"))

    assert state_of(code_ws, "v1", "code")["url"] == "https://example.com/org/code.git"
    records = (code_ws / ".dataworkspace" / "snapshots").iterdir()
    assert all("s3cret" not in record.read_text() for record in records)


def test_a_repository_in_the_middle_of_a_merge_is_refused(code_ws: Path) -> None:
    repo = code_ws / "code"
    git(repo, "switch", "-q", "-c", "side")
    commit(repo, "side", {"main.py": "print('side')\n"})
    git(repo, "switch", "-q", "main")
    commit(repo, "main", {"main.py": "print('main')\n"})
    git(repo, "merge", "-q", "side", check=False)
    before = repo_state(repo)

    result = dws(code_ws, "snapshot", "v1")

    assert_error(result, 3, contains="unmerged")
    assert repo_state(repo) == before


def test_a_repository_without_commits_can_be_snapshotted(tmp_path: Path) -> None:
    import dws as dws_api

    root = tmp_path / "fresh"
    root.mkdir()
    git(root, "init", "-q")
    write(root, {"a.txt": "a\n"})
    ws = dws_api.Workspace.init(str(tmp_path / "fresh"))
    ws.add_resource("git", str(root), "code", name="code")

    ok(dws(root, "snapshot", "v1"))

    state = state_of(root, "v1", "code")
    assert state["commit"] is None and state["branch"] == "main"
    assert "a.txt" in state["dirty"]


def test_status_warns_when_the_directory_is_no_longer_a_repository(code_ws: Path) -> None:
    """A clone of a workspace may hold the code directory without its repository yet:
    status reports it and goes on with the other resources."""
    import shutil

    shutil.rmtree(code_ws / "code" / ".git")
    doc = as_json(dws(code_ws, "--json", "status"))
    (item,) = [r for r in doc["resources"] if r["name"] == "code"]
    assert item["changes"] == [] and any("missing" in w for w in item["warnings"])
