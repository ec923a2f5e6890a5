"""Copying a large file while hashing exactly the bytes that were copied.

A large blob enters the store (snapshot) or leaves it (restore) through one pass: a chunk
is read into a buffer, hashed and written from that same buffer, so the id always names
the bytes on disk even if the source changes meanwhile, and nothing has to be read twice.

The copy is written with ``O_DIRECT`` where the filesystem allows it: the bytes go
straight to the disk instead of into new page-cache pages that a later sync would have to
write anyway. The commit point's one filesystem sync then has almost nothing left to do,
and a gigabyte of store objects does not push the user's working data out of the cache.
A filesystem that refuses ``O_DIRECT`` (tmpfs, some FUSE) gets ordinary writes; one that
can share extents (Btrfs, XFS) gets a reflink and the copy is only hashed.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import itertools
import mmap
import os
from typing import TYPE_CHECKING

from blake3 import blake3

from dws.store.fileio import errors_naming, try_reflink, write_all
from dws.store.hashing import CHUNK, hash_file, hash_threads

if TYPE_CHECKING:
    from concurrent.futures import Future

DIRECT_ALIGN = 4096  # O_DIRECT needs lengths and offsets aligned to the logical block size
_direct_works: dict[int, bool] = {}  # per device: does O_DIRECT open and write?


def copy_hashing(src: str, dst: str, mode: int = 0o644) -> tuple[str, int]:
    """Create ``dst`` (must not exist) with the bytes of ``src``; return (BLAKE3 id, size)
    of the bytes written."""
    with errors_naming(dst):
        with open(src, "rb") as source:
            fd = _create(dst, mode)
            try:
                cloned = try_reflink(source.fileno(), fd)
                if not cloned:
                    return _stream(source.fileno(), fd)
            finally:
                os.close(fd)
        return hash_file(dst)  # a reflink shares the source's extents: hash what dst holds


def _create(dst: str, mode: int) -> int:
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
    device = os.stat(os.path.dirname(dst) or ".").st_dev
    if _direct_works.get(device, True) and hasattr(os, "O_DIRECT"):
        try:
            return os.open(dst, flags | os.O_DIRECT, mode)
        except OSError as exc:
            if exc.errno != errno.EINVAL:
                raise
            _direct_works[device] = False
    return os.open(dst, flags, mode)


def _stream(src_fd: int, dst_fd: int) -> tuple[str, int]:
    """Read and hash chunk i+1 while chunk i is written: two buffers, one writer thread."""
    hasher = blake3(max_threads=hash_threads())
    size = 0
    views: list[memoryview] = []
    # page-aligned buffers, as O_DIRECT wants; they outlive the writer (closed after it)
    with mmap.mmap(-1, CHUNK) as first, mmap.mmap(-1, CHUNK) as second:
        _read_past_cache_if_cold(src_fd, first)
        try:
            from concurrent.futures import ThreadPoolExecutor  # on first use: it imports logging

            with ThreadPoolExecutor(max_workers=1) as writer:
                pending: Future[None] | None = None
                for buffer in itertools.cycle((first, second)):
                    # this buffer's last write was awaited before the other one was handed on
                    count = _read(src_fd, buffer)
                    if count == 0:
                        break
                    view = memoryview(buffer)[:count]
                    views.append(view)
                    hasher.update(view)
                    size += count
                    if pending is not None:
                        pending.result()
                    pending = writer.submit(_write_chunk, dst_fd, view)
                if pending is not None:
                    pending.result()
        finally:
            for view in views:
                view.release()
    return hasher.hexdigest(), size


def _read_past_cache_if_cold(fd: int, buffer: mmap.mmap) -> None:
    """Read the source with O_DIRECT when its start is not in the page cache (a store
    object written past the cache, a file not read since boot): one trip to the disk
    instead of the page cache's readahead, and no new cache pages. A cached source is
    read the usual way, from memory."""
    if not hasattr(os, "RWF_NOWAIT") or not hasattr(os, "O_DIRECT"):
        return
    try:
        os.preadv(fd, [memoryview(buffer)[:DIRECT_ALIGN]], 0, os.RWF_NOWAIT)
        return  # cached (or too short to matter)
    except BlockingIOError:
        pass  # would have to wait for the disk: not cached
    except OSError:
        return  # the filesystem cannot tell: read as usual
    with contextlib.suppress(OSError):
        fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) | os.O_DIRECT)


def _read(fd: int, buffer: mmap.mmap) -> int:
    try:
        return os.readv(fd, [buffer])
    except OSError as exc:
        # some filesystems refuse an O_DIRECT read at an unaligned offset (after a short
        # tail), or O_DIRECT reads at all: go on reading the usual way
        if exc.errno != errno.EINVAL or not _is_direct(fd):
            raise
        _stop_direct(fd)
        return os.readv(fd, [buffer])


def _write_chunk(fd: int, view: memoryview) -> None:
    direct = _is_direct(fd)
    if direct and len(view) % DIRECT_ALIGN:
        # the file's unaligned tail (or a short read): the rest is written the usual way
        _stop_direct(fd)
        direct = False
    start = os.lseek(fd, 0, os.SEEK_CUR)
    try:
        write_all(fd, view)
    except OSError as exc:
        if not direct or exc.errno != errno.EINVAL:
            raise
        # the device wants a larger alignment than assumed: go on without O_DIRECT
        _stop_direct(fd)
        write_all(fd, view[os.lseek(fd, 0, os.SEEK_CUR) - start :])


def _is_direct(fd: int) -> bool:
    return bool(hasattr(os, "O_DIRECT") and fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_DIRECT)


def _stop_direct(fd: int) -> None:
    fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) & ~os.O_DIRECT)
