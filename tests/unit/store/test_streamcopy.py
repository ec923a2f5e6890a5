"""Copying a large file while hashing the bytes copied: reflink, O_DIRECT, fallbacks."""

from __future__ import annotations

import errno
import fcntl
import os
import stat
from pathlib import Path

import pytest
from blake3 import blake3

from dws.store import fileio, streamcopy
from dws.store.streamcopy import CHUNK, copy_hashing


def listing(directory: Path) -> list[str]:
    return sorted(os.listdir(directory))


@pytest.fixture(autouse=True)
def fresh_detection(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(streamcopy, "_direct_works", {})


@pytest.mark.parametrize("size", [0, 1, 4096, 4097, CHUNK, CHUNK + 3, 2 * CHUNK + 4096])
def test_copies_the_bytes_and_returns_their_hash(tmp_path: Path, size: int) -> None:
    data = os.urandom(size)
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.write_bytes(data)
    assert copy_hashing(str(src), str(dst)) == (blake3(data).hexdigest(), size)
    assert dst.read_bytes() == data
    # an independent file: changing the copy leaves the source alone
    with open(dst, "ab") as handle:
        handle.write(b"more")
    assert src.read_bytes() == data


def test_sets_the_mode(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.write_bytes(b"x" * 10_000)
    copy_hashing(str(src), str(tmp_path / "a"), 0o755)
    copy_hashing(str(src), str(tmp_path / "b"), 0o444)
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE((tmp_path / "a").stat().st_mode) == 0o755 & ~umask
    assert stat.S_IMODE((tmp_path / "b").stat().st_mode) == 0o444 & ~umask


def test_refuses_an_existing_destination(tmp_path: Path) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.write_bytes(b"new")
    dst.write_bytes(b"old")
    with pytest.raises(FileExistsError):
        copy_hashing(str(src), str(dst))
    assert dst.read_bytes() == b"old"


def test_a_missing_source_creates_nothing(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        copy_hashing(str(tmp_path / "missing"), str(tmp_path / "dst"))
    assert listing(tmp_path) == []


def test_writes_without_o_direct_where_the_filesystem_refuses_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_open = os.open
    direct_opens: list[str] = []

    def no_direct(path: str, flags: int, mode: int = 0o777) -> int:
        if flags & os.O_DIRECT:
            direct_opens.append(path)
            raise OSError(errno.EINVAL, "Invalid argument")
        return real_open(path, flags, mode)

    monkeypatch.setattr(os, "open", no_direct)
    data = os.urandom(CHUNK + 5)
    (tmp_path / "src").write_bytes(data)
    assert copy_hashing(str(tmp_path / "src"), str(tmp_path / "a"))[0] == blake3(data).hexdigest()
    # remembered for the device: the next copy does not try again
    copy_hashing(str(tmp_path / "src"), str(tmp_path / "b"))
    assert len(direct_opens) == 1
    assert (tmp_path / "a").read_bytes() == data == (tmp_path / "b").read_bytes()


def test_goes_on_without_o_direct_when_a_write_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_write = os.write
    refused: list[int] = []

    def picky(fd: int, data: bytes | memoryview) -> int:
        if fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_DIRECT:
            refused.append(len(data))
            raise OSError(errno.EINVAL, "Invalid argument")
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", picky)
    data = os.urandom(2 * CHUNK + 100)
    (tmp_path / "src").write_bytes(data)
    oid, size = copy_hashing(str(tmp_path / "src"), str(tmp_path / "dst"))
    assert (oid, size) == (blake3(data).hexdigest(), len(data))
    assert (tmp_path / "dst").read_bytes() == data
    assert refused == [CHUNK]


def test_real_tmpfs_copy(tmp_path: Path) -> None:
    shm = Path("/dev/shm")
    if not shm.is_dir() or not os.access(shm, os.W_OK):
        pytest.skip("no /dev/shm here")
    data = os.urandom(CHUNK + 4097)
    src = tmp_path / "src"
    src.write_bytes(data)
    dst = shm / f"dws-test-{os.getpid()}"
    try:
        assert copy_hashing(str(src), str(dst))[0] == blake3(data).hexdigest()
        assert dst.read_bytes() == data
    finally:
        dst.unlink(missing_ok=True)


def test_uses_a_reflink_where_the_filesystem_offers_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []

    def fake_clone(fd: int, request: int, arg: int) -> None:
        calls.append(request)
        fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) & ~os.O_DIRECT)
        os.write(fd, os.pread(arg, 1 << 20, 0))  # what a clone would leave in the file

    monkeypatch.setattr(fileio, "_reflink_works", True)
    monkeypatch.setattr(fcntl, "ioctl", fake_clone)
    monkeypatch.setattr(streamcopy, "_stream", None)  # the streaming copy must not run
    data = os.urandom(10_000)
    (tmp_path / "src").write_bytes(data)
    assert copy_hashing(str(tmp_path / "src"), str(tmp_path / "dst")) == (
        blake3(data).hexdigest(),
        len(data),
    )
    assert calls == [fileio._FICLONE]


def test_falls_back_when_reflink_is_unsupported(
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
    copy_hashing(str(tmp_path / "src"), str(tmp_path / "dst"))
    assert (tmp_path / "dst").read_bytes() == data
    assert calls == [fileio._FICLONE]
    # remembered: the next copy does not try again
    copy_hashing(str(tmp_path / "src"), str(tmp_path / "dst2"))
    assert calls == [fileio._FICLONE]
    assert (tmp_path / "dst2").read_bytes() == data


def test_other_reflink_errors_propagate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(fd: int, request: int, arg: int) -> None:
        raise OSError(errno.EIO, "I/O error")

    monkeypatch.setattr(fileio, "_reflink_works", True)
    monkeypatch.setattr(fcntl, "ioctl", broken)
    (tmp_path / "src").write_bytes(b"x")
    with pytest.raises(OSError, match="I/O error"):
        copy_hashing(str(tmp_path / "src"), str(tmp_path / "dst"))


@pytest.fixture
def direct_reads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Descriptors switched to O_DIRECT for reading (the source of a copy)."""
    real_fcntl = fcntl.fcntl
    switched: list[int] = []

    def watching(fd: int, cmd: int, arg: int = 0) -> int:
        if cmd == fcntl.F_SETFL and arg & os.O_DIRECT and not arg & os.O_WRONLY:
            switched.append(fd)
        return real_fcntl(fd, cmd, arg)

    monkeypatch.setattr(fcntl, "fcntl", watching)
    return switched


@pytest.mark.parametrize("size", [CHUNK + 4097, 3 * CHUNK])
def test_a_source_not_in_the_page_cache_is_read_past_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, direct_reads: list[int], size: int
) -> None:
    data = os.urandom(size)
    src = tmp_path / "src"
    src.write_bytes(data)

    def cold(fd: int, buffers: list[memoryview], offset: int, flags: int = 0) -> int:
        raise BlockingIOError(errno.EAGAIN, "would block")

    monkeypatch.setattr(os, "preadv", cold)
    assert copy_hashing(str(src), str(tmp_path / "dst")) == (blake3(data).hexdigest(), size)
    assert (tmp_path / "dst").read_bytes() == data
    assert len(direct_reads) == 1


def test_a_cached_source_is_read_through_the_cache(tmp_path: Path, direct_reads: list[int]) -> None:
    data = os.urandom(CHUNK + 1)
    src = tmp_path / "src"
    src.write_bytes(data)
    src.read_bytes()  # in the page cache now
    assert copy_hashing(str(src), str(tmp_path / "dst"))[0] == blake3(data).hexdigest()
    assert direct_reads == []


def test_a_refused_direct_read_goes_on_reading_the_usual_way(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = os.urandom(2 * CHUNK + 10)
    (tmp_path / "src").write_bytes(data)
    real_readv = os.readv
    refused: list[int] = []

    def cold(fd: int, buffers: list[memoryview], offset: int, flags: int = 0) -> int:
        raise BlockingIOError(errno.EAGAIN, "would block")

    def picky(fd: int, buffers: list[object]) -> int:
        if fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_DIRECT and os.lseek(fd, 0, os.SEEK_CUR):
            refused.append(fd)
            raise OSError(errno.EINVAL, "Invalid argument")
        return real_readv(fd, buffers)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "preadv", cold)
    monkeypatch.setattr(os, "readv", picky)
    oid, size = copy_hashing(str(tmp_path / "src"), str(tmp_path / "dst"))
    assert (oid, size) == (blake3(data).hexdigest(), len(data))
    assert (tmp_path / "dst").read_bytes() == data
    assert len(refused) == 1
