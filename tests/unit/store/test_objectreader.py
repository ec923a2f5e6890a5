"""Reading one stored object as a seekable file (``store.objectreader``) and the read cache
in front of a remote's objects (``store.readcache``): every way an object is kept gives back
its exact bytes at any offset, and damage is an error, never bytes."""

from __future__ import annotations

import io
import os
import random
from pathlib import Path

import pytest
from blake3 import blake3
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dws.store.base import CorruptObjectError, ObjectStore
from dws.store.chunklist import ChunkList
from dws.store.objectreader import ChunkedObjectFile, open_object
from dws.store.packed import PackedObjectStore
from dws.store.readcache import CachedObjects
from helpers.chunks import MiB, csv_bytes, make_sparse

RNG = random.Random(61206)
TEXT = csv_bytes(RNG, 9 * MiB)  # compressible: stored as chunks
NOISE = RNG.randbytes(5 * MiB)  # random, no earlier version: stored loose


@pytest.fixture
def store(tmp_path: Path) -> PackedObjectStore:
    return PackedObjectStore.create(str(tmp_path / "objects"))


def _put(store: PackedObjectStore, tmp_path: Path, data: bytes, name: str) -> str:
    path = tmp_path / name
    path.write_bytes(data)
    oid, _ = store.put_file(str(path))
    store.flush()
    return oid


@pytest.fixture(scope="module")
def chunked(tmp_path_factory: pytest.TempPathFactory) -> tuple[PackedObjectStore, str]:
    root = tmp_path_factory.mktemp("chunked")
    store = PackedObjectStore.create(str(root / "objects"))
    oid = _put(store, root, TEXT, "text.csv")
    assert store.chunk_list(oid) is not None
    return store, oid


def test_a_small_object_reads_back(store: PackedObjectStore) -> None:
    oid = store.put_bytes(b"hello, world")
    with open_object(store, oid) as handle:
        assert handle.read() == b"hello, world"
        handle.seek(7)
        assert handle.read(5) == b"world"


def test_a_loose_object_is_checked_before_it_is_read(
    store: PackedObjectStore, tmp_path: Path
) -> None:
    oid = _put(store, tmp_path, NOISE, "noise.bin")
    path = store.file_path(oid)
    assert path is not None
    with open_object(store, oid) as handle:
        handle.seek(3 * MiB)
        assert handle.read(100) == NOISE[3 * MiB : 3 * MiB + 100]
    os.chmod(path, 0o644)
    with open(path, "r+b") as damaged:
        damaged.seek(4 * MiB)
        damaged.write(b"\xff" * 8)
    with pytest.raises(CorruptObjectError):
        open_object(store, oid)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(reads=st.lists(st.tuples(st.integers(0, 9 * MiB + 10), st.integers(0, 3 * MiB)), max_size=6))
def test_any_read_of_a_chunked_object_gives_its_bytes(
    chunked: tuple[PackedObjectStore, str], reads: list[tuple[int, int]]
) -> None:
    store, oid = chunked
    with open_object(store, oid) as handle:
        for offset, length in reads:
            handle.seek(offset)
            assert handle.read(length) == TEXT[offset : offset + length]
        handle.seek(-5, io.SEEK_END)
        assert handle.read() == TEXT[-5:]


def test_a_chunked_object_reads_only_the_chunks_it_needs(
    chunked: tuple[PackedObjectStore, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    store, oid = chunked
    chunks = store.chunk_list(oid)
    assert chunks is not None and len(chunks.pieces) > 10
    asked: list[bytes] = []
    real = store.read_chunk

    def counting(key: bytes) -> bytes:
        asked.append(key)
        return real(key)

    monkeypatch.setattr(store, "read_chunk", counting)
    with open_object(store, oid) as handle:
        handle.seek(-100, io.SEEK_END)
        assert handle.read() == TEXT[-100:]
    assert 1 <= len(asked) <= 2


def test_a_damaged_chunk_is_an_error(tmp_path: Path) -> None:
    store = PackedObjectStore.create(str(tmp_path / "objects"))
    oid = _put(store, tmp_path, TEXT, "text.csv")
    chunks = store.chunk_list(oid)
    assert chunks is not None
    victim = chunks.pieces[3].key
    real = store.read_chunk

    def damaged(key: bytes) -> bytes:
        data = real(key)
        return data[:-1] + bytes([data[-1] ^ 1]) if key == victim else data

    store.read_chunk = damaged  # type: ignore[method-assign]
    with open_object(store, oid) as handle:
        assert handle.read(1000) == TEXT[:1000]  # the chunks before it are sound
        with pytest.raises(CorruptObjectError):
            handle.read()


def test_a_list_naming_the_wrong_file_fails_at_the_end_of_a_whole_read(
    chunked: tuple[PackedObjectStore, str],
) -> None:
    store, oid = chunked
    chunks = store.chunk_list(oid)
    assert chunks is not None
    wrong = blake3(b"another file").hexdigest()
    reader = io.BufferedReader(ChunkedObjectFile(store, wrong, chunks))
    with pytest.raises(CorruptObjectError):
        reader.read()


def test_holes_read_as_zeros(store: PackedObjectStore, tmp_path: Path) -> None:
    path = tmp_path / "sparse.bin"
    make_sparse(path, 64 * MiB, {0: TEXT[: 2 * MiB], 40 * MiB: TEXT[2 * MiB : 3 * MiB]})
    oid, _ = store.put_file(str(path))
    store.flush()
    chunks = store.chunk_list(oid)
    assert chunks is not None and any(p.zeros for p in chunks.pieces)
    with open_object(store, oid) as handle:
        handle.seek(20 * MiB)
        assert handle.read(10) == bytes(10)
        handle.seek(0)
        assert blake3(handle.read()).hexdigest() == oid


class _RemoteLike(ObjectStore):
    """A store of ``inner``'s objects that keeps no file of its own (as a remote)."""

    def __init__(self, inner: PackedObjectStore) -> None:
        self.inner = inner
        self.chunk_reads = 0
        self.object_reads = 0

    def has(self, oid: str) -> bool:
        return self.inner.has(oid)

    def put_bytes(self, data: bytes) -> str:
        raise NotImplementedError

    def put_file(self, path: str, similar_to: str | None = None) -> tuple[str, int]:
        raise NotImplementedError

    def get_bytes(self, oid: str) -> bytes:
        self.object_reads += 1
        return self.inner.get_bytes(oid)

    requests = 0  # chunk-list and size lookups

    def chunk_list(self, oid: str) -> ChunkList | None:
        self.requests += 1
        return self.inner.chunk_list(oid)

    def materialize(self, oid: str, dest: str, mode: int = 0o644) -> None:
        self.inner.materialize(oid, dest, mode)

    def size(self, oid: str) -> int:
        self.requests += 1
        return self.inner.size(oid)

    def iter_ids(self):  # type: ignore[no-untyped-def]
        return self.inner.iter_ids()

    def delete(self, oid: str) -> None:
        raise NotImplementedError

    def read_chunk(self, key: bytes) -> bytes:
        self.chunk_reads += 1
        return self.inner.read_chunk(key)


def test_a_large_remote_object_is_spilled_to_a_file_that_vanishes(
    store: PackedObjectStore, tmp_path: Path
) -> None:
    data = RNG.randbytes(17 * MiB)
    oid = _put(store, tmp_path, data, "big.bin")
    spill = tmp_path / "spill"
    with open_object(_RemoteLike(store), oid, str(spill)) as handle:
        assert list(spill.iterdir()) == []  # unlinked while open
        handle.seek(16 * MiB)
        assert handle.read() == data[16 * MiB :]


def test_the_read_cache_asks_the_remote_once(
    chunked: tuple[PackedObjectStore, str], tmp_path: Path
) -> None:
    store, oid = chunked
    remote = _RemoteLike(store)
    cached = CachedObjects(remote, str(tmp_path / "cache"))
    with open_object(cached, oid) as handle:
        assert handle.read() == TEXT
    first = remote.chunk_reads
    assert first > 0
    with open_object(CachedObjects(remote, str(tmp_path / "cache")), oid) as handle:
        assert handle.read() == TEXT
    assert remote.chunk_reads == first


def test_a_damaged_cache_file_is_fetched_again(
    chunked: tuple[PackedObjectStore, str], tmp_path: Path
) -> None:
    store, oid = chunked
    remote = _RemoteLike(store)
    cache = tmp_path / "cache"
    with open_object(CachedObjects(remote, str(cache)), oid) as handle:
        handle.read()
    before = remote.chunk_reads
    victim = next((cache / "chunks").glob("*/*"))
    victim.write_bytes(b"rot" + victim.read_bytes()[3:])
    with open_object(CachedObjects(remote, str(cache)), oid) as handle:
        assert handle.read() == TEXT
    assert remote.chunk_reads == before + 1


def test_the_read_cache_stays_within_its_bound(
    chunked: tuple[PackedObjectStore, str], tmp_path: Path
) -> None:
    store, oid = chunked
    cache = tmp_path / "cache"
    bound = 2 * MiB
    with open_object(CachedObjects(_RemoteLike(store), str(cache), bound), oid) as handle:
        assert handle.read() == TEXT
    held = sum(p.stat().st_size for p in cache.rglob("*") if p.is_file())
    assert 0 < held <= bound


@pytest.mark.parametrize(
    ("text", "size"),
    [("", 2 << 30), ("1000", 1000), ("500M", 500 << 20), ("10GB", 10 << 30), ("2 GiB", 2 << 30)],
)
def test_the_cache_bound_reads_sizes(monkeypatch: pytest.MonkeyPatch, text: str, size: int) -> None:
    from dws.store.readcache import default_bound

    monkeypatch.setenv("DWS_READ_CACHE_BYTES", text)
    assert default_bound() == size


def test_a_cache_bound_that_is_not_a_size_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    from dws.errors import UsageError
    from dws.store.readcache import default_bound

    monkeypatch.setenv("DWS_READ_CACHE_BYTES", "lots")
    with pytest.raises(UsageError, match="not a size"):
        default_bound()


def test_a_small_object_read_again_asks_the_remote_nothing(
    store: PackedObjectStore, tmp_path: Path
) -> None:
    oid = store.put_bytes(b"small and whole")
    remote = _RemoteLike(store)
    with open_object(CachedObjects(remote, str(tmp_path / "cache")), oid) as handle:
        assert handle.read() == b"small and whole"
    asked = (remote.requests, remote.object_reads)
    cached = CachedObjects(remote, str(tmp_path / "cache"))
    with open_object(cached, oid, str(tmp_path / "spill")) as handle:
        assert handle.read() == b"small and whole"
    assert cached.size(oid) == len(b"small and whole")
    assert (remote.requests, remote.object_reads) == asked
