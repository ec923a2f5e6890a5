"""The object store interface every backend implements.

Objects are immutable and named by the BLAKE3 hash of their bytes. A backend never
returns bytes that do not match the id asked for without saying so.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator

from msgspec import Struct

from dws.errors import IntegrityError
from dws.model.digest import hash_bytes
from dws.store.chunklist import ChunkList
from dws.store.framing import unframe


class ObjectMissingError(IntegrityError):
    """An object a record refers to is not in the store."""

    def __init__(self, oid: str) -> None:
        super().__init__(
            f"object {oid[:12]} is missing from the store (run `dws fsck` for the extent)"
        )
        self.oid = oid
        self.problem = f"object {oid[:12]} is missing"  # without a hint: callers add theirs


class CorruptObjectError(IntegrityError):
    """A stored object's bytes do not hash to its id."""

    def __init__(self, oid: str) -> None:
        super().__init__(
            f"object {oid[:12]} is corrupt: its content does not match its id "
            "(run `dws fsck`; nothing was written from it)"
        )
        self.oid = oid
        self.problem = f"object {oid[:12]} is corrupt (its content does not match its id)"


class PruneReport(Struct):
    """What pruning removed."""

    removed: int = 0
    removed_bytes: int = 0
    repacked: int = 0


class ObjectStore(ABC):
    """A content-addressed store of immutable blobs."""

    @abstractmethod
    def has(self, oid: str) -> bool:
        """True when the object is stored."""

    @abstractmethod
    def put_bytes(self, data: bytes) -> str:
        """Store ``data`` (idempotent) and return its id."""

    def has_entry(self, oid: str) -> bool:
        """True when the small object ``oid`` is stored (a store that packs small
        objects looks in its packs alone)."""
        return self.has(oid)

    def put_entry(self, oid: str, entry: bytes) -> None:
        """Store a small object given as its id and its entry (``framing.frame`` of its
        bytes), both made elsewhere (a process reading files for a scan): a store that
        packs small objects appends the entry as it is."""
        self.put_bytes(unframe(entry))

    @abstractmethod
    def put_file(self, path: str, similar_to: str | None = None) -> tuple[str, int]:
        """Store the bytes of the file at ``path``; return (id, size). ``similar_to`` is
        the id of an earlier version of the same file, a hint a store may use to keep the
        two as shared chunks."""

    @abstractmethod
    def get_bytes(self, oid: str) -> bytes:
        """The object's bytes; ObjectMissingError if absent."""

    @abstractmethod
    def materialize(self, oid: str, dest: str, mode: int = 0o644) -> None:
        """Create the new file ``dest`` holding the object's bytes (reflink/copy), verified
        against ``oid``: CorruptObjectError (and no ``dest``) when they do not match."""

    def link(self, oid: str, dest: str) -> bool:
        """Make the new file ``dest`` a hard link to the stored object, verified against
        ``oid``, where the object is a file of its own on the same filesystem; False (and
        no ``dest``) where it is not (packed, remote, another filesystem)."""
        return False

    def release_link(self, oid: str, st: os.stat_result) -> bool:
        """If the stored object ``oid`` is the very file ``st`` describes (a hard link a
        restore made, since changed in place), drop the store's name for it and return True:
        its bytes no longer match its id."""
        return False

    def file_path(self, oid: str) -> str | None:
        """The file on this machine holding exactly the object's bytes, when the store
        keeps the object as a file of its own (a large object of a pack store); None
        otherwise. A transfer copies such an object by path, streamed, instead of reading
        it into memory. The file is the store's: never write to it."""
        return None

    @abstractmethod
    def size(self, oid: str) -> int:
        """Stored size of the object."""

    @abstractmethod
    def iter_ids(self) -> Iterator[str]:
        """Every stored object id, in no particular order."""

    @abstractmethod
    def delete(self, oid: str) -> None:
        """Remove an object (no error if absent)."""

    def flush(self) -> None:  # noqa: B027 - optional hook, default is already durable
        """Make everything stored so far durable; called once before a commit point."""

    # ---- chunked files (stores that keep large files as chunks override these) ---------

    def chunk_list(self, oid: str) -> ChunkList | None:
        """The chunk list of ``oid`` when the store keeps it as chunks, else None."""
        return None

    def has_chunk(self, key: bytes) -> bool:
        """True when the chunk with the 32-byte id ``key`` is stored."""
        return self.has(key.hex())

    def add_chunk(self, key: bytes, entry: bytes) -> None:
        """Store a chunk given as a framed entry (``framing.frame`` of its bytes)."""
        raise NotImplementedError(f"{type(self).__name__} does not keep chunks")

    def read_chunk(self, key: bytes) -> bytes:
        """A chunk's bytes, not yet checked against ``key``."""
        return self.get_bytes(key.hex())

    def chunk_entry(self, key: bytes) -> bytes | None:
        """A chunk as the store keeps it (``framing.frame`` form), where it keeps it so,
        else None: a copy to another store then needs no compressing again."""
        return None

    def put_chunk_list(self, oid: str, chunks: ChunkList) -> None:
        """Record ``oid`` as ``chunks`` (every chunk already added); it becomes visible
        once the chunks are (at the latest at ``flush``)."""
        raise NotImplementedError(f"{type(self).__name__} does not keep chunks")

    def get_verified(self, oid: str) -> bytes:
        """The object's bytes, checked against ``oid`` (CorruptObjectError if they differ)."""
        data = self.get_bytes(oid)
        if hash_bytes(data) != oid:
            raise CorruptObjectError(oid)
        return data

    def verify(self, oid: str) -> bool:
        """True when the stored bytes hash to ``oid``."""
        return hash_bytes(self.get_bytes(oid)) == oid

    def prune(self, keep: Callable[[str], bool], *, dry_run: bool = False) -> PruneReport:
        """Remove every object ``keep`` rejects."""
        report = PruneReport()
        for oid in list(self.iter_ids()):
            if not keep(oid):
                report.removed += 1
                report.removed_bytes += self.size(oid)
                if not dry_run:
                    self.delete(oid)
        return report

    def check_structure(self) -> list[str]:
        """Problems with the store's own bookkeeping (indexes), beyond single objects."""
        return []

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release open files."""

    def clean_temporary(self) -> int:
        """Remove leftovers of interrupted writes; return how many."""
        return 0
