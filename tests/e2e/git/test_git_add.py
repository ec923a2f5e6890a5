"""`dws add git`: local repositories, clones of URLs, the workspace's own repository, the
overlap rule, and the .gitignore suggestion."""

from __future__ import annotations

from pathlib import Path

import pytest

import dws as dws_api
from helpers.cli import api, assert_error, assert_unchanged, disk_state, dws, ok, resources_json
from helpers.git import commit, git, init_repo, rev, write


@pytest.fixture
def bare_ws(tmp_path: Path) -> Path:
    """An empty workspace (not a repository) with a repository ``code`` inside it and the
    directory data/raw."""
    root = tmp_path / "ws"
    init_repo(root / "code", {"main.py": "print(1)\n"})
    (root / "data/raw").mkdir(parents=True)
    dws_api.Workspace.init(str(root))
    return root


def test_add_a_repository_inside_and_outside_the_workspace(bare_ws: Path, tmp_path: Path) -> None:
    outside = init_repo(tmp_path / "elsewhere", {"x.py": "x\n"})

    ok(dws(bare_ws, "add", "git", "code", "--role", "code"))
    ok(dws(bare_ws, "add", "git", str(outside), "-r", "c", "--name", "other"))

    assert [(r["name"], r["type"], r["role"], r["path"]) for r in resources_json(bare_ws)] == [
        ("code", "git", "code", "code"),
        ("other", "git", "code", str(outside)),
    ]


def test_add_a_url_clones_it_into_the_workspace(bare_ws: Path, tmp_path: Path) -> None:
    upstream = init_repo(tmp_path / "upstream", {"lib.py": "def f(): ...\n"})
    url = upstream.as_uri()

    first = ok(dws(bare_ws, "add", "git", url, "--role", "code", "--name", "lib"))
    ok(dws(bare_ws, "add", "git", url, "--role", "code", "--name", "lib2", "--path", "vendor/l"))

    assert "cloned from" in first.out
    assert (bare_ws / "lib/lib.py").read_text() == "def f(): ...\n"
    assert rev(bare_ws / "vendor/l", "HEAD") == rev(upstream, "HEAD")
    entries = {r["name"]: r for r in resources_json(bare_ws)}
    assert entries["lib"]["path"] == "lib" and entries["lib"]["url"] == url
    assert entries["lib2"]["path"] == "vendor/l"
    ok(dws(bare_ws, "snapshot", "v1"))


def test_a_url_without_a_name_is_named_after_the_repository(bare_ws: Path, tmp_path: Path) -> None:
    upstream = init_repo(tmp_path / "ml-models.git", {"m.py": "m\n"})

    ok(dws(bare_ws, "add", "git", upstream.as_uri(), "--role", "code"))

    assert [r["name"] for r in resources_json(bare_ws)] == ["ml_models"]
    assert (bare_ws / "ml_models/m.py").is_file()


def test_a_failed_clone_leaves_nothing_behind(bare_ws: Path, tmp_path: Path) -> None:
    before = disk_state(bare_ws)

    result = dws(bare_ws, "add", "git", (tmp_path / "nope").as_uri(), "-r", "c", "--name", "x")

    assert_error(result, 1, contains="clon")
    assert_unchanged(bare_ws, before)


ADD_ERRORS = {
    "not-a-repository": (["git", "data/raw", "-r", "c"], 2, "git"),
    "inside-a-repository": (["git", "code/sub", "-r", "c"], 2, "top directory"),
    "keep-hashes": (["git", "code", "-r", "c", "--keep", "hashes"], 2, "--keep"),
    "data-role": (["git", "code", "-r", "source-data"], 2, "role"),
    "clone-over-a-directory": (["git", "file:///x.git", "-r", "c", "--name", "code"], 2, "exists"),
    "path-without-url": (["git", "code", "-r", "c", "--path", "x"], 2, "--path"),
}


@pytest.mark.parametrize("case", list(ADD_ERRORS))
def test_add_errors_change_nothing(bare_ws: Path, case: str) -> None:
    args, code, message = ADD_ERRORS[case]
    (bare_ws / "code/sub").mkdir()
    before = disk_state(bare_ws)

    result = dws(bare_ws, "add", *args)

    assert_error(result, code, contains=message)
    assert_unchanged(bare_ws, before)


def test_data_resources_may_lie_inside_a_repository_and_nothing_else_may(bare_ws: Path) -> None:
    write(bare_ws, {"code/data/x.csv": "1\n"})
    ok(dws(bare_ws, "add", "git", "code", "-r", "c"))
    ok(dws(bare_ws, "add", "local-files", "code/data", "-r", "s", "--name", "inner"))
    init_repo(bare_ws / "code/vendor", {"v.py": "v\n"})
    init_repo(bare_ws / "data/raw/repo", {"r.py": "r\n"})
    ok(dws(bare_ws, "add", "local-files", "data/raw", "-r", "s", "--name", "raw"))

    git_in_git = dws(bare_ws, "add", "git", "code/vendor", "-r", "c", "--name", "v")
    git_in_data = dws(bare_ws, "add", "git", "data/raw/repo", "-r", "c", "--name", "r")
    data_holding_git = dws(bare_ws, "add", "local-files", ".", "-r", "i", "--name", "all")

    assert_error(git_in_git, 2, contains="overlaps resource 'code'")
    assert_error(git_in_data, 2, contains="overlaps resource 'raw'")
    assert_error(data_holding_git, 2, contains="overlap")
    assert [r["name"] for r in resources_json(bare_ws)] == ["code", "inner", "raw"]


def test_the_workspace_repository_can_be_added_and_is_offered_a_gitignore(
    tmp_path: Path,
) -> None:
    root = init_repo(tmp_path / "proj", {"train.py": "x\n"})
    (root / "data/raw").mkdir(parents=True)
    dws_api.Workspace.init(str(root))
    ok(dws(root, "add", "local-files", "data/raw", "-r", "s", "--name", "raw"))

    result = ok(dws(root, "--batch", "add", "git", ".", "-r", "c", "--name", "project"))

    assert "suggestion" in result.err and "/data/raw/" in result.err
    assert not (root / ".gitignore").exists()  # only suggested without a terminal
    ws = api(root)
    for suggestion in ws.ignore_suggestions("project"):
        ws.apply_ignore_suggestion(suggestion)
    assert (root / ".gitignore").read_text() == "/data/raw/\n"
    assert ws.ignore_suggestions("raw") == []
    assert git(root, "status", "--porcelain", "--untracked-files=all", "data") == ""


def test_adding_data_inside_a_repository_suggests_ignoring_it(bare_ws: Path) -> None:
    ok(dws(bare_ws, "add", "git", "code", "-r", "c"))
    commit(bare_ws / "code", "ignore nothing yet", {".gitignore": "*.tmp\n"})
    (bare_ws / "code/data").mkdir()

    result = ok(dws(bare_ws, "add", "local-files", "code/data", "-r", "i", "--name", "feat"))

    assert "/data/" in result.err and "code/.gitignore" in result.err
    assert (bare_ws / "code/.gitignore").read_text() == "*.tmp\n"
