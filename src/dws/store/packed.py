"""The workspace's object store: small objects in packs, large ones loose.

Objects up to ``PACK_THRESHOLD`` bytes go into pack files (objects/packs/), the rest stay
one file each (objects/ab/cdef...), so restore can still reflink or copy a large blob
directly. Creating 50,000 small files costs more than writing their bytes; a pack turns
that into appends to one file.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterator

from dws.model.digest import hash_bytes
from dws.model.ids import check_object_id, is_object_id
from dws.store.base import CorruptObjectError, ObjectStore, PruneReport
from dws.store.fileio import (
    TEMP_PREFIX,
    errors_naming,
    sync_filesystem,
    temp_name,
    write_new_file,
)
from dws.store.loose import LooseObjectStore
from dws.store.packfile import PackEntry, PackIndex, PackWriter

PACK_THRESHOLD = 128 << 10
TARGET_PACK_BYTES = 256 << 20
# an unfinished pack keeps its entries in memory (about 200 bytes each): a first snapshot
# of a million tiny files would otherwise hold them all
TARGET_PACK_OBJECTS = 1 << 16


class PackedObjectStore(ObjectStore):
    """Loose objects plus packs, behind the one ObjectStore interface."""

    def __init__(self, root: str) -> None:
        self.root = root
        self.loose = LooseObjectStore(root)
        self.packs_dir = os.path.join(root, "packs")
        self._tmp = os.path.join(root, "tmp")
        self._indexes: dict[str, PackIndex] | None = None
        self._fds: dict[str, int] = {}
        self._writer: PackWriter | None = None
        self._finished: set[str] = set()  # names of the packs finished since a repack began
        self._lock = threading.RLock()

    @staticmethod
    def create(root: str) -> PackedObjectStore:
        """Create the directory layout."""
        LooseObjectStore.create(root)
        os.makedirs(os.path.join(root, "packs"), exist_ok=True)
        return PackedObjectStore(root)

    # ---- finding objects --------------------------------------------------------------

    def _load_indexes(self) -> dict[str, PackIndex]:
        if self._indexes is None:
            indexes: dict[str, PackIndex] = {}
            names = os.listdir(self.packs_dir) if os.path.isdir(self.packs_dir) else []
            for file_name in sorted(names):
                name, _, ext = file_name.partition(".")
                pack = os.path.join(self.packs_dir, name + ".pack")
                if ext == "idx" and is_object_id(name) and os.path.exists(pack):
                    indexes[name] = PackIndex(os.path.join(self.packs_dir, file_name))
            self._indexes = indexes
        return self._indexes

    def _refresh(self) -> None:
        """Forget cached indexes (another process may have repacked)."""
        with self._lock:
            for index in (self._indexes or {}).values():
                index.close()
            self._indexes = None

    def _find(self, oid: str) -> tuple[str | None, PackEntry] | None:
        """(pack name, entry) — pack name None for the unfinished pack — or None."""
        key = bytes.fromhex(check_object_id(oid))
        with self._lock:
            if self._writer is not None and key in self._writer.entries:
                return None, self._writer.entries[key]
            for name, index in self._load_indexes().items():
                entry = index.lookup(key)
                if entry is not None:
                    return name, entry
        return None

    def has(self, oid: str) -> bool:
        return self._find(oid) is not None or self.loose.has(oid)

    def _read_packed(self, pack: str | None, entry: PackEntry) -> bytes:
        with self._lock:
            if pack is None:
                assert self._writer is not None
                return self._writer.read(entry)
            fd = self._fds.get(pack)
            if fd is None:
                fd = self._fds[pack] = os.open(
                    os.path.join(self.packs_dir, pack + ".pack"), os.O_RDONLY
                )
        data = os.pread(fd, entry.length, entry.offset)
        if len(data) != entry.length:
            raise CorruptObjectError(hash_bytes(data))
        return data

    # ---- writing ----------------------------------------------------------------------

    def put_bytes(self, data: bytes) -> str:
        if len(data) > PACK_THRESHOLD:
            return self.loose.put_bytes(data)
        oid = hash_bytes(data)
        # small objects are only ever packed here, so the packs alone say whether it is new
        # (a loose copy from an older layout would merely be duplicated)
        if self._find(oid) is not None:
            return oid
        with self._lock, errors_naming(self._tmp):
            if self._writer is None:
                self._writer = PackWriter(temp_name(self._tmp))
            self._writer.add(bytes.fromhex(oid), data)
            self._finish_if_full()
        return oid

    def put_file(self, path: str) -> tuple[str, int]:
        with open(path, "rb") as handle:
            if os.fstat(handle.fileno()).st_size > PACK_THRESHOLD:
                return self.loose.put_file(path)
            data = handle.read()
        return self.put_bytes(data), len(data)

    def _finish_if_full(self) -> None:
        writer = self._writer
        if writer is not None and (
            writer.size >= TARGET_PACK_BYTES or len(writer.entries) >= TARGET_PACK_OBJECTS
        ):
            self._finish_pack()

    def _finish_pack(self) -> None:
        with self._lock:
            if self._writer is None:
                return
            writer, self._writer = self._writer, None
            if not writer.entries:
                writer.abandon()
                return
            os.makedirs(self.packs_dir, exist_ok=True)
            self._finished.add(writer.finish(self.packs_dir, temp_name(self._tmp)))
            self._indexes = None

    def flush(self) -> None:
        """Close the open pack (making it visible), then sync the filesystem once."""
        self._finish_pack()
        sync_filesystem(self.root)

    # ---- reading ----------------------------------------------------------------------

    def get_bytes(self, oid: str) -> bytes:
        found = self._find(oid)
        if found is None and not self.loose.has(oid):
            self._refresh()
            found = self._find(oid)
        if found is not None:
            return self._read_packed(*found)
        return self.loose.get_bytes(oid)

    def materialize(self, oid: str, dest: str, mode: int = 0o644) -> None:
        found = self._find(oid)
        if found is None:
            self.loose.materialize(oid, dest, mode)
            return
        data = self._read_packed(*found)
        if hash_bytes(data) != oid:
            raise CorruptObjectError(oid)
        write_new_file(dest, data, mode)

    def link(self, oid: str, dest: str) -> bool:
        return self._find(oid) is None and self.loose.link(oid, dest)

    def release_link(self, oid: str, st: os.stat_result) -> bool:
        return self._find(oid) is None and self.loose.release_link(oid, st)

    def file_path(self, oid: str) -> str | None:
        """The loose file of a large object (small ones are packed: None)."""
        return self.loose.path(oid) if self.loose.has(oid) else None

    def size(self, oid: str) -> int:
        found = self._find(oid)
        return found[1].length if found is not None else self.loose.size(oid)

    def iter_ids(self) -> Iterator[str]:
        """Packed ids (the open pack's too), then loose ones not also packed."""
        with self._lock:
            indexes = list(self._load_indexes().values())
            pending = list(self._writer.entries) if self._writer is not None else []
        yield from (key.hex() for key in pending)
        for index in indexes:
            for key, _ in index:
                yield key.hex()
        for oid in self.loose.iter_ids():
            if self._find(oid) is None:
                yield oid

    def verify(self, oid: str) -> bool:
        found = self._find(oid)
        if found is None:
            return self.loose.verify(oid)
        return hash_bytes(self._read_packed(*found)) == oid

    def check_structure(self) -> list[str]:
        """Pack indexes whose checksum fails."""
        return [
            f"pack index {name[:12]} is corrupt"
            for name, index in self._load_indexes().items()
            if not index.verify()
        ]

    # ---- removing ---------------------------------------------------------------------

    def delete(self, oid: str) -> None:
        """Remove an object; a packed one by rewriting its pack without it (``prune``
        does this for many objects at once)."""
        self.loose.delete(oid)
        found = self._find(oid)
        if found is None:
            return
        pack, _ = found
        if pack is None:
            self._finish_pack()
            found = self._find(oid)
            assert found is not None
            pack = found[0]
        assert pack is not None
        self._repack([pack], lambda other: other != oid)

    def prune(self, keep: Callable[[str], bool], *, dry_run: bool = False) -> PruneReport:
        """Remove every object ``keep`` rejects: loose ones directly, packed ones by
        rewriting their packs (small packs are merged on the way)."""
        report = PruneReport()
        for oid in list(self.loose.iter_ids()):
            if not keep(oid):
                report.removed += 1
                report.removed_bytes += self.loose.size(oid)
                if not dry_run:
                    self.loose.delete(oid)
        indexes = self._load_indexes()
        rewrite = []
        for name, index in indexes.items():
            garbage = [(k, e) for k, e in index if not keep(k.hex())]
            report.removed += len(garbage)
            report.removed_bytes += sum(e.length for _, e in garbage)
            small = len(indexes) > 1 and os.path.getsize(index.path) * 64 < TARGET_PACK_BYTES
            if garbage or small:
                rewrite.append(name)
        if dry_run or not rewrite:
            return report
        self._repack(rewrite, keep)
        report.repacked = len(rewrite)
        return report

    def _repack(self, names: list[str], keep: Callable[[str], bool]) -> None:
        indexes = self._load_indexes()
        self._finished.clear()
        for name in names:
            for key, entry in indexes[name]:
                if keep(key.hex()):
                    data = self._read_packed(name, entry)
                    if hash_bytes(data) != key.hex():
                        raise CorruptObjectError(key.hex())
                    with self._lock:
                        if self._writer is None:
                            self._writer = PackWriter(temp_name(self._tmp))
                        self._writer.add(key, data)
                        self._finish_if_full()
        self.flush()  # the new packs are durable before the old ones go
        # a new pack holding exactly an old pack's objects has that pack's name: it stays
        for name in [n for n in names if n not in self._finished]:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(os.path.join(self.packs_dir, name + ".idx"))
            with contextlib.suppress(FileNotFoundError):
                os.unlink(os.path.join(self.packs_dir, name + ".pack"))
            fd = self._fds.pop(name, None)
            if fd is not None:
                os.close(fd)
        self._refresh()

    def clean_temporary(self) -> int:
        """Remove temp files and packs an interrupted write left without an index."""
        removed = self.loose.clean_temporary()
        if os.path.isdir(self.packs_dir):
            for file_name in os.listdir(self.packs_dir):
                name, _, ext = file_name.partition(".")
                orphan = ext == "pack" and not os.path.exists(
                    os.path.join(self.packs_dir, name + ".idx")
                )
                if orphan or file_name.startswith(TEMP_PREFIX):
                    with contextlib.suppress(OSError):
                        os.unlink(os.path.join(self.packs_dir, file_name))
                        removed += 1
        return removed

    def close(self) -> None:
        """Release file descriptors and mappings (an unfinished pack is dropped)."""
        with self._lock:
            if self._writer is not None:
                self._writer.abandon()
                self._writer = None
            for fd in self._fds.values():
                os.close(fd)
            self._fds.clear()
        self._refresh()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.close()
