"""Reading recorded versions back: bytes are checked against the recorded size and ETag."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest

from dws.errors import IntegrityError
from dws.resources.s3.manifest import KeyRecord
from dws.resources.s3.reading import fetch_version, write_export
from dws.store.s3client import connect, parse_s3_url


@pytest.fixture
def stored(s3_server: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    for key, value in s3_server.env().items():
        monkeypatch.setenv(key, value)
    client = s3_server.client()
    bucket = s3_server.make_bucket(versioned=True)
    version = client.put_object(Bucket=bucket, Key="p/a.txt", Body=b"alpha")["VersionId"]
    client.put_object(Bucket=bucket, Key="p/a.txt", Body=b"newer")
    record = KeyRecord(version, hashlib.md5(b"alpha").hexdigest(), 5, "t")
    return connect(), parse_s3_url(f"s3://{bucket}/p/"), record


def test_the_recorded_version_is_read(stored: Any, tmp_path: Path) -> None:
    conn, location, record = stored
    assert fetch_version(conn, location, "a.txt", record, current_only=False) == b"alpha"
    write_export(conn, location, "a.txt", record, str(tmp_path))
    assert (tmp_path / "a.txt").read_bytes() == b"alpha"


@pytest.mark.parametrize(
    "change",
    [
        {"etag": hashlib.md5(b"other").hexdigest()},  # bytes do not hash to the ETag
        {"size": 6},
        {"version": "no-such-version"},
    ],
)
def test_mismatches_are_integrity_errors(stored: Any, tmp_path: Path, change: dict) -> None:
    conn, location, record = stored
    fields = {"version": record.version, "etag": record.etag, "size": record.size, **change}
    wrong = KeyRecord(fields["version"], fields["etag"], fields["size"], "t")
    with pytest.raises(IntegrityError):
        fetch_version(conn, location, "a.txt", wrong, current_only=False)
    with pytest.raises(IntegrityError):
        write_export(conn, location, "a.txt", wrong, str(tmp_path))
    assert list(tmp_path.iterdir()) == []


def test_hash_only_reads_need_the_current_object_to_match(stored: Any) -> None:
    conn, location, record = stored
    with pytest.raises(IntegrityError):  # the current object is "newer"
        fetch_version(conn, location, "a.txt", record, current_only=True)
    current = KeyRecord("null", hashlib.md5(b"newer").hexdigest(), 5, "t")
    assert fetch_version(conn, location, "a.txt", current, current_only=True) == b"newer"
