"""`dws://` straight from a remote, with no workspace around: a directory remote and a bucket
prefix on the SeaweedFS test server give back each version as written; Dask workers in
other processes read it too; one column of a chunked parquet file fetches only some of its
chunks; a damaged chunk is an error, never silent bytes."""

from __future__ import annotations

import io
import os
import random
from pathlib import Path
from typing import Any

import fsspec
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dws.errors import IntegrityError
from dws.filesystem import DwsFileSystem
from dws.store.packed import PackedObjectStore
from dws.store.readcache import CachedObjects
from helpers.common import StoredObject
from helpers.reading import CSV, FEATURES, Pushed, Versions, ok

WIDE = "data/wide/table.parquet"
COLUMNS = [f"c{n}" for n in range(16)]


@pytest.mark.parametrize("tag", ["v1", "v2"])
def test_each_version_from_a_remote_without_a_workspace(
    pushed: Pushed, versions: Versions, elsewhere: Path, _own_cache: Path, tag: str
) -> None:
    options = pushed.options
    got = pd.read_csv(f"dws://{tag}/{CSV}", storage_options=options)
    pd.testing.assert_frame_equal(got, pd.read_csv(io.BytesIO(versions.csv[tag])))
    dataset = pd.read_parquet(f"dws://{tag}/{FEATURES}/", storage_options=options)
    pd.testing.assert_frame_equal(dataset, versions.features(tag))
    fs = fsspec.filesystem("dws", **options)
    table = pq.read_table(f"{tag}/{FEATURES}", columns=["y"], filesystem=fs)
    assert table.column("y").to_pylist() == versions.features(tag)["y"].tolist()
    # the remote's HEAD is its newest snapshot; what was fetched is in the user's cache dir
    assert fs.cat(f"HEAD/{CSV}") == versions.csv["v2"]
    assert any((_own_cache / "dws" / "reads").rglob("*"))
    assert list(elsewhere.iterdir()) == []


def test_a_remote_by_name_from_its_workspace(
    dir_pushed: Pushed, versions: Versions, elsewhere: Path, _own_cache: Path
) -> None:
    fs = fsspec.filesystem("dws", workspace=str(versions.root), remote="dir")
    assert fs.cat(f"v1/{CSV}") == versions.csv["v1"]
    assert (versions.root / ".dataworkspace/local/read-cache").is_dir()
    assert not (_own_cache / "dws").exists()


def test_dask_workers_read_a_version_from_s3(
    s3_pushed: Pushed,
    versions: Versions,
    elsewhere: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import dask.dataframe as dd
    from distributed import Client, LocalCluster

    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    for key, value in s3_pushed.env.items():  # the workers inherit this environment
        monkeypatch.setenv(key, value)
    cluster = LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        dashboard_address=":0",
        local_directory=str(tmp_path / "dask"),
    )
    try:
        with Client(cluster) as client:
            frame = dd.read_parquet(f"dws://v1/{FEATURES}/", storage_options=s3_pushed.options)
            assert frame.npartitions == len(versions.parts["v1"])
            total = frame["y"].sum().compute()
            pids = client.run(os.getpid)
            opened = client.run(_snapshots_opened)
    finally:
        cluster.close()
    assert int(total) == int(versions.features("v1")["y"].sum())
    assert os.getpid() not in pids.values()
    assert sum(opened.values()) >= 1, opened


def _snapshots_opened() -> int:
    """In a Dask worker: how many snapshots its dws:// filesystems opened."""
    from dws.filesystem import DwsFileSystem

    return sum(len(fs._snapshots) for fs in DwsFileSystem._cache.values())


@pytest.fixture(scope="module")
def wide(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pa.Table]:
    """A workspace holding an uncompressed parquet file of 16 columns (6.4 MB, so it is
    stored as chunks), snapshotted as v1."""
    root = tmp_path_factory.mktemp("wide") / "ws"
    (root / "data/wide").mkdir(parents=True)
    rng = random.Random(7)
    table = pa.table({c: [rng.randrange(1000) for _ in range(50_000)] for c in COLUMNS})
    pq.write_table(table, root / WIDE, compression="none", use_dictionary=False)
    ok("init", cwd=root)
    ok("add", "local-files", "data/wide", "--role", "source-data", cwd=root)
    ok("snapshot", "v1", cwd=root)
    return root, table


def _pieces(root: Path, oid: str) -> list[Any]:
    chunks = PackedObjectStore(str(root / ".dataworkspace/objects")).chunk_list(oid)
    assert chunks is not None, "the parquet file is stored as chunks"
    return [piece for piece in chunks.pieces if not piece.zeros]


def test_one_column_fetches_only_some_chunks_from_s3(
    wide: tuple[Path, pa.Table],
    s3_server: Any,
    elsewhere: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    root, table = wide
    url = f"s3://{s3_server.make_bucket()}/wide"
    env = dict(s3_server.env())
    ok("remote", "add", "origin", url, cwd=root, env=env)
    ok("push", cwd=root, env=env)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL")

    fetched: dict[bytes, int] = {}
    read_chunk = CachedObjects.read_chunk

    def counting(self: CachedObjects, key: bytes) -> bytes:
        data = read_chunk(self, key)
        fetched[key] = len(data)
        return data

    monkeypatch.setattr(CachedObjects, "read_chunk", counting)
    fs = DwsFileSystem(remote=url, endpoint_url=s3_server.endpoint_url, skip_instance_cache=True)
    try:
        pieces = _pieces(root, fs.info(f"v1/{WIDE}")["id"])
        got = pq.read_table(f"v1/{WIDE}", columns=["c5"], filesystem=fs)
    finally:
        fs.close()
    assert got.column("c5").equals(table.column("c5"))
    assert len(pieces) >= 12
    assert fetched, "the column was read through the read cache"
    assert set(fetched) <= {piece.key for piece in pieces}
    assert len(fetched) <= len(pieces) // 3, (len(fetched), len(pieces))
    assert sum(fetched.values()) <= sum(piece.length for piece in pieces) // 3


def _flip_in_remote_pack(remote: Path, oid: str) -> None:
    """Flip one byte in the middle of object ``oid``'s entry in a directory remote's pack."""
    store = PackedObjectStore(str(remote / "objects"))
    found = store._find(oid)
    assert found is not None and found[0] is not None
    pack, entry = found
    store.close()
    path = remote / "objects/packs" / f"{pack}.pack"
    data = bytearray(path.read_bytes())
    data[entry.offset + entry.length // 2] ^= 0x01
    path.write_bytes(bytes(data))


def _flip_in_store(root: Path, oid: str) -> None:
    """Flip one byte of object ``oid`` in the workspace's store (keeping its id)."""
    stored = StoredObject(root, oid)
    data = bytearray(stored.read_bytes())
    data[len(data) // 2] ^= 0x01
    stored.write_bytes(bytes(data))


def test_a_damaged_chunk_is_an_error_never_bytes(
    tmp_path: Path, elsewhere: Path, wide: tuple[Path, pa.Table]
) -> None:
    _, table = wide
    root = tmp_path / "ws"
    (root / "data/wide").mkdir(parents=True)
    pq.write_table(table, root / WIDE, compression="none", use_dictionary=False)
    (root / "data/wide/small.csv").write_bytes(b"a,b\n1,2\n")
    ok("init", cwd=root)
    ok("add", "local-files", "data/wide", "--role", "source-data", cwd=root)
    ok("snapshot", "v1", cwd=root)
    remote = tmp_path / "remote"
    ok("remote", "add", "origin", str(remote), cwd=root)
    ok("push", cwd=root)
    workspace_fs = DwsFileSystem(workspace=str(root), skip_instance_cache=True)
    info = workspace_fs.info(f"v1/{WIDE}")
    victim = _pieces(root, info["id"])[len(_pieces(root, info["id"])) // 2]
    whole = workspace_fs.cat(f"v1/{WIDE}")
    workspace_fs.close()

    # a chunk damaged on the remote: reading from the remote fails, the workspace still reads
    _flip_in_remote_pack(remote, victim.key.hex())
    remote_fs = DwsFileSystem(remote=str(remote), skip_instance_cache=True)
    with pytest.raises(IntegrityError, match="corrupt"):
        remote_fs.cat(f"v1/{WIDE}")
    with pytest.raises(IntegrityError, match="corrupt"):
        pd.read_parquet(f"dws://v1/{WIDE}", storage_options={"remote": str(remote)})
    remote_fs.close()
    fresh = DwsFileSystem(workspace=str(root), skip_instance_cache=True)
    assert fresh.cat(f"v1/{WIDE}") == whole

    # then in the workspace's store, and a small file too
    _flip_in_store(root, victim.key.hex())
    _flip_in_store(root, fresh.info("v1/data/wide/small.csv")["id"])
    fresh.close()
    options = {"workspace": str(root)}
    damaged = DwsFileSystem(workspace=str(root), skip_instance_cache=True)
    with pytest.raises(IntegrityError, match="corrupt"):
        damaged.cat(f"v1/{WIDE}")
    with pytest.raises(IntegrityError, match="corrupt"):
        pq.read_table(f"v1/{WIDE}", filesystem=damaged)
    with pytest.raises(IntegrityError, match="corrupt"):
        pd.read_csv("dws://v1/data/wide/small.csv", storage_options=options)
    damaged.close()
