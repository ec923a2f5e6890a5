"""Pack files: many small objects in one file, found through a sorted binary index.

A pack ``<name>.pack`` is the 8-byte magic ``DWSPACK2`` followed by the objects' entries,
back to back: each a codec byte and the bytes, as they are or compressed (``framing``).
Version-1 packs (``DWSPACK1``, raw bytes without a codec byte) are still read; the index's
magic says which kind its pack is. The index ``<name>.idx`` is written after the pack and
makes it visible:

    magic   b"DWSIDX02" (b"DWSIDX01" for a version-1 pack)
    count   u32 little-endian
    fanout  256 x u32: number of entries whose id's first byte is <= i
    entries count x (32-byte id, u64 offset, u64 length), sorted by id
    trailer 32 bytes: BLAKE3 of everything above

``<name>`` is the hex BLAKE3 of the index without its trailer, so a pack's name says what
it holds. Readers look ids up in the memory-mapped index: the fanout gives the run of ids
with the id's first byte, and a byte search over the ids' second bytes (read once, one byte
an entry: 1 MiB for a million objects) the few to compare. A lookup of an id a pack does
not hold, which a snapshot makes in every pack for every new object, costs about 1.3 µs
against 3.4 µs for a binary search in Python. Nothing else is loaded whole.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import struct
import threading
from collections.abc import Iterator

from blake3 import blake3
from msgspec import Struct

from dws.errors import IntegrityError
from dws.store.framing import unframe

PACK_MAGIC = b"DWSPACK2"
INDEX_MAGIC = b"DWSIDX02"
INDEX_MAGIC_V1 = b"DWSIDX01"  # its pack (DWSPACK1) holds raw bytes, no codec byte
_HEADER = struct.Struct("<8sI")
_FANOUT = struct.Struct("<256I")
_ENTRY = struct.Struct("<32sQQ")
_TRAILER = 32
# dws packs only objects of at most 128 KiB (store/packed.py); an index entry claiming far
# more is hostile or corrupt, and reading it would allocate whatever it claims
MAX_ENTRY_LENGTH = 16 << 20
WRITE_BYTES = 1 << 20  # an unfinished pack writes its entries this many bytes at a time


class PackEntry(Struct, frozen=True):
    """Where one object lives in a pack."""

    offset: int
    length: int


class PackIndex:
    """A read-only, memory-mapped pack index."""

    def __init__(self, path: str) -> None:
        self.path = path
        with open(path, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            if size < _HEADER.size + _FANOUT.size + _TRAILER:
                raise IntegrityError(f"pack index {os.path.basename(path)} is truncated")
            self._map = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
        magic, self.count = _HEADER.unpack_from(self._map, 0)
        expected = _HEADER.size + _FANOUT.size + self.count * _ENTRY.size + _TRAILER
        if magic not in (INDEX_MAGIC, INDEX_MAGIC_V1) or size != expected:
            raise IntegrityError(f"pack index {os.path.basename(path)} is malformed")
        self._fanout = _FANOUT.unpack_from(self._map, _HEADER.size)
        if self._fanout[255] != self.count or any(
            low > high for low, high in zip(self._fanout, self._fanout[1:], strict=False)
        ):
            raise IntegrityError(f"pack index {os.path.basename(path)} is malformed")
        self._entries = _HEADER.size + _FANOUT.size
        self._seconds: bytes | None = None  # see ``lookup``
        self.framed: bool = magic == INDEX_MAGIC  # entries start with a codec byte

    def decode(self, stored: bytes) -> bytes:
        """An object's bytes from what its entry holds (not yet checked against its id)."""
        return unframe(stored) if self.framed else stored

    def _entry(self, offset: int, length: int) -> PackEntry:
        """An entry read from the index, refused when it cannot be one dws wrote."""
        if offset < len(PACK_MAGIC) or length > MAX_ENTRY_LENGTH or (self.framed and not length):
            raise IntegrityError(f"pack index {os.path.basename(self.path)} is malformed")
        return PackEntry(offset, length)

    def verify(self) -> bool:
        """True when the trailer matches the index content."""
        body = self._map[: len(self._map) - _TRAILER]
        return blake3(body).digest() == self._map[len(self._map) - _TRAILER :]

    def lookup(self, key: bytes) -> PackEntry | None:
        """The entry for the 32-byte id ``key``, or None."""
        first = key[0]
        low = self._fanout[first - 1] if first else 0
        high = self._fanout[first]
        if low == high:
            return None
        seconds = self._seconds if self._seconds is not None else self._load_seconds()
        # the ids of one first byte are sorted, so those of one second byte are adjacent:
        # found by a byte search in C, most often none (a lookup of an id not in this pack)
        second, view, base = key[1], self._map, self._entries
        position = seconds.find(second, low, high)
        while 0 <= position < high and seconds[position] == second:
            at = base + position * _ENTRY.size
            candidate = view[at : at + 32]
            if candidate == key:
                _, offset, length = _ENTRY.unpack_from(view, at)
                return self._entry(offset, length)
            if candidate > key:
                return None
            position += 1
        return None

    def _load_seconds(self) -> bytes:
        """The second byte of every id, in index order (one byte an entry, read once)."""
        start = self._entries + 1
        self._seconds = self._map[start : start + self.count * _ENTRY.size : _ENTRY.size]
        return self._seconds

    def __iter__(self) -> Iterator[tuple[bytes, PackEntry]]:
        for index in range(self.count):
            key, offset, length = _ENTRY.unpack_from(self._map, self._entries + index * _ENTRY.size)
            yield key, self._entry(offset, length)

    def close(self) -> None:
        """Release the mapping."""
        self._map.close()


def encode_index(entries: dict[bytes, PackEntry]) -> tuple[str, bytes]:
    """(pack name, index bytes) for ``entries``."""
    keys = sorted(entries)
    fanout = [0] * 256
    for key in keys:
        fanout[key[0]] += 1
    running = 0
    for byte in range(256):
        running += fanout[byte]
        fanout[byte] = running
    parts = [_HEADER.pack(INDEX_MAGIC, len(keys)), _FANOUT.pack(*fanout)]
    parts.extend(_ENTRY.pack(key, entries[key].offset, entries[key].length) for key in keys)
    body = b"".join(parts)
    return blake3(body).hexdigest(), body + blake3(body).digest()


class PackWriter:
    """Appends objects to one temporary pack file; ``finish`` names it and writes the index.
    Entries are gathered and written ``WRITE_BYTES`` at a time (a first snapshot appends
    100,000 entries of a few KiB: one write each cost more than their bytes).

    Thread-safe: objects may be added from several threads."""

    def __init__(self, tmp_path: str) -> None:
        self.tmp_path = tmp_path
        self._fd = os.open(tmp_path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o444)
        self._written = 0  # bytes in the file; the rest of ``size`` is in ``_pending``
        self._pending = bytearray(PACK_MAGIC)
        self._size = len(PACK_MAGIC)
        self.entries: dict[bytes, PackEntry] = {}
        self.closed = False  # its file closed: finished, or failed past the point of retrying
        self._lock = threading.Lock()

    @property
    def size(self) -> int:
        """Bytes added so far."""
        return self._size

    def add(self, key: bytes, data: bytes) -> None:
        """Append an object's entry (``framing.frame`` of its bytes; ignored if this pack
        already has it)."""
        with self._lock:
            if key in self.entries:
                return
            self.entries[key] = PackEntry(self._size, len(data))
            self._pending += data
            self._size += len(data)
            if len(self._pending) >= WRITE_BYTES:
                self._write_pending()

    def _write_pending(self) -> None:
        done = 0
        try:
            with memoryview(self._pending) as view:
                while done < len(view):
                    with view[done:] as rest:  # released even if the write raises
                        done += os.pwrite(self._fd, rest, self._written + done)
        finally:  # a write that failed part way (ENOSPC) keeps what was written counted
            self._written += done
            del self._pending[:done]

    def read(self, entry: PackEntry) -> bytes:
        """The entry of an object added to this unfinished pack: from the file, from what
        is still gathered, or from both (after a write that failed part way)."""
        with self._lock:
            end = entry.offset + entry.length
            if end <= self._written:
                return os.pread(self._fd, entry.length, entry.offset)
            start = max(entry.offset, self._written)
            head = (
                os.pread(self._fd, start - entry.offset, entry.offset)
                if start > entry.offset
                else b""
            )
            return head + bytes(self._pending[start - self._written : end - self._written])

    def finish(self, packs_dir: str, tmp_index: str) -> str:
        """Move the pack into ``packs_dir`` and write its index (the index makes it visible).
        Returns the pack name. What takes space is written first: when that fails (a full
        disk) the pack stays open as it was, and finishing it can be tried again."""
        with self._lock:
            self._write_pending()
            name, index = encode_index(self.entries)
            try:
                with open(tmp_index, "xb") as handle:
                    handle.write(index)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp_index)
                raise
            self.closed = True
            os.close(self._fd)
            os.replace(self.tmp_path, os.path.join(packs_dir, name + ".pack"))
            os.replace(tmp_index, os.path.join(packs_dir, name + ".idx"))
            return name

    def abandon(self) -> None:
        """Drop an unfinished pack."""
        with self._lock:
            os.close(self._fd)
            os.unlink(self.tmp_path)
