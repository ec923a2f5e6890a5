"""Low-level file operations shared by the store and resources: atomic writes, copies, sync."""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import os
import secrets
from collections.abc import Iterator

TEMP_PREFIX = ".dws-tmp."
_FICLONE = 0x40049409
_reflink_works = True


def temp_name(directory: str) -> str:
    """A fresh temporary path in ``directory`` (same filesystem, so rename is atomic)."""
    return os.path.join(directory, TEMP_PREFIX + secrets.token_hex(8))


def naming(exc: OSError, path: str) -> OSError:
    """``exc`` with ``path`` as its file name if it has none (write errors such as ENOSPC
    come from calls on a descriptor and would otherwise name no file)."""
    if exc.filename is not None:
        return exc
    named = OSError(exc.errno, exc.strerror or str(exc), path)
    return named


@contextlib.contextmanager
def errors_naming(path: str) -> Iterator[None]:
    """Re-raise an OSError of the block with ``path`` as its file name if it has none."""
    try:
        yield
    except OSError as exc:
        raise naming(exc, path) from None


def write_atomic(path: str, data: bytes, *, durable: bool = False) -> None:
    """Replace ``path`` with ``data``: readers see the old or the new file, never a mix."""
    with errors_naming(path):
        _write_atomic(path, data, durable)


def _write_atomic(path: str, data: bytes, durable: bool) -> None:
    tmp = temp_name(os.path.dirname(path) or ".")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            _write_all(fd, data)
            if durable:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    if durable:
        fsync_dir(os.path.dirname(path) or ".")


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def write_new_file(path: str, data: bytes, mode: int = 0o644) -> None:
    """Create ``path`` (must not exist) holding ``data``."""
    with errors_naming(path):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        try:
            _write_all(fd, data)
        finally:
            os.close(fd)


def fsync_dir(directory: str) -> None:
    """Make a rename in ``directory`` durable."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def sync_filesystem(path: str) -> None:
    """One sync of the filesystem holding ``path`` (syncfs on Linux, sync elsewhere)."""
    libc_syncfs = _syncfs()
    if libc_syncfs is None:
        os.sync()
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        if libc_syncfs(fd) != 0:
            os.sync()
    finally:
        os.close(fd)


def _syncfs() -> ctypes._CFuncPtr | None:  # type: ignore[name-defined]
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.syncfs
    except (OSError, AttributeError):
        return None


def clone_or_copy(src: str, dst: str, mode: int = 0o644) -> None:
    """Create ``dst`` (must not exist) with the bytes of ``src``: reflink if the filesystem
    can, else an in-kernel copy."""
    with errors_naming(dst):
        _clone_or_copy(src, dst, mode)


def _clone_or_copy(src: str, dst: str, mode: int) -> None:
    global _reflink_works
    with open(src, "rb") as fsrc:
        fd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        try:
            if _reflink_works:
                try:
                    fcntl.ioctl(fd, _FICLONE, fsrc.fileno())
                    return
                except OSError as exc:
                    if exc.errno in (errno.EOPNOTSUPP, errno.EXDEV, errno.EINVAL, errno.ENOTTY):
                        _reflink_works = False
                    else:
                        raise
            _copy_range(fsrc.fileno(), fd)
        finally:
            os.close(fd)


def _copy_range(src_fd: int, dst_fd: int) -> None:
    size = os.fstat(src_fd).st_size
    offset = 0
    try:
        while offset < size:
            copied = os.copy_file_range(src_fd, dst_fd, size - offset, offset, offset)
            if copied == 0:
                break
            offset += copied
    except OSError as exc:
        if exc.errno not in (errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
            raise
        os.lseek(src_fd, offset, os.SEEK_SET)
        os.lseek(dst_fd, offset, os.SEEK_SET)
        while chunk := os.read(src_fd, 1 << 20):
            _write_all(dst_fd, chunk)


@contextlib.contextmanager
def removing_on_error(path: str) -> Iterator[None]:
    """Delete ``path`` if the block raises (used for temporary files)."""
    try:
        yield
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(path)
        raise
