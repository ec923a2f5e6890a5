"""The workspace's object store: small objects in packs, large ones loose or as chunks.

Objects up to ``PACK_THRESHOLD`` bytes go into pack files (objects/packs/), compressed where
that pays. Creating 50,000 small files costs more than writing their bytes; a pack turns
that into appends to one file. A large file that compresses, has holes, or shares chunks
with its previous version is kept as content-defined chunks (packed) and a chunk list
(objects/lists/, see ``chunked``), so versions share what they have in common. Any other
large object stays one file (objects/ab/cdef...), so restore can reflink, hard-link or copy
it directly.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterator

from dws.errors import IntegrityError
from dws.model.digest import hash_bytes
from dws.model.ids import check_object_id, is_object_id
from dws.store import chunking
from dws.store.base import CorruptObjectError, ObjectMissingError, ObjectStore, PruneReport
from dws.store.chunked import (
    ListFiles,
    TooManyPieces,
    assemble,
    chunks_intact,
    lacking_chunks,
    rebuild,
    store_chunks,
)
from dws.store.chunklist import MAX_PIECES, ChunkList
from dws.store.fileio import (
    TEMP_PREFIX,
    naming,
    sync_filesystem,
    temp_name,
    write_new_file,
)
from dws.store.framing import MIN_COMPRESSED, RAW_BYTE, ZSTD, decoded_size, frame, unframe
from dws.store.hashing import SMALL_FILE, open_nonblocking
from dws.store.loose import LooseObjectStore
from dws.store.packfile import PackEntry, PackIndex, PackWriter

PACK_THRESHOLD = 128 << 10
TARGET_PACK_BYTES = 256 << 20
# an unfinished pack keeps its entries in memory (about 200 bytes each): a first snapshot
# of a million tiny files would otherwise hold them all
TARGET_PACK_OBJECTS = 1 << 16
PROBE_HEAD = 64 << 10  # a large file whose first bytes compress is kept as chunks
# a list holds at most MAX_PIECES pieces; at most one chunk of the minimum size, and one
# hole, per piece pair: larger files stay loose
MAX_CHUNKED = MAX_PIECES // 2 * chunking.MINIMUM


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
        self.lists = ListFiles(os.path.join(root, "lists"), self._tmp)
        # lists whose chunks are in the open pack: written when it is finished
        self._pending_lists: dict[str, ChunkList] = {}
        self._converted: set[str] = set()  # loose objects now also kept as chunks
        self._lost: BaseException | None = None  # why a pack's objects were lost (see flush)

    @staticmethod
    def create(root: str) -> PackedObjectStore:
        """Create the directory layout."""
        LooseObjectStore.create(root)
        os.makedirs(os.path.join(root, "packs"), exist_ok=True)
        os.makedirs(os.path.join(root, "lists"), exist_ok=True)
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
        return self._find_key(bytes.fromhex(check_object_id(oid)))

    def _find_key(self, key: bytes) -> tuple[str | None, PackEntry] | None:
        with self._lock:
            if self._writer is not None and key in self._writer.entries:
                return None, self._writer.entries[key]
            for name, index in self._load_indexes().items():
                entry = index.lookup(key)
                if entry is not None:
                    return name, entry
        return None

    def has(self, oid: str) -> bool:
        return (
            self._find(oid) is not None
            or self.loose.has(oid)
            or oid in self._pending_lists
            or self.lists.has(oid)
        )

    def chunk_list(self, oid: str) -> ChunkList | None:
        """The chunk list of ``oid`` when the store keeps it as chunks, else None."""
        pending = self._pending_lists.get(oid)  # (one dict lookup: atomic, no lock needed)
        return pending if pending is not None else self.lists.read(oid)

    def _read_stored(self, pack: str | None, entry: PackEntry) -> tuple[bytes, bool]:
        """(what the entry holds, whether it is framed) for a packed object."""
        with self._lock:
            if pack is None:
                assert self._writer is not None
                return self._writer.read(entry), True
            framed = self._load_indexes()[pack].framed
            fd = self._fds.get(pack)
            if fd is None:
                fd = self._fds[pack] = os.open(
                    os.path.join(self.packs_dir, pack + ".pack"), os.O_RDONLY
                )
        data = os.pread(fd, entry.length, entry.offset)
        if len(data) != entry.length:
            raise IntegrityError(f"pack {pack[:12]} is truncated")
        return data, framed

    def _read_packed(self, oid: str, pack: str | None, entry: PackEntry) -> bytes:
        """The bytes of the packed object ``oid`` (not yet checked against it)."""
        try:
            data, framed = self._read_stored(pack, entry)
            return unframe(data) if framed else data
        except CorruptObjectError:
            raise
        except IntegrityError:  # a truncated pack, an entry that does not decode
            raise CorruptObjectError(oid) from None

    # ---- chunks (the ChunkSink of ``chunked``) ----------------------------------------

    def has_chunk(self, key: bytes) -> bool:
        """True when the chunk is packed (the open pack included)."""
        return self._find(key.hex()) is not None

    def add_chunk(self, key: bytes, entry: bytes) -> None:
        """Append a framed chunk to the open pack."""
        self._append(key, entry)

    def chunk_entry(self, key: bytes) -> bytes | None:
        found = self._find(key.hex())
        if found is None:
            return None
        stored, framed = self._read_stored(*found)
        return stored if framed else None

    def read_chunk(self, key: bytes) -> bytes:
        """A chunk's bytes (not yet checked)."""
        oid = key.hex()
        found = self._find(oid)
        if found is None:
            self._refresh()
            found = self._find(oid)
        if found is not None:
            return self._read_packed(oid, *found)
        return self.loose.get_bytes(oid)  # the same bytes kept as an object of their own

    # ---- writing ----------------------------------------------------------------------

    def put_bytes(self, data: bytes) -> str:
        if len(data) > PACK_THRESHOLD:
            return self.loose.put_bytes(data)
        oid = hash_bytes(data)
        # small objects are only ever packed here, so the packs alone say whether it is new
        # (a loose copy from an older layout would merely be duplicated)
        if self._find(oid) is not None:
            return oid
        # (inline: this runs once per small file; a first snapshot may store 50,000 of them)
        self._append(
            bytes.fromhex(oid), RAW_BYTE + data if len(data) < MIN_COMPRESSED else frame(data)
        )
        return oid

    def has_entry(self, oid: str) -> bool:
        return self._find(oid) is not None  # small objects are only ever packed here

    def put_entry(self, oid: str, entry: bytes) -> None:
        key = bytes.fromhex(check_object_id(oid))
        if self._find_key(key) is None:
            self._append(key, entry)

    def _append(self, key: bytes, entry: bytes) -> None:
        """Append an entry to the open pack (a new one if none is open)."""
        with self._lock:
            try:  # (not ``errors_naming``: a generator per small file costs here)
                if self._writer is None:
                    self._writer = PackWriter(temp_name(self._tmp))
                self._writer.add(key, entry)
                self._finish_if_full()
            except OSError as exc:
                raise naming(exc, self._tmp) from None

    def put_file(self, path: str, similar_to: str | None = None) -> tuple[str, int]:
        """Store a file: small ones packed, large ones as chunks when that pays (see the
        module's docstring; ``similar_to`` is the id of its previous version), else loose."""
        with open(path, "rb", opener=open_nonblocking) as handle:
            fd = handle.fileno()
            size = os.fstat(fd).st_size
            if size <= PACK_THRESHOLD:
                data = handle.read()
                return self.put_bytes(data), len(data)
            if size > SMALL_FILE and self._chunks_pay(fd, size, similar_to):
                try:
                    oid, chunks = store_chunks(fd, size, self)
                except TooManyPieces:  # the chunks stored so far are garbage for gc
                    return self.loose.put_file(path)
                self._add_list(oid, chunks)
                if similar_to is not None and similar_to != oid:
                    self._convert(similar_to)
                return oid, chunks.size
        return self.loose.put_file(path)

    def _chunks_pay(self, fd: int, size: int, similar_to: str | None) -> bool:
        """Whether a large file is kept as chunks: it has holes, compresses, or shares
        chunks with its previous version. Never a file whose list could outgrow what a
        reader accepts (``MAX_CHUNKED``)."""
        if not chunking.available() or size > MAX_CHUNKED:
            return False
        if chunking.is_sparse(fd, size):
            return True
        if similar_to is not None and self.chunk_list(similar_to) is not None:
            return True
        if frame(os.pread(fd, PROBE_HEAD, 0))[0] == ZSTD:
            return True
        if similar_to is None or not self.loose.has(similar_to):
            return False
        with open(self.loose.path(similar_to), "rb") as previous:
            old = chunking.sample_keys(previous.fileno(), os.fstat(previous.fileno()).st_size)
        return bool(old & chunking.sample_keys(fd, size))

    def _convert(self, oid: str) -> None:
        """Keep the loose object ``oid`` as chunks too (its loose file goes at the next
        flush, once the chunks are durable): versions then share their chunks."""
        if self.chunk_list(oid) is not None or not self.loose.has(oid):
            return
        with open(self.loose.path(oid), "rb") as handle:
            fd = handle.fileno()
            size = os.fstat(fd).st_size
            if size > MAX_CHUNKED:
                return
            try:
                got, chunks = store_chunks(fd, size, self)
            except TooManyPieces:
                return
        if got != oid:
            return  # the loose object is damaged: left for fsck, never converted
        self._add_list(oid, chunks)
        with self._lock:
            self._converted.add(oid)

    def put_chunk_list(self, oid: str, chunks: ChunkList) -> None:
        """Record ``oid`` as ``chunks`` (see ``_add_list``)."""
        self._add_list(oid, chunks)

    def _add_list(self, oid: str, chunks: ChunkList) -> None:
        """Record ``oid`` as ``chunks``: at once when no pack is open, else when the open
        pack (holding its new chunks) is finished."""
        with self._lock:
            if self._writer is None:
                self.lists.install(oid, chunks)
            else:
                self._pending_lists[oid] = chunks

    def _finish_if_full(self) -> None:
        writer = self._writer
        if writer is not None and (
            writer.size >= TARGET_PACK_BYTES or len(writer.entries) >= TARGET_PACK_OBJECTS
        ):
            self._finish_pack()

    def _finish_pack(self) -> None:
        with self._lock:
            writer = self._writer
            if writer is None:
                return
            if not writer.entries:
                self._writer = None
                writer.abandon()
                return
            os.makedirs(self.packs_dir, exist_ok=True)
            try:
                name = writer.finish(self.packs_dir, temp_name(self._tmp))
            except BaseException as exc:
                # a full disk leaves it open with every object in it (tried again at the
                # next finish or flush); past that point its objects are gone, and a flush
                # must not let a command record them as stored (a caller may have gone on)
                if writer.closed:
                    self._writer = None
                    self._pending_lists.clear()
                    self._lost = exc
                raise
            self._writer = None
            self._finished.add(name)
            self._indexes = None
            for oid, chunks in self._pending_lists.items():  # their chunks are visible now
                self.lists.install(oid, chunks)
            self._pending_lists.clear()

    def flush(self) -> None:
        """Close the open pack (making it visible), then sync the filesystem once; then
        drop the loose copies of objects converted to chunks."""
        self._finish_pack()
        if self._lost is not None:
            lost, self._lost = self._lost, None
            raise IntegrityError(
                f"objects stored by this command were lost when a pack failed ({lost}); "
                "nothing was recorded: run the command again"
            )
        sync_filesystem(self.root)
        with self._lock:
            converted, self._converted = self._converted, set()
        for oid in converted:
            if self.lists.has(oid):
                self.loose.delete(oid)

    # ---- reading ----------------------------------------------------------------------

    def get_bytes(self, oid: str) -> bytes:
        found = self._find(oid)
        if found is None and not self.loose.has(oid):
            self._refresh()
            found = self._find(oid)
        if found is not None:
            return self._read_packed(oid, *found)
        chunks = None if self.loose.has(oid) else self.chunk_list(oid)
        if chunks is not None:
            return assemble(oid, chunks, self)
        return self.loose.get_bytes(oid)

    def materialize(self, oid: str, dest: str, mode: int = 0o644) -> None:
        found = self._find(oid)
        if found is None:
            chunks = None if self.loose.has(oid) else self.chunk_list(oid)
            if chunks is not None:
                rebuild(oid, chunks, self, dest, mode)
            else:
                self.loose.materialize(oid, dest, mode)
            return
        data = self._read_packed(oid, *found)
        if hash_bytes(data) != oid:
            raise CorruptObjectError(oid)
        write_new_file(dest, data, mode)

    def link(self, oid: str, dest: str) -> bool:
        """A hard link to a loose object (packed and chunked ones are copied)."""
        if self._find(oid) is not None:
            return False
        if not self.loose.has(oid):
            if self.chunk_list(oid) is not None:
                return False
            raise ObjectMissingError(oid)
        return self.loose.link(oid, dest)

    def release_link(self, oid: str, st: os.stat_result) -> bool:
        return self._find(oid) is None and self.loose.release_link(oid, st)

    def file_path(self, oid: str) -> str | None:
        """The loose file of a large object (small ones are packed: None)."""
        return self.loose.path(oid) if self.loose.has(oid) else None

    def size(self, oid: str) -> int:
        found = self._find(oid)
        if found is not None:
            stored, framed = self._read_stored(*found)
            return decoded_size(stored) if framed else len(stored)
        chunks = None if self.loose.has(oid) else self.chunk_list(oid)
        return chunks.size if chunks is not None else self.loose.size(oid)

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
        for oid in self.lists.ids():
            if self._find(oid) is None and not self.loose.has(oid):
                yield oid

    def verify(self, oid: str) -> bool:
        found = self._find(oid)
        if found is not None:
            try:
                return hash_bytes(self._read_packed(oid, *found)) == oid
            except CorruptObjectError:
                return False
        if self.loose.has(oid) or (not self.lists.has(oid) and oid not in self._pending_lists):
            return self.loose.verify(oid)
        return chunks_intact(oid, lambda: self.chunk_list(oid), self)

    def check_structure(self) -> list[str]:
        """Pack indexes whose checksum fails; chunk lists that do not decode or name a
        chunk the store lacks."""
        problems = [
            f"pack index {name[:12]} is corrupt"
            for name, index in self._load_indexes().items()
            if not index.verify()
        ]
        for oid in self.lists.ids():
            try:
                chunks = self.lists.read(oid)
            except IntegrityError as exc:
                problems.append(exc.message)
                continue
            assert chunks is not None
            problem = lacking_chunks(oid, chunks, self)
            if problem is not None:
                problems.append(problem)
        return problems

    # ---- removing ---------------------------------------------------------------------

    def delete(self, oid: str) -> None:
        """Remove an object; a packed one by rewriting its pack without it (``prune``
        does this for many objects at once)."""
        self.loose.delete(oid)
        self.lists.delete(oid)
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
        rewriting their packs (small packs are merged on the way, version-1 packs rewritten
        as version 2). The chunks of a kept chunked file are kept."""
        report = PruneReport()
        live_chunks = self._prune_lists(keep, dry_run, report)

        def kept(oid: str) -> bool:
            return keep(oid) or oid in live_chunks

        for oid in list(self.loose.iter_ids()):
            if not kept(oid):
                report.removed += 1
                report.removed_bytes += self.loose.size(oid)
                if not dry_run:
                    self.loose.delete(oid)
            elif not dry_run and oid not in live_chunks and self.lists.has(oid):
                self.loose.delete(oid)  # a converted file's loose copy: its chunks stay
        indexes = self._load_indexes()
        rewrite = []
        for name, index in indexes.items():
            garbage = [(k, e) for k, e in index if not kept(k.hex())]
            report.removed += len(garbage)
            report.removed_bytes += sum(e.length for _, e in garbage)
            small = len(indexes) > 1 and os.path.getsize(index.path) * 64 < TARGET_PACK_BYTES
            if garbage or small or not index.framed:
                rewrite.append(name)
        if dry_run or not rewrite:
            return report
        self._repack(rewrite, kept)
        report.repacked = len(rewrite)
        return report

    def _prune_lists(
        self, keep: Callable[[str], bool], dry_run: bool, report: PruneReport
    ) -> set[str]:
        """Remove the chunk lists ``keep`` rejects; return the chunks the others name."""
        live_chunks: set[str] = set()
        for oid in list(self.lists.ids()):
            chunks = self.lists.read(oid)
            assert chunks is not None
            if keep(oid):
                live_chunks.update(chunks.chunk_ids())
                continue
            report.removed += 1  # its bytes are counted with its chunks
            if not dry_run:
                self.lists.delete(oid)
        return live_chunks

    def _repack(self, names: list[str], keep: Callable[[str], bool]) -> None:
        indexes = self._load_indexes()
        self._finished.clear()
        for name in names:
            for key, entry in indexes[name]:
                if keep(key.hex()):
                    stored, framed = self._read_stored(name, entry)
                    data = unframe(stored) if framed else stored
                    if hash_bytes(data) != key.hex():
                        raise CorruptObjectError(key.hex())
                    self.add_chunk(key, stored if framed else frame(data))
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
            self._pending_lists.clear()  # their chunks were in the dropped pack
            for fd in self._fds.values():
                os.close(fd)
            self._fds.clear()
        self._refresh()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.close()
