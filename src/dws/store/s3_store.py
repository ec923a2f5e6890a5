"""An S3 remote: objects under ``<prefix>/objects/`` (small ones and chunks in packs, see
s3_packs; larger ones one key each, ``objects/ab/<62 hex>``, uploaded in parts; chunk lists
``objects/lists/ab/<62 hex>``) and the small files
(records, tags, lineage) beside them, with the capabilities the transfer uses: every
lookup is a request, many candidates are listed rather than looked up, packed objects are
read in merged ranges, and one GET streams a large object. Requests go through
``s3client.S3Connection``; boto3 is loaded only when an S3 remote is opened. See
docs/remotes.md for why small objects are packed.
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from blake3 import blake3

from dws.errors import DwsError, IntegrityError
from dws.model.digest import hash_bytes
from dws.model.ids import check_object_id, is_object_id
from dws.store.base import CorruptObjectError, ObjectMissingError, ObjectStore, PruneReport
from dws.store.chunked import assemble, chunks_intact, lacking_chunks, rebuild
from dws.store.chunklist import ChunkList, decode_chunk_list
from dws.store.framing import decoded_size, frame
from dws.store.hashing import hash_file
from dws.store.packed import PACK_THRESHOLD
from dws.store.packfile import PackEntry
from dws.store.remote_backend import (
    MAX_FILE_BYTES,
    ObjectStream,
    ReadBatch,
    RemoteBackend,
    RemoteChangedError,
    RemoteFiles,
    RemotePlaces,
    check_key,
)
from dws.store.s3_packs import IndexFiles, Located, S3PackSet, plan_ranges
from dws.store.s3client import (
    DELETE_BATCH,
    S3Connection,
    S3Location,
    connect,
    make_client,
    parse_s3_url,
    resolve_endpoint,
)

WORKERS = 16
MULTIPART_THRESHOLD = 64 << 20
MULTIPART_CHUNK = 16 << 20
LIST_INSTEAD_OF_HEAD = 256  # more candidates than this: one listing beats a HEAD each
_CHUNK = 1 << 20


def _transfer_config() -> Any:
    """boto3's transfer manager settings for large objects (parts of MULTIPART_CHUNK)."""
    from boto3.s3.transfer import TransferConfig

    return TransferConfig(
        multipart_threshold=MULTIPART_THRESHOLD,
        multipart_chunksize=MULTIPART_CHUNK,
        max_concurrency=4,
    )


class S3ObjectStore(ObjectStore):
    """Objects as keys ``<prefix>objects/ab/<rest>``; large ones uploaded in parts."""

    def __init__(
        self,
        conn: S3Connection,
        location: S3Location,
        places: RemotePlaces,
        index_files: IndexFiles | None = None,
    ) -> None:
        self.conn = conn
        self.bucket = location.bucket
        self.prefix = location.key(places.objects + "/")
        self.lists_prefix = self.prefix + "lists/"
        self.packs = S3PackSet(conn, self.bucket, location.key(places.packs + "/"), index_files)
        self._pending_lists: dict[str, ChunkList] = {}  # uploaded after their chunks

    def key(self, oid: str) -> str:
        """The key of an object (the id is validated first)."""
        check_object_id(oid)
        return f"{self.prefix}{oid[:2]}/{oid[2:]}"

    def list_key(self, oid: str) -> str:
        """The key of a chunk list (the id is validated first)."""
        check_object_id(oid)
        return f"{self.lists_prefix}{oid[:2]}/{oid[2:]}"

    def has(self, oid: str) -> bool:
        return (
            self.packs.find(oid) is not None
            or self._head(self.key(oid)) is not None
            or oid in self._pending_lists
            or self._head(self.list_key(oid)) is not None
        )

    # ---- chunks -----------------------------------------------------------------------

    def chunk_list(self, oid: str) -> ChunkList | None:
        pending = self._pending_lists.get(oid)
        if pending is not None:
            return pending
        key = self.list_key(oid)
        response = self._get(key)
        if response is None:
            return None
        with self.conn.errors(self.bucket, key):
            data: bytes = response["Body"].read()
        return decode_chunk_list(data, f"the chunk list of object {oid[:12]} on the remote")

    def has_chunk(self, key: bytes) -> bool:
        """True when the chunk is packed (chunks are never kept under keys of their own)."""
        return self.packs.find(key.hex()) is not None

    def add_chunk(self, key: bytes, entry: bytes) -> None:
        self.packs.add(key, entry)

    def chunk_entry(self, key: bytes) -> bytes | None:
        located = self.packs.find(key.hex())
        if located is None or not located.framed:
            return None
        return self.packs.read_stored(located)

    def read_chunk(self, key: bytes) -> bytes:
        located = self.packs.find(key.hex())
        if located is None:
            raise ObjectMissingError(key.hex())
        return self._read_packed(key.hex(), located)

    def _read_packed(self, oid: str, located: Located) -> bytes:
        """The bytes of the packed object ``oid`` (not yet checked against it)."""
        try:
            return self.packs.read(located)
        except CorruptObjectError:
            raise
        except IntegrityError:
            if located.framed:  # an entry that does not decode is a corrupt object
                raise CorruptObjectError(oid) from None
            raise

    def put_chunk_list(self, oid: str, chunks: ChunkList) -> None:
        """Record ``oid`` as ``chunks``; uploaded at ``flush``, after the packs."""
        self._pending_lists[oid] = chunks

    def _head(self, key: str) -> dict[str, Any] | None:
        return self.conn.head(self.bucket, key)

    def _get(self, key: str) -> dict[str, Any] | None:
        return self.conn.get(self.bucket, key)

    def put_bytes(self, data: bytes) -> str:
        oid = hash_bytes(data)
        key = self.key(oid)
        if len(data) <= PACK_THRESHOLD:
            self.packs.add(bytes.fromhex(oid), frame(data))
            return oid
        self.conn.put(self.bucket, key, data)
        return oid

    def put_file(self, path: str, similar_to: str | None = None) -> tuple[str, int]:
        oid, size = hash_file(path)
        if size <= MULTIPART_THRESHOLD:
            with open(path, "rb") as handle:
                data = handle.read()
            if hash_bytes(data) != oid:
                raise CorruptObjectError(oid)
            return self.put_bytes(data), size
        key = self.key(oid)
        with self.conn.errors(self.bucket, key):
            self.conn.client.upload_file(path, self.bucket, key, Config=_transfer_config())
        return oid, size

    def get_bytes(self, oid: str) -> bytes:
        located = self.packs.find(oid)
        if located is not None:
            return self._read_packed(oid, located)
        response = self._get(self.key(oid))
        if response is None:
            chunks = self.chunk_list(oid)
            if chunks is None:
                raise ObjectMissingError(oid)
            return assemble(oid, chunks, self)
        with self.conn.errors(self.bucket, self.key(oid)):
            data: bytes = response["Body"].read()
        return data

    def materialize(self, oid: str, dest: str, mode: int = 0o644) -> None:
        if self.packs.find(oid) is not None:
            data = self.get_verified(oid)
            with open(dest, "xb") as handle:
                handle.write(data)
            os.chmod(dest, mode)
            return
        key = self.key(oid)
        if self._head(key) is None:
            chunks = self.chunk_list(oid)
            if chunks is None:
                raise ObjectMissingError(oid)
            rebuild(oid, chunks, self, dest, mode)
            return
        try:
            with self.conn.errors(self.bucket, key):
                self.conn.client.download_file(self.bucket, key, dest, Config=_transfer_config())
            os.chmod(dest, mode)
            if hash_file(dest)[0] != oid:
                raise CorruptObjectError(oid)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(dest)
            raise

    def size(self, oid: str) -> int:
        located = self.packs.find(oid)
        if located is not None:
            if not located.framed:
                return located.entry.length
            return decoded_size(self.packs.read_stored(located))
        response = self._head(self.key(oid))
        if response is None:
            chunks = self.chunk_list(oid)
            if chunks is None:
                raise ObjectMissingError(oid)
            return chunks.size
        return int(response["ContentLength"])

    def loose_listing(self) -> Iterator[tuple[str, int]]:
        """(id, size) of every object stored as its own key."""
        for item in self.conn.list_objects(self.bucket, self.prefix):
            rest = item["Key"][len(self.prefix) :]
            oid = rest.replace("/", "", 1) if rest[2:3] == "/" else ""
            if is_object_id(oid):
                yield oid, int(item.get("Size", 0))

    def list_listing(self) -> Iterator[str]:
        """The ids of the files kept as chunks."""
        for item in self.conn.list_objects(self.bucket, self.lists_prefix):
            rest = item["Key"][len(self.lists_prefix) :]
            oid = rest.replace("/", "", 1) if rest[2:3] == "/" else ""
            if is_object_id(oid):
                yield oid

    def listing(self) -> Iterator[tuple[str, int]]:
        """(id, stored size) of every stored object, packed and chunked ones included
        (a chunked file's size is that of its list)."""
        yield from self.packs.all_ids()
        yield from self.loose_listing()
        for oid in self.list_listing():
            yield oid, 0

    def iter_ids(self) -> Iterator[str]:
        for oid, _ in self.listing():
            yield oid

    def delete(self, oid: str) -> None:
        """Remove an object; a packed one by rewriting its pack without it (``prune`` does
        this for many objects at once)."""
        self.conn.delete(self.bucket, self.key(oid))
        self.conn.delete(self.bucket, self.list_key(oid))
        self.packs.remove(oid)

    def flush(self) -> None:
        """Upload the open pack, then the chunk lists whose chunks it holds."""
        self.packs.flush()
        pending, self._pending_lists = self._pending_lists, {}
        for oid, chunks in pending.items():
            self.conn.put(self.bucket, self.list_key(oid), chunks.encode())

    def close(self) -> None:
        self._pending_lists.clear()
        self.packs.close()

    def clean_temporary(self) -> int:
        """Remove what processes killed while writing a pack index left (see IndexFiles)."""
        return self.packs.files.collect()

    def check_structure(self) -> list[str]:
        """Indexes without their pack; chunk lists that do not decode or name chunks the
        packs lack."""
        problems = self.packs.check()
        for oid in self.list_listing():
            try:
                chunks = self.chunk_list(oid)
            except IntegrityError as exc:
                problems.append(exc.message)
                continue
            problem = None if chunks is None else lacking_chunks(oid, chunks, self)
            if problem is not None:
                problems.append(problem)
        return problems

    def verify(self, oid: str) -> bool:
        if self.packs.find(oid) is not None:
            try:
                return hash_bytes(self.get_bytes(oid)) == oid
            except CorruptObjectError:
                return False
        response = self._get(self.key(oid))
        if response is None:
            return chunks_intact(oid, lambda: self.chunk_list(oid), self)
        hasher = blake3()
        with self.conn.errors(self.bucket, self.key(oid)):
            for chunk in response["Body"].iter_chunks(_CHUNK):
                hasher.update(chunk)
        return str(hasher.hexdigest()) == oid

    def prune(self, keep: Callable[[str], bool], *, dry_run: bool = False) -> PruneReport:
        """Delete rejected objects: loose keys a thousand per request; packs holding
        garbage are rewritten with their live objects (uploaded before the old go)."""
        report = PruneReport()
        doomed = []
        live_chunks: set[str] = set()
        for oid in list(self.list_listing()):
            if keep(oid):
                chunks = self.chunk_list(oid)
                live_chunks.update(chunks.chunk_ids() if chunks is not None else ())
            else:
                report.removed += 1  # its bytes are counted with its chunks
                doomed.append(self.list_key(oid))

        def kept(oid: str) -> bool:
            return keep(oid) or oid in live_chunks

        self._prune_packs(kept, dry_run, report)
        for oid, size in self.loose_listing():
            if not keep(oid):
                report.removed += 1
                report.removed_bytes += size
                doomed.append(self.key(oid))
        if dry_run:
            return report
        for start in range(0, len(doomed), DELETE_BATCH):
            self.conn.delete_batch(self.bucket, doomed[start : start + DELETE_BATCH], self.prefix)
        return report

    def _prune_packs(self, keep: Callable[[str], bool], dry_run: bool, report: PruneReport) -> None:
        rewrite = []
        for name, index in self.packs.indexes().items():
            entries = list(index)
            garbage = [e for k, e in entries if not keep(k.hex())]
            if garbage:
                report.removed += len(garbage)
                report.removed_bytes += sum(e.length for e in garbage)
                rewrite.append((name, [(k.hex(), e) for k, e in entries if keep(k.hex())]))
        orphans = [n for n, exts in self.packs.names().items() if exts == {"pack"}]
        if dry_run:
            return
        self.packs.rewrite(rewrite)
        for name in orphans:
            self.packs.delete_pack(name)
        report.repacked = len(rewrite)
        self.packs.refresh()


class S3Files(RemoteFiles):
    """The small files of an S3 remote; writes that must not clobber use conditional PUTs
    (``If-None-Match: *`` / ``If-Match: <etag>``), checked by re-reading where a server
    ignores them."""

    def __init__(self, conn: S3Connection, location: S3Location) -> None:
        self.conn = conn
        self.location = location
        self.bucket = location.bucket

    def _key(self, key: str) -> str:
        return self.location.key(check_key(key))

    def list(self, directory: str) -> dict[str, str]:
        prefix = self._key(directory) + "/"
        out = {}
        for item in self.conn.list_objects(self.bucket, prefix, "/"):
            name = item["Key"][len(prefix) :]
            if name and "/" not in name:
                out[name] = str(item.get("ETag", "")) + ":" + str(item.get("Size", ""))
        return out

    def read(self, key: str) -> bytes | None:
        found = self._read(key)
        return found[0] if found is not None else None

    def _read(self, key: str) -> tuple[bytes, str] | None:
        full = self._key(key)
        response = self.conn.get(self.bucket, full)
        if response is None:
            return None
        if int(response.get("ContentLength", 0)) > MAX_FILE_BYTES:
            raise DwsError(f"remote file {key} is implausibly large")
        with self.conn.errors(self.bucket, full):
            data: bytes = response["Body"].read()
        return data, str(response.get("ETag", ""))

    def _put(self, key: str, data: bytes, **condition: str) -> bool:
        """PUT with a condition; False when the server says it does not hold."""
        return self.conn.put(self.bucket, self._key(key), data, **condition)

    def create(self, key: str, data: bytes) -> bool:
        if self._read(key) is not None:
            return False
        if not self._put(key, data, IfNoneMatch="*"):
            return False
        found = self._read(key)
        return found is not None and found[0] == data

    def replace(self, key: str, data: bytes, expected: bytes | None) -> None:
        if expected is None:
            if not self.create(key, data):
                raise RemoteChangedError(f"{key} appeared on the remote meanwhile; run again")
            return
        found = self._read(key)
        if found is None or found[0] != expected:
            raise RemoteChangedError(f"{key} changed on the remote meanwhile; run again")
        if not self._put(key, data, IfMatch=found[1]):
            raise RemoteChangedError(f"{key} changed on the remote meanwhile; run again")

    def write(self, key: str, data: bytes) -> None:
        self._put(key, data)

    def delete(self, key: str) -> None:
        self.conn.delete(self.bucket, self._key(key))

    def delete_if(self, key: str, expected: bytes) -> bool:
        found = self._read(key)
        if found is None or found[0] != expected:
            return False
        return self.conn.delete(self.bucket, self._key(key), IfMatch=found[1])


class S3Backend(RemoteBackend):
    """A remote on S3. Every lookup is a request (HEAD, on ``WORKERS`` threads) unless many
    objects are in question, when one listing answers for all; packed objects are read in
    merged byte ranges, one GET for many; any other object is fetched with one GET. S3 has
    no lock file: ``locked`` holds nothing (remote gc and push hold their locks as files,
    core.remote.locks). Remote gc aborts the multipart uploads killed pushes left."""

    workers = WORKERS
    per_object_requests = True
    listing_threshold = LIST_INSTEAD_OF_HEAD

    def __init__(self, url: str, objects: S3ObjectStore, files: S3Files) -> None:
        super().__init__(url, objects, files)
        self.store = objects

    def keep_temporary_files_in(self, directory: str) -> None:
        """Write the pack indexes to map below ``directory`` (a workspace's ``local/tmp/``)
        from now on, removing what killed processes left there (see IndexFiles)."""
        self.store.packs.files.use(directory)

    def read_batches(self, oids: Iterable[str]) -> tuple[list[ReadBatch], list[str]]:
        """Merged ranges of the packs holding ``oids`` (see s3_packs.plan_ranges); objects
        stored one per key, or in the pack not uploaded yet, are left over."""
        by_pack: dict[str, list[tuple[str, PackEntry]]] = {}
        loose = []
        for oid in oids:
            located = self.store.packs.find(oid)
            if located is None or located.pack == "":
                loose.append(oid)
            else:
                by_pack.setdefault(located.pack, []).append((oid, located.entry))
        batches = [
            ReadBatch(pack, start, end, group, self.store.packs.is_framed(pack))
            for pack, members in by_pack.items()
            for start, end, group in plan_ranges(members)
        ]
        return batches, loose

    def read_batch(self, batch: ReadBatch) -> bytes:
        return self.store.packs.read_range(batch.source, batch.start, batch.end)

    def abort_unfinished_uploads(self, *, dry_run: bool = False) -> int:
        """Abort the multipart uploads below the objects' prefix (large objects of pushes
        killed part-way, which the bucket keeps, and bills, until aborted). Uploads
        elsewhere in the bucket are left alone."""
        store = self.store
        uploads = list(store.conn.list_uploads(store.bucket, store.prefix))
        if not dry_run:
            for upload in uploads:
                store.conn.abort_upload(store.bucket, upload["Key"], upload["UploadId"])
        return len(uploads)

    def open_object(self, oid: str) -> ObjectStream | None:
        """One GET for an object stored under its own key (packed ones: None)."""
        store = self.store
        if store.packs.find(oid) is not None:
            return None
        key = store.key(oid)
        response = store.conn.get(store.bucket, key)
        if response is None:
            raise ObjectMissingError(oid)
        return _S3Stream(store.conn, store.bucket, key, response)


class _S3Stream(ObjectStream):
    """The body of a GetObject response; S3 errors while reading become dws errors."""

    def __init__(self, conn: S3Connection, bucket: str, key: str, response: Any) -> None:
        self.size = int(response["ContentLength"])
        self._body = response["Body"]
        self._errors = functools.partial(conn.errors, bucket, key)

    def read(self) -> bytes:
        with self._errors():
            data: bytes = self._body.read()
        return data

    def chunks(self) -> Iterator[bytes]:
        with self._errors():
            yield from self._body.iter_chunks(_CHUNK)


def open_s3_remote(
    url: str,
    endpoint_url: str | None,
    places: RemotePlaces,
    *,
    create: bool = False,
    temporary_dir: str | None = None,
) -> S3Backend:
    """Connect to the S3 remote at ``url`` (the bucket must exist; ``create`` is accepted
    for symmetry: an S3 prefix needs no layout). ``temporary_dir`` is where the pack indexes
    to map are written (see IndexFiles; None: the system's temporary directory)."""
    location = parse_s3_url(url)
    client = make_client(endpoint_url, max_pool_connections=WORKERS + 4)
    conn = S3Connection(client, resolve_endpoint(endpoint_url))
    with conn.errors(location.bucket):
        client.head_bucket(Bucket=location.bucket)
    store = S3ObjectStore(conn, location, places)
    remote = S3Backend(location.url.rstrip("/"), store, S3Files(conn, location))
    if temporary_dir is not None:
        remote.keep_temporary_files_in(temporary_dir)
    return remote


def probe_s3_remote(url: str, endpoint_url: str | None, places: RemotePlaces) -> S3Backend:
    """Connect to the S3 remote at ``url`` to check that it can be used, changing nothing:
    one ListObjectsV2 of at most one key below the prefix says the bucket exists and the
    credentials may list it; the client is a probe (short timeouts, one retry), so an
    unreachable endpoint fails within seconds. The temporary files of the backend returned
    go to the system's temporary directory (it is meant for reading small files only)."""
    location = parse_s3_url(url)
    conn = connect(endpoint_url, max_pool_connections=4, probe=True)
    with conn.errors(location.bucket, location.prefix or None):
        conn.client.list_objects_v2(Bucket=location.bucket, Prefix=location.prefix, MaxKeys=1)
    store = S3ObjectStore(conn, location, places)
    return S3Backend(location.url.rstrip("/"), store, S3Files(conn, location))
