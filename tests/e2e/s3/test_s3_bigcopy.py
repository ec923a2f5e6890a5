"""Restore in process: objects above CopyObject's limit are copied in parts (the limit is
lowered here so that a few MiB exercise the same code), and an interrupted restore
completes when run again."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

import dws
from dws.errors import DwsError
from dws.resources.s3 import applying, bigcopy
from dws.resources.s3.bigcopy import MAX_PARTS, part_ranges

MIB = 1 << 20


def test_part_ranges_cover_the_object_exactly() -> None:
    assert part_ranges(10, 4) == [(0, 3), (4, 7), (8, 9)]
    assert part_ranges(8, 4) == [(0, 3), (4, 7)]
    huge = 5 << 40  # 5 TiB: parts grow so that there are at most 10,000
    ranges = part_ranges(huge, 512 * MIB)
    assert len(ranges) <= MAX_PARTS and ranges[-1][1] == huge - 1


def test_large_objects_are_restored_by_multipart_copy(
    tmp_path: Path, s3_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in s3_server.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(applying, "MAX_COPY_BYTES", MIB)
    monkeypatch.setattr(bigcopy, "PART_BYTES", 5 * MIB)
    client = s3_server.client()
    bucket = s3_server.make_bucket(versioned=True)
    big = os.urandom(6 * MIB + 1)
    client.put_object(
        Bucket=bucket,
        Key="p/big.bin",
        Body=big,
        ContentType="application/x-test",
        Metadata={"origin": "lab"},
    )
    root = tmp_path / "ws"
    root.mkdir()
    ws = dws.Workspace.init(str(root))
    ws.add_resource("s3", f"s3://{bucket}/p/", "source-data", name="blobs")
    ws.snapshot("v1")
    client.put_object(Bucket=bucket, Key="p/big.bin", Body=b"small now")
    ws.restore("v1")
    answer = client.get_object(Bucket=bucket, Key="p/big.bin")
    assert answer["Body"].read() == big
    assert answer["ContentType"] == "application/x-test"
    assert answer["Metadata"] == {"origin": "lab"}
    assert all(not item.visible for item in ws.status())
    assert client.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


def test_an_interrupted_restore_completes_when_run_again(
    tmp_path: Path, s3_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in s3_server.env().items():
        monkeypatch.setenv(key, value)
    client = s3_server.client()
    bucket = s3_server.make_bucket(versioned=True)
    files = {f"k{i}": b"v1-%d" % i for i in range(12)}
    for name, data in files.items():
        client.put_object(Bucket=bucket, Key="p/" + name, Body=data)
    root = tmp_path / "ws"
    root.mkdir()
    ws = dws.Workspace.init(str(root))
    ws.add_resource("s3", f"s3://{bucket}/p/", "source-data", name="blobs")
    ws.snapshot("v1")
    for name in files:
        client.put_object(Bucket=bucket, Key="p/" + name, Body=b"v2")
    client.put_object(Bucket=bucket, Key="p/extra", Body=b"extra")

    real_copy = applying._copy

    def failing_copy(conn: Any, location: Any, path: str, record: Any) -> Any:
        if path == "k7":
            raise DwsError("simulated failure")
        return real_copy(conn, location, path, record)

    monkeypatch.setattr(applying, "_copy", failing_copy)
    with pytest.raises(DwsError, match="simulated"):
        ws.restore("v1")
    monkeypatch.setattr(applying, "_copy", real_copy)
    ws.restore("v1")
    current = {
        item["Key"][2:]: client.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
        for item in client.list_objects_v2(Bucket=bucket, Prefix="p/")["Contents"]
    }
    assert current == files
    assert all(not item.visible for item in ws.status())
