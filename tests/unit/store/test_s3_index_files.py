"""Where an S3 remote writes the pack indexes it maps (store.s3_packs.IndexFiles), and the
collection of what killed processes left there; no server needed."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from dws.store.packfile import PackEntry, encode_index
from dws.store.s3_packs import IndexFiles, collect_leftovers

KEY = bytes(range(32))
ENTRY = PackEntry(8, 3)


@pytest.fixture
def system_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "system-tmp"
    path.mkdir()
    monkeypatch.setenv("TMPDIR", str(path))
    monkeypatch.setattr(tempfile, "tempdir", None)
    return path


def index_bytes() -> tuple[str, bytes]:
    return encode_index({KEY: ENTRY})


def dead_pid() -> int:
    """The id of a process that has ended."""
    code = "import os; print(os.getpid())"
    proc = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    return int(proc.stdout)


def test_an_index_is_mapped_from_a_file_that_is_gone_at_once(
    tmp_path: Path, system_tmp: Path
) -> None:
    parent = tmp_path / "local" / "tmp"
    (tmp_path / "local").mkdir()
    files = IndexFiles(str(parent))
    assert not parent.exists()  # made when first needed
    name, data = index_bytes()
    index = files.map(name, data)
    second = files.map(name, data)
    try:
        assert index.lookup(KEY) == ENTRY == second.lookup(KEY)
        assert index.verify()
        [private] = parent.iterdir()
        assert private.name.startswith(f"dws-s3-idx-{os.getpid()}-")
        assert list(private.iterdir()) == []
        assert list(system_tmp.iterdir()) == []
    finally:
        index.close()
        second.close()
    files.close()
    assert list(parent.iterdir()) == []


def test_without_a_parent_the_system_temporary_directory_holds_no_index_and_nothing_after(
    system_tmp: Path,
) -> None:
    name, data = index_bytes()
    files = IndexFiles()
    index = files.map(name, data)
    assert index.lookup(KEY) == ENTRY
    [private] = system_tmp.iterdir()
    assert list(private.iterdir()) == []
    files.close()
    index.close()
    assert list(system_tmp.iterdir()) == []


def test_a_workspace_that_is_gone_is_not_made_again(tmp_path: Path, system_tmp: Path) -> None:
    """A clone renames its workspace into place: the old local/tmp must not reappear."""
    parent = tmp_path / "moved" / ".dataworkspace" / "local" / "tmp"
    name, data = index_bytes()
    files = IndexFiles(str(parent))
    files.map(name, data).close()
    files.close()
    assert not (tmp_path / "moved").exists()
    assert list(system_tmp.iterdir()) == []


def test_leftovers_of_processes_that_ended_are_collected(tmp_path: Path) -> None:
    dead = tmp_path / f"dws-s3-idx-{dead_pid()}-abcd_123"
    own_stale = tmp_path / f"dws-s3-idx-{os.getpid()}-stale000"
    running = tmp_path / f"dws-s3-idx-{os.getppid()}-running0"
    other = tmp_path / "dws-s3-idx-unrelated"
    files = IndexFiles(str(tmp_path))
    name, data = index_bytes()
    files.map(name, data).close()  # this process's open one is kept
    for directory in (dead, own_stale, running, other):
        directory.mkdir()
        (directory / "x.idx").write_bytes(b"partial")
    assert collect_leftovers(str(tmp_path)) == 2
    kept = sorted(p.name for p in tmp_path.iterdir())
    assert len(kept) == 3 and running.name in kept and other.name in kept
    files.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([running.name, other.name])
    assert collect_leftovers(str(tmp_path / "absent")) == 0


def test_use_collects_at_once_and_the_system_directory_is_swept_before_it_is_used(
    tmp_path: Path, system_tmp: Path
) -> None:
    parent = tmp_path / "tmp"
    stale = parent / f"dws-s3-idx-{dead_pid()}-zzzzzzzz"
    stale.mkdir(parents=True)
    files = IndexFiles()
    files.use(str(parent))
    assert not stale.exists()

    stale_system = system_tmp / f"dws-s3-idx-{dead_pid()}-yyyyyyyy"
    stale_system.mkdir()
    name, data = index_bytes()
    fallback = IndexFiles()
    fallback.map(name, data).close()
    assert not stale_system.exists()
    fallback.close()
    assert list(system_tmp.iterdir()) == []
