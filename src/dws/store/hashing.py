"""Hashing files with BLAKE3: small files read whole, large ones in chunks hashed on
several threads (a mapped file would count its whole size in the resident set)."""

from __future__ import annotations

import io
import os

from blake3 import blake3

O_NONBLOCK = getattr(os, "O_NONBLOCK", 0)

SMALL_FILE = 4 << 20
CHUNK = 8 << 20
_threads = [blake3.AUTO]


def _single_threaded() -> None:
    # BLAKE3's thread pool is made once per process; a forked child (a restore worker)
    # inherits the pool but none of its threads, and would wait for them forever
    _threads[0] = 1


os.register_at_fork(after_in_child=_single_threaded)


def hash_threads() -> int:
    """How many threads a large file's hash may use (one in a forked process)."""
    return _threads[0]


def open_nonblocking(path: str, flags: int) -> int:
    """An ``opener`` for ``open`` that never waits: a FIFO put where a listed file was
    reads as empty instead of blocking until something writes to it (the caller's stat
    after the read then sees the file changed)."""
    return os.open(path, flags | O_NONBLOCK)


def hash_file(path: str) -> tuple[str, int]:
    """(object id, size) of the file at ``path``."""
    with open(path, "rb", buffering=0, opener=open_nonblocking) as handle:
        return hash_handle(handle)


def hash_handle(handle: io.RawIOBase) -> tuple[str, int]:
    """(object id, size) of what an unbuffered file ``handle`` holds from where it stands
    to its end."""
    size = os.fstat(handle.fileno()).st_size
    if size <= SMALL_FILE:
        data = handle.read()
        return blake3(data).hexdigest(), len(data)
    hasher = blake3(max_threads=hash_threads())
    buffer = bytearray(CHUNK)
    with memoryview(buffer) as view:
        total = 0
        while count := handle.readinto(buffer):
            hasher.update(view[:count])
            total += count
    return hasher.hexdigest(), total
