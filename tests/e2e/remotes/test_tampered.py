"""A tampered remote is detected and refused; nothing is written locally from it."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import msgspec

from dws.model.digest import hash_bytes
from dws.model.records import decode_snapshot, encode_record
from dws.store.packed import PackedObjectStore
from helpers.failure import write_files

from .conftest import RemoteSpot, pushed_workspace


def _snapshot_files(remote: Path) -> list[Path]:
    return sorted((remote / "snapshots").glob("*.json"))


def _local_state(root: Path) -> dict[str, bytes]:
    meta = root / ".dataworkspace"
    return {
        str(p.relative_to(meta)): p.read_bytes()
        for p in sorted(meta.rglob("*"))
        if p.is_file() and "local" not in p.relative_to(meta).parts
    }


def test_corrupt_object_is_refused_by_clone_and_found_by_fsck(
    dir_remote: RemoteSpot, make_workspace: Callable[..., Path], tmp_path: Path
) -> None:
    ws = pushed_workspace(dir_remote, make_workspace)
    store = PackedObjectStore(os.path.join(dir_remote.url, "objects"))
    big = [oid for oid in store.loose.iter_ids()]
    assert big, "the 300 kB file is stored loose"
    path = Path(store.loose.path(big[0]))
    path.chmod(0o644)
    data = bytearray(path.read_bytes())
    data[100] ^= 0xFF
    path.write_bytes(bytes(data))

    target = tmp_path / "clone"
    refused = dir_remote.run("clone", dir_remote.url, str(target), cwd=tmp_path)
    assert refused.code == 4 and "corrupt" in refused.err
    assert not target.exists()
    assert [p.name for p in tmp_path.iterdir() if "clone" in p.name] == []
    checked = dir_remote.run("fsck", "--remote", "origin", cwd=ws)
    assert checked.code == 4 and big[0][:12] in checked.err


def test_record_with_dotdot_tree_is_skipped_and_nothing_of_it_is_written(
    dir_remote: RemoteSpot, make_workspace: Callable[..., Path], tmp_path: Path
) -> None:
    ws = pushed_workspace(dir_remote, make_workspace)
    other = tmp_path / "other"
    dir_remote.ok("clone", dir_remote.url, str(other), cwd=tmp_path)
    remote = Path(dir_remote.url)
    # a hostile tree (an entry named "..") under a record whose id is computed honestly
    evil_tree = b'{"entries":[{"id":"' + b"0" * 64 + b'","kind":"file","name":"..","size":1}]}'
    store = PackedObjectStore(str(remote / "objects"))
    tree_id = store.put_bytes(evil_tree)
    store.flush()
    store.close()
    base_file = _snapshot_files(remote)[0]
    base = decode_snapshot(base_file.read_bytes(), base_file.stem)
    raw = base.resources["raw"]
    evil_state = {**raw.state, "tree": tree_id}
    record = msgspec.structs.replace(
        base,
        resources={**base.resources, "raw": msgspec.structs.replace(raw, state=evil_state)},
        created="2030-01-01T00:00:00.000000Z",
    ).with_id()
    (remote / "snapshots" / f"{record.id}.json").write_bytes(encode_record(record) + b"\n")

    before = _local_state(other)
    skipped = dir_remote.run("pull", cwd=other)  # the damaged snapshot blocks nothing else
    assert skipped.code == 0, skipped.err
    assert f"snapshot {record.id[:12]} is damaged" in skipped.err
    assert "dws push --verify" in skipped.err and "delete-snapshot" in skipped.err
    assert _local_state(other) == before
    assert not (other / ".dataworkspace/snapshots" / f"{record.id}.json").exists()
    # a clone takes the newest snapshot that is intact, and says which it skipped
    target = tmp_path / "fresh"
    cloned = dir_remote.run("clone", dir_remote.url, str(target), cwd=tmp_path)
    assert cloned.code == 0 and record.id[:12] in cloned.err, cloned.err
    assert dir_remote.json("status", cwd=target)["head"] == base.id
    assert (target / "data/raw/a.csv").read_bytes() == (ws / "data/raw/a.csv").read_bytes()
    assert dir_remote.run("fsck", "--remote", "origin", cwd=ws).code == 4
    refused_gc = dir_remote.run("gc", "--remote", "origin", cwd=ws)
    assert refused_gc.code == 4 or "nothing" in refused_gc.err


def test_record_whose_id_does_not_match_is_refused(
    remote: RemoteSpot, make_workspace: Callable[..., Path], tmp_path: Path
) -> None:
    ws = pushed_workspace(remote, make_workspace)
    other = tmp_path / "other"
    remote.ok("clone", remote.url, str(other), cwd=tmp_path)
    write_files(ws, {"data/raw/more.txt": "more\n"})
    remote.ok("snapshot", cwd=ws)
    remote.ok("push", cwd=ws)
    newest = remote.json("history", cwd=ws)[0]["id"]
    key = f"snapshots/{newest}.json"
    original = _read_remote(remote, key)
    forged = original.replace(b'"message":""', b'"message":"forged"')
    assert forged != original and hash_bytes(forged) != hash_bytes(original)
    _write_remote(remote, key, forged)

    before = _local_state(other)
    skipped = remote.run("pull", cwd=other)
    assert skipped.code == 0 and "checksum" in skipped.err and "damaged" in skipped.err
    assert _local_state(other) == before
    assert remote.run("fsck", "--remote", "origin", cwd=ws).code == 4


def _read_remote(spot: RemoteSpot, key: str) -> bytes:
    if spot.kind == "dir":
        return (Path(spot.url) / key).read_bytes()
    bucket, prefix = spot.url[len("s3://") :].split("/", 1)
    body = spot.server.client().get_object(Bucket=bucket, Key=f"{prefix}/{key}")["Body"]
    data: bytes = body.read()
    return data


def _write_remote(spot: RemoteSpot, key: str, data: bytes) -> None:
    if spot.kind == "dir":
        (Path(spot.url) / key).write_bytes(data)
        return
    bucket, prefix = spot.url[len("s3://") :].split("/", 1)
    spot.server.client().put_object(Bucket=bucket, Key=f"{prefix}/{key}", Body=data)


def test_s3_object_with_wrong_bytes_is_refused(
    s3_remote: RemoteSpot, make_workspace: Callable[..., Path], tmp_path: Path
) -> None:
    ws = pushed_workspace(s3_remote, make_workspace)
    bucket, prefix = s3_remote.url[len("s3://") :].split("/", 1)
    client = s3_remote.server.client()
    listing = client.list_objects_v2(Bucket=bucket, Prefix=f"{prefix}/objects/")["Contents"]
    victim = max(listing, key=lambda item: item["Size"])["Key"]
    client.put_object(Bucket=bucket, Key=victim, Body=b"not the original bytes")
    target = tmp_path / "clone"
    refused = s3_remote.run("clone", s3_remote.url, str(target), cwd=tmp_path)
    assert refused.code == 4 and "corrupt" in refused.err
    assert not target.exists()
    checked = s3_remote.run("fsck", "--remote", "origin", cwd=ws)
    assert checked.code == 4 and "corrupt" in checked.err
    shutil.rmtree(tmp_path / "unused", ignore_errors=True)


def test_s3_pack_with_a_flipped_byte_is_refused(
    s3_remote: RemoteSpot, make_workspace: Callable[..., Path], tmp_path: Path
) -> None:
    ws = pushed_workspace(s3_remote, make_workspace)
    bucket, prefix = s3_remote.url[len("s3://") :].split("/", 1)
    client = s3_remote.server.client()
    listing = client.list_objects_v2(Bucket=bucket, Prefix=f"{prefix}/objects/packs/")
    (pack,) = [item["Key"] for item in listing["Contents"] if item["Key"].endswith(".pack")]
    data = bytearray(client.get_object(Bucket=bucket, Key=pack)["Body"].read())
    data[10] ^= 0x01
    client.put_object(Bucket=bucket, Key=pack, Body=bytes(data))
    checked = s3_remote.run("fsck", "--remote", "origin", cwd=ws)
    assert checked.code == 4 and "corrupt" in checked.err
    target = tmp_path / "clone"
    refused = s3_remote.run("clone", "--snapshot", "v1", s3_remote.url, str(target), cwd=tmp_path)
    assert refused.code == 4 and "corrupt" in refused.err
    assert not target.exists()
