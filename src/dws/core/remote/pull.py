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
from dws.core.definitions import lacking
from dws.core.lines import pulled_lines
from dws.core.remote import layout
from dws.core.remote.cache import RemoteCache, read_unfetched, write_unfetched
from dws.core.remote.config import RemoteConfig, get_remote
from dws.core.remote.open import check_same_workspace, open_remote, remote_objects
from dws.core.remote.records import (
    TagConflict,
    read_snapshot,
    read_tag,
    resolve_remote_ref,
    snapshot_ids,
)
from dws.core.remote.tombstones import deleted_snapshots
from dws.core.remote.walk import FetchingStore, snapshot_refs
from dws.core.views import resource_for
from dws.core.workspace import Workspace
from dws.errors import DwsError, FormatError, IntegrityError, UsageError
from dws.model.ids import check_tag_name
from dws.model.lines import OtherLine
from dws.model.records import SnapshotRecord
from dws.model.runs import decode_run_record, decode_step_memory
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
    damaged: dict[str, str] = field(default_factory=dict)  # remote snapshot -> what is wrong
    resources_added: list[str] = field(default_factory=list)
    resources_not_added: dict[str, str] = field(default_factory=dict)  # name -> why
    without_data: list[str] = field(default_factory=list)  # new snapshots, blobs not fetched
    other_lines: list[OtherLine] = field(default_factory=list)  # see core.lines
    deleted: dict[str, str] = field(default_factory=dict)  # local snapshots deleted there


@dataclass
class _Plan:
    records: dict[str, SnapshotRecord]
    remote_ids: set[str]
    tags: dict[str, str]
    damaged: dict[str, str] = field(default_factory=dict)
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
    tag_data: bool = True,
) -> PullReport:
    """The pull itself, on an open remote (clone uses it too; the caller holds the lock).
    ``tag_data``: by default, also fetch the data of the snapshots the tags it moves here
    name (a clone restores one snapshot and fetches only its data).
    A remote snapshot that is damaged (its record, or a tree it needs, is missing or
    invalid) is skipped and reported; the others are pulled. Asking for a damaged one by
    ``ref`` fails."""
    report = PullReport(config.name, config.url)
    cache = RemoteCache(ws, config.name, config.url)
    catalog = SnapshotCatalog(ws.layout)
    seen_before = {tag: value[0] for tag, value in cache.tags.items()}
    plan = _read_remote(ws, remote, catalog, cache)
    report.deleted = plan.deleted
    moving = _tag_moves(catalog.tags(), plan.tags, seen_before, force, report)
    preferred = _choose(ws, catalog, plan, everything, ref)
    treeless = _treeless(ws, catalog, plan.remote_ids)
    fetching = FetchingStore(ws.store, remote.objects)
    blobs: set[str] = set()
    chosen_refs: set[str] = set()
    chosen: set[str] = set()

    def walk(record: SnapshotRecord, keep: bool) -> bool:
        """Read (and check) the record's trees; False when it is damaged."""
        mark = len(fetching.pending)
        try:
            refs = list(snapshot_refs(ws, record, fetching))  # validates every tree
        except DwsError as exc:
            fetching.discard_since(mark)
            plan.damaged[record.id] = exc.message
            plan.records.pop(record.id, None)
            return False
        if keep:
            chosen.add(record.id)
            chosen_refs.update(r.oid for r in refs)
            blobs.update(r.oid for r in refs if not r.tree)
        _collect_runs(ws, remote, record, plan)
        return True

    single = not everything and ref is None
    first = preferred[:1] if single else preferred
    if single and tag_data:  # and the snapshots the tags it moves name: `restore TAG` needs
        first = first + sorted(set(moving.values()) - set(first) - set(plan.damaged))
    wanted_ids = sorted(set(plan.records) | set(first) | treeless)
    for done, snapshot_id in enumerate(wanted_ids, 1):
        ws.progress("reading trees", done, len(wanted_ids))
        if snapshot_id in plan.damaged:
            continue
        walk(plan.records.get(snapshot_id) or catalog.get(snapshot_id), snapshot_id in first)
    if single and preferred and preferred[0] in plan.damaged:  # the next that is not
        for snapshot_id in preferred[1:]:
            record = plan.records.get(snapshot_id) or catalog.get(snapshot_id)
            if snapshot_id not in plan.damaged and walk(record, True):
                break
    elif ref is not None and preferred[0] in plan.damaged:
        raise IntegrityError(
            f"the remote's snapshot {preferred[0][:12]} is damaged: {plan.damaged[preferred[0]]}; "
            "nothing was pulled",
            details=[_repair_hint(preferred[0], config.name)],
        )
    _collect_steps(ws, remote, plan)
    # everything validated: now write, objects first
    report.objects, report.bytes = fetching.commit()  # the trees
    wanted = sorted(oid for oid in blobs if not ws.store.has(oid))
    tmp_dir = os.path.join(ws.layout.objects, "tmp")
    total = len(wanted)
    ws.progress("pulling objects", 0, total)
    with remote_objects(config):
        report.bytes += transfer.fetch(
            remote, ws.store, tmp_dir, wanted, lambda n: ws.progress("pulling objects", n, total)
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
    report.without_data = sorted(set(report.snapshots) - chosen)
    report.steps = _write_new_files(os.path.join(ws.layout.lineage, "steps"), plan.steps)
    _add_resources(ws, list(plan.records.values()), report)
    _apply_tags(catalog, moving, report)
    report.damaged = dict(sorted(plan.damaged.items()))
    cache.add(chosen, chosen_refs - cache.known_objects(plan.remote_ids - set(plan.damaged)))
    report.other_lines = pulled_lines(ws, report.snapshots)
    return report


def _repair_hint(snapshot_id: str, remote: str) -> str:
    """How a damaged remote snapshot is mended, or removed."""
    short = snapshot_id[:12]
    return (
        f"whoever has its data can repair it with `dws push --verify {remote}`; or delete it "
        f"from the remote with `dws delete-snapshot {short} --remote {remote}`"
    )


def damaged_notes(report: PullReport) -> list[str]:
    """One line per damaged remote snapshot a pull skipped, naming the fix."""
    return [
        f"the remote's snapshot {snapshot_id[:12]} is damaged and was skipped ({why}); "
        + _repair_hint(snapshot_id, report.remote)
        for snapshot_id, why in report.damaged.items()
    ]


def _add_resources(ws: Workspace, records: list[SnapshotRecord], report: PullReport) -> None:
    """Add the resources the pulled snapshots record and this workspace lacks."""
    if not records:
        return
    specs = ws.resource_specs()
    found = lacking(specs, records)
    if found.usable:
        ws.save_resource_specs(specs + found.usable)
        report.resources_added = [spec.name for spec in found.usable]
    report.resources_not_added = found.unusable


def _read_remote(
    ws: Workspace, remote: RemoteBackend, catalog: SnapshotCatalog, cache: RemoteCache
) -> _Plan:
    remote_ids = set(snapshot_ids(remote))
    local_ids = set(catalog.ids())
    deleted = deleted_snapshots(remote, details=local_ids)  # never brought back
    remote_ids -= set(deleted)
    records: dict[str, SnapshotRecord] = {}
    damaged: dict[str, str] = {}
    for snapshot_id in sorted(remote_ids - local_ids):
        try:
            record = read_snapshot(remote, snapshot_id)
        except FormatError as exc:
            damaged[snapshot_id] = exc.message
            continue
        if record is None:
            remote_ids.discard(snapshot_id)  # deleted while listed
            continue
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
    return _Plan(records, remote_ids, tags, damaged, deleted=gone)


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
) -> list[str]:
    """The snapshots whose blobs to fetch: all, or the one ``ref`` names; by default, in
    order of preference, the remote's snapshots on this workspace's line (HEAD and its
    descendants), newest first (a workspace without HEAD: all, newest first). Only the
    first that is not damaged is fetched."""
    if everything:
        return sorted(plan.remote_ids - set(plan.damaged))
    if ref is not None:
        return [resolve_remote_ref(plan.remote_ids, plan.tags, ref)]
    usable = plan.remote_ids - set(plan.damaged)
    dated = sorted(
        (plan.records[i] if i in plan.records else catalog.get(i) for i in usable),
        key=lambda r: (r.created, r.id),
        reverse=True,
    )
    head = ws.head().snapshot
    if head is None or not catalog.exists(head):
        return [r.id for r in dated]
    # HEAD's own data is here unless it was pulled without them
    if head not in read_unfetched(ws):
        dated = [r for r in dated if r.id != head]
    return [r.id for r in dated if _descends(r.id, head, plan.records, catalog)]


def _descends(
    snapshot_id: str, ancestor: str, records: dict[str, SnapshotRecord], catalog: SnapshotCatalog
) -> bool:
    """True when ``ancestor`` is ``snapshot_id`` or one of its parents' parents..."""
    seen: set[str] = set()
    current: str | None = snapshot_id
    while current is not None and current not in seen:
        if current == ancestor:
            return True
        seen.add(current)
        if current in records:
            current = records[current].parent
        elif catalog.exists(current):
            current = catalog.get(current).parent
        else:
            return False
    return False


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


def _tag_moves(
    local: dict[str, str],
    remote: dict[str, str],
    seen_before: dict[str, str],
    force: bool,
    report: PullReport,
) -> dict[str, str]:
    """The tags a pull sets here (tag -> snapshot): those missing here, and those whose
    value here is still what the remote held when this machine last saw it (nobody moved
    them here, so the remote's move is taken, as git updates a tracking ref). A tag moved
    both here and on the remote is a conflict (reported, kept here) unless ``force``."""
    moves: dict[str, str] = {}
    for tag, target in sorted(remote.items()):
        current = local.get(tag)
        if current == target:
            continue
        if current is None or force or seen_before.get(tag) == current:
            moves[tag] = target
        else:
            report.conflicts.append(TagConflict(tag, current, target))
    return moves


def _apply_tags(catalog: SnapshotCatalog, moves: dict[str, str], report: PullReport) -> None:
    for tag, target in sorted(moves.items()):
        if catalog.exists(target):  # not a damaged snapshot that was skipped
            catalog.set_tag(tag, target, force=True)
            report.tags.append(tag)
