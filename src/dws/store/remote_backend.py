"""What a remote backend is and what it can do: an object store, a few small metadata files,
and optional capabilities the transfer (``store.transfer``) asks for.

A remote mirrors ``.dataworkspace/`` minus ``local/`` (see docs/format.md, "Remotes"). Its
objects sit behind the ordinary ObjectStore interface; the records, tags and lineage files
beside them are handled by ``RemoteFiles``, addressed by ``/``-separated keys relative to
the remote's root (``snapshots/<id>.json``, ``tags/v1``...). The core names every key
(``core.remote.layout``) and tells a backend where the parts it manages itself go
(``RemotePlaces``).

Whatever a backend can do beyond those two interfaces is a capability of
``RemoteBackend`` with a default that suits a plain local backend; a backend overrides what
it does differently. Nothing outside a backend's own module asks which backend it is.
"""

from __future__ import annotations

import contextlib
import re
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator

from msgspec import Struct

from dws.errors import FormatError, RefusedError
from dws.store.base import ObjectStore
from dws.store.packfile import PackEntry

MAX_FILE_BYTES = 64 << 20
_KEY_PART = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


class RemoteChangedError(RefusedError):
    """A compare-and-swap found the file changed since it was read."""


def check_key(key: str) -> str:
    """A metadata key: 1 to 3 plain components (no ``..``, no absolute paths, no NUL)."""
    parts = key.split("/")
    if not 1 <= len(parts) <= 3 or any(not _KEY_PART.fullmatch(p) or ".." in p for p in parts):
        raise FormatError(f"invalid remote file name {key[:80]!r}")
    return key


class RemoteFiles(ABC):
    """The small files of a remote (records, tags, lineage), never the objects. Every
    backend can list a directory and put conditionally (``create``, ``replace``)."""

    @abstractmethod
    def list(self, directory: str) -> dict[str, str]:
        """name -> version token of the files directly in ``directory`` (empty if none).
        A token changes whenever the file's content may have changed."""

    @abstractmethod
    def read(self, key: str) -> bytes | None:
        """The file's bytes (at most MAX_FILE_BYTES), or None when it does not exist."""

    @abstractmethod
    def create(self, key: str, data: bytes) -> bool:
        """Write the file only if it does not exist; False when it already did."""

    @abstractmethod
    def replace(self, key: str, data: bytes, expected: bytes | None) -> None:
        """Write the file if its content is still ``expected`` (None: absent), else raise
        RemoteChangedError; no other writer can slip in between the check and the write."""

    @abstractmethod
    def write(self, key: str, data: bytes) -> None:
        """Write the file unconditionally (last writer wins)."""

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove the file (no error if absent)."""

    @abstractmethod
    def delete_if(self, key: str, expected: bytes) -> bool:
        """Remove the file if its content is still ``expected``; False (nothing removed)
        when it changed or is gone. No other writer can slip in between, where the
        backend can promise it (a server that ignores S3's ``If-Match`` on deletes
        leaves a window of one request)."""


class RemotePlaces(Struct, frozen=True):
    """Where a backend keeps the parts it manages itself, as keys below the remote's root
    (the core's remote layout decides them); each backend uses those it has."""

    objects: str  # the object store
    packs: str  # packs of small objects, where the backend lays them out itself (S3)
    lock: str  # the lock file, for a backend that locks with one (a directory)
    directories: tuple[str, ...]  # the metadata directories a new directory remote gets


class ReadBatch(Struct, frozen=True):
    """Several objects one request reads: bytes ``[start, end)`` of ``source`` (a pack),
    and each object's place in ``source`` (offsets from its beginning)."""

    source: str
    start: int
    end: int
    members: list[tuple[str, PackEntry]]
    framed: bool = True  # the members' entries start with a codec byte (``framing``)


class ObjectStream(ABC):
    """One object being read with a single request: its size, then its bytes, once."""

    size: int

    @abstractmethod
    def chunks(self) -> Iterator[bytes]:
        """The object's bytes, in pieces."""

    def read(self) -> bytes:
        """All of the object's bytes."""
        return b"".join(self.chunks())


class RemoteBackend:
    """An open remote: where it is, its objects and its small files, and what it can do.

    The capabilities, with their defaults (a backend on a local or mounted disk):

    * ``workers``: requests worth making at once; the transfer moves objects one by one
      on that many threads.
    * ``per_object_requests``: looking up or reading one object is a request of its own (a
      network round trip), worth a thread each; otherwise (False) it is a local file
      operation, and small objects are moved on the calling thread, where the per-object
      work is a few microseconds of Python that worker threads would only wait for the GIL
      to do.
    * ``listing_threshold``: with more candidates than this, one listing of the objects
      beats a lookup each (None: never list).
    * ``read_batches``: objects that one request reads together (ranges of a pack).
    * ``open_object``: one object as a stream from a single request.
    * ``locked``: hold the remote's lock (remote gc holds it); without a lock, nothing.
    * ``keep_temporary_files_in``: where the backend writes temporary files from now on.
    * ``abort_unfinished_uploads``: give up uploads a killed writer left unfinished
      (S3 multipart uploads below the objects); nothing to abort by default.

    Copying an object by path, the other way a transfer can move it, is the object store's
    capability (``ObjectStore.file_path``), asked of whichever side sends.
    """

    workers: int = 4
    per_object_requests: bool = False
    listing_threshold: int | None = None

    def __init__(self, url: str, objects: ObjectStore, files: RemoteFiles) -> None:
        self.url = url
        self.objects = objects
        self.files = files

    def read_batches(self, oids: Iterable[str]) -> tuple[list[ReadBatch], list[str]]:
        """The batches that read some of ``oids`` (each object in one batch at most), and
        the objects left to read one by one. Default: no batches."""
        return [], list(oids)

    def read_batch(self, batch: ReadBatch) -> bytes:
        """The bytes ``read_batches`` described (only called for batches it returned)."""
        raise NotImplementedError

    def open_object(self, oid: str) -> ObjectStream | None:
        """The object as one stream, or None where that is no better than reading it
        through the object store (the default)."""
        return None

    def locked(self) -> contextlib.AbstractContextManager[None]:
        """Hold the remote's lock while the block runs; a backend without a lock holds
        nothing (the default)."""
        return contextlib.nullcontext()

    def keep_temporary_files_in(self, directory: str) -> None:
        """Write temporary files below ``directory`` (a workspace's ``local/tmp/``) from now
        on; a backend that writes none ignores it (the default)."""

    def abort_unfinished_uploads(self, *, dry_run: bool = False) -> int:
        """Abort the uploads of objects that were started and never finished (only while
        no one else writes: remote gc, under its lock); how many there were. Default:
        a backend without such uploads, 0."""
        return 0

    def close(self) -> None:
        """Release connections and open files."""
        self.objects.close()
