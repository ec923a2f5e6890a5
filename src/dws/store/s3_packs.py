"""Packs on S3: small objects travel in pack keys, in the workspace's own pack format.

One PUT per 2 KiB file is what limits an S3 push of many small files (botocore spends about
a millisecond of CPU on each request). So objects up to ``PACK_THRESHOLD`` bytes are
appended to an in-memory pack that is uploaded as ``objects/packs/<name>.pack`` followed by
its index ``objects/packs/<name>.idx`` (the index makes it visible, as on disk). Indexes are
content-named and immutable; they are downloaded into a private temporary directory when
first needed and memory-mapped. Reads of packed objects are byte-range GETs, merged into
large ranges when many objects of one pack are wanted.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass

from dws.errors import IntegrityError
from dws.model.ids import is_object_id
from dws.store.packfile import PACK_MAGIC, PackEntry, PackIndex, encode_index
from dws.store.s3client import S3Connection

PACK_TARGET = 32 << 20
RANGE_GAP = 1 << 20  # merge ranges of one pack when the gap between them is smaller
RANGE_MAX = 16 << 20


@dataclass(frozen=True)
class Located:
    """A packed object: its pack and where in it."""

    pack: str
    entry: PackEntry


class PackBuffer:
    """The pack being filled: bytes in memory, entries by raw id."""

    def __init__(self) -> None:
        self.data = bytearray(PACK_MAGIC)
        self.entries: dict[bytes, PackEntry] = {}

    def add(self, key: bytes, data: bytes) -> None:
        if key not in self.entries:
            self.entries[key] = PackEntry(len(self.data), len(data))
            self.data += data

    def read(self, entry: PackEntry) -> bytes:
        return bytes(self.data[entry.offset : entry.offset + entry.length])


class S3PackSet:
    """The packs under ``<prefix>objects/packs/`` of one bucket: lookup, append, read."""

    def __init__(self, conn: S3Connection, bucket: str, prefix: str) -> None:
        self.conn = conn
        self.bucket = bucket
        self.prefix = prefix  # ".../objects/packs/"
        self._lock = threading.RLock()
        self._indexes: dict[str, PackIndex] | None = None
        self._cache = tempfile.mkdtemp(prefix="dws-s3-idx-")
        self._buffer: PackBuffer | None = None

    # ---- indexes ----------------------------------------------------------------------

    def _key(self, name: str, ext: str) -> str:
        return f"{self.prefix}{name}.{ext}"

    def names(self) -> dict[str, set[str]]:
        """pack name -> the extensions present (``pack``, ``idx``)."""
        out: dict[str, set[str]] = {}
        for item in self.conn.list_objects(self.bucket, self.prefix):
            name, _, ext = item["Key"][len(self.prefix) :].partition(".")
            if is_object_id(name) and ext in ("pack", "idx"):
                out.setdefault(name, set()).add(ext)
        return out

    def indexes(self) -> dict[str, PackIndex]:
        """Every visible pack's index (downloaded once per process)."""
        with self._lock:
            if self._indexes is None:
                self._indexes = {}
                for name, exts in sorted(self.names().items()):
                    if "idx" in exts and "pack" in exts:
                        self._indexes[name] = self._load(name)
            return self._indexes

    def _load(self, name: str) -> PackIndex:
        path = os.path.join(self._cache, name + ".idx")
        if not os.path.exists(path):
            response = self.conn.get(self.bucket, self._key(name, "idx"))
            if response is None:
                raise IntegrityError(f"pack index {name[:12]} vanished from the remote")
            with self.conn.errors(self.bucket, self._key(name, "idx")):
                data = response["Body"].read()
            with open(path + ".part", "wb") as handle:
                handle.write(data)
            os.replace(path + ".part", path)
        with open(path, "rb") as handle:
            handle.seek(-min(32, os.fstat(handle.fileno()).st_size), os.SEEK_END)
            trailer = handle.read(32).hex()
        index = PackIndex(path) if trailer == name else None
        if index is None or not index.verify():
            if index is not None:
                index.close()
            os.unlink(path)
            raise IntegrityError(f"pack index {name[:12]} on the remote is corrupt")
        return index

    def refresh(self) -> None:
        """Forget loaded indexes (after a repack)."""
        with self._lock:
            for index in (self._indexes or {}).values():
                index.close()
            self._indexes = None

    def find(self, oid: str) -> Located | None:
        """Where a packed object is, or None (the unfinished buffer counts, as pack '')."""
        key = bytes.fromhex(oid)
        with self._lock:
            if self._buffer is not None and key in self._buffer.entries:
                return Located("", self._buffer.entries[key])
            for name, index in self.indexes().items():
                entry = index.lookup(key)
                if entry is not None:
                    return Located(name, entry)
        return None

    def all_ids(self) -> Iterator[tuple[str, int]]:
        """(id, size) of every packed object."""
        for index in list(self.indexes().values()):
            for key, entry in index:
                yield key.hex(), entry.length

    def check(self) -> list[str]:
        """Indexes whose pack is missing (their trailers were checked when loaded)."""
        names = self.names()
        return [
            f"pack {name[:12]} on the remote has an index but no pack"
            for name, exts in names.items()
            if "idx" in exts and "pack" not in exts
        ]

    # ---- writing ----------------------------------------------------------------------

    def add(self, key: bytes, data: bytes) -> None:
        """Append a small object; a full pack is uploaded at once."""
        full = None
        with self._lock:
            if self._buffer is None:
                self._buffer = PackBuffer()
            self._buffer.add(key, data)
            if len(self._buffer.data) >= PACK_TARGET:
                full, self._buffer = self._buffer, None
        if full is not None:
            self._upload(full)

    def flush(self) -> None:
        """Upload the unfinished pack."""
        with self._lock:
            pending, self._buffer = self._buffer, None
        if pending is not None and pending.entries:
            self._upload(pending)

    def _upload(self, buffer: PackBuffer) -> str:
        name, index = encode_index(buffer.entries)
        for ext, body in (("pack", bytes(buffer.data)), ("idx", index)):
            self.conn.put(self.bucket, self._key(name, ext), body)
        with self._lock:
            if self._indexes is not None:
                path = os.path.join(self._cache, name + ".idx")
                with open(path, "wb") as handle:
                    handle.write(index)
                self._indexes[name] = PackIndex(path)
        return name

    # ---- reading ----------------------------------------------------------------------

    def read(self, located: Located) -> bytes:
        """The bytes of one packed object."""
        if located.pack == "":
            with self._lock:
                if self._buffer is not None:
                    return self._buffer.read(located.entry)
            raise IntegrityError("a packed object was read while its pack was uploaded")
        start, length = located.entry.offset, located.entry.length
        return self.read_range(located.pack, start, start + length)

    def read_range(self, pack: str, start: int, end: int) -> bytes:
        """Bytes ``[start, end)`` of a pack."""
        if end <= start:
            return b""
        key = self._key(pack, "pack")
        with self.conn.errors(self.bucket, key):
            response = self.conn.client.get_object(
                Bucket=self.bucket, Key=key, Range=f"bytes={start}-{end - 1}"
            )
            data: bytes = response["Body"].read()
        if len(data) != end - start:
            raise IntegrityError(f"pack {pack[:12]} on the remote is truncated")
        return data

    def delete_pack(self, name: str) -> None:
        """Remove a pack: its index first (so it stops being visible), then the pack."""
        for ext in ("idx", "pack"):
            self.conn.delete(self.bucket, self._key(name, ext))

    def close(self) -> None:
        """Drop the unfinished pack and the index cache."""
        with self._lock:
            self._buffer = None
        self.refresh()
        shutil.rmtree(self._cache, ignore_errors=True)


Members = list[tuple[str, PackEntry]]


def plan_ranges(entries: Members) -> list[tuple[int, int, Members]]:
    """Group objects of one pack into (start, end, objects) ranges: neighbours closer than
    RANGE_GAP share a request, no range grows past RANGE_MAX."""
    ordered = sorted(entries, key=lambda item: item[1].offset)
    ranges: list[tuple[int, int, Members]] = []
    for oid, entry in ordered:
        end = entry.offset + entry.length
        if ranges:
            start, last_end, members = ranges[-1]
            if entry.offset - last_end < RANGE_GAP and end - start <= RANGE_MAX:
                members.append((oid, entry))
                ranges[-1] = (start, max(last_end, end), members)
                continue
        ranges.append((entry.offset, end, [(oid, entry)]))
    return ranges
