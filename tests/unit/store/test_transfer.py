"""store.transfer moves objects by asking a backend's capabilities (RemoteBackend) and the
sending store's (ObjectStore.file_path), whatever the backend is: here fake backends over
memory stores, and a directory backend whose lock is its capability."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest
from filelock import FileLock, Timeout

from dws.core.remote.layout import PLACES
from dws.model.digest import hash_bytes
from dws.store import transfer
from dws.store.base import CorruptObjectError
from dws.store.memory import MemoryObjectStore
from dws.store.packed import PACK_THRESHOLD, PackedObjectStore
from dws.store.packfile import PackEntry
from dws.store.remote_backend import (
    ObjectStream,
    ReadBatch,
    RemoteBackend,
    RemoteFiles,
)
from dws.store.remote_dir import open_directory_remote

SMALL = [f"small {i}\n".encode() for i in range(600)]
LARGE = [bytes([i]) * (PACK_THRESHOLD + 1 + i) for i in range(3)]


class NoFiles(RemoteFiles):
    """Metadata files are not what these tests move."""

    def list(self, directory: str) -> dict[str, str]:
        return {}

    def read(self, key: str) -> bytes | None:
        return None

    def create(self, key: str, data: bytes) -> bool:
        return True

    def replace(self, key: str, data: bytes, expected: bytes | None) -> None:
        pass

    def write(self, key: str, data: bytes) -> None:
        pass

    def delete(self, key: str) -> None:
        pass

    def delete_if(self, key: str, expected: bytes) -> bool:
        return False


class Counting(MemoryObjectStore):
    """A memory store that counts lookups and listings and remembers paths put."""

    def __init__(self) -> None:
        super().__init__()
        self.lookups = 0
        self.listings = 0
        self.paths: list[str] = []

    def has(self, oid: str) -> bool:
        self.lookups += 1
        return super().has(oid)

    def iter_ids(self) -> Iterator[str]:
        self.listings += 1
        return super().iter_ids()

    def put_file(self, path: str, similar_to: str | None = None) -> tuple[str, int]:
        self.paths.append(path)
        return super().put_file(path)


class Stream(ObjectStream):
    def __init__(self, data: bytes) -> None:
        self.size = len(data)
        self.data = data

    def chunks(self) -> Iterator[bytes]:
        for start in range(0, len(self.data), 1000):
            yield self.data[start : start + 1000]


class Networked(RemoteBackend):
    """Like a bucket: lookups are requests, many are listed instead; small objects are read
    in batches out of one blob (a pack), the others streamed."""

    per_object_requests = True
    listing_threshold = 10

    def __init__(self, store: Counting) -> None:
        super().__init__("fake://remote", store, NoFiles())
        self.store = store
        self.pack = b""
        self.entries: dict[str, PackEntry] = {}
        self.streamed: list[str] = []
        self.threads: set[str] = set()

    def add_packed(self, data: bytes) -> str:
        oid = hash_bytes(data)
        self.entries[oid] = PackEntry(len(self.pack), len(data))
        self.pack += data
        return oid

    def read_batches(self, oids: Iterable[str]) -> tuple[list[ReadBatch], list[str]]:
        members = [(oid, self.entries[oid]) for oid in oids if oid in self.entries]
        rest = [oid for oid in oids if oid not in self.entries]
        batches = [ReadBatch("pack", 0, len(self.pack), members, framed=False)] if members else []
        return batches, rest

    def read_batch(self, batch: ReadBatch) -> bytes:
        self.threads.add(threading.current_thread().name)
        return self.pack[batch.start : batch.end]

    def open_object(self, oid: str) -> ObjectStream | None:
        self.streamed.append(oid)
        return Stream(self.store.get_bytes(oid))


def packed_store(tmp_path: Path) -> tuple[PackedObjectStore, list[str], list[str]]:
    store = PackedObjectStore.create(str(tmp_path / "local"))
    small = [store.put_bytes(data) for data in SMALL]
    large = [store.put_bytes(data) for data in LARGE]
    store.flush()
    return store, small, large


def test_send_copies_files_by_path_and_the_rest_inline(tmp_path: Path) -> None:
    local, small, large = packed_store(tmp_path)
    remote = RemoteBackend("fake://remote", Counting(), NoFiles())
    reports: list[int] = []
    sent = transfer.send(remote, local, small + large, reports.append)
    assert sent == sum(map(len, SMALL)) + sum(map(len, LARGE))
    assert all(remote.objects.has(oid) for oid in small + large)
    assert sorted(remote.objects.paths) == sorted(local.file_path(oid) for oid in large)
    assert reports[-1] == len(small) + len(large) and reports == sorted(reports)


def test_send_refuses_a_corrupt_local_object() -> None:
    local = MemoryObjectStore()
    oid = local.put_bytes(b"good")
    local.corrupt(oid, b"bad!")
    remote = RemoteBackend("fake://remote", MemoryObjectStore(), NoFiles())
    with pytest.raises(CorruptObjectError):
        transfer.send(remote, local, [oid], lambda done: None)
    assert not remote.objects.has(oid)


def test_missing_lists_only_beyond_the_threshold() -> None:
    store = Counting()
    present = [store.put_bytes(b"x%d" % i) for i in range(5)]
    absent = [hash_bytes(b"y%d" % i) for i in range(20)]
    remote = Networked(store)
    assert transfer.missing(remote, present + absent[:3]) == absent[:3]
    assert (store.listings, store.lookups) == (0, 8)
    assert transfer.missing(remote, present + absent) == absent
    assert (store.listings, store.lookups) == (1, 8)
    plain = RemoteBackend("fake://remote", store, NoFiles())  # never lists
    assert transfer.missing(plain, present + absent) == absent
    assert store.listings == 1


def test_fetch_reads_batches_and_streams_the_rest(tmp_path: Path) -> None:
    store = Counting()
    remote = Networked(store)
    packed = [remote.add_packed(data) for data in SMALL[:50]]
    loose = [store.put_bytes(data) for data in [*SMALL[50:52], *LARGE]]
    local = PackedObjectStore.create(str(tmp_path / "local"))
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    reports: list[int] = []
    fetched = transfer.fetch(remote, local, str(tmp), packed + loose, reports.append)
    local.flush()
    assert fetched == sum(map(len, SMALL[:52])) + sum(map(len, LARGE))
    assert all(local.get_bytes(oid) == store.get_bytes(oid) for oid in loose)
    assert all(local.has(oid) for oid in packed)
    assert remote.streamed == loose  # the batch covered every packed object
    assert "MainThread" not in remote.threads  # requests go on the pool
    assert reports[-1] == len(packed) + len(loose)
    assert list(tmp.iterdir()) == []


def test_fetch_refuses_a_corrupt_object_in_a_batch(tmp_path: Path) -> None:
    remote = Networked(Counting())
    oid = remote.add_packed(b"first")
    remote.pack = remote.pack.replace(b"first", b"fir5t")
    local = MemoryObjectStore()
    with pytest.raises(CorruptObjectError):
        transfer.fetch(remote, local, str(tmp_path), [oid], lambda done: None)
    assert not local.has(oid)


def test_check_finds_missing_and_corrupt_objects() -> None:
    store = Counting()
    remote = Networked(store)
    good = remote.add_packed(b"good")
    bad = remote.add_packed(b"evil")
    remote.pack = remote.pack.replace(b"evil", b"vile")
    loose = store.put_bytes(b"loose")
    store.corrupt(loose, b"l00se")
    gone = hash_bytes(b"gone")
    problems = transfer.check(remote, [good, bad, loose, gone], True, lambda done: None)
    assert sorted(problems) == sorted(
        [
            f"object {bad[:12]} is corrupt (content does not match)",
            f"object {loose[:12]} is corrupt (content does not match)",
            f"object {gone[:12]} is missing",
        ]
    )
    quick = transfer.check(remote, [good, bad, loose, gone], False, lambda done: None)
    assert quick == [f"object {gone[:12]} is missing"]


def test_a_directory_backend_locks_with_its_lock_file_and_others_do_not(tmp_path: Path) -> None:
    root = tmp_path / "remote"
    backend = open_directory_remote(str(root), PLACES, create=True)
    try:
        with backend.locked(), pytest.raises(Timeout):
            FileLock(str(root / PLACES.lock)).acquire(timeout=0.1)
        other = FileLock(str(root / PLACES.lock))
        other.acquire(timeout=0.1)  # released with the block
        other.release()
    finally:
        backend.close()
    with RemoteBackend("fake://remote", MemoryObjectStore(), NoFiles()).locked():
        pass


def test_a_directory_backend_hands_its_large_objects_over_by_path(tmp_path: Path) -> None:
    local, small, large = packed_store(tmp_path)
    backend = open_directory_remote(str(tmp_path / "remote"), PLACES, create=True)
    try:
        transfer.send(backend, local, small + large, lambda done: None)
        backend.objects.flush()
        target = Counting()
        transfer.fetch(backend, target, str(tmp_path), small + large, lambda done: None)
        assert sorted(target.paths) == sorted(backend.objects.file_path(oid) for oid in large)
        assert all(target.has(oid) for oid in small)
    finally:
        backend.close()
