"""What every remote offers: an object store plus a few small metadata files.

A remote mirrors ``.dataworkspace/`` minus ``local/`` (see docs/format.md, "Remotes"). Its
objects sit behind the ordinary ObjectStore interface; the records, tags and lineage files
beside them are handled by ``RemoteFiles``, addressed by ``/``-separated keys relative to
the remote's root (``snapshots/<id>.json``, ``tags/v1``...).
"""

from __future__ import annotations

import functools
import os
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from dws.errors import DwsError, FormatError, RefusedError
from dws.store.base import CorruptObjectError, ObjectStore
from dws.store.packed import PACK_THRESHOLD, PackedObjectStore

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
    """The small files of a remote (records, tags, lineage), never the objects."""

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


@dataclass
class Remote:
    """An open remote: where it is, its objects and its files."""

    url: str
    objects: ObjectStore
    files: RemoteFiles
    workers: int = 8

    def missing(self, oids: Iterable[str]) -> list[str]:
        """Those of ``oids`` the remote's object store lacks."""
        return [oid for oid in oids if not self.objects.has(oid)]

    def close(self) -> None:
        """Release connections and open files."""
        self.objects.close()

    def send(self, local: ObjectStore, oid: str) -> int:
        """Copy one object from ``local`` to the remote; return its size. The remote
        hashes what it stores, so a corrupt local object is refused, not spread."""
        path = loose_path(local, oid)
        if path is not None:
            got, size = self.objects.put_file(path)
        else:
            data = local.get_verified(oid)
            got, size = self.objects.put_bytes(data), len(data)
        if got != oid:
            raise CorruptObjectError(oid)
        return size

    def fetch_many(
        self, local: ObjectStore, tmp_dir: str, oids: list[str], report: Callable[[int], None]
    ) -> int:
        """Fetch every object of ``oids``; ``report`` gets the count done. Returns the
        bytes fetched. Packed (small) objects are copied on the calling thread: per-object
        work is mostly Python, and worker threads would only wait for the GIL."""
        small, large = _split(self.objects, oids)

        def fetch_small(oid: str) -> int:
            data = self.objects.get_verified(oid)
            local.put_bytes(data)
            return len(data)

        fetched = _serially(small, fetch_small, report)
        return fetched + _pooled(
            large, lambda oid: self.fetch(local, tmp_dir, oid), self.workers, len(small), report
        )

    def send_many(self, local: ObjectStore, oids: list[str], report: Callable[[int], None]) -> int:
        """Send every object of ``oids`` (small ones on the calling thread, large ones on a
        pool); returns the bytes sent."""
        small, large = _split(local, oids)
        send = functools.partial(self.send, local)
        sent = _serially(small, send, report)
        return sent + _pooled(large, send, self.workers, len(small), report)

    def check_objects(
        self, oids: list[str], verify: bool, report: Callable[[int], None]
    ) -> list[str]:
        """Problems with ``oids`` on the remote: missing, or (with ``verify``) corrupt."""
        problems: list[str] = []

        def check(oid: str) -> None:
            try:
                if not self.objects.has(oid):
                    problems.append(f"object {oid[:12]} is missing")
                elif verify and not self.objects.verify(oid):
                    problems.append(f"object {oid[:12]} is corrupt (content does not match)")
            except DwsError as exc:
                problems.append(f"object {oid[:12]}: {exc.message}")

        with ThreadPoolExecutor(max_workers=self.workers) as pool:
            for done, _ in enumerate(pool.map(check, oids), 1):
                report(done)
        return problems

    def fetch(self, local: ObjectStore, tmp_dir: str, oid: str) -> int:
        """Copy one object from the remote into ``local``, verified; return its size."""
        source = loose_path(self.objects, oid)
        if source is not None:
            # put_file copies to a private file and hashes that copy: one copy, verified
            got, size = local.put_file(source)
            if got != oid:
                raise CorruptObjectError(oid)
            return size
        size = self.objects.size(oid)
        if size <= PACK_THRESHOLD:
            local.put_bytes(self.objects.get_verified(oid))
            return size
        tmp = os.path.join(tmp_dir, f".dws-tmp.fetch-{oid[:16]}-{os.getpid()}")
        try:
            self.objects.materialize(oid, tmp, 0o444)  # verified against oid
            got, _ = local.put_file(tmp)
            if got != oid:
                raise CorruptObjectError(oid)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return size


def _split(store: ObjectStore, oids: list[str]) -> tuple[list[str], list[str]]:
    """(objects held in packs, loose ones) of a local pack store; all small otherwise."""
    if not isinstance(store, PackedObjectStore):
        return list(oids), []
    small: list[str] = []
    large: list[str] = []
    for oid in oids:
        (large if store.loose.has(oid) else small).append(oid)
    return small, large


def _serially(oids: list[str], work: Callable[[str], int], report: Callable[[int], None]) -> int:
    total = 0
    for done, oid in enumerate(oids, 1):
        total += work(oid)
        if done % 256 == 0:
            report(done)
    report(len(oids))
    return total


def _pooled(
    oids: list[str],
    work: Callable[[str], int],
    workers: int,
    before: int,
    report: Callable[[int], None],
) -> int:
    total = 0
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for done, size in enumerate(pool.map(work, oids), before + 1):
            total += size
            report(done)
    return total


def loose_path(store: ObjectStore, oid: str) -> str | None:
    """The file holding a large object of a local pack store, if it is loose."""
    if isinstance(store, PackedObjectStore) and store.loose.has(oid):
        return store.loose.path(oid)
    return None
