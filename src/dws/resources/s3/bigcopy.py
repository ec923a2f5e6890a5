"""Server-side copy of objects larger than one CopyObject may copy (5 GiB): a multipart
upload whose parts are UploadPartCopy ranges of the recorded version. Content type, other
standard headers and user metadata are carried over; tags and ACLs are not."""

from __future__ import annotations

import contextlib
from typing import Any

from dws.resources.s3.manifest import KeyRecord
from dws.store.s3client import S3Connection, S3Location

PART_BYTES = 512 << 20
MAX_PARTS = 10_000
_HEADERS = (
    "ContentType",
    "ContentEncoding",
    "ContentDisposition",
    "ContentLanguage",
    "CacheControl",
    "Expires",
    "Metadata",
)


def part_ranges(size: int, part_bytes: int = PART_BYTES) -> list[tuple[int, int]]:
    """Inclusive byte ranges of the parts (at most MAX_PARTS of them)."""
    step = max(part_bytes, -(-size // MAX_PARTS))
    return [(start, min(start + step, size) - 1) for start in range(0, size, step)]


def multipart_copy(
    conn: S3Connection, location: S3Location, key: str, record: KeyRecord, part_bytes: int
) -> str:
    """Copy version ``record.version`` of ``key`` over ``key``; return the new version id.
    An upload that fails is aborted."""
    client, bucket = conn.client, location.bucket
    head = client.head_object(Bucket=bucket, Key=key, VersionId=record.version)
    extra: dict[str, Any] = {name: head[name] for name in _HEADERS if head.get(name)}
    upload = client.create_multipart_upload(Bucket=bucket, Key=key, **extra)["UploadId"]
    source = {"Bucket": bucket, "Key": key, "VersionId": record.version}
    try:
        parts = []
        for number, (start, end) in enumerate(part_ranges(record.size, part_bytes), 1):
            answer = client.upload_part_copy(
                Bucket=bucket,
                Key=key,
                UploadId=upload,
                PartNumber=number,
                CopySource=source,
                CopySourceRange=f"bytes={start}-{end}",
            )
            parts.append({"ETag": answer["CopyPartResult"]["ETag"], "PartNumber": number})
        done = client.complete_multipart_upload(
            Bucket=bucket, Key=key, UploadId=upload, MultipartUpload={"Parts": parts}
        )
    except BaseException:
        with contextlib.suppress(Exception):
            client.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload)
        raise
    return str(done.get("VersionId") or "")
