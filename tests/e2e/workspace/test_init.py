"""dws init, and every command run outside a workspace."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from pathlib import Path

import pytest

from helpers.cli import (
    META,
    api,
    as_json,
    assert_error,
    assert_unchanged,
    disk_state,
    dws,
    manifest,
    ok,
    write_files,
)


def test_init_creates_the_documented_layout(tmp_path: Path) -> None:
    root = tmp_path / "myproject"
    root.mkdir()

    result = ok(dws(root, "init"))

    assert "myproject" in result.out
    meta = root / META
    info = json.loads((meta / "workspace.json").read_text())
    assert info["format"] == 2
    assert info["name"] == "myproject"
    assert info["hash"] == "blake3"
    uuid.UUID(info["id"])
    assert json.loads((meta / "resources.json").read_text()) == []
    assert isinstance(json.loads((meta / "config.json").read_text()), dict)
    for sub in ("snapshots", "tags", "objects", "objects/packs", "objects/lists", "local"):
        assert (meta / sub).is_dir(), sub
    assert list((meta / "snapshots").iterdir()) == []
    assert list((meta / "tags").iterdir()) == []
    ignored = (meta / ".gitignore").read_text().split()
    assert "objects/" in ignored and "local/" in ignored
    # nothing but the metadata directory appeared
    assert sorted(p.name for p in root.iterdir()) == [META]


def test_init_name_option_and_json(tmp_path: Path) -> None:
    doc = as_json(dws(tmp_path, "--json", "init", "--name", "demo"))

    assert doc["name"] == "demo"
    assert Path(doc["root"]) == tmp_path
    assert json.loads((tmp_path / META / "workspace.json").read_text())["name"] == "demo"


def test_init_twice_is_refused_and_changes_nothing(tmp_path: Path) -> None:
    ok(dws(tmp_path, "init"))
    before = disk_state(tmp_path)

    result = dws(tmp_path, "init")

    assert_error(result, 2, contains="already a workspace")
    assert_unchanged(tmp_path, before)


def test_init_inside_an_existing_workspace_is_refused(tmp_path: Path) -> None:
    write_files(tmp_path, {"sub/dir/x.txt": "x"})
    ok(dws(tmp_path, "init"))
    before = disk_state(tmp_path)

    result = dws(tmp_path / "sub" / "dir", "init")

    assert_error(result, 2, contains="already a workspace")
    assert_unchanged(tmp_path, before)
    assert not (tmp_path / "sub" / "dir" / META).exists()


def test_init_over_a_stray_metadata_directory_is_refused(tmp_path: Path) -> None:
    write_files(tmp_path, {f"{META}/notes.txt": "mine"})
    before = manifest(tmp_path)

    result = dws(tmp_path, "init")

    assert_error(result, 2)
    assert manifest(tmp_path) == before


def test_init_leaves_existing_files_alone(tmp_path: Path) -> None:
    write_files(tmp_path, {"data/raw/a.csv": "1,2\n", "train.py": "print(1)\n"})
    before = manifest(tmp_path)

    ok(dws(tmp_path, "init"))

    after = {k: v for k, v in manifest(tmp_path).items() if not k.startswith(META)}
    assert after == before


OUTSIDE = [
    ["status"],
    ["history"],
    ["log"],
    ["resources"],
    ["show"],
    ["show", "v1"],
    ["diff", "v1"],
    ["results"],
    ["results", "export", "v1", "out"],
    ["tag"],
    ["tag", "v1", "best"],
    ["snapshot", "v1"],
    ["restore", "v1"],
    ["add", "local-files", "data", "--role", "source-data"],
    ["remove", "data"],
    ["delete-snapshot", "v1"],
    ["gc"],
    ["fsck"],
]


@pytest.mark.parametrize("args", OUTSIDE, ids=lambda a: "-".join(a))
def test_commands_outside_a_workspace_fail_cleanly(tmp_path: Path, args: list[str]) -> None:
    write_files(tmp_path, {"data/a.txt": "a"})
    before = manifest(tmp_path)

    result = dws(tmp_path, *args)

    assert_error(result, 2, contains="not in a workspace")
    assert "dws init" in result.err
    assert manifest(tmp_path) == before


GIT_ENV = {
    "GIT_CONFIG_GLOBAL": "/dev/null",
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.org",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.org",
}


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, env={**os.environ, **GIT_ENV})


def test_a_workspace_committed_to_git_works_from_a_clone(ws_v1: Path, tmp_path: Path) -> None:
    """Only what .dataworkspace/.gitignore leaves in travels through git (no objects/, no
    local/, no empty directory); a clone pulls the objects from the remote and restores."""
    api(ws_v1).add_remote("origin", str(tmp_path / "remote"))
    api(ws_v1).push()
    _git(ws_v1, "init", "-q")
    _git(ws_v1, "add", META)
    _git(ws_v1, "commit", "-q", "-m", "workspace")
    _git(tmp_path, "clone", "-q", str(ws_v1), "checkout")
    clone = tmp_path / "checkout"
    assert not (clone / META / "objects").exists() and not (clone / META / "local").exists()

    ok(dws(clone, "pull"))
    ok(dws(clone, "restore", "v1"))

    for path in ("data/raw/a.csv", "data/raw/b.csv", "data/features/f.npy"):
        assert (clone / path).read_bytes() == (ws_v1 / path).read_bytes()
    assert "No problems found" in ok(dws(clone, "fsck")).out
