"""One listing of a bucket prefix: the current object of every key, and (in a bucket with
versioning) every version each key has, so that snapshot, status and restore planning cost
one paginated listing.

Keys become ``/``-separated paths below the prefix. Keys no directory tree can hold (empty
segments such as ``a//b`` or a trailing ``/``, ``.`` or ``..`` segments, NUL, a key that is
also a "directory" of other keys) are left out and reported, never followed.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from msgspec import Struct, field

from dws.errors import FormatError
from dws.model.paths import check_relative_path
from dws.store.s3client import S3Connection, S3Location, error_code, raise_translated

NULL_VERSION = "null"
MAX_SKIPPED_LISTED = 10


class ObjectVersion(Struct, frozen=True):
    """One version of one key as the server lists it."""

    version: str
    etag: str
    size: int
    modified: str


class Listing(Struct):
    """Current objects by path, all versions by path, and the keys left out."""

    versioning: str  # "Enabled", "Suspended" or "" (never enabled)
    current: dict[str, ObjectVersion] = field(default_factory=dict)
    versions: dict[str, dict[str, ObjectVersion]] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)

    @property
    def versioned(self) -> bool:
        """True when the bucket keeps old versions of new writes."""
        return self.versioning == "Enabled"

    def version(self, path: str, version_id: str) -> ObjectVersion | None:
        """The listed version ``version_id`` of ``path`` (None when it no longer exists)."""
        found = self.versions.get(path, {}).get(version_id)
        if found is None and not self.versioning:
            current = self.current.get(path)
            if current is not None and current.version == version_id:
                return current
        return found

    def warnings(self) -> list[str]:
        """What a user should hear about the keys left out."""
        if not self.skipped:
            return []
        shown = ", ".join(repr(key) for key in self.skipped[:MAX_SKIPPED_LISTED])
        more = len(self.skipped) - MAX_SKIPPED_LISTED
        tail = f" and {more} more" if more > 0 else ""
        return [
            f"{len(self.skipped)} key(s) cannot be recorded as paths and were left out "
            f"(empty, '.' or '..' segments, NUL, or a key that is also a prefix): {shown}{tail}"
        ]


def bucket_versioning(conn: S3Connection, location: S3Location, *, denied_ok: bool = False) -> str:
    """The bucket's versioning status: "Enabled", "Suspended" or "". With ``denied_ok``,
    credentials that may list the bucket but not read its versioning (common for other
    people's buckets) give "" too."""
    try:
        answer = conn.client.get_bucket_versioning(Bucket=location.bucket)
    except Exception as exc:
        if denied_ok and error_code(exc) in ("AccessDenied", "403"):
            return ""
        raise_translated(exc, bucket=location.bucket, endpoint=conn.endpoint)
    return str(answer.get("Status") or "")


def check_listable(conn: S3Connection, location: S3Location) -> None:
    """One small listing request: the bucket exists and these credentials may list it."""
    with conn.errors(location.bucket, location.prefix or None):
        conn.client.list_objects_v2(Bucket=location.bucket, Prefix=location.prefix, MaxKeys=1)


def list_prefix(conn: S3Connection, location: S3Location) -> Listing:
    """List every key below ``location`` once (versions too where versioning was ever on)."""
    listing = Listing(bucket_versioning(conn, location, denied_ok=True))
    raw_current: dict[str, ObjectVersion] = {}
    raw_versions: dict[str, dict[str, ObjectVersion]] = {}
    if listing.versioning:
        for item in conn.list_versions(location.bucket, location.prefix):
            key, version = item["Key"], _version_of(item)
            raw_versions.setdefault(key, {})[version.version] = version
            if item.get("IsLatest"):  # a key whose latest entry is a delete marker is absent
                raw_current[key] = version
    else:
        for item in conn.list_objects(location.bucket, location.prefix):
            raw_current[item["Key"]] = _version_of(item)
    accepted = _accepted_paths(location, list(raw_current) + list(raw_versions), listing)
    listing.current = {accepted[k]: v for k, v in raw_current.items() if k in accepted}
    listing.versions = {accepted[k]: v for k, v in raw_versions.items() if k in accepted}
    return listing


def _version_of(item: dict[str, Any]) -> ObjectVersion:
    modified = item.get("LastModified")
    stamp = _timestamp(modified) if isinstance(modified, datetime) else str(modified or "")
    return ObjectVersion(
        version=str(item.get("VersionId") or NULL_VERSION),
        etag=normalise_etag(str(item.get("ETag", ""))),
        size=int(item.get("Size", 0)),
        modified=stamp,
    )


def normalise_etag(etag: str) -> str:
    """ETags without the quotes some servers add and others leave out."""
    return etag.strip().strip('"')


def _timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _accepted_paths(location: S3Location, keys: list[str], listing: Listing) -> dict[str, str]:
    """key -> path for the keys a tree can hold; the others go to ``listing.skipped``."""
    paths: dict[str, str] = {}
    for key in sorted(set(keys)):
        path = key_to_path(location, key)
        if path is None:
            listing.skipped.append(key)
        else:
            paths[key] = path
    prefixes = {path[:i] for path in paths.values() for i, c in enumerate(path) if c == "/"}
    for key, path in list(paths.items()):
        if path in prefixes:  # "a" and "a/b": a tree cannot hold both; keep the deeper keys
            listing.skipped.append(key)
            del paths[key]
    listing.skipped.sort()
    return paths


def key_to_path(location: S3Location, key: str) -> str | None:
    """The path of ``key`` below the prefix, or None when it cannot be a tree path."""
    if not key.startswith(location.prefix):
        return None
    path = key[len(location.prefix) :]
    try:
        return check_relative_path(path)
    except FormatError:
        return None
