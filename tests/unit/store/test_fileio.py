"""Atomic writes, copies and syncs."""

from __future__ import annotations

import errno
import fcntl
import os
import stat
from pathlib import Path

import pytest

from dws.store import fileio
from dws.store.fileio import (
    TEMP_PREFIX,
    clone_or_copy,
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

    monkeypatch.setattr(fileio, "_write_all", interrupted)
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


@pytest.mark.parametrize("size", [0, 1, 4096, (5 << 20) + 3])
def test_clone_or_copy_copies_bytes(tmp_path: Path, size: int) -> None:
    data = os.urandom(size)
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.write_bytes(data)
    clone_or_copy(str(src), str(dst))
    assert dst.read_bytes() == data
    # an independent file: changing the copy leaves the source alone
    with open(dst, "ab") as handle:
        handle.write(b"more")
    assert src.read_bytes() == data


def test_clone_or_copy_sets_the_mode(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.write_bytes(b"x")
    clone_or_copy(str(src), str(tmp_path / "a"), 0o755)
    clone_or_copy(str(src), str(tmp_path / "b"), 0o444)
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE((tmp_path / "a").stat().st_mode) == 0o755 & ~umask
    assert stat.S_IMODE((tmp_path / "b").stat().st_mode) == 0o444 & ~umask


def test_clone_or_copy_refuses_an_existing_destination(tmp_path: Path) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.write_bytes(b"new")
    dst.write_bytes(b"old")
    with pytest.raises(FileExistsError):
        clone_or_copy(str(src), str(dst))
    assert dst.read_bytes() == b"old"


def test_clone_or_copy_of_a_missing_source_creates_nothing(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        clone_or_copy(str(tmp_path / "missing"), str(tmp_path / "dst"))
    assert listing(tmp_path) == []


def test_clone_or_copy_falls_back_when_reflink_is_unsupported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []

    def no_reflink(fd: int, request: int, arg: int) -> None:
        calls.append(request)
        raise OSError(errno.EOPNOTSUPP, "not supported")

    monkeypatch.setattr(fileio, "_reflink_works", True)
    monkeypatch.setattr(fcntl, "ioctl", no_reflink)
    data = os.urandom(100_000)
    (tmp_path / "src").write_bytes(data)
    clone_or_copy(str(tmp_path / "src"), str(tmp_path / "dst"))
    assert (tmp_path / "dst").read_bytes() == data
    assert calls == [fileio._FICLONE]
    # remembered: the next copy does not try again
    clone_or_copy(str(tmp_path / "src"), str(tmp_path / "dst2"))
    assert calls == [fileio._FICLONE]
    assert (tmp_path / "dst2").read_bytes() == data


def test_clone_or_copy_falls_back_to_read_write_without_copy_file_range(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unsupported(*args: object) -> int:
        raise OSError(errno.ENOSYS, "no copy_file_range")

    monkeypatch.setattr(fileio, "_reflink_works", False)
    monkeypatch.setattr(os, "copy_file_range", unsupported)
    data = os.urandom((2 << 20) + 17)
    (tmp_path / "src").write_bytes(data)
    clone_or_copy(str(tmp_path / "src"), str(tmp_path / "dst"))
    assert (tmp_path / "dst").read_bytes() == data


def test_clone_or_copy_resumes_after_a_partial_copy_file_range(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = os.copy_file_range
    state = {"calls": 0}

    def partial(src: int, dst: int, count: int, offset_src: int, offset_dst: int) -> int:
        state["calls"] += 1
        if state["calls"] == 1:
            return real(src, dst, min(count, 1000), offset_src, offset_dst)
        raise OSError(errno.EXDEV, "cross-device")

    monkeypatch.setattr(fileio, "_reflink_works", False)
    monkeypatch.setattr(os, "copy_file_range", partial)
    data = os.urandom(50_000)
    (tmp_path / "src").write_bytes(data)
    clone_or_copy(str(tmp_path / "src"), str(tmp_path / "dst"))
    assert (tmp_path / "dst").read_bytes() == data


def test_other_reflink_errors_propagate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(fd: int, request: int, arg: int) -> None:
        raise OSError(errno.EIO, "I/O error")

    monkeypatch.setattr(fileio, "_reflink_works", True)
    monkeypatch.setattr(fcntl, "ioctl", broken)
    (tmp_path / "src").write_bytes(b"x")
    with pytest.raises(OSError, match="I/O error"):
        clone_or_copy(str(tmp_path / "src"), str(tmp_path / "dst"))


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
