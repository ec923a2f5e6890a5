"""Reading recorded objects back from the bucket (export, metrics files), checked against
what the snapshot recorded."""

from __future__ import annotations

import hashlib
import os
import re
from typing import Any

from dws.errors import IntegrityError
from dws.resources.s3.listing import normalise_etag
from dws.resources.s3.manifest import KeyRecord
from dws.store.fileio import removing_on_error, temp_name
from dws.store.s3client import S3Connection, S3Location

_PLAIN_MD5 = re.compile(r"[0-9a-f]{32}")
CHUNK = 1 << 20


def _open_version(
    conn: S3Connection, location: S3Location, path: str, record: KeyRecord, current_only: bool
) -> Any:
    """GetObject for the recorded version (``current_only``: the current object, which
    must still carry the recorded ETag); IntegrityError when it is gone."""
    which = {"IfMatch": f'"{record.etag}"'} if current_only else {"VersionId": record.version}
    answer = conn.get(location.bucket, location.key(path), **which)
    if answer is None:
        raise IntegrityError(
            f"{location.url}{path}: the recorded version (ETag {record.etag}) is no longer "
            "in the bucket"
        )
    return answer


class _Checker:
    """Counts and hashes bytes as they arrive, then compares with the record."""

    def __init__(self, location: S3Location, path: str, record: KeyRecord) -> None:
        self.where = f"{location.url}{path}"
        self.record = record
        self.size = 0
        self.md5 = hashlib.md5(usedforsecurity=False)

    def update(self, chunk: bytes) -> None:
        self.size += len(chunk)
        self.md5.update(chunk)

    def check(self, answer: Any, current_only: bool) -> None:
        etag = normalise_etag(str(answer.get("ETag", "")))
        if self.size != self.record.size or (current_only and etag != self.record.etag):
            raise IntegrityError(f"{self.where} does not match its recorded size or ETag")
        plain = _PLAIN_MD5.fullmatch(self.record.etag)
        if plain and self.md5.hexdigest() != self.record.etag:
            raise IntegrityError(f"{self.where}: the bytes read do not match the ETag")


def fetch_version(
    conn: S3Connection, location: S3Location, path: str, record: KeyRecord, current_only: bool
) -> bytes:
    """The bytes of the recorded version of ``path`` (``current_only``: of the current
    object, which must still carry the recorded ETag). IntegrityError when the version is
    gone or the bytes do not match the recorded size, or the ETag where it is a plain MD5."""
    answer = _open_version(conn, location, path, record, current_only)
    checker = _Checker(location, path, record)
    with conn.errors(location.bucket, location.key(path)):
        data: bytes = answer["Body"].read()
    checker.update(data)
    checker.check(answer, current_only)
    return data


def write_export(
    conn: S3Connection, location: S3Location, path: str, record: KeyRecord, dest: str
) -> None:
    """Stream the recorded version of ``path`` into the new file ``dest/path``; nothing is
    left there when it fails its checks."""
    target = os.path.join(dest, *path.split("/"))
    os.makedirs(os.path.dirname(target), exist_ok=True)
    answer = _open_version(conn, location, path, record, current_only=False)
    checker = _Checker(location, path, record)
    tmp = temp_name(os.path.dirname(target))
    with removing_on_error(tmp), open(tmp, "xb") as handle:
        with conn.errors(location.bucket, location.key(path)):
            for chunk in answer["Body"].iter_chunks(CHUNK):
                checker.update(chunk)
                handle.write(chunk)
        checker.check(answer, current_only=False)
    with removing_on_error(tmp):
        os.link(tmp, target)  # fails if the target exists, like write_new_file
    os.unlink(tmp)
