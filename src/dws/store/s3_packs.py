"""Packs on S3: small objects travel in pack keys, in the workspace's own pack format.

One PUT per 2 KiB file is what limits an S3 push of many small files (botocore spends about
a millisecond of CPU on each request). So objects up to ``PACK_THRESHOLD`` bytes are
appended to an in-memory pack that is uploaded as ``objects/packs/<name>.pack`` followed by
its index ``objects/packs/<name>.idx`` (the index makes it visible, as on disk). Indexes are
content-named and immutable; they are downloaded when first needed and memory-mapped (see
``IndexFiles`` for where their files go). Reads of packed objects are byte-range GETs,
merged into large ranges when many objects of one pack are wanted.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
import threading
from collections.abc import Iterator

from msgspec import Struct

from dws.errors import IntegrityError
from dws.model.digest import hash_bytes
from dws.model.ids import check_object_id, is_object_id
from dws.store.base import CorruptObjectError
from dws.store.fileio import process_running
from dws.store.framing import frame, unframe
from dws.store.packfile import PACK_MAGIC, PackEntry, PackIndex, encode_index
from dws.store.s3client import S3Connection

PACK_TARGET = 32 << 20
RANGE_GAP = 1 << 20  # merge ranges of one pack when the gap between them is smaller
RANGE_MAX = 16 << 20
INDEX_DIR_PREFIX = "dws-s3-idx-"
_INDEX_DIR = re.compile(re.escape(INDEX_DIR_PREFIX) + r"(\d+)-[a-z0-9_]{8}")
_open_dirs: set[str] = set()  # this process's index directories (absolute paths)
_open_dirs_lock = threading.Lock()


class IndexFiles:
    """Where an S3 remote writes the pack indexes it memory-maps.

    The first index needed makes a private directory ``dws-s3-idx-<pid>-<random>`` below
    ``parent``; each index is written there, mapped, and removed at once (the mapping stays
    valid), and ``close`` removes the directory. A killed process leaves that directory
    (empty, or with the one index it was writing); the next process to use ``parent``
    removes it (``collect_leftovers``).

    ``parent`` is a workspace's ``local/tmp/``, made when first needed. Without one (a
    clone opens its remote before its workspace exists) it is the system's temporary
    directory, swept the same way before the directory is made.
    """

    def __init__(self, parent: str | None = None) -> None:
        self.parent = parent
        self._private: str | None = None
        self._lock = threading.Lock()

    def use(self, parent: str) -> None:
        """Write below ``parent`` from now on; remove what killed processes left there."""
        self.close()
        with self._lock:
            self.parent = parent
        collect_leftovers(parent)

    def map(self, name: str, data: bytes) -> PackIndex:
        """The index ``name`` (``data``, its bytes) as a mapped PackIndex."""
        with self._lock:
            path = os.path.join(self._directory(), name + ".idx")
            try:
                with open(path, "wb") as handle:
                    handle.write(data)
                return PackIndex(path)
            finally:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(path)

    def _directory(self) -> str:
        """The private directory, made (after a sweep of ``parent``) on first use and
        again if someone removed it."""
        if self._private is not None and os.path.isdir(self._private):
            return self._private
        parent = self._parent()
        if self._private is None:
            collect_leftovers(parent)
        with _open_dirs_lock:
            _open_dirs.discard(self._private or "")
        made = tempfile.mkdtemp(prefix=f"{INDEX_DIR_PREFIX}{os.getpid()}-", dir=parent)
        self._private = os.path.abspath(made)
        with _open_dirs_lock:
            _open_dirs.add(self._private)
        return self._private

    def _parent(self) -> str:
        """``parent``, made if its own parent exists (a workspace renamed or removed
        meanwhile is never made again), else the system's temporary directory."""
        if self.parent is None:
            return tempfile.gettempdir()
        try:
            os.mkdir(self.parent)
        except FileExistsError:
            pass
        except FileNotFoundError:
            return tempfile.gettempdir()
        return self.parent

    def close(self) -> None:
        """Remove the private directory (the indexes stay mapped)."""
        with self._lock:
            private, self._private = self._private, None
        if private is not None:
            shutil.rmtree(private, ignore_errors=True)
            with _open_dirs_lock:
                _open_dirs.discard(private)

    def collect(self) -> int:
        """``collect_leftovers`` in ``parent`` (nothing without one)."""
        return collect_leftovers(self.parent) if self.parent is not None else 0


def collect_leftovers(parent: str) -> int:
    """Remove the index directories in ``parent`` whose process no longer runs (it was
    killed with a remote open); return how many were found."""
    try:
        names = os.listdir(parent)
    except (FileNotFoundError, NotADirectoryError):
        return 0
    removed = 0
    for name in names:
        owner = _INDEX_DIR.fullmatch(name)
        path = os.path.join(parent, name)
        if owner is not None and not _in_use(path, int(owner.group(1))):
            shutil.rmtree(path, ignore_errors=True)
            removed += 1
    return removed


def _in_use(path: str, pid: int) -> bool:
    """True while process ``pid`` may still use ``path``: it runs (another user's counts
    as running) and, when it is this process, ``path`` belongs to an open remote."""
    if pid == os.getpid():
        with _open_dirs_lock:
            return os.path.abspath(path) in _open_dirs
    return process_running(pid)


class Located(Struct, frozen=True):
    """A packed object: its pack and where in it."""

    pack: str
    entry: PackEntry
    framed: bool = True  # the entry starts with a codec byte (a version-2 pack)


class PackBuffer:
    """The pack being filled (version 2): entries in memory, by raw id."""

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

    def __init__(
        self, conn: S3Connection, bucket: str, prefix: str, files: IndexFiles | None = None
    ) -> None:
        self.conn = conn
        self.bucket = bucket
        self.prefix = prefix  # ".../objects/packs/"
        self.files = files if files is not None else IndexFiles()
        self._lock = threading.RLock()
        self._indexes: dict[str, PackIndex] | None = None
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
        key = self._key(name, "idx")
        response = self.conn.get(self.bucket, key)
        if response is None:
            raise IntegrityError(f"pack index {name[:12]} vanished from the remote")
        with self.conn.errors(self.bucket, key):
            data: bytes = response["Body"].read()
        index = self.files.map(name, data) if data[-32:].hex() == name else None
        if index is None or not index.verify():
            if index is not None:
                index.close()
            raise IntegrityError(f"pack index {name[:12]} on the remote is corrupt")
        return index

    def refresh(self) -> None:
        """Forget loaded indexes (after a repack)."""
        with self._lock:
            for index in (self._indexes or {}).values():
                index.close()
            self._indexes = None

    def find(self, oid: str) -> Located | None:
        """Where a packed object is, or None (the unfinished buffer counts, as pack '');
        FormatError for a malformed id."""
        key = bytes.fromhex(check_object_id(oid))
        with self._lock:
            if self._buffer is not None and key in self._buffer.entries:
                return Located("", self._buffer.entries[key])
            for name, index in self.indexes().items():
                entry = index.lookup(key)
                if entry is not None:
                    return Located(name, entry, index.framed)
        return None

    def all_ids(self) -> Iterator[tuple[str, int]]:
        """(id, size) of every packed object, those of the unfinished pack first."""
        with self._lock:
            pending = list(self._buffer.entries.items()) if self._buffer is not None else []
        for key, entry in pending:
            yield key.hex(), entry.length
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
        """Append an object's entry (``framing.frame`` of its bytes); a full pack is
        uploaded at once."""
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
                self._indexes[name] = self.files.map(name, index)
        return name

    # ---- reading ----------------------------------------------------------------------

    def read(self, located: Located) -> bytes:
        """The bytes of one packed object (not yet checked against its id)."""
        stored = self.read_stored(located)
        return unframe(stored) if located.framed else stored

    def read_stored(self, located: Located) -> bytes:
        """What the entry of one packed object holds."""
        if located.pack == "":
            with self._lock:
                if self._buffer is not None:
                    return self._buffer.read(located.entry)
            raise IntegrityError("a packed object was read while its pack was uploaded")
        start, length = located.entry.offset, located.entry.length
        return self.read_range(located.pack, start, start + length)

    def is_framed(self, pack: str) -> bool:
        """True when the pack's entries start with a codec byte (version 2)."""
        return self.indexes()[pack].framed

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

    def remove(self, oid: str) -> None:
        """Drop one packed object: from the unfinished pack, and from every pack holding it
        by rewriting that pack without it."""
        key = bytes.fromhex(oid)
        with self._lock:
            if self._buffer is not None:
                self._buffer.entries.pop(key, None)
            holding = [name for name, index in self.indexes().items() if index.lookup(key)]
        if holding:
            self.rewrite([(name, self._live(name, oid)) for name in holding])
            self.refresh()

    def _live(self, name: str, dropped: str) -> Members:
        """The objects of pack ``name`` but ``dropped``."""
        return [(k.hex(), e) for k, e in self.indexes()[name] if k.hex() != dropped]

    def rewrite(self, packs: list[tuple[str, Members]]) -> None:
        """Replace each pack by new packs holding only its listed (live) objects, read in
        merged ranges and checked; the old packs go only once the new ones are uploaded.
        Call ``refresh`` afterwards."""
        for name, live in packs:
            framed = self.is_framed(name)
            for start, end, members in plan_ranges(live):
                chunk = self.read_range(name, start, end)
                for oid, entry in members:
                    stored = chunk[entry.offset - start : entry.offset - start + entry.length]
                    data = unframe(stored) if framed else stored
                    if hash_bytes(data) != oid:
                        raise CorruptObjectError(oid)
                    self.add(bytes.fromhex(oid), stored if framed else frame(data))
        self.flush()  # the live objects are in new packs before the old ones go
        for name, _ in packs:
            self.delete_pack(name)

    def delete_pack(self, name: str) -> None:
        """Remove a pack: its index first (so it stops being visible), then the pack."""
        for ext in ("idx", "pack"):
            self.conn.delete(self.bucket, self._key(name, ext))

    def close(self) -> None:
        """Drop the unfinished pack, unmap the indexes and remove their directory."""
        with self._lock:
            self._buffer = None
        self.refresh()
        self.files.close()


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
