"""The s3 resource: the objects below an ``s3://bucket/prefix/``, recorded as a manifest of
key -> version id / ETag / size (docs/s3.md). The bytes stay in the bucket; restore copies
recorded versions back server-side, so it needs bucket versioning (``keep: versions``);
``keep: hashes`` records the same manifest and restore only verifies."""

from __future__ import annotations

import fnmatch
import io
import os
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property
from typing import Any, BinaryIO

from dws.errors import DwsError, FormatError, IntegrityError, UnreachableError, UsageError
from dws.model.ids import check_object_id
from dws.model.roles import Role
from dws.model.tree import TreeEntry
from dws.model.treediff import Change, diff_trees, walk_tree
from dws.resources.base import ObjectRef, Resource, RestorePlan, State
from dws.resources.recorded import RecordedView, TreeView
from dws.resources.s3.applying import S3RestorePlan, apply_plan
from dws.resources.s3.copies import CopyMemory
from dws.resources.s3.listing import Listing, bucket_versioning, check_listable, list_prefix
from dws.resources.s3.manifest import BuiltManifest, KeyRecord, ManifestReader, build_manifest
from dws.resources.s3.planning import require_versioning, versions_plan
from dws.resources.s3.reading import fetch_version, write_export
from dws.resources.s3.view import current_records
from dws.store.s3client import S3Connection, S3Location, check_endpoint_url, connect, parse_s3_url

KEEP_VERSIONS = "versions"
KEEP_HASHES = "hashes"


class S3Resource(Resource):
    """A bucket prefix on S3 or an S3-compatible server."""

    type_name = "s3"
    allowed_roles = frozenset({Role.SOURCE_DATA, Role.INTERMEDIATE_DATA, Role.RESULTS})
    add_options = frozenset({"keep", "create", "endpoint_url"})

    # ---- set-up -----------------------------------------------------------------------

    @classmethod
    def prepare_params(
        cls, location: str, workspace_root: str, options: dict[str, Any]
    ) -> dict[str, Any]:
        keep = options.get("keep") or KEEP_VERSIONS
        if keep not in (KEEP_VERSIONS, KEEP_HASHES):
            raise UsageError(f"--keep for an s3 resource is 'versions' or 'hashes', not {keep!r}")
        if options.get("create"):
            raise UsageError("--create does not apply to s3 resources (create the bucket first)")
        target = parse_s3_url(location)
        endpoint = options.get("endpoint_url") or None
        if endpoint is not None:
            check_endpoint_url(endpoint)
        conn = connect(endpoint)
        if keep == KEEP_HASHES:
            check_listable(conn, target)
        elif bucket_versioning(conn, target) != "Enabled":
            raise UsageError(
                f"bucket {target.bucket!r} does not have versioning enabled, which restoring "
                "an s3 resource needs: enable it (e.g. aws s3api put-bucket-versioning "
                f"--bucket {target.bucket} --versioning-configuration Status=Enabled), or "
                "add the resource with --keep hashes (restore then only verifies)"
            )
        params: dict[str, Any] = {"url": target.url, "keep": keep}
        if endpoint is not None:
            params["endpoint_url"] = endpoint
        return params

    @cached_property
    def location(self) -> S3Location:
        """Bucket and prefix from resources.json (validated)."""
        url = self.spec.params.get("url")
        try:
            return parse_s3_url(url if isinstance(url, str) else "")
        except UsageError:
            raise FormatError(
                f"resource {self.name!r} has no valid s3 url in resources.json"
            ) from None

    @property
    def keep(self) -> str:
        """'versions' or 'hashes'."""
        keep = self.spec.params.get("keep", KEEP_VERSIONS)
        if keep not in (KEEP_VERSIONS, KEEP_HASHES):
            raise FormatError(f"resource {self.name!r} has an invalid keep in resources.json")
        return str(keep)

    def _endpoint(self) -> str | None:
        """The endpoint_url of resources.json (None: the environment's or AWS), once every
        parameter there has been checked."""
        _ = self.keep, self.location
        endpoint = self.spec.params.get("endpoint_url")
        if endpoint is not None:
            try:
                check_endpoint_url(endpoint if isinstance(endpoint, str) else "")
            except UsageError:
                raise FormatError(
                    f"resource {self.name!r} has an invalid endpoint_url in resources.json"
                ) from None
        return endpoint

    @cached_property
    def conn(self) -> S3Connection:
        """The client (made on first use: reading recorded states needs no network)."""
        return connect(self._endpoint())

    def check_reachable(self) -> None:
        """One small listing with the probe client (seconds at most, see
        ``store.s3client``): the endpoint answers, the credentials are accepted, the bucket
        exists and may be listed."""
        endpoint = self._endpoint()
        with _reaching():
            check_listable(connect(endpoint, probe=True), self.location)

    @cached_property
    def reader(self) -> ManifestReader:
        """Recorded manifests in the workspace store."""
        return ManifestReader(self.context.store)

    def _copies(self) -> CopyMemory:
        return CopyMemory(self.context.local_dir, self.name)

    def local_path(self) -> str | None:
        return None

    # ---- the working state ------------------------------------------------------------

    def _manifest_of(self, state: State | None, *, same_url: bool = True) -> str | None:
        """The manifest id of ``state``; with ``same_url``, the state must be of the bucket
        prefix the resource points at now (comparing it with the bucket needs that)."""
        if state is None:
            return None
        url = state.get("url")
        if same_url and url != self.location.url:
            raise UsageError(
                f"resource {self.name!r} now points at {self.location.url} but the snapshot "
                f"recorded {str(url)[:200]}"
            )
        return check_object_id(state.get("manifest"), "S3 manifest id in snapshot")

    def _recorded_entries(self, manifest: str | None) -> dict[str, TreeEntry]:
        return dict(self.reader.entries(manifest)) if manifest else {}

    def _list(self) -> Listing:
        with _reaching():
            listing = list_prefix(self.conn, self.location)
        self.warnings.extend(w for w in listing.warnings() if w not in self.warnings)
        return listing

    def _current(self, against: str | None) -> tuple[Listing, BuiltManifest]:
        """The listing and the manifest of the keys now, seen against manifest ``against``."""
        listing = self._list()
        records = current_records(
            listing, self._copies(), self.reader, self._recorded_entries(against)
        )
        return listing, build_manifest(records)

    def _changes(self, old: str | None, built: BuiltManifest) -> list[Change]:
        load = built.loader(self.reader.load)
        return list(diff_trees(load, old, built.root))

    def status(self, base: State | None) -> list[Change]:
        manifest = self._manifest_of(base)
        return self._changes(manifest, self._current(manifest)[1])

    def snapshot(self, base: State | None) -> State:
        try:
            against = self._manifest_of(base)
        except (UsageError, FormatError):
            against = None  # a base of another bucket, or unreadable: record afresh
        listing, built = self._current(against)
        if self.keep == KEEP_VERSIONS and not listing.versioned:
            self.warnings.append(
                "the bucket does not have versioning enabled: this snapshot records versions "
                "that may not survive, and restore will refuse until versioning is enabled"
            )
        built.store(self.context.store)
        return {
            "url": self.location.url,
            "manifest": built.root,
            "objects": built.objects,
            "bytes": built.bytes,
            "versioned": listing.versioned,
            "keep": self.keep,
        }

    # ---- restore ----------------------------------------------------------------------

    def plan_restore(self, target: State, saved: list[State]) -> RestorePlan:
        manifest = self._manifest_of(target)
        assert manifest is not None
        listing, built = self._current(manifest)
        changes = list(diff_trees(built.loader(self.reader.load), built.root, manifest))
        if target.get("keep", KEEP_VERSIONS) == KEEP_HASHES or self.keep == KEEP_HASHES:
            return RestorePlan(
                self.name, changes, verify_failures=[c.path for c in changes if c.visible]
            )
        require_versioning(listing, self.location.url)
        return versions_plan(self.name, self.location.url, changes, listing, self.reader)

    def apply_restore(self, plan: RestorePlan) -> None:
        if not plan.changes:
            return
        if not isinstance(plan, S3RestorePlan):
            raise UsageError(f"resource {self.name!r}: this restore plan is not an S3 plan")
        made: dict[str, tuple[str, str]] = {}
        try:
            apply_plan(self.conn, self.location, plan, self.context.progress, made)
        finally:
            if made:
                current = {p: v for p, v in plan.current_versions.items() if p not in made}
                self._copies().remember(made, current)

    # ---- reading recorded states ------------------------------------------------------

    def diff_states(self, old: State, new: State | None) -> list[Change]:
        old_manifest = self._manifest_of(old, same_url=new is None)
        if new is None:
            return self._changes(old_manifest, self._current(old_manifest)[1])
        new_manifest = self._manifest_of(new, same_url=False)
        return list(diff_trees(self.reader.load, old_manifest, new_manifest))

    def references(self, state: State) -> Iterator[ObjectRef]:
        root = check_object_id(state.get("manifest"), "S3 manifest id in snapshot")
        yield ObjectRef(root, True)
        for _, entry in walk_tree(self.reader.load, root):
            yield ObjectRef(entry.id, entry.is_dir)

    def _recorded_files(
        self, state: State, names: list[str] | None
    ) -> Iterator[tuple[str, KeyRecord]]:
        manifest = self._manifest_of(state)
        assert manifest is not None
        for path, entry in self.reader.entries(manifest):
            if names is None or _matches(path, names):
                yield path, self.reader.record(entry.id)

    def export(self, state: State, dest: str) -> int:
        if state.get("keep", KEEP_VERSIONS) != KEEP_VERSIONS:
            raise UsageError(
                f"resource {self.name!r} keeps hashes only; there is nothing to export"
            )
        os.makedirs(dest, exist_ok=True)
        count = 0
        for path, record in self._recorded_files(state, None):
            write_export(self.conn, self.location, path, record, dest)
            count += 1
        return count

    def read_files(self, state: State, names: list[str]) -> Iterator[tuple[str, bytes]]:
        current_only = state.get("keep", KEEP_VERSIONS) != KEEP_VERSIONS
        for path, record in self._recorded_files(state, names):
            yield path, fetch_version(self.conn, self.location, path, record, current_only)

    def recorded_view(self, state: State) -> RecordedView:
        current_only = state.get("keep", KEEP_VERSIONS) != KEEP_VERSIONS

        def open_version(path: str, entry: TreeEntry) -> BinaryIO:
            record = self.reader.record(entry.id)
            with _reaching():
                data = fetch_version(self.conn, self.location, path, record, current_only)
            return io.BytesIO(data)

        manifest = self._manifest_of(state)
        size = int(state.get("bytes", 0))
        return TreeView(self.context.store, self.reader.load, manifest, size, opener=open_version)

    def describe(self, state: State | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {"url": self.spec.params.get("url"), "keep": self.keep}
        if "endpoint_url" in self.spec.params:
            out["endpoint_url"] = self.spec.params["endpoint_url"]
        if state is not None:
            out.update(
                objects=state.get("objects"),
                bytes=state.get("bytes"),
                versioned=state.get("versioned"),
            )
        return out

    def forget(self) -> None:
        self._copies().forget_all()


@contextmanager
def _reaching() -> Iterator[None]:
    """Requests to the bucket: an error that is not about recorded content (the endpoint,
    the credentials, the bucket, a missing boto3) becomes an UnreachableError."""
    try:
        yield
    except IntegrityError:
        raise
    except DwsError as exc:
        raise UnreachableError(exc.message, exit_code=exc.exit_code) from None


def _matches(path: str, names: list[str]) -> bool:
    base = path.rsplit("/", 1)[-1]
    return any(fnmatch.fnmatchcase(base, pat) or fnmatch.fnmatchcase(path, pat) for pat in names)
