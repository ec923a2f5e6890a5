"""A large file kept as chunks travels as chunks (docs/format.md, "Chunked files"): a push
after a small edit sends only the chunks the remote lacks, a pull fetches only those this
machine lacks, clones put the file together byte for byte, and remote fsck and gc know
the chunks a list needs. Each test runs against a directory remote and an S3 prefix."""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import pytest
from blake3 import blake3

from dws.store.chunklist import ChunkList, Piece, decode_chunk_list
from helpers import remote_files
from helpers.chunks import MiB, csv_bytes, csv_lines, du, file_hash

from .conftest import RemoteSpot

META = ".dataworkspace"
TABLE = "data/table.csv"


def _remote_bytes(spot: RemoteSpot) -> int:
    """What the remote holds, in bytes (allocated on disk for a directory; the sum of the
    object sizes below the prefix on S3)."""
    if spot.kind == "dir":
        return du(Path(spot.url))
    bucket, prefix = spot.url[len("s3://") :].split("/", 1)
    client = spot.server.client()
    total = 0
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        total += sum(int(item["Size"]) for item in page.get("Contents", []))
    return total


def _workspace(spot: RemoteSpot, root: Path, data: bytes) -> Path:
    """A workspace with ``data`` as data/table.csv, snapshotted as v1, pushed to origin."""
    (root / "data").mkdir(parents=True)
    (root / TABLE).write_bytes(data)
    spot.ok("init", cwd=root)
    spot.ok("add", "local-files", "data", "--role", "source-data", "--name", "data", cwd=root)
    spot.ok("snapshot", "v1", cwd=root)
    spot.ok("remote", "add", "origin", spot.url, cwd=root)
    spot.ok("push", cwd=root)
    return root


def _clone(spot: RemoteSpot, tmp_path: Path, name: str, *extra: str) -> Path:
    target = tmp_path / name
    spot.ok("clone", spot.url, str(target), *extra, cwd=tmp_path)
    return target


@pytest.fixture
def table() -> bytes:
    return b"id,a,b,c\n" + csv_bytes(random.Random(2026), 24 * MiB)


def test_a_small_edit_travels_as_the_chunks_that_changed(
    remote: RemoteSpot, tmp_path: Path, table: bytes
) -> None:
    size = len(table)
    ws = _workspace(remote, tmp_path / "ws", table)
    colleague = _clone(remote, tmp_path, "colleague")  # has v1
    assert (colleague / TABLE).read_bytes() == table

    with open(ws / TABLE, "ab") as handle:  # 2% more lines
        handle.write(csv_lines(random.Random(7), size // 50 // 28))
    v2 = (ws / TABLE).read_bytes()
    remote.ok("snapshot", "v2", cwd=ws)
    before = _remote_bytes(remote)
    pushed = remote.json("push", cwd=ws)
    grown = _remote_bytes(remote) - before
    assert len(pushed["snapshots"]) == 1
    assert pushed["bytes"] < 0.10 * size, pushed["bytes"]
    assert grown < 0.10 * size, f"the remote grew by {grown} bytes for a 2% append"

    objects = colleague / META / "objects"
    before = du(objects)
    pulled = remote.json("pull", cwd=colleague)
    assert pulled["bytes"] < 0.10 * size, pulled["bytes"]
    assert du(objects) - before < 0.10 * size
    remote.ok("restore", "v2", cwd=colleague)
    assert (colleague / TABLE).read_bytes() == v2
    remote.ok("fsck", cwd=colleague)

    fresh = _clone(remote, tmp_path, "fresh")
    assert (fresh / TABLE).read_bytes() == v2
    old = _clone(remote, tmp_path, "old", "--snapshot", "v1")
    assert (old / TABLE).read_bytes() == table
    for where in (fresh, old):
        remote.ok("fsck", cwd=where)
    remote.ok("fsck", "--remote", "origin", cwd=ws)
    remote.ok("fsck", "--quick", "--remote", "origin", cwd=ws)


def test_remote_gc_keeps_the_chunks_a_kept_snapshot_needs(
    remote: RemoteSpot, tmp_path: Path, table: bytes
) -> None:
    ws = _workspace(remote, tmp_path / "ws", table)
    edited = bytearray(table)
    middle = len(edited) // 2
    edited[middle : middle + (64 << 10)] = csv_bytes(random.Random(3), 64 << 10)
    (ws / TABLE).write_bytes(b"# v2\n" + bytes(edited))
    v2 = (ws / TABLE).read_bytes()
    remote.ok("snapshot", "v2", cwd=ws)
    remote.ok("push", cwd=ws)

    remote.ok("delete-snapshot", "v1", "--remote", "origin", "--force", cwd=ws)
    before = _remote_bytes(remote)
    report = remote.json("gc", "--remote", "origin", cwd=ws)
    assert report["removed"] >= 2  # v1's list and the chunks only v1 had
    assert _remote_bytes(remote) < before
    remote.ok("fsck", "--remote", "origin", cwd=ws)

    again = _clone(remote, tmp_path, "again")
    assert (again / TABLE).read_bytes() == v2
    remote.ok("fsck", cwd=again)


def _damage_remote_list(spot: RemoteSpot, oid: str) -> str:
    """Replace the remote's chunk list of ``oid`` by one that names a chunk nobody stored
    in place of its second piece (a valid list: only the missing chunk is wrong); the
    stranger's id."""
    key = f"objects/lists/{oid[:2]}/{oid[2:]}"
    data = remote_files.read(spot, key)
    assert data is not None, f"no chunk list {key} on the remote"
    chunks = decode_chunk_list(data, "the remote's list")
    piece = chunks.pieces[1]
    stranger = blake3(b"never stored").digest()
    pieces = [*chunks.pieces[:1], Piece(stranger, piece.length), *chunks.pieces[2:]]
    if spot.kind == "dir":  # lists are read-only files
        (Path(spot.url) / key).chmod(0o644)
    remote_files.write(spot, key, ChunkList(chunks.size, pieces).encode())
    return stranger.hex()


def test_a_remote_list_naming_a_missing_chunk_is_found_and_never_cloned(
    remote: RemoteSpot, tmp_path: Path, table: bytes
) -> None:
    ws = _workspace(remote, tmp_path / "ws", table)
    oid = file_hash(ws / TABLE)
    stranger = _damage_remote_list(remote, oid)

    checked = remote.run("fsck", "--remote", "origin", cwd=ws)
    assert checked.code == 4 and "Traceback" not in checked.err, checked.err
    assert stranger[:12] in checked.out + checked.err or oid[:12] in checked.out + checked.err
    target = tmp_path / "clone"
    cloned = remote.run("clone", remote.url, str(target), cwd=tmp_path)
    assert cloned.code == 4 and "Traceback" not in cloned.err, cloned.err
    assert not target.exists()  # a failed clone leaves nothing

    quick = remote.run("fsck", "--quick", "--remote", "origin", cwd=ws)
    assert quick.code == 4, (quick.out, quick.err)


def test_a_pushed_chunked_file_restores_after_the_local_store_is_lost(
    remote: RemoteSpot, tmp_path: Path, table: bytes
) -> None:
    """The remote alone holds what a clone needs: its chunks, lists and records."""
    ws = _workspace(remote, tmp_path / "ws", table)
    shutil.rmtree(ws)
    copy = _clone(remote, tmp_path, "copy")
    assert (copy / TABLE).read_bytes() == table
    lists = copy / META / "objects" / "lists"
    assert any(lists.rglob("*")), "the clone keeps the file as chunks too"
