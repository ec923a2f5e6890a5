"""Reading one stored object as a seekable, read-only file, checked before bytes are handed
out.

How an object is kept decides how it is checked:

* packed (at most 128 KiB): read whole and hashed;
* a file of its own on this machine (loose): hashed whole when opened, then read in place;
* chunked: each chunk is read when first needed and checked against its chunk id, so a
  reader that seeks (a parquet footer, one column) fetches only the chunks it touches; a
  reader that goes through the whole file in order also gets the whole checked against the
  object's id at the end;
* anything else (a large object on a remote): copied into ``spill_dir``, checked on the way.

A check that fails raises ``CorruptObjectError`` (exit code 4) instead of returning bytes.
"""

from __future__ import annotations

import bisect
import contextlib
import io
import os
import stat
from collections import OrderedDict
from typing import TYPE_CHECKING, BinaryIO

from blake3 import blake3

from dws.store.base import CorruptObjectError, ObjectStore
from dws.store.chunked import read_chunk_checked
from dws.store.chunking import hash_zeros
from dws.store.chunklist import ChunkList
from dws.store.fileio import temp_name
from dws.store.hashing import hash_handle

if TYPE_CHECKING:
    from concurrent.futures import Future, ThreadPoolExecutor

SPILL_FROM = 16 << 20  # larger objects of a remote are copied to a file, not held in memory
CHUNKS_HELD = 4  # chunks kept in memory by one reader (at most 4 MiB at dws's chunk sizes)
READ_AHEAD = 8  # chunks read ahead while reads go in order (at most 8 MiB more)
RUN_BEFORE_AHEAD = 3  # chunks read in order before reading ahead starts
READERS = 2  # threads reading ahead


def open_object(
    store: ObjectStore, oid: str, spill_dir: str | None = None, size: int | None = None
) -> BinaryIO:
    """A seekable binary file object over the stored object ``oid`` (see the module
    docstring for how it is checked); ObjectMissingError when the store lacks it. ``size``,
    when the caller knows it (a tree entry's), must match a chunk list's, so a list of
    another file is refused before the first read."""
    chunks = store.chunk_list(oid)
    if chunks is not None:
        if size is not None and chunks.size != size:
            raise CorruptObjectError(oid)
        return io.BufferedReader(ChunkedObjectFile(store, oid, chunks), buffer_size=1 << 20)
    path = store.file_path(oid)
    if path is not None:
        return open_checked_file(path, oid)
    if spill_dir is not None and store.size(oid) > SPILL_FROM:
        return _spilled(store, oid, spill_dir)
    return io.BytesIO(store.get_verified(oid))


def open_checked_file(path: str, oid: str, size: int | None = None) -> BinaryIO:
    """The regular file at ``path`` (never through a symbolic link as its last part)
    opened for reading once its bytes hash to ``oid`` and, when given, its size is ``size``
    (CorruptObjectError otherwise). The bytes hashed are the bytes handed out: the same
    open file, rewound."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    handle = os.fdopen(fd, "rb", buffering=0)
    try:
        found = os.fstat(fd)
        if not stat.S_ISREG(found.st_mode) or (size is not None and found.st_size != size):
            raise CorruptObjectError(oid)
        os.set_blocking(fd, True)
        if hash_handle(handle)[0] != oid:
            raise CorruptObjectError(oid)
        handle.seek(0)
    except BaseException:
        handle.close()
        raise
    return io.BufferedReader(handle)


def _spilled(store: ObjectStore, oid: str, spill_dir: str) -> BinaryIO:
    """The object copied (and checked, by ``materialize``) into an unnamed file."""
    os.makedirs(spill_dir, exist_ok=True)
    path = temp_name(spill_dir)
    store.materialize(oid, path, 0o600)
    try:
        return open(path, "rb")
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)  # the open file keeps its bytes until it is closed


class ChunkedObjectFile(io.RawIOBase):
    """A chunked object read piece by piece; each chunk is checked when it is read."""

    def __init__(self, store: ObjectStore, oid: str, chunks: ChunkList) -> None:
        super().__init__()
        self._store = store
        self._oid = oid
        self._pieces = chunks.pieces
        self._size = chunks.size
        self._starts = [offset for offset, _ in chunks.placed()]
        self._position = 0
        self._held: OrderedDict[int, bytes] = OrderedDict()
        self._whole = blake3()
        self._hashed = 0  # pieces hashed into _whole, in order from the first
        self._last = -1  # the piece read last, and how many were read in order up to it:
        self._run = 0  # a run of reads in order reads ahead, about as far as it has come
        self._ahead: dict[int, Future[bytes]] = {}
        self._pool: ThreadPoolExecutor | None = None
        self._skip_zeros()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
            self._ahead.clear()
        super().close()

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_SET:
            target = offset
        elif whence == io.SEEK_CUR:
            target = self._position + offset
        elif whence == io.SEEK_END:
            target = self._size + offset
        else:
            raise ValueError(f"invalid whence {whence}")
        if target < 0:
            raise OSError(22, "negative seek position")
        self._position = target
        return target

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        if self._position >= self._size:
            return 0
        index = bisect.bisect_right(self._starts, self._position) - 1
        piece = self._pieces[index]
        inside = self._position - self._starts[index]
        count = min(len(buffer), piece.length - inside)
        view = memoryview(buffer)
        if piece.zeros:
            view[:count] = bytes(count)
        else:
            data = self._chunk(index)
            view[:count] = memoryview(data)[inside : inside + count]
        self._position += count
        return count

    def _chunk(self, index: int) -> bytes:
        data = self._held.get(index)
        if data is not None:
            self._held.move_to_end(index)
            return data
        self._run = self._run + 1 if index == self._last + 1 else 1
        self._last = index
        waiting = self._ahead.pop(index, None)
        data = waiting.result() if waiting is not None else None
        if data is None:
            data = read_chunk_checked(self._store, self._pieces[index])
        if self._run >= RUN_BEFORE_AHEAD:
            self._read_ahead(index + 1, min(self._run, READ_AHEAD))
        self._held[index] = data
        if len(self._held) > CHUNKS_HELD:
            self._held.popitem(last=False)
        if index == self._hashed:
            self._whole.update(data)
            self._hashed += 1
            self._skip_zeros()
        return data

    def _read_ahead(self, start: int, count: int) -> None:
        """While reads go in order, keep the next ``count`` stored chunks being read and
        checked on other threads (zstd and BLAKE3 release the GIL). A reader that seeks
        (a parquet column) reads ahead little or nothing; one that streams, up to
        ``READ_AHEAD`` chunks."""
        if self._pool is None:
            from concurrent.futures import ThreadPoolExecutor  # on first use: it imports logging

            self._pool = ThreadPoolExecutor(max_workers=READERS)
        for ahead in range(start, min(start + count, len(self._pieces))):
            piece = self._pieces[ahead]
            if ahead not in self._ahead and ahead not in self._held and not piece.zeros:
                self._ahead[ahead] = self._pool.submit(read_chunk_checked, self._store, piece)
        for stale in [i for i in self._ahead if i < start - 1]:
            self._ahead.pop(stale).cancel()

    def _skip_zeros(self) -> None:
        """Hash the pieces of zeros that follow the hashed ones; check the whole once every
        piece is hashed."""
        while self._hashed < len(self._pieces) and self._pieces[self._hashed].zeros:
            hash_zeros(self._whole, self._pieces[self._hashed].length)
            self._hashed += 1
        if self._hashed == len(self._pieces):
            self._hashed += 1  # checked once
            if self._whole.hexdigest() != self._oid:
                raise CorruptObjectError(self._oid)
