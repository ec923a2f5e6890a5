"""Large files kept as chunks: storing a file as chunks and a list, and putting it back.

The chunks themselves are packed objects (see ``framing`` for how each is kept); this
module owns the chunk lists (``objects/lists/ab/<62 hex>``, one per chunked file, named by
the file's id) and the two passes over a file: in (cut, hash, store the new chunks) and out
(read each chunk, check it, write it in place, leave holes as holes, check the whole).
"""

from __future__ import annotations

import contextlib
import os
from collections import deque
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Protocol

from blake3 import blake3

from dws.errors import IntegrityError
from dws.model.ids import check_object_id, is_object_id
from dws.store.base import CorruptObjectError, ObjectMissingError
from dws.store.chunking import hash_zeros, is_zeros, pieces, zero_piece
from dws.store.chunklist import MAX_PIECES, ChunkList, Piece, decode_chunk_list
from dws.store.fileio import removing_on_error, temp_name, write_new_file
from dws.store.framing import frame, may_compress, raw_entry

if TYPE_CHECKING:
    from concurrent.futures import Future, ThreadPoolExecutor

LIST_MODE = 0o444
COMPRESSORS = 2  # zstd releases the GIL: chunks compress beside the cutting and hashing
IN_FLIGHT = 8  # chunks being compressed at once (at most 8 MiB held)


class TooManyPieces(Exception):
    """A file cuts into more pieces than a chunk list may hold (many tiny extents)."""


class ChunkSink(Protocol):
    """Where the chunks of a file go, and come back from."""

    def has_chunk(self, key: bytes) -> bool:
        """True when the chunk is stored (or being stored)."""

    def add_chunk(self, key: bytes, entry: bytes) -> None:
        """Store a chunk as a framed entry."""

    def read_chunk(self, key: bytes) -> bytes:
        """A chunk's bytes (unframed, not yet checked); ObjectMissingError if absent."""


class ListFiles:
    """The chunk lists under ``root`` (``objects/lists``)."""

    def __init__(self, root: str, tmp: str) -> None:
        self.root = root
        self._tmp = tmp
        # the fan-out directories present, read once: most stores hold few lists, and a
        # transfer asks about every object (a lookup that misses costs a failed open)
        self._prefixes: set[str] | None = None

    def path(self, oid: str) -> str:
        """Where the list of ``oid`` lives (the id is validated)."""
        check_object_id(oid)
        return os.path.join(self.root, oid[:2], oid[2:])

    def _may_hold(self, oid: str) -> bool:
        """False when no list can be there: its fan-out directory did not exist when first
        looked at, and this process made none since. (A list another process adds under a
        new directory meanwhile is missed; the object is then stored or sent again.)"""
        if self._prefixes is None:
            try:
                self._prefixes = set(os.listdir(self.root))
            except FileNotFoundError:
                self._prefixes = set()
        return bool(self._prefixes) and check_object_id(oid)[:2] in self._prefixes

    def has(self, oid: str) -> bool:
        """True when ``oid`` is kept as chunks."""
        return self._may_hold(oid) and os.path.exists(self.path(oid))

    def read(self, oid: str) -> ChunkList | None:
        """The list of ``oid``, or None when it is not kept as chunks."""
        if not self._may_hold(oid):
            return None
        try:
            with open(self.path(oid), "rb") as handle:
                data = handle.read()
        except FileNotFoundError:
            return None
        return decode_chunk_list(data, f"the chunk list of object {oid[:12]}")

    def install(self, oid: str, chunks: ChunkList) -> None:
        """Write the list of ``oid`` (temporary file and rename; a present one stays)."""
        path = self.path(oid)
        if os.path.exists(path):
            return
        os.makedirs(os.path.dirname(path), exist_ok=True)
        if self._prefixes is not None:
            self._prefixes.add(oid[:2])
        tmp = temp_name(self._tmp)
        with removing_on_error(tmp):
            write_new_file(tmp, chunks.encode(), LIST_MODE)
            os.replace(tmp, path)

    def delete(self, oid: str) -> None:
        """Remove the list of ``oid`` (no error if absent)."""
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path(oid))

    def ids(self) -> Iterator[str]:
        """Every file id kept as chunks."""
        if not os.path.isdir(self.root):
            return
        for prefix in sorted(os.listdir(self.root)):
            directory = os.path.join(self.root, prefix)
            if len(prefix) != 2 or not os.path.isdir(directory):
                continue
            for name in os.listdir(directory):
                if is_object_id(prefix + name):
                    yield prefix + name


def store_chunks(fd: int, size: int, sink: ChunkSink) -> tuple[str, ChunkList]:
    """Cut the open file into chunks, store those ``sink`` lacks; return (the file's id,
    its list). One pass: each chunk is hashed, and the whole file with it, on this thread;
    new chunks are compressed on ``COMPRESSORS`` threads, at most ``IN_FLIGHT`` at a time,
    and stored in file order."""
    whole = blake3()  # one thread: updates of a chunk at a time gain nothing from more
    chunks = ChunkList()
    waiting: deque[tuple[bytes, Future[bytes]]] = deque()
    queued: set[bytes] = set()

    def store_oldest() -> None:
        key, entry = waiting.popleft()
        sink.add_chunk(key, entry.result())
        queued.discard(key)

    from concurrent.futures import ThreadPoolExecutor  # on first use: it imports logging

    with ThreadPoolExecutor(max_workers=COMPRESSORS) as pool:
        try:
            for data, length in pieces(fd, size):
                if data is None:
                    hash_zeros(whole, length)
                    chunks.append(zero_piece(length))
                    continue
                whole.update(data)
                if is_zeros(data):
                    chunks.append(zero_piece(length))
                    continue
                key = blake3(data).digest()
                if key not in queued and not sink.has_chunk(key):
                    waiting.append((key, _framing(pool, data)))
                    queued.add(key)
                    if len(waiting) > IN_FLIGHT:
                        store_oldest()
                chunks.append(Piece(key, length))
                if len(chunks.pieces) > MAX_PIECES:  # a list no reader would accept
                    raise TooManyPieces
            while waiting:
                store_oldest()
        finally:
            for _, entry in waiting:
                entry.cancel()
    return whole.hexdigest(), chunks


def _framing(pool: ThreadPoolExecutor, data: memoryview) -> Future[bytes]:
    """The entry of a chunk: compressed on ``pool`` when its start compresses (the chunker
    reuses its buffer, so the pool gets a copy), else at once, as it is."""
    if may_compress(data):
        return pool.submit(frame, bytes(data))
    from concurrent.futures import Future

    done: Future[bytes] = Future()
    done.set_result(raw_entry(data))
    return done


def lacking_chunks(oid: str, chunks: ChunkList, sink: ChunkSink) -> str | None:
    """A problem line when the store lacks chunks the list of ``oid`` names, else None."""
    lacking = [c for c in chunks.chunk_ids() if not sink.has_chunk(bytes.fromhex(c))]
    if not lacking:
        return None
    return (
        f"object {oid[:12]} is missing {len(lacking)} of its chunks (the first: {lacking[0][:12]})"
    )


def read_chunk_checked(sink: ChunkSink, piece: Piece) -> bytes:
    """The bytes of a stored piece, checked against its id."""
    data = sink.read_chunk(piece.key)
    if len(data) != piece.length or blake3(data).digest() != piece.key:
        raise CorruptObjectError(piece.key.hex())
    return data


def write_chunks(oid: str, chunks: ChunkList, sink: ChunkSink, fd: int) -> None:
    """Write the file ``oid`` into the empty open file ``fd``: its size first, then every
    stored chunk at its place (holes stay holes), each checked; CorruptObjectError when a
    chunk, or the whole, does not match."""
    os.ftruncate(fd, chunks.size)
    each_piece(oid, chunks, sink, lambda offset, data: _write_at(fd, data, offset))


def each_piece(
    oid: str, chunks: ChunkList, sink: ChunkSink, use: Callable[[int, bytes], None]
) -> None:
    """Hand every stored chunk of ``oid`` to ``use(offset, bytes)``, in order, each checked,
    then check the whole against ``oid``."""
    whole = blake3()  # one thread: updates of a chunk at a time gain nothing from more
    for offset, piece in chunks.placed():
        if piece.zeros:
            hash_zeros(whole, piece.length)
            continue
        data = read_chunk_checked(sink, piece)
        whole.update(data)
        use(offset, data)
    if whole.hexdigest() != oid:
        raise CorruptObjectError(oid)


def chunks_intact(oid: str, read_list: Callable[[], ChunkList | None], sink: ChunkSink) -> bool:
    """``verify`` of a chunked object: False when its list (``read_list()``) does not
    decode, or a chunk is damaged or missing, or the whole does not match; the object
    itself absent (no list) is ObjectMissingError, as for any store."""
    try:
        chunks = read_list()
        if chunks is None:
            raise ObjectMissingError(oid)
        each_piece(oid, chunks, sink, lambda offset, data: None)
    except ObjectMissingError as exc:
        if exc.oid == oid:
            raise
        return False  # a chunk is missing
    except IntegrityError:  # a list that does not decode, a damaged chunk
        return False
    return True


def _write_at(fd: int, data: bytes, offset: int) -> None:
    view = memoryview(data)
    while view:
        written = os.pwrite(fd, view, offset)
        view = view[written:]
        offset += written


def rebuild(oid: str, chunks: ChunkList, sink: ChunkSink, dest: str, mode: int) -> None:
    """Create the new file ``dest`` holding ``oid`` (removed again if anything fails)."""
    with removing_on_error(dest):
        fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        try:
            write_chunks(oid, chunks, sink, fd)
        finally:
            os.close(fd)


def assemble(oid: str, chunks: ChunkList, sink: ChunkSink) -> bytes:
    """The whole content of ``oid`` in memory (for callers that need bytes)."""
    buffer = bytearray(chunks.size)

    def place(offset: int, data: bytes) -> None:
        buffer[offset : offset + len(data)] = data

    each_piece(oid, chunks, sink, place)
    return bytes(buffer)
