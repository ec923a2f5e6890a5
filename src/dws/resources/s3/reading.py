"""Reading recorded objects back from the bucket (export, metrics files), checked against
what the snapshot recorded."""

from __future__ import annotations

import hashlib
import os
import re

from dws.errors import IntegrityError
from dws.resources.s3.listing import normalise_etag
from dws.resources.s3.manifest import KeyRecord
from dws.store.fileio import write_new_file
from dws.store.s3client import (
    S3Connection,
    S3Location,
    error_code,
    is_not_found,
    raise_translated,
)

_PLAIN_MD5 = re.compile(r"[0-9a-f]{32}")


def fetch_version(
    conn: S3Connection, location: S3Location, path: str, record: KeyRecord, current_only: bool
) -> bytes:
    """The bytes of the recorded version of ``path`` (``current_only``: of the current
    object, which must still carry the recorded ETag). IntegrityError when the version is
    gone or the bytes do not match the recorded ETag (where it is a plain MD5)."""
    key = location.key(path)
    request = {"Bucket": location.bucket, "Key": key}
    if current_only:
        request["IfMatch"] = f'"{record.etag}"'
    else:
        request["VersionId"] = record.version
    try:
        answer = conn.client.get_object(**request)
        data: bytes = answer["Body"].read()
    except Exception as exc:
        if is_not_found(exc) or error_code(exc) in ("PreconditionFailed", "412"):
            raise IntegrityError(
                f"{location.url}{path}: the recorded version (ETag {record.etag}) is no longer "
                "in the bucket"
            ) from None
        raise_translated(exc, bucket=location.bucket, key=key, endpoint=conn.endpoint)
    etag = normalise_etag(str(answer.get("ETag", "")))
    if len(data) != record.size or (current_only and etag != record.etag):
        raise IntegrityError(f"{location.url}{path} does not match its recorded size or ETag")
    if _PLAIN_MD5.fullmatch(record.etag) and hashlib.md5(data).hexdigest() != record.etag:
        raise IntegrityError(f"{location.url}{path}: the bytes read do not match the ETag")
    return data


def write_export(
    conn: S3Connection, location: S3Location, path: str, record: KeyRecord, dest: str
) -> None:
    """Write the recorded version of ``path`` to ``dest/path`` (a new file)."""
    data = fetch_version(conn, location, path, record, current_only=False)
    target = os.path.join(dest, *path.split("/"))
    os.makedirs(os.path.dirname(target), exist_ok=True)
    write_new_file(target, data)
