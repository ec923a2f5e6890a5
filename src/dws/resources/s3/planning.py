"""Working out an S3 restore before anything is touched."""

from __future__ import annotations

from dws.errors import IntegrityError, RefusedError
from dws.model.treediff import Change
from dws.resources.base import listed
from dws.resources.s3.applying import S3RestorePlan
from dws.resources.s3.listing import Listing
from dws.resources.s3.manifest import ManifestReader


def require_versioning(listing: Listing, url: str) -> None:
    """Restoring by copying versions needs a bucket that keeps them."""
    if not listing.versioned:
        raise RefusedError(
            f"{url}: the bucket does not have versioning enabled (or these credentials may "
            "not read it), so restoring could destroy current objects; enable versioning on "
            "the bucket, or register the resource with "
            "--keep hashes (restore then only verifies)"
        )


def versions_plan(
    name: str, url: str, changes: list[Change], listing: Listing, reader: ManifestReader
) -> S3RestorePlan:
    """Copies for keys that differ from the target, delete markers for keys it lacks;
    refuses (IntegrityError) when a recorded version no longer exists."""
    plan = S3RestorePlan(name, changes)
    plan.current_versions = {path: found.version for path, found in listing.current.items()}
    missing: list[str] = []
    for change in changes:
        if change.is_dir_marker:
            continue
        if change.new is None:
            plan.deletes.append(change.path)
            continue
        record = reader.record(change.new.id)
        if listing.version(change.path, record.version) is None:
            missing.append(f"{change.path} (version {record.version})")
        plan.copies[change.path] = record
    if missing:
        raise IntegrityError(
            f"{len(missing)} recorded object version(s) no longer exist in {url}; nothing was "
            "changed (someone deleted those versions from the bucket)",
            details=listed(missing),
        )
    if plan.copies or plan.deletes:
        plan.notes.append(
            f"{len(plan.copies)} key(s) to copy from recorded versions, {len(plan.deletes)} "
            "to hide with delete markers; current versions stay in the bucket's history"
        )
    return plan
