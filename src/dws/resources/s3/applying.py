"""Carrying out an S3 restore: server-side copies of recorded versions, then delete markers
for keys the snapshot lacks. No version is ever deleted (DeleteObject never gets a
VersionId), so every state the bucket passed through stays in its version history."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from msgspec import field

from dws.errors import DwsError
from dws.model.progress import Progress
from dws.resources.base import RestorePlan
from dws.resources.s3 import bigcopy
from dws.resources.s3.bigcopy import multipart_copy
from dws.resources.s3.manifest import KeyRecord
from dws.store.s3client import DELETE_BATCH, S3Connection, S3Location, raise_translated

COPY_WORKERS = 8
MAX_COPY_BYTES = 5 << 30  # CopyObject's limit; larger objects are copied in parts


class S3RestorePlan(RestorePlan):
    """A restore plan with the S3 operations it implies."""

    copies: dict[str, KeyRecord] = field(default_factory=dict)  # path -> version to copy
    deletes: list[str] = field(default_factory=list)
    current_versions: dict[str, str] = field(default_factory=dict)


def apply_plan(
    conn: S3Connection,
    location: S3Location,
    plan: S3RestorePlan,
    progress: Progress,
    made: dict[str, tuple[str, str]],
) -> None:
    """Copy, then delete. ``made`` receives path -> (new version id, copied version id) for
    each copy as it completes, so the caller learns what was done even if a step fails."""
    total = len(plan.copies) + len(plan.deletes)
    done = 0
    with ThreadPoolExecutor(max_workers=COPY_WORKERS) as pool:
        results = pool.map(lambda item: _copy(conn, location, *item), sorted(plan.copies.items()))
        for path, new_version, source in results:
            made[path] = (new_version, source)
            done += 1
            progress("restoring", done, total)
    for start in range(0, len(plan.deletes), DELETE_BATCH):
        batch = plan.deletes[start : start + DELETE_BATCH]
        _delete(conn, location, batch)
        done += len(batch)
        progress("restoring", done, total)


def _copy(
    conn: S3Connection, location: S3Location, path: str, record: KeyRecord
) -> tuple[str, str, str]:
    key = location.key(path)
    source = {"Bucket": location.bucket, "Key": key, "VersionId": record.version}
    try:
        if record.size > MAX_COPY_BYTES:
            new_version = multipart_copy(conn, location, key, record, bigcopy.PART_BYTES)
        else:
            answer = conn.client.copy_object(Bucket=location.bucket, Key=key, CopySource=source)
            new_version = str(answer.get("VersionId") or "")
    except Exception as exc:
        raise_translated(exc, bucket=location.bucket, key=key, endpoint=conn.endpoint)
    return path, new_version, record.version


def _delete(conn: S3Connection, location: S3Location, paths: list[str]) -> None:
    """Delete markers for ``paths`` (one request per batch, no version ids)."""
    keys = [location.key(path) for path in paths]
    errors = conn.delete_batch(location.bucket, keys, location.prefix or None)
    if errors:
        first = errors[0]
        raise DwsError(
            f"could not delete {len(errors)} key(s) in s3://{location.bucket}/, e.g. "
            f"{first.get('Key')!r} ({first.get('Code')}); run restore again"
        )
