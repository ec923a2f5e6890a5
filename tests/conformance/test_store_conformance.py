"""One conformance suite for the ObjectStore interface, run over every implementation.

To add a backend, write a ``StoreKind`` and add one line to ``KINDS``. The S3 store runs
against the tests' SeaweedFS server (tests/s3_server.py), one fresh bucket per test.
"""

from __future__ import annotations

import contextlib
import os
import random
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from blake3 import blake3

from dws.errors import DwsError, IntegrityError
from dws.model.digest import hash_bytes
from dws.store.base import CorruptObjectError, ObjectMissingError, ObjectStore
from dws.store.chunked import store_chunks
from dws.store.chunklist import ChunkList, Piece
from dws.store.hashing import SMALL_FILE
from dws.store.loose import LooseObjectStore
from dws.store.memory import MemoryObjectStore
from dws.store.packed import PackedObjectStore
from helpers.chunks import MiB, allocated, csv_bytes, file_hash, make_sparse


@dataclass(frozen=True)
class StoreKind:
    """How to build one backend in a temp dir, and how to damage an object behind its back;
    ``server``: it needs the S3 test server, and ``make``/``corrupt`` take a bucket on it
    (``_Bucket``) first."""

    make: Callable[..., ObjectStore]
    corrupt: Callable[..., None]
    server: bool = False


def _corrupt_memory(store: ObjectStore, oid: str, data: bytes) -> None:
    assert isinstance(store, MemoryObjectStore)
    store.corrupt(oid, data)


def _corrupt_local(store: ObjectStore, oid: str, data: bytes) -> None:
    assert isinstance(store, LooseObjectStore)
    path = store.path(oid)
    os.chmod(path, 0o644)  # objects are read-only on disk
    with open(path, "wb") as handle:
        handle.write(data)


def _corrupt_packed(store: ObjectStore, oid: str, data: bytes) -> None:
    """Damage a packed object in place (same length: the index still points at it)."""
    assert isinstance(store, PackedObjectStore)
    store.flush()
    found = store._find(oid)
    if found is None:
        _corrupt_local(store.loose, oid, data)
        return
    pack, entry = found
    assert pack is not None
    path = os.path.join(store.packs_dir, pack + ".pack")
    damaged = data[: entry.length].ljust(entry.length, b"\0")
    os.chmod(path, 0o644)
    with open(path, "r+b") as handle:
        handle.seek(entry.offset)
        original = handle.read(entry.length)
        if damaged == original:
            damaged = bytes([damaged[0] ^ 1]) + damaged[1:]
        handle.seek(entry.offset)
        handle.write(damaged)


MEMORY = StoreKind(lambda tmp: MemoryObjectStore(), _corrupt_memory)
LOCAL = StoreKind(lambda tmp: LooseObjectStore.create(str(tmp / "objects")), _corrupt_local)

PACKED = StoreKind(lambda tmp: PackedObjectStore.create(str(tmp / "objects")), _corrupt_packed)


@dataclass(frozen=True)
class _Bucket:
    """The test server and the test's bucket on it."""

    server: Any
    bucket: str

    @property
    def endpoint_url(self) -> str:
        return str(self.server.endpoint_url)

    def client(self) -> Any:
        return self.server.client()


def _make_s3(place: _Bucket, tmp: Path) -> ObjectStore:
    """The object store of an S3 remote at ``s3://<the test's bucket>/<tmp's name>``; its
    temporary files go to ``tmp/local-tmp`` as a workspace's would go to local/tmp."""
    from dws.core.remote.layout import PLACES
    from dws.store.s3_store import open_s3_remote

    url = f"s3://{place.bucket}/{tmp.name}"
    tmp.mkdir(parents=True, exist_ok=True)  # else they would go to the system's instead
    remote = open_s3_remote(url, place.endpoint_url, PLACES, temporary_dir=str(tmp / "local-tmp"))
    return remote.objects


def _corrupt_s3(place: _Bucket, store: ObjectStore, oid: str, data: bytes) -> None:
    """Replace an object's key, or its bytes inside its pack key (same length)."""
    from dws.store.s3_store import S3ObjectStore

    assert isinstance(store, S3ObjectStore)
    store.flush()
    client = place.client()
    located = store.packs.find(oid)
    if located is None:
        client.put_object(Bucket=place.bucket, Key=store.key(oid), Body=data)
        return
    key = f"{store.packs.prefix}{located.pack}.pack"
    pack = bytearray(client.get_object(Bucket=place.bucket, Key=key)["Body"].read())
    start, length = located.entry.offset, located.entry.length
    damaged = data[:length].ljust(length, b"\0")
    if damaged == pack[start : start + length]:
        damaged = bytes([damaged[0] ^ 1]) + damaged[1:]
    pack[start : start + length] = damaged
    client.put_object(Bucket=place.bucket, Key=key, Body=bytes(pack))


S3 = StoreKind(_make_s3, _corrupt_s3, server=True)

KINDS = [
    pytest.param(MEMORY, id="memory"),
    pytest.param(LOCAL, id="local"),
    pytest.param(PACKED, id="packed"),
    pytest.param(S3, id="s3"),
]

ABSENT = hash_bytes(b"never stored")
LARGE = SMALL_FILE + (1 << 20) + 7  # past the in-memory read: the mmap/copy path


@pytest.fixture(params=KINDS)
def kind(request: pytest.FixtureRequest) -> StoreKind:
    """The backend, its ``make``/``corrupt`` bound to a fresh bucket when it needs S3."""
    value: StoreKind = request.param
    if not value.server:
        return value
    server = request.getfixturevalue("s3_server")
    monkeypatch: pytest.MonkeyPatch = request.getfixturevalue("monkeypatch")
    for key, setting in server.env().items():
        monkeypatch.setenv(key, setting)
    place = _Bucket(server, server.make_bucket())
    return StoreKind(
        lambda tmp: value.make(place, tmp),
        lambda store, oid, data: value.corrupt(place, store, oid, data),
    )


@pytest.fixture
def store(kind: StoreKind, tmp_path: Path) -> Iterator[ObjectStore]:
    made = kind.make(tmp_path / "store")
    yield made
    made.close()
    made.clean_temporary()


def write(path: Path, data: bytes) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return str(path)


def umasked(mode: int) -> int:
    current = os.umask(0)
    os.umask(current)
    return mode & ~current


# ---- putting and getting ------------------------------------------------------------------


@pytest.mark.parametrize("data", [b"", b"x", b"hello world", bytes(range(256)) * 100])
def test_put_bytes_returns_the_blake3_id(store: ObjectStore, data: bytes) -> None:
    oid = store.put_bytes(data)
    assert oid == hash_bytes(data)
    assert store.has(oid)
    assert store.get_bytes(oid) == data
    assert store.size(oid) == len(data)


def test_put_bytes_is_idempotent(store: ObjectStore) -> None:
    first = store.put_bytes(b"same")
    second = store.put_bytes(b"same")
    assert first == second
    assert list(store.iter_ids()).count(first) == 1
    assert store.get_bytes(first) == b"same"


def test_put_bytes_accepts_any_bytes_like(store: ObjectStore) -> None:
    data = bytearray(b"mutable")
    oid = store.put_bytes(bytes(data))
    data[:] = b"changed"
    assert store.get_bytes(oid) == b"mutable"


@pytest.mark.parametrize("size", [0, 1, 1000, SMALL_FILE, SMALL_FILE + 1])
def test_put_file_returns_id_and_size(store: ObjectStore, tmp_path: Path, size: int) -> None:
    data = os.urandom(size)
    oid, stored_size = store.put_file(write(tmp_path / "in" / "f", data))
    assert (oid, stored_size) == (hash_bytes(data), size)
    assert store.get_bytes(oid) == data
    assert store.size(oid) == size


def test_put_file_is_idempotent_and_agrees_with_put_bytes(
    store: ObjectStore, tmp_path: Path
) -> None:
    path = write(tmp_path / "in" / "f", b"content")
    assert store.put_file(path) == store.put_file(path)
    assert store.put_bytes(b"content") == hash_bytes(b"content")
    assert sorted(store.iter_ids()) == [hash_bytes(b"content")]


def test_put_file_does_not_alter_the_source(store: ObjectStore, tmp_path: Path) -> None:
    path = write(tmp_path / "in" / "f", b"content")
    os.chmod(path, 0o640)
    before = os.stat(path)
    store.put_file(path)
    after = os.stat(path)
    assert Path(path).read_bytes() == b"content"
    assert (after.st_mode, after.st_ino, after.st_mtime_ns) == (
        before.st_mode,
        before.st_ino,
        before.st_mtime_ns,
    )


def test_stored_objects_are_independent_of_the_source(store: ObjectStore, tmp_path: Path) -> None:
    path = write(tmp_path / "in" / "f", b"original")
    oid, _ = store.put_file(path)
    Path(path).write_bytes(b"overwritten in place")
    assert store.get_bytes(oid) == b"original"


def test_put_file_of_a_missing_file(store: ObjectStore, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        store.put_file(str(tmp_path / "missing"))
    assert list(store.iter_ids()) == []


# ---- has, size, iter_ids, delete ----------------------------------------------------------


def test_has_is_false_for_absent_objects(store: ObjectStore) -> None:
    assert not store.has(ABSENT)


def test_iter_ids_lists_exactly_what_is_stored(store: ObjectStore, tmp_path: Path) -> None:
    assert list(store.iter_ids()) == []
    ids = {store.put_bytes(str(i).encode()) for i in range(50)}
    ids.add(store.put_file(write(tmp_path / "in" / "f", b"from a file"))[0])
    assert sorted(store.iter_ids()) == sorted(ids)


def test_delete(store: ObjectStore) -> None:
    keep = store.put_bytes(b"keep")
    drop = store.put_bytes(b"drop")
    store.delete(drop)
    assert not store.has(drop)
    assert store.has(keep)
    assert list(store.iter_ids()) == [keep]
    store.delete(drop)  # absent: no error
    store.delete(ABSENT)


def test_an_object_can_be_stored_again_after_delete(store: ObjectStore) -> None:
    oid = store.put_bytes(b"again")
    store.delete(oid)
    assert store.put_bytes(b"again") == oid
    assert store.get_bytes(oid) == b"again"


# ---- materialize --------------------------------------------------------------------------


@pytest.mark.parametrize("mode", [0o644, 0o755, 0o600])
def test_materialize_creates_a_new_file_with_bytes_and_mode(
    store: ObjectStore, tmp_path: Path, mode: int
) -> None:
    data = os.urandom(10_000)
    oid = store.put_bytes(data)
    dest = tmp_path / "out"
    store.materialize(oid, str(dest), mode)
    assert dest.read_bytes() == data
    assert stat.S_IMODE(dest.stat().st_mode) == umasked(mode)


def test_materialized_files_are_independent_of_the_store(
    store: ObjectStore, tmp_path: Path
) -> None:
    oid = store.put_bytes(b"stored")
    dest = tmp_path / "out"
    store.materialize(oid, str(dest), 0o644)
    with open(dest, "r+b") as handle:
        handle.write(b"STORED")
    assert store.get_bytes(oid) == b"stored"
    assert store.verify(oid)


def test_materialize_refuses_an_existing_destination(store: ObjectStore, tmp_path: Path) -> None:
    oid = store.put_bytes(b"new")
    dest = tmp_path / "out"
    dest.write_bytes(b"old")
    with pytest.raises(FileExistsError):
        store.materialize(oid, str(dest))
    assert dest.read_bytes() == b"old"


def test_materialize_the_empty_object(store: ObjectStore, tmp_path: Path) -> None:
    oid = store.put_bytes(b"")
    store.materialize(oid, str(tmp_path / "empty"))
    assert (tmp_path / "empty").read_bytes() == b""


# ---- missing objects ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "operation",
    [
        lambda s, d: s.get_bytes(ABSENT),
        lambda s, d: s.size(ABSENT),
        lambda s, d: s.verify(ABSENT),
        lambda s, d: s.materialize(ABSENT, d),
    ],
    ids=["get_bytes", "size", "verify", "materialize"],
)
def test_missing_objects_raise_object_missing_error(
    store: ObjectStore, tmp_path: Path, operation: Callable[[ObjectStore, str], object]
) -> None:
    dest = str(tmp_path / "out")
    with pytest.raises(ObjectMissingError) as info:
        operation(store, dest)
    error = info.value
    assert isinstance(error, IntegrityError)
    assert isinstance(error, DwsError)
    assert error.exit_code == 4
    assert error.oid == ABSENT
    assert ABSENT[:12] in error.message
    assert not os.path.exists(dest)


# ---- hostile ids -------------------------------------------------------------------------


def test_malformed_ids_never_reach_outside_the_store(store: ObjectStore, tmp_path: Path) -> None:
    """Ids come from metadata that may be hostile; a store must not treat one as a path."""
    victim = tmp_path / "victim"
    victim.write_bytes(b"not an object")
    for evil in (".." + str(victim), "../../victim", "../" + "0" * 61):
        with contextlib.suppress(DwsError):
            assert not store.has(evil)
        with pytest.raises(DwsError):
            store.get_bytes(evil)
        with pytest.raises(DwsError):
            store.size(evil)
        with pytest.raises(DwsError):
            store.materialize(evil, str(tmp_path / "out"))
        with contextlib.suppress(DwsError):
            store.delete(evil)
        assert victim.read_bytes() == b"not an object"
    assert not (tmp_path / "out").exists()


# ---- integrity ----------------------------------------------------------------------------


def test_verify_accepts_intact_objects(store: ObjectStore) -> None:
    oid = store.put_bytes(b"intact")
    assert store.verify(oid) is True


@pytest.mark.parametrize(
    "damage", [b"tampered", b"", b"intacT"], ids=["replaced", "truncated", "one-byte"]
)
def test_verify_detects_corruption(kind: StoreKind, store: ObjectStore, damage: bytes) -> None:
    oid = store.put_bytes(b"intact")
    other = store.put_bytes(b"other")
    kind.corrupt(store, oid, damage)
    assert store.verify(oid) is False
    assert store.verify(other) is True


def test_verify_detects_corruption_of_large_objects(
    kind: StoreKind, store: ObjectStore, tmp_path: Path
) -> None:
    data = os.urandom(LARGE)
    oid, _ = store.put_file(write(tmp_path / "in" / "big", data))
    assert store.verify(oid) is True
    kind.corrupt(store, oid, data[:-1] + bytes([data[-1] ^ 1]))
    assert store.verify(oid) is False


@pytest.mark.parametrize("size", [100, LARGE], ids=["small", "large"])
def test_materialize_refuses_a_corrupt_object_and_leaves_no_file(
    kind: StoreKind, store: ObjectStore, tmp_path: Path, size: int
) -> None:
    data = os.urandom(size)
    oid, _ = store.put_file(write(tmp_path / "in" / "f", data))
    kind.corrupt(store, oid, data[:-1] + bytes([data[-1] ^ 1]))
    dest = tmp_path / "out"
    with pytest.raises(CorruptObjectError) as info:
        store.materialize(oid, str(dest))
    assert isinstance(info.value, IntegrityError)
    assert info.value.exit_code == 4
    assert oid[:12] in info.value.message
    assert not dest.exists()


# ---- large files --------------------------------------------------------------------------


def test_large_files_round_trip(store: ObjectStore, tmp_path: Path) -> None:
    data = os.urandom(LARGE)
    oid, size = store.put_file(write(tmp_path / "in" / "big", data))
    assert (oid, size) == (hash_bytes(data), LARGE)
    assert store.has(oid)
    assert store.size(oid) == LARGE
    assert store.verify(oid)
    assert store.get_bytes(oid) == data
    store.materialize(oid, str(tmp_path / "out"), 0o644)
    assert (tmp_path / "out").read_bytes() == data
    assert store.put_file(str(tmp_path / "out")) == (oid, LARGE)
    assert list(store.iter_ids()) == [oid]


# ---- housekeeping -------------------------------------------------------------------------


def test_flush_and_clean_temporary_keep_every_object(store: ObjectStore, tmp_path: Path) -> None:
    ids = [store.put_bytes(b"a"), store.put_file(write(tmp_path / "in" / "big", b"b" * LARGE))[0]]
    store.flush()
    assert store.clean_temporary() >= 0
    # a store that keeps the compressible large file as chunks lists them as objects too
    assert set(ids) <= set(store.iter_ids())
    assert all(store.verify(oid) for oid in ids)


def test_objects_persist_in_a_new_instance_when_the_backend_is_durable(
    kind: StoreKind, tmp_path: Path
) -> None:
    if kind is MEMORY:
        pytest.skip("the memory store keeps nothing beyond its instance, by design")
    first = kind.make(tmp_path / "store")
    oid = first.put_bytes(b"durable")
    first.flush()
    second = kind.make(tmp_path / "store")
    assert second.has(oid)
    assert second.get_bytes(oid) == b"durable"


# ---- chunked large files (stores that keep chunks: packed, s3) ------------------------------

CHUNKED_SIZE = 6 * MiB + 123  # above the 4 MiB threshold: a few dozen chunks
CHUNKED = csv_bytes(random.Random(7), CHUNKED_SIZE)  # compressible: kept as chunks


@pytest.fixture
def chunk_store(store: ObjectStore) -> ObjectStore:
    """The store under test when it keeps chunks (the others skip)."""
    if type(store).add_chunk is ObjectStore.add_chunk:
        pytest.skip(f"{type(store).__name__} does not keep chunks")
    return store


def _put_as_chunks(store: ObjectStore, path: str) -> tuple[str, ChunkList]:
    """Store a file as a transfer does: the chunks the store lacks, then the list."""
    with open(path, "rb") as handle:
        oid, chunks = store_chunks(handle.fileno(), os.fstat(handle.fileno()).st_size, store)
    store.put_chunk_list(oid, chunks)
    return oid, chunks


@pytest.mark.parametrize("flushed", [True, False], ids=["flushed", "pending"])
def test_a_chunked_file_reads_back_like_any_object(
    chunk_store: ObjectStore, tmp_path: Path, flushed: bool
) -> None:
    oid, chunks = _put_as_chunks(chunk_store, write(tmp_path / "in" / "big.csv", CHUNKED))
    assert oid == hash_bytes(CHUNKED)
    if flushed:
        chunk_store.flush()
    found = chunk_store.chunk_list(oid)
    assert found is not None
    assert found.pieces == chunks.pieces and found.size == CHUNKED_SIZE
    assert all(chunk_store.has_chunk(bytes.fromhex(c)) for c in chunks.chunk_ids())
    assert chunk_store.has(oid)
    assert chunk_store.size(oid) == CHUNKED_SIZE
    assert chunk_store.verify(oid) is True
    assert chunk_store.get_bytes(oid) == CHUNKED
    chunk_store.materialize(oid, str(tmp_path / "out"), 0o600)
    assert (tmp_path / "out").read_bytes() == CHUNKED
    assert stat.S_IMODE((tmp_path / "out").stat().st_mode) == umasked(0o600)
    chunk_store.flush()
    assert oid in set(chunk_store.iter_ids())
    assert chunk_store.check_structure() == []


def test_chunked_files_persist_in_a_new_instance(kind: StoreKind, tmp_path: Path) -> None:
    first = kind.make(tmp_path / "store")
    if type(first).add_chunk is ObjectStore.add_chunk:
        pytest.skip(f"{type(first).__name__} does not keep chunks")
    oid, chunks = _put_as_chunks(first, write(tmp_path / "in" / "big.csv", CHUNKED))
    first.flush()
    first.close()
    second = kind.make(tmp_path / "store")
    found = second.chunk_list(oid)
    assert found is not None and found.pieces == chunks.pieces
    assert second.get_bytes(oid) == CHUNKED
    second.close()


def test_put_file_keeps_a_compressible_large_file_as_chunks(
    kind: StoreKind, store: ObjectStore, tmp_path: Path
) -> None:
    if kind is not PACKED:
        pytest.skip(
            "only the workspace's store chooses chunks in put_file (remotes get "
            "chunks from a transfer)"
        )
    oid, size = store.put_file(write(tmp_path / "in" / "big.csv", CHUNKED))
    assert (oid, size) == (hash_bytes(CHUNKED), CHUNKED_SIZE)
    store.flush()
    assert store.chunk_list(oid) is not None
    assert store.file_path(oid) is None  # no loose copy
    assert store.get_bytes(oid) == CHUNKED and store.size(oid) == CHUNKED_SIZE
    assert store.verify(oid)
    noise = random.Random(8).randbytes(CHUNKED_SIZE)  # random and new: stays loose
    loose, _ = store.put_file(write(tmp_path / "in" / "noise.bin", noise))
    store.flush()
    assert store.chunk_list(loose) is None and store.file_path(loose) is not None


def test_put_file_converts_the_previous_loose_version(
    kind: StoreKind, store: ObjectStore, tmp_path: Path
) -> None:
    if kind is not PACKED:
        pytest.skip("only the workspace's store chooses chunks in put_file")
    old = bytearray(random.Random(9).randbytes(CHUNKED_SIZE))
    first, _ = store.put_file(write(tmp_path / "in" / "v1", bytes(old)))
    store.flush()
    assert store.file_path(first) is not None  # random, no predecessor: loose
    old[3 * MiB : 3 * MiB + 4096] = bytes(4096)
    second, _ = store.put_file(write(tmp_path / "in" / "v2", bytes(old)), similar_to=first)
    assert store.chunk_list(second) is not None
    assert store.file_path(first) is not None  # the loose copy stays until the flush
    store.flush()
    assert store.chunk_list(first) is not None and store.file_path(first) is None
    v1, v2 = store.chunk_list(first), store.chunk_list(second)
    assert v1 is not None and v2 is not None
    shared = set(v1.chunk_ids()) & set(v2.chunk_ids())
    assert len(shared) >= len(v1.chunk_ids()) - 3
    assert store.get_bytes(second) == bytes(old)
    assert hash_bytes(store.get_bytes(first)) == first


def test_materialize_of_a_sparse_file_keeps_its_holes(
    chunk_store: ObjectStore, tmp_path: Path
) -> None:
    path = tmp_path / "in" / "sparse.bin"
    path.parent.mkdir(parents=True)
    make_sparse(path, 64 * MiB, {MiB: CHUNKED[:MiB], 50 * MiB: CHUNKED[MiB : 2 * MiB]})
    oid, chunks = _put_as_chunks(chunk_store, str(path))
    chunk_store.flush()
    assert any(p.zeros for p in chunks.pieces)
    dest = tmp_path / "out"
    chunk_store.materialize(oid, str(dest), 0o644)
    assert dest.stat().st_size == 64 * MiB
    assert file_hash(dest) == oid
    if allocated(path) < 8 * MiB:  # the filesystem keeps holes
        assert allocated(dest) < 8 * MiB


def test_a_damaged_chunk_fails_verify_and_materialize(
    kind: StoreKind, chunk_store: ObjectStore, tmp_path: Path
) -> None:
    oid, chunks = _put_as_chunks(chunk_store, write(tmp_path / "in" / "big.csv", CHUNKED))
    chunk_store.flush()
    victim = chunks.pieces[2].key.hex()
    kind.corrupt(chunk_store, victim, CHUNKED[:100])
    assert chunk_store.verify(oid) is False
    dest = tmp_path / "out"
    with pytest.raises(CorruptObjectError) as info:
        chunk_store.materialize(oid, str(dest))
    assert victim[:12] in info.value.message or oid[:12] in info.value.message
    assert not dest.exists()
    with pytest.raises(CorruptObjectError):
        chunk_store.get_bytes(oid)


def _hand_made_list(known: ChunkList) -> tuple[str, ChunkList]:
    """A list naming one chunk no store holds; its id is that of the content it claims."""
    stranger = b"a chunk nobody stored " * 4000
    pieces = [*known.pieces, Piece(blake3(stranger).digest(), len(stranger))]
    whole = blake3()
    whole.update(CHUNKED)
    whole.update(stranger)
    return whole.hexdigest(), ChunkList(known.size + len(stranger), pieces)


def test_a_chunk_list_naming_a_missing_chunk(chunk_store: ObjectStore, tmp_path: Path) -> None:
    _, chunks = _put_as_chunks(chunk_store, write(tmp_path / "in" / "big.csv", CHUNKED))
    oid, bad = _hand_made_list(chunks)
    chunk_store.put_chunk_list(oid, bad)
    chunk_store.flush()
    assert chunk_store.has(oid)  # the list is there, a chunk is not
    dest = tmp_path / "out"
    with pytest.raises(IntegrityError) as info:
        chunk_store.materialize(oid, str(dest))
    assert info.value.exit_code == 4
    assert not dest.exists()
    with pytest.raises(IntegrityError):
        chunk_store.get_bytes(oid)
    with contextlib.suppress(IntegrityError):  # saying so is as good as False
        assert chunk_store.verify(oid) is False


def test_check_structure_names_a_list_missing_chunks(
    chunk_store: ObjectStore, tmp_path: Path
) -> None:
    _, chunks = _put_as_chunks(chunk_store, write(tmp_path / "in" / "big.csv", CHUNKED))
    oid, bad = _hand_made_list(chunks)
    chunk_store.put_chunk_list(oid, bad)
    chunk_store.flush()
    problems = chunk_store.check_structure()
    assert any(oid[:12] in p and "missing" in p for p in problems), problems
