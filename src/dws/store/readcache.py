"""A bounded local cache in front of a remote's objects, for reading snapshots straight from a
remote: trees, small objects, chunk lists and chunks are kept as files named by their ids,
so reading the same version again, or another version sharing chunks, asks the remote only
for what is new.

The cache is safe to delete at any time. Every file is checked against its id when it is
read back (a damaged one is dropped and fetched again). When it grows past its bound, the
files used longest ago (by modification time, which a read refreshes) are removed.
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
from collections.abc import Iterator

from blake3 import blake3

from dws.errors import IntegrityError, UsageError
from dws.model.digest import hash_bytes
from dws.store.base import ObjectStore
from dws.store.chunklist import ChunkList, decode_chunk_list
from dws.store.fileio import removing_on_error, temp_name, write_new_file

DEFAULT_BOUND = 2 << 30
SMALL = 4 << 20  # objects up to this size are cached whole (trees, key records, small files)
_KINDS = ("objects", "chunks", "lists")


_SIZE = re.compile(r"\s*(\d+)\s*([kmgt]?)(i?b)?\s*", re.IGNORECASE)
_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


def default_bound() -> int:
    """The cache's bound in bytes: ``DWS_READ_CACHE_BYTES`` (bytes, or with a unit: ``500M``,
    ``10GB``, ``2GiB``; units are powers of 1024), else 2 GiB. A value that is not a size
    is a UsageError naming it."""
    text = os.environ.get("DWS_READ_CACHE_BYTES", "")
    if not text:
        return DEFAULT_BOUND
    found = _SIZE.fullmatch(text)
    if found is None:
        raise UsageError(f"DWS_READ_CACHE_BYTES={text!r} is not a size (say 2147483648 or 2GiB)")
    return int(found.group(1)) * _UNITS[found.group(2).lower()]


def user_cache_dir() -> str:
    """The cache of reads without a workspace: ``$XDG_CACHE_HOME/dws/reads`` (default
    ``~/.cache/dws/reads``)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "dws", "reads")


class CachedObjects(ObjectStore):
    """Reads of ``inner`` (a remote's object store), kept under ``root``. Read-only."""

    def __init__(self, inner: ObjectStore, root: str, bound: int | None = None) -> None:
        self.inner = inner
        self.root = root
        self.bound = default_bound() if bound is None else bound
        self._size: int | None = None
        self._lock = threading.Lock()  # readers read ahead on threads: one count, one trim

    # ---- the cache --------------------------------------------------------------------

    def _path(self, kind: str, oid: str) -> str:
        return os.path.join(self.root, kind, oid[:2], oid[2:])

    def _load(self, kind: str, oid: str) -> bytes | None:
        path = self._path(kind, oid)
        try:
            with open(path, "rb") as handle:
                data = handle.read()
        except OSError:
            return None
        with contextlib.suppress(OSError):
            os.utime(path)  # recently used
        return data

    def _keep(self, kind: str, oid: str, data: bytes) -> None:
        path = self._path(kind, oid)
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            tmp = temp_name(os.path.dirname(path))
            with removing_on_error(tmp):
                write_new_file(tmp, data, 0o644)
                os.replace(tmp, path)
        except OSError:
            return  # a cache that cannot be written is only slower
        self._grow(len(data))

    def _drop(self, kind: str, oid: str) -> None:
        with contextlib.suppress(OSError):
            os.unlink(self._path(kind, oid))

    def _files(self) -> Iterator[tuple[str, os.stat_result]]:
        for kind in _KINDS:
            top = os.path.join(self.root, kind)
            with contextlib.suppress(OSError):
                for prefix in os.listdir(top):
                    directory = os.path.join(top, prefix)
                    with contextlib.suppress(OSError):
                        for name in os.listdir(directory):
                            path = os.path.join(directory, name)
                            with contextlib.suppress(OSError):
                                yield path, os.stat(path)

    def _grow(self, added: int) -> None:
        with self._lock:
            if self._size is None:
                self._size = sum(st.st_size for _, st in self._files())
            else:
                self._size += added
            if self._size > self.bound:
                self._trim(self.bound * 3 // 4)

    def trim(self, target: int) -> int:
        """Remove the files used longest ago until the cache holds at most ``target``
        bytes; return how many bytes were removed."""
        with self._lock:
            return self._trim(target)

    def _trim(self, target: int) -> int:
        files = sorted(self._files(), key=lambda item: item[1].st_mtime_ns)
        total = sum(st.st_size for _, st in files)
        removed = 0
        for path, st in files:
            if total - removed <= target:
                break
            with contextlib.suppress(OSError):
                os.unlink(path)
                removed += st.st_size
        self._size = total - removed
        return removed

    # ---- reading ----------------------------------------------------------------------

    def has(self, oid: str) -> bool:
        return os.path.exists(self._path("objects", oid)) or self.inner.has(oid)

    def get_bytes(self, oid: str) -> bytes:
        data = self._load("objects", oid)
        if data is not None and hash_bytes(data) == oid:
            return data
        data = self.inner.get_bytes(oid)
        if len(data) <= SMALL and hash_bytes(data) == oid:
            self._keep("objects", oid, data)
        return data

    def chunk_list(self, oid: str) -> ChunkList | None:
        if os.path.exists(self._path("objects", oid)):
            return None  # kept whole here: a small object, never chunked (no request)
        data = self._load("lists", oid)
        if data is not None:
            try:
                return decode_chunk_list(data, f"the cached chunk list of object {oid[:12]}")
            except IntegrityError:
                self._drop("lists", oid)
        chunks = self.inner.chunk_list(oid)
        if chunks is not None:
            self._keep("lists", oid, chunks.encode())
        return chunks

    def has_chunk(self, key: bytes) -> bool:
        return os.path.exists(self._path("chunks", key.hex())) or self.inner.has_chunk(key)

    def read_chunk(self, key: bytes) -> bytes:
        data = self._load("chunks", key.hex())
        if data is not None and blake3(data).digest() == key:
            return data
        data = self.inner.read_chunk(key)
        if blake3(data).digest() == key:
            self._keep("chunks", key.hex(), data)
        return data

    def materialize(self, oid: str, dest: str, mode: int = 0o644) -> None:
        self.inner.materialize(oid, dest, mode)

    def size(self, oid: str) -> int:
        try:
            return os.path.getsize(self._path("objects", oid))
        except OSError:
            return self.inner.size(oid)

    def iter_ids(self) -> Iterator[str]:
        return self.inner.iter_ids()

    # ---- read-only --------------------------------------------------------------------

    def put_bytes(self, data: bytes) -> str:
        raise NotImplementedError("a read cache stores nothing")

    def put_file(self, path: str, similar_to: str | None = None) -> tuple[str, int]:
        raise NotImplementedError("a read cache stores nothing")

    def delete(self, oid: str) -> None:
        raise NotImplementedError("a read cache deletes nothing from its remote")

    def close(self) -> None:
        self.inner.close()
