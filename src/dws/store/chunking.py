"""Splitting a large file into content-defined chunks, skipping the holes of sparse files.

The cut points come from FastCDC 2020 (the compiled ``pyfastcdc``), fed through a bounded
window of the file, so memory stays at a few MiB whatever the file's size. The holes of a
sparse file are found with ``SEEK_DATA``/``SEEK_HOLE`` and never read: they are pieces of
zeros, and so is every chunk that holds only zero bytes.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from typing import Any

from blake3 import blake3

from dws.store.chunklist import ZERO_ID, ChunkList, Piece

AVERAGE = 256 << 10
MINIMUM = 64 << 10
MAXIMUM = 1 << 20
SAMPLE = 2 << 20  # how much of two versions is compared to tell whether they share chunks
_ZEROS = bytes(MAXIMUM)
_HOLE_STEP = 8 << 20
_HOLE_ZEROS = bytes(_HOLE_STEP)

_chunker_class: list[Any] = []  # the compiled FastCDC once imported (None: not available)


def _fastcdc() -> Any:
    """The compiled chunker class, imported when first needed (30 ms), or None. Only the
    compiled one: its pure-Python fallback is a hundred times slower."""
    if not _chunker_class:
        try:
            from pyfastcdc.cy import FastCDC
        except ImportError:  # pragma: no cover - wheels exist for the platforms dws supports
            FastCDC = None
        _chunker_class.append(FastCDC)
    return _chunker_class[0]


def available() -> bool:
    """True when files can be chunked here (the compiled chunker imports)."""
    return _fastcdc() is not None


def _chunker() -> Any:
    chunker = _fastcdc()
    assert chunker is not None
    return chunker(AVERAGE, min_size=MINIMUM, max_size=MAXIMUM, normalized_chunking=1, seed=0)


class _Window:
    """The bytes ``[start, end)`` of an open file, read with ``pread`` (no shared offset)."""

    def __init__(self, fd: int, start: int, end: int) -> None:
        self.fd = fd
        self.position = start
        self.end = end

    def readinto(self, buffer: memoryview) -> int:
        want = min(len(buffer), self.end - self.position)
        if want <= 0:
            return 0
        count = os.preadv(self.fd, [buffer[:want]], self.position)
        self.position += count
        return count


def extents(fd: int, size: int) -> Iterator[tuple[int, int, bool]]:
    """(offset, length, holds data) stretches covering the file: data and holes."""
    position = 0
    while position < size:
        try:
            data = os.lseek(fd, position, os.SEEK_DATA)
        except OSError as exc:
            if exc.errno == errno.ENXIO:  # only a hole remains
                yield position, size - position, False
                return
            if exc.errno in (errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP):
                yield position, size - position, True  # no hole support: all data
                return
            raise
        data = min(data, size)
        if data > position:
            yield position, data - position, False
        hole = min(os.lseek(fd, data, os.SEEK_HOLE), size)
        if hole > data:
            yield data, hole - data, True
        position = max(hole, data)


def is_sparse(fd: int, size: int) -> bool:
    """True when the file has a hole (a stretch the filesystem stores no blocks for)."""
    return any(not has_data for _, _, has_data in extents(fd, size))


def pieces(fd: int, size: int) -> Iterator[tuple[memoryview | None, int]]:
    """(bytes, length) of every chunk in order: bytes None for a hole. A chunk's bytes are
    valid only until the next one is produced."""
    chunker = _chunker()
    for start, length, has_data in extents(fd, size):
        if not has_data:
            yield None, length
            continue
        for chunk in chunker.cut_stream(_Window(fd, start, start + length)):
            yield chunk.data, chunk.length


def is_zeros(data: memoryview) -> bool:
    """True when ``data`` (at most one chunk) holds only zero bytes."""
    return _ZEROS.startswith(data)


def hash_zeros(hasher: Any, length: int) -> None:
    """Feed ``length`` zero bytes to ``hasher`` (the content of a hole)."""
    while length > 0:
        step = min(length, _HOLE_STEP)
        hasher.update(memoryview(_HOLE_ZEROS)[:step])
        length -= step


def sample_keys(fd: int, size: int) -> set[bytes]:
    """Ids of the chunks in the first ``SAMPLE`` bytes: two versions of a file share
    chunks when their samples intersect."""
    chunker = _chunker()
    keys: set[bytes] = set()
    for chunk in chunker.cut_stream(_Window(fd, 0, min(size, SAMPLE))):
        if not is_zeros(chunk.data):
            keys.add(blake3(chunk.data).digest())
    return keys


def zero_piece(length: int) -> Piece:
    """A piece of ``length`` zero bytes."""
    return Piece(ZERO_ID, length, True)


__all__ = [
    "MAXIMUM",
    "ChunkList",
    "available",
    "extents",
    "hash_zeros",
    "is_sparse",
    "is_zeros",
    "pieces",
    "sample_keys",
    "zero_piece",
]
