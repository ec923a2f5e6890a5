"""An S3 remote keeps no temporary state in the machine's temporary directory: the pack
indexes it maps are written in a private directory below the workspace's local/tmp/ and
removed at once, the directory goes when the remote is closed, and what a killed run left
there is collected by the next run."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest

from dws.core.remote.config import RemoteConfig
from dws.core.remote.open import open_remote
from dws.model.digest import hash_bytes
from dws.store.s3_store import S3ObjectStore
from helpers.cli import ok
from helpers.failure import run_crashing

from .s3_support import dws

FILES = {f"data/f{i}.txt": f"file {i}\n".encode() for i in range(20)}
KILL_AFTER_FIRST_INDEX = "dws.store.s3_packs:PackIndex:after:1"


@pytest.fixture
def system_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh system temporary directory (TMPDIR) for this test and the dws it runs."""
    path = tmp_path / "system-tmp"
    path.mkdir()
    monkeypatch.setenv("TMPDIR", str(path))
    monkeypatch.setattr(tempfile, "tempdir", None)
    return path


@pytest.fixture
def pushed(tmp_path: Path, s3_server: Any, system_tmp: Path) -> tuple[Path, str]:
    """A workspace whose snapshot v1 was pushed to an S3 remote (origin): (root, url)."""
    root = tmp_path / "ws"
    for rel, data in FILES.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    url = f"s3://{s3_server.make_bucket()}/team/ws"
    for args in (
        ["init"],
        ["add", "local-files", "data", "--role", "source-data"],
        ["snapshot", "v1"],
        ["remote", "add", "origin", url],
        ["push"],
    ):
        ok(dws(root, s3_server, *args))
    return root, url


def dws_entries(directory: Path) -> list[str]:
    """What dws put in ``directory`` (a temporary directory)."""
    return sorted(name for name in os.listdir(directory) if name.startswith("dws"))


def local_tmp(root: Path) -> Path:
    return root / ".dataworkspace" / "local" / "tmp"


def leftovers(root: Path) -> list[str]:
    """Index directories in the workspace's local/tmp/."""
    where = local_tmp(root)
    return dws_entries(where) if where.is_dir() else []


def holds_no_file(directory: Path) -> bool:
    """True when nothing below ``directory`` is a file."""
    return all(not files for _, _, files in os.walk(directory))


def loads_indexes(store: Any) -> None:
    """Make the store download and map every pack index of the remote."""
    assert isinstance(store, S3ObjectStore)
    assert store.has(hash_bytes(FILES["data/f0.txt"]))
    assert store.packs.indexes()


@pytest.mark.parametrize("with_workspace", [True, False], ids=["workspace", "no-workspace"])
def test_an_open_s3_remote_keeps_nothing_in_the_system_temporary_directory(
    pushed: tuple[Path, str],
    s3_server: Any,
    system_tmp: Path,
    monkeypatch: pytest.MonkeyPatch,
    with_workspace: bool,
) -> None:
    root, url = pushed
    for key, value in s3_server.env().items():
        monkeypatch.setenv(key, value)
    local = str(root / ".dataworkspace" / "local") if with_workspace else None
    remote = open_remote(RemoteConfig("origin", url), local_dir=local)
    try:
        loads_indexes(remote.objects)
        if with_workspace:
            assert dws_entries(system_tmp) == []
            assert len(leftovers(root)) == 1
        else:  # a clone's remote: only an empty directory while it is open
            assert len(dws_entries(system_tmp)) == 1
        assert holds_no_file(system_tmp) and holds_no_file(local_tmp(root))
    finally:
        remote.close()
    assert dws_entries(system_tmp) == []
    assert leftovers(root) == []


def test_nothing_is_made_before_an_index_is_needed(
    pushed: tuple[Path, str], s3_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    root, url = pushed
    for key, value in s3_server.env().items():
        monkeypatch.setenv(key, value)
    target = local_tmp(root)
    shutil.rmtree(target, ignore_errors=True)
    remote = open_remote(RemoteConfig("origin", url), local_dir=str(root / ".dataworkspace/local"))
    remote.close()
    assert not target.exists()


def test_a_killed_pull_leaves_nothing_in_the_system_temporary_directory(
    pushed: tuple[Path, str], s3_server: Any, system_tmp: Path, tmp_path: Path
) -> None:
    """Killed right after writing the first index it maps: the next pull collects it."""
    root, url = pushed
    colleague = tmp_path / "colleague"
    ok(dws(tmp_path, s3_server, "clone", url, str(colleague)))
    (root / "data/new.txt").write_text("new\n")
    ok(dws(root, s3_server, "snapshot", "v2"))
    ok(dws(root, s3_server, "push"))
    env = {**s3_server.env(), "TMPDIR": str(system_tmp)}
    killed = run_crashing(KILL_AFTER_FIRST_INDEX, "pull", cwd=colleague, env=env)
    assert killed.code == -9, killed.err
    assert dws_entries(system_tmp) == []
    assert len(leftovers(colleague)) == 1

    ok(dws(colleague, s3_server, "pull"))
    assert leftovers(colleague) == []
    assert dws_entries(system_tmp) == []


def test_a_killed_remote_fsck_leaves_its_index_in_the_workspace_for_the_next(
    pushed: tuple[Path, str], s3_server: Any, system_tmp: Path
) -> None:
    """fsck --remote (like push, pull and gc --remote) keeps its indexes in the
    workspace's local/tmp: one being written when it is killed stays there, never in the
    system temporary directory, until the next run collects it."""
    root, _ = pushed
    env = {**s3_server.env(), "TMPDIR": str(system_tmp)}
    killed = run_crashing(KILL_AFTER_FIRST_INDEX, "fsck", "--remote", "origin", cwd=root, env=env)
    assert killed.code == -9, killed.err
    assert dws_entries(system_tmp) == []
    assert len(leftovers(root)) == 1

    ok(dws(root, s3_server, "fsck", "--remote", "origin", env={"TMPDIR": str(system_tmp)}))
    assert leftovers(root) == [] and dws_entries(system_tmp) == []


def test_gc_of_the_remote_store_collects_leftovers(
    pushed: tuple[Path, str], s3_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    root, url = pushed
    for key, value in s3_server.env().items():
        monkeypatch.setenv(key, value)
    remote = open_remote(RemoteConfig("origin", url), local_dir=str(root / ".dataworkspace/local"))
    try:
        dead = local_tmp(root) / "dws-s3-idx-999999999-abcdefgh"
        dead.mkdir(parents=True)
        (dead / "x.idx").write_bytes(b"partial")
        assert remote.objects.clean_temporary() == 1
        assert not dead.exists()
    finally:
        remote.close()
