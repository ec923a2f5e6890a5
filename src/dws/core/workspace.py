"""Opening and creating workspaces; access to their records, store and resources."""

from __future__ import annotations

import contextlib
import json
import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from dws.core.layout import Layout, find_workspace_root
from dws.core.lock import workspace_lock
from dws.errors import FormatError, NotFoundError, UsageError
from dws.model.paths import META_DIR_NAME
from dws.model.progress import Progress, no_progress
from dws.model.records import (
    WORKSPACE_FORMAT,
    Head,
    ResourceSpec,
    WorkspaceInfo,
    decode_config,
    decode_head,
    decode_resources,
    decode_workspace_info,
    encode_record,
    encode_resources,
    upgraded_workspace_info,
)
from dws.model.suggest import did_you_mean
from dws.resources.base import Resource, ResourceContext
from dws.resources.registry import resource_type
from dws.store.base import ObjectStore
from dws.store.fileio import write_atomic
from dws.store.packed import PackedObjectStore

GITIGNORE = "objects/\nlocal/\n"
DEFAULT_CONFIG: dict[str, Any] = {
    "remotes": {},
    "results": {"metrics": ["metrics.json", "results.json"]},
}


def utc_now() -> str:
    """The current time as an ISO-8601 UTC string."""
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _read(path: str, what: str) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        raise FormatError(f"{what} is missing ({path}); the workspace is damaged") from None


class Workspace:
    """An open workspace. Cheap to construct; reads records on demand."""

    def __init__(self, root: str, info: WorkspaceInfo) -> None:
        self.root = root
        self.layout = Layout(root)
        self.info = info
        self._store: ObjectStore | None = None
        self.progress: Progress = no_progress

    # ---- opening ----------------------------------------------------------------------

    @classmethod
    def init(cls, directory: str, name: str | None = None) -> Workspace:
        """Make ``directory`` a workspace; refuse if it (or a parent) already is one."""
        root = os.path.abspath(directory)
        if not os.path.isdir(root):
            raise UsageError(f"{directory} is not a directory")
        existing = find_workspace_root(root)
        if existing is not None:
            where = "this directory" if existing == root else existing
            raise UsageError(f"{where} is already a workspace")
        layout = Layout(root)
        if os.path.exists(layout.meta):
            raise UsageError(f"{layout.meta} exists but is not a workspace; move it away first")
        info = WorkspaceInfo(
            WORKSPACE_FORMAT,
            str(uuid.uuid4()),
            name or os.path.basename(root) or "workspace",
            utc_now(),
        )
        staging = os.path.join(root, f".dataworkspace.init-{uuid.uuid4().hex[:8]}")
        os.makedirs(staging)
        for sub in ("snapshots", "tags", "lineage/runs", "lineage/steps", "local"):
            os.makedirs(os.path.join(staging, sub))
        PackedObjectStore.create(os.path.join(staging, "objects"))
        _write_new(os.path.join(staging, "workspace.json"), encode_record(info))
        _write_new(os.path.join(staging, "resources.json"), b"[]\n")
        _write_new(os.path.join(staging, "config.json"), _json_bytes(DEFAULT_CONFIG))
        _write_new(os.path.join(staging, ".gitignore"), GITIGNORE.encode())
        os.rename(staging, layout.meta)  # the commit point: a workspace appears whole or not
        return cls(root, info)

    @classmethod
    def open(cls, start: str = ".") -> Workspace:
        """Open the workspace containing ``start`` (searching parent directories)."""
        root = find_workspace_root(start)
        if root is None:
            raise NotFoundError(
                f"not in a workspace: no {META_DIR_NAME}/ at or above {os.path.abspath(start)} "
                "(run `dws init` first)"
            )
        layout = Layout(root)
        info = decode_workspace_info(_read(layout.workspace_json, "workspace.json"))
        _make_missing_directories(layout)
        return cls(root, info)

    # ---- records ----------------------------------------------------------------------

    def resource_specs(self) -> list[ResourceSpec]:
        """Registered resources in the order they were added."""
        return decode_resources(_read(self.layout.resources_json, "resources.json"))

    def save_resource_specs(self, specs: list[ResourceSpec]) -> None:
        """Replace resources.json atomically."""
        write_atomic(self.layout.resources_json, encode_resources(specs) + b"\n", durable=True)

    def config(self) -> dict[str, Any]:
        """The parsed config.json."""
        return decode_config(_read(self.layout.config_json, "config.json"))

    def head(self) -> Head:
        """The machine-local head (current snapshot and per-resource bases)."""
        try:
            with open(self.layout.local_file("head.json"), "rb") as handle:
                return decode_head(handle.read())
        except FileNotFoundError:
            return Head()

    def save_head(self, head: Head) -> None:
        """Replace local/head.json atomically."""
        write_atomic(self.layout.local_file("head.json"), encode_record(head), durable=True)

    # ---- store and resources ----------------------------------------------------------

    @property
    def store(self) -> ObjectStore:
        """The local object store (a format-1 workspace is marked format 2 first: the
        store may write version-2 packs, which a version-1 dws must refuse, not misread)."""
        if self._store is None:
            self.mark_current_format()
            self._store = PackedObjectStore(self.layout.objects)
        return self._store

    def mark_current_format(self) -> None:
        """Mark a format-1 workspace as format 2 (its store is read as it is; what this
        version writes to it a version-1 dws could not read)."""
        if self.info.format < WORKSPACE_FORMAT:
            data = upgraded_workspace_info(self.info)
            write_atomic(self.layout.workspace_json, data, durable=True)
            self.info = decode_workspace_info(data)

    def release(self) -> None:
        """Close the store's open files (an unfinished pack is dropped)."""
        if self._store is not None:
            self._store.close()
            self._store = None

    def store_generation(self) -> int:
        """Bumped by gc; stat-cache knowledge of stored blobs older than this is stale."""
        try:
            with open(self.layout.local_file("store-generation"), encoding="ascii") as handle:
                return int(handle.read().strip() or 0)
        except (FileNotFoundError, ValueError):
            return 0

    def bump_store_generation(self) -> None:
        """Invalidate what stat caches know about blob presence."""
        value = str(self.store_generation() + 1).encode()
        write_atomic(self.layout.local_file("store-generation"), value, durable=True)

    def context(self) -> ResourceContext:
        """What resources get to work with."""
        return ResourceContext(
            self.root, self.layout.local, self.store, self.store_generation(), self.progress
        )

    def resource(self, spec: ResourceSpec) -> Resource:
        """Instantiate the resource described by ``spec``."""
        return resource_type(spec.type)(spec, self.context())

    def resource_spec(self, name: str, specs: list[ResourceSpec] | None = None) -> ResourceSpec:
        """Registered resource ``name`` (looked up in ``specs`` when given); an unknown name
        is a NotFoundError naming the closest registered names."""
        specs = self.resource_specs() if specs is None else specs
        found = next((s for s in specs if s.name == name), None)
        if found is None:
            hint = did_you_mean(name, [s.name for s in specs])
            raise NotFoundError(f"no resource named {name!r}{hint}")
        return found

    def resources(self, names: list[str] | None = None) -> list[Resource]:
        """All resources, or those named (unknown names are an error)."""
        specs = self.resource_specs()
        if names is not None:
            for name in names:
                self.resource_spec(name, specs)
            specs = [s for s in specs if s.name in names]
        return [self.resource(spec) for spec in specs]

    @contextlib.contextmanager
    def locked(self, command: str, *, at_least: float = 0.0) -> Iterator[None]:
        """Hold the workspace lock while mutating; wait at least ``at_least`` seconds for
        it (e.g. to record a run that has already happened)."""
        with workspace_lock(self.layout.local_file("lock"), command, at_least=at_least):
            yield


def _make_missing_directories(layout: Layout) -> None:
    """Make again, as `dws init` makes them, the directories a git checkout of
    .dataworkspace/ lacks: objects/ and local/ (git ignores them) and those git drops while
    they are empty. A workspace that cannot be written to is left as it is."""
    try:
        if not os.path.isdir(layout.objects):
            PackedObjectStore.create(layout.objects)
        for path in (layout.snapshots, layout.tags, layout.local):
            os.makedirs(path, exist_ok=True)
        for sub in ("runs", "steps"):
            os.makedirs(os.path.join(layout.lineage, sub), exist_ok=True)
    except OSError:
        pass


def _json_bytes(value: Any) -> bytes:
    return (json.dumps(value, indent=2, sort_keys=True) + "\n").encode()


def _write_new(path: str, data: bytes) -> None:
    with open(path, "xb") as handle:
        handle.write(data)
