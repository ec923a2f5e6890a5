"""Pull: the remote's new snapshot records, their trees and lineage, tags, and the blobs of
the snapshots asked for (the latest by default).

Everything read from the remote is validated before anything is written locally: records
must hash to their ids, trees must decode (no ``..``, absolute or NUL names), objects must
hash to their ids. Objects go in first, then run records, snapshot records, tags.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from dws.core.catalog import SnapshotCatalog
from dws.core.remote import layout
from dws.core.remote.cache import RemoteCache, read_unfetched, write_unfetched
from dws.core.remote.config import RemoteConfig, get_remote
from dws.core.remote.open import check_same_workspace, open_remote
from dws.core.remote.records import TagConflict, read_snapshot, read_tag, snapshot_ids
from dws.core.remote.tombstones import deleted_snapshots
from dws.core.remote.walk import FetchingStore, snapshot_refs
from dws.core.views import resource_for
from dws.core.workspace import Workspace
from dws.errors import DwsError, FormatError, NotFoundError, UsageError
from dws.model.ids import check_tag_name, looks_like_id_prefix
from dws.model.records import SnapshotRecord
from dws.model.runs import decode_run_record, decode_step_memory
from dws.model.suggest import did_you_mean
from dws.store import transfer
from dws.store.fileio import write_atomic
from dws.store.remote_backend import RemoteBackend


@dataclass
class PullReport:
    """What a pull did."""

    remote: str
    url: str
    snapshots: list[str] = field(default_factory=list)
    fetched: list[str] = field(default_factory=list)
    objects: int = 0
    bytes: int = 0
    runs: int = 0
    steps: int = 0
    tags: list[str] = field(default_factory=list)
    conflicts: list[TagConflict] = field(default_factory=list)
    deleted: dict[str, str] = field(default_factory=dict)  # local snapshots deleted there


@dataclass
class _Plan:
    records: dict[str, SnapshotRecord]
    remote_ids: set[str]
    tags: dict[str, str]
    runs: dict[str, bytes] = field(default_factory=dict)
    steps: dict[str, bytes] = field(default_factory=dict)
    deleted: dict[str, str] = field(default_factory=dict)


def pull(
    ws: Workspace,
    name: str | None = None,
    *,
    everything: bool = False,
    snapshot: str | None = None,
    force: bool = False,
) -> PullReport:
    """Fetch what the remote has and this workspace lacks (see the module docstring)."""
    config = get_remote(ws, name)
    with ws.locked("pull"):
        remote = open_remote(config, local_dir=ws.layout.local)
        try:
            check_same_workspace(ws, remote)
            return pull_from(ws, config, remote, everything=everything, ref=snapshot, force=force)
        finally:
            remote.close()


def pull_from(
    ws: Workspace,
    config: RemoteConfig,
    remote: RemoteBackend,
    *,
    everything: bool,
    ref: str | None,
    force: bool,
) -> PullReport:
    """The pull itself, on an open remote (clone uses it too; the caller holds the lock)."""
    report = PullReport(config.name, config.url)
    cache = RemoteCache(ws, config.name, config.url)
    catalog = SnapshotCatalog(ws.layout)
    plan = _read_remote(ws, remote, catalog, cache)
    report.deleted = plan.deleted
    chosen = _choose(ws, catalog, plan, everything, ref)
    treeless = _treeless(ws, catalog, plan.remote_ids)
    fetching = FetchingStore(ws.store, remote.objects)
    blobs: set[str] = set()
    chosen_refs: set[str] = set()
    wanted_ids = sorted(set(plan.records) | chosen | treeless)
    records = [plan.records.get(i) or catalog.get(i) for i in wanted_ids]
    for done, record in enumerate(records, 1):
        ws.progress("reading trees", done, len(records))
        refs = list(snapshot_refs(ws, record, fetching))  # validates every tree
        if record.id in chosen:
            chosen_refs.update(r.oid for r in refs)
            blobs.update(r.oid for r in refs if not r.tree)
        _collect_runs(ws, remote, record, plan)
    _collect_steps(ws, remote, plan)
    # everything validated: now write, objects first
    report.objects = fetching.commit()
    wanted = sorted(oid for oid in blobs if not ws.store.has(oid))
    tmp_dir = os.path.join(ws.layout.objects, "tmp")
    total = len(wanted)
    ws.progress("pulling objects", 0, total)
    report.bytes = transfer.fetch(
        remote, ws.store, tmp_dir, wanted, lambda done: ws.progress("pulling objects", done, total)
    )
    report.objects += total
    report.fetched = sorted(chosen)
    ws.store.flush()
    report.runs = _write_new_files(os.path.join(ws.layout.lineage, "runs"), plan.runs)
    # named as blob-less before their records appear: a pull stopped in between must not
    # leave fsck calling them damaged (ids without a record are ignored)
    write_unfetched(ws, (read_unfetched(ws) | set(plan.records) | treeless) - chosen)
    for record in sorted(plan.records.values(), key=lambda r: (r.created, r.id)):
        catalog.put(record)
        report.snapshots.append(record.id)
    report.steps = _write_new_files(os.path.join(ws.layout.lineage, "steps"), plan.steps)
    _apply_tags(catalog, plan.tags, force, report)
    cache.add(chosen, chosen_refs - cache.known_objects(plan.remote_ids))
    return report


def _read_remote(
    ws: Workspace, remote: RemoteBackend, catalog: SnapshotCatalog, cache: RemoteCache
) -> _Plan:
    remote_ids = set(snapshot_ids(remote))
    local_ids = set(catalog.ids())
    deleted = deleted_snapshots(remote, details=local_ids)  # never brought back
    remote_ids -= set(deleted)
    records: dict[str, SnapshotRecord] = {}
    for snapshot_id in sorted(remote_ids - local_ids):
        try:
            record = read_snapshot(remote, snapshot_id)
        except FormatError as exc:
            raise FormatError(f"{exc.message}; nothing was pulled") from None
        if record is None:
            raise FormatError(f"the remote's snapshot {snapshot_id[:12]} vanished while read")
        records[snapshot_id] = record
    tags: dict[str, str] = {}
    for tag, token in remote.files.list(layout.TAGS).items():
        try:
            check_tag_name(tag)
        except UsageError:
            continue
        cached = cache.tags.get(tag)
        if cached is not None and cached[1] == token:
            tags[tag] = cached[0]
            continue
        found = read_tag(remote, tag)
        if found is not None:
            tags[tag] = found[0]
            cache.tags[tag] = (found[0], token)
    for tag, target in list(tags.items()):
        if target in deleted:
            del tags[tag]  # left by a push that raced the deletion
        elif target not in remote_ids:
            raise FormatError(f"the remote's tag {tag!r} names a snapshot it does not have")
    gone = {i: entry.describe() for i, entry in deleted.items() if i in local_ids}
    return _Plan(records, remote_ids, tags, deleted=gone)


def _treeless(ws: Workspace, catalog: SnapshotCatalog, remote_ids: set[str]) -> set[str]:
    """Records this workspace has but whose trees its store lacks, which the remote also
    has: the records a `git clone` of the workspace brought. Their trees are pulled (and
    their blobs named as not fetched), so fsck, diff and restore can read them."""
    out: set[str] = set()
    for snapshot_id in sorted(set(catalog.ids()) & remote_ids):
        record = catalog.get(snapshot_id)
        for name, recorded in record.resources.items():
            try:
                refs = resource_for(ws, name, recorded).references(recorded.state)
                root = next((ref.oid for ref in refs if ref.tree), None)
            except DwsError:
                root = None
                out.add(snapshot_id)
            if root is not None and not ws.store.has(root):
                out.add(snapshot_id)
            if snapshot_id in out:
                break
    return out


def _choose(
    ws: Workspace, catalog: SnapshotCatalog, plan: _Plan, everything: bool, ref: str | None
) -> set[str]:
    """The snapshots whose blobs to fetch."""
    if everything:
        return set(plan.remote_ids)
    if ref is not None:
        return {resolve_remote_ref(plan.remote_ids, plan.tags, ref)}
    if not plan.remote_ids:
        return set()
    return {latest(plan.remote_ids, plan.records, catalog)}


def latest(ids: set[str], records: dict[str, SnapshotRecord], catalog: SnapshotCatalog) -> str:
    """The newest of ``ids`` by (created, id)."""
    dated = [(records[i] if i in records else catalog.get(i)) for i in ids]
    return max(dated, key=lambda r: (r.created, r.id)).id


def resolve_remote_ref(remote_ids: set[str], tags: dict[str, str], ref: str) -> str:
    """A remote tag, or a unique id prefix of a remote snapshot."""
    if ref in tags:
        return tags[ref]
    lowered = ref.lower()
    if looks_like_id_prefix(lowered):
        matches = [i for i in remote_ids if i.startswith(lowered)]
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise UsageError(f"snapshot prefix {ref!r} is ambiguous on the remote")
    raise NotFoundError(f"the remote has no snapshot or tag named {ref!r}{did_you_mean(ref, tags)}")


def _collect_runs(
    ws: Workspace, remote: RemoteBackend, record: SnapshotRecord, plan: _Plan
) -> None:
    runs_dir = os.path.join(ws.layout.lineage, "runs")
    for run_id in record.runs:
        if run_id in plan.runs or os.path.exists(os.path.join(runs_dir, run_id + ".json")):
            continue
        data = remote.files.read(layout.run_key(run_id))
        if data is None:
            continue  # the record names a run its pusher never had
        try:
            decode_run_record(data, run_id)
        except FormatError as exc:
            raise FormatError(f"the remote's {exc.message}; nothing was pulled") from None
        plan.runs[run_id + ".json"] = data


def _collect_steps(ws: Workspace, remote: RemoteBackend, plan: _Plan) -> None:
    steps_dir = os.path.join(ws.layout.lineage, "steps")
    for file_name in sorted(remote.files.list(layout.STEPS)):
        step = layout.step_name(file_name)
        if step is None or os.path.exists(os.path.join(steps_dir, file_name)):
            continue
        data = remote.files.read(layout.step_key(file_name))
        if data is None:
            continue
        try:
            decode_step_memory(data, step)
        except FormatError as exc:
            raise FormatError(f"the remote's {exc.message}; nothing was pulled") from None
        plan.steps[file_name] = data


def _write_new_files(directory: str, files: dict[str, bytes]) -> int:
    os.makedirs(directory, exist_ok=True)
    written = 0
    for file_name, data in sorted(files.items()):
        path = os.path.join(directory, file_name)
        if not os.path.exists(path):
            write_atomic(path, data, durable=True)
            written += 1
    return written


def _apply_tags(
    catalog: SnapshotCatalog, tags: dict[str, str], force: bool, report: PullReport
) -> None:
    local = catalog.tags()
    for tag, target in sorted(tags.items()):
        current = local.get(tag)
        if current == target:
            continue
        if current is not None and not force:
            report.conflicts.append(TagConflict(tag, current, target))
            continue
        catalog.set_tag(tag, target, force=True)
        report.tags.append(tag)
