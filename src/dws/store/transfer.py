"""How objects move between a local object store and a remote backend: what the remote
lacks, sending, fetching and checking, with the thread pools, the batching and the progress
reports.

Which objects go on the calling thread and which on a pool, when to list instead of
looking up, how to read many objects at once: each is decided by asking the capabilities
of ``RemoteBackend`` and ``ObjectStore.file_path``, never by which backend or store it is.
Every object is hashed on arrival, so a corrupt object is refused, not spread.

A large file the sending store keeps as chunks travels as chunks: only those the other side
lacks are sent, then the chunk list, so a file edited a little moves a little.
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor

from blake3 import blake3

from dws.errors import DwsError, IntegrityError
from dws.model.digest import hash_bytes
from dws.store.base import CorruptObjectError, ObjectStore
from dws.store.chunklist import ChunkList
from dws.store.framing import frame, unframe
from dws.store.packed import PACK_THRESHOLD
from dws.store.remote_backend import ReadBatch, RemoteBackend

Report = Callable[[int], None]  # gets the number of objects done so far
REPORT_EVERY = 256  # objects moved on the calling thread between two reports
Task = Callable[[], tuple[int, int]]  # moves some objects: (how many, bytes)


def missing(backend: RemoteBackend, oids: Iterable[str]) -> list[str]:
    """Those of ``oids`` the remote's object store lacks."""
    candidates = list(oids)
    objects = backend.objects
    threshold = backend.listing_threshold
    if threshold is not None and len(candidates) > threshold:
        present = set(objects.iter_ids())
        return [oid for oid in candidates if oid not in present]
    if not backend.per_object_requests:
        return [oid for oid in candidates if not objects.has(oid)]
    with ThreadPoolExecutor(max_workers=backend.workers) as pool:
        flags = list(pool.map(objects.has, candidates))
    return [oid for oid, there in zip(candidates, flags, strict=True) if not there]


# ---- sending --------------------------------------------------------------------------


def send(backend: RemoteBackend, local: ObjectStore, oids: list[str], report: Report) -> int:
    """Send every object of ``oids`` from ``local``; returns the bytes sent. Objects held
    in files of their own go on a pool; the others on the calling thread; chunked files
    as the chunks the remote lacks, then their lists."""
    chunked, oids = _chunked(local, oids)
    inline, by_path = _split(local, oids)
    sent = _serially(inline, functools.partial(send_object, backend, local), report)
    tasks: list[Task] = [
        functools.partial(_one, send_object, backend, local, oid) for oid in by_path
    ]
    sent += _pooled(tasks, backend.workers, len(inline), report)
    if chunked:
        sent += _copy_chunks(local, backend.objects, _chunk_keys(chunked))
        for oid, chunks in chunked.items():
            backend.objects.put_chunk_list(oid, chunks)
        report(len(inline) + len(by_path) + len(chunked))
    return sent


def _chunked(store: ObjectStore, oids: list[str]) -> tuple[dict[str, ChunkList], list[str]]:
    """(the chunk lists of the objects ``store`` keeps as chunks, the other objects)."""
    chunked: dict[str, ChunkList] = {}
    rest: list[str] = []
    for oid in oids:
        chunks = store.chunk_list(oid)
        if chunks is None:
            rest.append(oid)
        else:
            chunked[oid] = chunks
    return chunked, rest


def _chunk_keys(chunked: dict[str, ChunkList]) -> list[bytes]:
    """Every chunk the lists name, once each, in file order."""
    keys: dict[bytes, None] = {}
    for chunks in chunked.values():
        keys.update((p.key, None) for p in chunks.pieces if not p.zeros)
    return list(keys)


def _copy_chunks(source: ObjectStore, target: ObjectStore, keys: list[bytes]) -> int:
    """Copy the chunks of ``keys`` that ``target`` lacks from ``source``, each checked;
    returns the bytes stored."""
    sent = 0
    for key in keys:
        if target.has_chunk(key):
            continue
        stored = source.chunk_entry(key)  # as stored: compressed once, when first stored
        entry = stored if stored is not None else frame(source.read_chunk(key), probe=True)
        _store_chunk(target, key, entry)
        sent += len(entry)
    return sent


def _store_chunk(target: ObjectStore, key: bytes, entry: bytes) -> None:
    """Add a chunk given as an entry, after checking it decodes to bytes matching ``key``."""
    try:
        data = unframe(entry)
    except IntegrityError:
        raise CorruptObjectError(key.hex()) from None
    if blake3(data).digest() != key:
        raise CorruptObjectError(key.hex())
    target.add_chunk(key, entry)


def send_object(backend: RemoteBackend, local: ObjectStore, oid: str) -> int:
    """Copy one object from ``local`` to the remote (by path when ``local`` keeps it as a
    file); return its size. The remote hashes what it stores: a corrupt local object is
    refused."""
    path = local.file_path(oid)
    if path is not None:
        got, size = backend.objects.put_file(path)
    else:
        data = local.get_verified(oid)
        got, size = backend.objects.put_bytes(data), len(data)
    if got != oid:
        raise CorruptObjectError(oid)
    return size


# ---- fetching -------------------------------------------------------------------------


def fetch(
    backend: RemoteBackend, local: ObjectStore, tmp_dir: str, oids: list[str], report: Report
) -> int:
    """Fetch every object of ``oids`` into ``local``, verified; returns the bytes fetched.
    Batches the backend offers and objects that cost a request each go on a pool; on a
    backend without per-object requests, objects not kept as files of their own are
    copied on the calling thread. ``tmp_dir`` takes large objects on their way in."""
    batches, rest = backend.read_batches(oids)
    chunked, rest = _chunked(backend.objects, rest)
    inline, by_one = ([], rest) if backend.per_object_requests else _split(backend.objects, rest)

    def fetch_inline(oid: str) -> int:
        data = backend.objects.get_verified(oid)
        local.put_bytes(data)
        return len(data)

    fetched = _serially(inline, fetch_inline, report)
    tasks: list[Task] = [
        functools.partial(_fetch_batch, backend, local, batch) for batch in batches
    ]
    tasks.extend(
        functools.partial(_one, fetch_object, backend, local, tmp_dir, oid) for oid in by_one
    )
    fetched += _pooled(tasks, backend.workers, len(inline), report)
    if chunked:
        fetched += _fetch_chunks(backend, local, chunked)
        report(len(oids))
    return fetched


def _fetch_chunks(backend: RemoteBackend, local: ObjectStore, chunked: dict[str, ChunkList]) -> int:
    """Fetch the chunks of ``chunked`` that ``local`` lacks (packed ones in merged ranges,
    on a pool), then record the lists; returns the bytes fetched."""
    lacking = [key.hex() for key in _chunk_keys(chunked) if not local.has_chunk(key)]
    batches, rest = backend.read_batches(lacking)
    tasks: list[Task] = [
        functools.partial(_fetch_batch, backend, local, batch, chunks=True) for batch in batches
    ]
    fetched = _pooled(tasks, backend.workers, 0, lambda done: None)
    fetched += _copy_chunks(backend.objects, local, [bytes.fromhex(oid) for oid in rest])
    for oid, chunks in chunked.items():
        local.put_chunk_list(oid, chunks)
    return fetched


def fetch_object(backend: RemoteBackend, local: ObjectStore, tmp_dir: str, oid: str) -> int:
    """Copy one object from the remote into ``local``, verified; return its size."""
    objects = backend.objects
    source = objects.file_path(oid)
    if source is not None:
        # put_file copies to a private file and hashes that copy: one copy, verified
        got, size = local.put_file(source)
        if got != oid:
            raise CorruptObjectError(oid)
        return size
    stream = backend.open_object(oid)
    if stream is not None:
        if stream.size <= PACK_THRESHOLD:
            data = stream.read()
            if hash_bytes(data) != oid:
                raise CorruptObjectError(oid)
            local.put_bytes(data)
            return stream.size
        with _temporary(tmp_dir, oid) as tmp:
            hasher = blake3()
            with open(tmp, "wb") as handle:
                for chunk in stream.chunks():
                    hasher.update(chunk)
                    handle.write(chunk)
            if hasher.hexdigest() != oid:
                raise CorruptObjectError(oid)
            _put_file(local, tmp, oid)
        return stream.size
    size = objects.size(oid)
    if size <= PACK_THRESHOLD:
        local.put_bytes(objects.get_verified(oid))
        return size
    with _temporary(tmp_dir, oid) as tmp:
        objects.materialize(oid, tmp, 0o444)  # verified against oid
        _put_file(local, tmp, oid)
    return size


def _fetch_batch(
    backend: RemoteBackend, local: ObjectStore, batch: ReadBatch, *, chunks: bool = False
) -> tuple[int, int]:
    size = 0
    read = backend.read_batch(batch)
    if chunks:
        for oid, stored in _entries(batch, read):
            entry = stored if batch.framed else frame(stored, probe=True)
            _store_chunk(local, bytes.fromhex(oid), entry)
            size += len(entry)
        return len(batch.members), size
    for oid, data in _members(batch, read):
        if hash_bytes(data) != oid:
            raise CorruptObjectError(oid)
        local.put_bytes(data)
        size += len(data)
    return len(batch.members), size


def _put_file(local: ObjectStore, path: str, oid: str) -> None:
    got, _ = local.put_file(path)
    if got != oid:
        raise CorruptObjectError(oid)


@contextlib.contextmanager
def _temporary(tmp_dir: str, oid: str) -> Iterator[str]:
    """A temporary file name for ``oid`` in ``tmp_dir``, removed afterwards."""
    tmp = os.path.join(tmp_dir, f".dws-tmp.fetch-{oid[:16]}-{os.getpid()}")
    try:
        yield tmp
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


# ---- checking -------------------------------------------------------------------------


def check(backend: RemoteBackend, oids: list[str], verify: bool, report: Report) -> list[str]:
    """Problems with ``oids`` on the remote: missing, or (with ``verify``) corrupt. Objects
    in a batch the backend offers are present (its index lists them) and are verified by
    reading the batch; the others are looked up one by one, on a pool."""
    batches, rest = backend.read_batches(oids)
    problems: list[str] = []

    def check_one(oid: str) -> None:
        try:
            if not backend.objects.has(oid):
                problems.append(f"object {oid[:12]} is missing")
            elif verify and not backend.objects.verify(oid):
                problems.append(_corrupt(oid))
        except DwsError as exc:
            problems.append(f"object {oid[:12]}: {exc.message}")

    with ThreadPoolExecutor(max_workers=backend.workers) as pool:
        for done, _ in enumerate(pool.map(check_one, rest), 1):
            report(done)
    done = len(rest)
    if not verify:
        for batch in batches:
            done += len(batch.members)
            report(done)
        return problems

    def check_batch(batch: ReadBatch) -> list[str]:
        chunk = backend.read_batch(batch)
        return [_corrupt(oid) for oid, data in _members(batch, chunk) if hash_bytes(data) != oid]

    with ThreadPoolExecutor(max_workers=backend.workers) as pool:
        for batch, found in zip(batches, pool.map(check_batch, batches), strict=True):
            problems.extend(found)
            done += len(batch.members)
            report(done)
    return problems


def _corrupt(oid: str) -> str:
    return f"object {oid[:12]} is corrupt (content does not match)"


# ---- the machinery --------------------------------------------------------------------


def _entries(batch: ReadBatch, chunk: bytes) -> Iterator[tuple[str, bytes]]:
    """(id, what its entry holds) of each object of ``batch`` in the bytes read for it."""
    for oid, entry in batch.members:
        offset = entry.offset - batch.start
        yield oid, chunk[offset : offset + entry.length]


def _members(batch: ReadBatch, chunk: bytes) -> Iterator[tuple[str, bytes]]:
    """(id, bytes) of each object of ``batch`` in the bytes read for it."""
    for oid, stored in _entries(batch, chunk):
        try:
            data = unframe(stored) if batch.framed else stored
        except IntegrityError:
            raise CorruptObjectError(oid) from None
        yield oid, data


def _split(store: ObjectStore, oids: list[str]) -> tuple[list[str], list[str]]:
    """(objects ``store`` does not keep as files of their own, those it does)."""
    inline: list[str] = []
    by_path: list[str] = []
    for oid in oids:
        (by_path if store.file_path(oid) is not None else inline).append(oid)
    return inline, by_path


def _one(work: Callable[..., int], *args: object) -> tuple[int, int]:
    """One object moved by ``work(*args)``: (1, its size)."""
    return 1, work(*args)


def _serially(oids: list[str], work: Callable[[str], int], report: Report) -> int:
    """Run ``work`` on each object on the calling thread; the bytes it moved."""
    total = 0
    for done, oid in enumerate(oids, 1):
        total += work(oid)
        if done % REPORT_EVERY == 0:
            report(done)
    report(len(oids))
    return total


def _pooled(tasks: list[Task], workers: int, before: int, report: Report) -> int:
    """Run ``tasks`` on ``workers`` threads, reporting the objects done after ``before``;
    the bytes they moved."""
    total = 0
    done = before
    if not tasks:
        return total
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for count, size in pool.map(lambda task: task(), tasks):
            done += count
            total += size
            report(done)
    return total
