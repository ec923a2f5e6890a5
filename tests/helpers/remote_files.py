"""The small files of a test remote (a directory, or a prefix on the test S3 server), read
and written behind dws's back: lock files, tombstones, records. ``spot`` is the remote
tests' ``RemoteSpot`` (kind, url, server)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any


def _s3(spot: Any) -> tuple[Any, str, str]:
    bucket, prefix = spot.url[len("s3://") :].split("/", 1)
    return spot.server.client(), bucket, prefix.rstrip("/") + "/"


def list_names(spot: Any, directory: str) -> list[str]:
    """The names of the files directly in ``directory`` of the remote."""
    if spot.kind == "dir":
        path = Path(spot.url) / directory
        return sorted(p.name for p in path.iterdir() if p.is_file()) if path.is_dir() else []
    client, bucket, prefix = _s3(spot)
    full = f"{prefix}{directory}/"
    answer = client.list_objects_v2(Bucket=bucket, Prefix=full, Delimiter="/")
    names = (item["Key"][len(full) :] for item in answer.get("Contents", []))
    return sorted(name for name in names if name)  # not the directory marker


def read(spot: Any, key: str) -> bytes | None:
    """A remote file's bytes, or None."""
    if spot.kind == "dir":
        path = Path(spot.url) / key
        return path.read_bytes() if path.is_file() else None
    client, bucket, prefix = _s3(spot)
    try:
        data: bytes = client.get_object(Bucket=bucket, Key=prefix + key)["Body"].read()
    except client.exceptions.NoSuchKey:
        return None
    return data


def write(spot: Any, key: str, data: bytes) -> None:
    """Write a remote file."""
    if spot.kind == "dir":
        path = Path(spot.url) / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return
    client, bucket, prefix = _s3(spot)
    client.put_object(Bucket=bucket, Key=prefix + key, Body=data)


def delete(spot: Any, key: str) -> None:
    """Remove a remote file."""
    if spot.kind == "dir":
        (Path(spot.url) / key).unlink()
        return
    client, bucket, prefix = _s3(spot)
    client.delete_object(Bucket=bucket, Key=prefix + key)


def put_lock(spot: Any, kind: str, *, age: float = 0.0, **fields: Any) -> str:
    """A lock of ``kind`` held by a process of another machine, refreshed ``age`` seconds
    ago (docs/format.md, "Layout of a remote"); its name."""
    name = f"{kind}-{int(time.time() * 1000) % 16**16:016x}"
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - age))
    record = {
        "format": 1,
        "kind": kind,
        "user": "bob",
        "host": "build-07",
        "pid": 4242,
        "created": stamp,
        "refreshed": stamp,
        "process": "another machine",
        **fields,
    }
    write(spot, f"locks/{name}.json", json.dumps(record).encode())
    return name
