"""Atomic writes, copies and syncs."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

import pytest

from dws.store import fileio
from dws.store.fileio import (
    TEMP_PREFIX,
    fsync_dir,
    removing_on_error,
    sync_filesystem,
    temp_name,
    write_atomic,
    write_new_file,
)


def listing(directory: Path) -> list[str]:
    return sorted(os.listdir(directory))


def test_temp_names_are_fresh_and_in_the_directory(tmp_path: Path) -> None:
    names = {temp_name(str(tmp_path)) for _ in range(100)}
    assert len(names) == 100
    for name in names:
        assert os.path.dirname(name) == str(tmp_path)
        assert os.path.basename(name).startswith(TEMP_PREFIX)


@pytest.mark.parametrize("durable", [False, True])
def test_write_atomic_creates_and_replaces_leaving_no_temp_files(
    tmp_path: Path, durable: bool
) -> None:
    target = tmp_path / "f.json"
    write_atomic(str(target), b"one", durable=durable)
    assert target.read_bytes() == b"one"
    write_atomic(str(target), b"two, longer", durable=durable)
    assert target.read_bytes() == b"two, longer"
    write_atomic(str(target), b"", durable=durable)
    assert target.read_bytes() == b""
    assert listing(tmp_path) == ["f.json"]


def test_write_atomic_replaces_by_rename_not_in_place(tmp_path: Path) -> None:
    target = tmp_path / "f"
    target.write_bytes(b"old")
    with open(target, "rb") as reader:
        write_atomic(str(target), b"new")
        # a reader holding the old file still sees wholly the old content
        assert reader.read() == b"old"
    assert target.read_bytes() == b"new"


def test_write_atomic_large_data(tmp_path: Path) -> None:
    data = os.urandom(3 << 20)
    target = tmp_path / "big"
    write_atomic(str(target), data)
    assert target.read_bytes() == data


def test_write_atomic_failure_keeps_the_old_file_and_no_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "f"
    target.write_bytes(b"old")

    def failing_replace(src: str, dst: str) -> None:
        raise OSError(errno.EIO, "simulated")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OSError, match="simulated"):
        write_atomic(str(target), b"new")
    monkeypatch.undo()
    assert target.read_bytes() == b"old"
    assert listing(tmp_path) == ["f"]


def test_write_atomic_interrupted_during_write_leaves_no_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(fd: int, data: bytes) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(fileio, "write_all", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_atomic(str(tmp_path / "f"), b"data")
    assert listing(tmp_path) == []


def test_write_atomic_into_a_missing_directory_fails_cleanly(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        write_atomic(str(tmp_path / "missing" / "f"), b"x")
    assert listing(tmp_path) == []


def test_write_new_file_refuses_to_overwrite(tmp_path: Path) -> None:
    target = tmp_path / "f"
    write_new_file(str(target), b"data", 0o600)
    assert target.read_bytes() == b"data"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    with pytest.raises(FileExistsError):
        write_new_file(str(target), b"other")
    assert target.read_bytes() == b"data"


def test_removing_on_error(tmp_path: Path) -> None:
    path = tmp_path / "tmp"
    with pytest.raises(RuntimeError), removing_on_error(str(path)):
        path.write_bytes(b"partial")
        raise RuntimeError
    assert not path.exists()
    with removing_on_error(str(path)):
        path.write_bytes(b"kept")
    assert path.read_bytes() == b"kept"
    with pytest.raises(RuntimeError), removing_on_error(str(tmp_path / "never-created")):
        raise RuntimeError


def test_syncs_do_not_fail(tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"x")
    fsync_dir(str(tmp_path))
    sync_filesystem(str(tmp_path))
