"""Low-level file operations shared by the store and resources: atomic writes, copies, sync."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import itertools
import os
from collections.abc import Callable, Iterator

TEMP_PREFIX = ".dws-tmp."
_FICLONE = 0x40049409
_reflink_works = True


_TEMP_TOKEN = os.urandom(6).hex()  # (the secrets module costs 5 ms to import)
_temp_counter = itertools.count()


def temp_name(directory: str) -> str:
    """A fresh temporary path in ``directory`` (same filesystem, so rename is atomic).

    Unique by a random token drawn once per process, the process id and a counter: one
    random draw per name was a measurable part of restoring 50,000 small files."""
    unique = f"{_TEMP_TOKEN}{os.getpid():x}.{next(_temp_counter):x}"
    return os.path.join(directory, TEMP_PREFIX + unique)


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
            write_all(fd, data)
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


def write_all(fd: int, data: bytes | memoryview) -> None:
    """Write all of ``data`` to ``fd`` (os.write may write less than asked)."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def write_new_file(path: str, data: bytes, mode: int = 0o644) -> None:
    """Create ``path`` (must not exist) holding ``data``."""
    with errors_naming(path):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        try:
            write_all(fd, data)
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


def _syncfs() -> Callable[[int], int] | None:
    try:
        import ctypes  # only a commit syncs: other commands do not pay for loading it

        return ctypes.CDLL(None, use_errno=True).syncfs
    except (OSError, AttributeError):
        return None


def try_reflink(src_fd: int, dst_fd: int) -> bool:
    """Make ``dst_fd`` share ``src_fd``'s extents (FICLONE); False where the filesystem
    cannot (remembered, so later calls do not try again)."""
    global _reflink_works
    if not _reflink_works:
        return False
    try:
        fcntl.ioctl(dst_fd, _FICLONE, src_fd)
        return True
    except OSError as exc:
        if exc.errno in (errno.EOPNOTSUPP, errno.EXDEV, errno.EINVAL, errno.ENOTTY):
            _reflink_works = False
            return False
        raise


@contextlib.contextmanager
def removing_on_error(path: str) -> Iterator[None]:
    """Delete ``path`` if the block raises (used for temporary files)."""
    try:
        yield
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(path)
        raise


def process_running(pid: int) -> bool:
    """True while process ``pid`` exists (another user's counts as running): files named
    after a process are collected only once it is gone."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True
