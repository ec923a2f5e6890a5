"""Keeping the store tidy and honest: tag, delete-snapshot, gc, fsck."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from dws.core.catalog import SnapshotCatalog
from dws.core.leftovers import collect_leftovers
from dws.core.lineage.catalog import run_trees
from dws.core.lineage.swap_journal import journaled_states
from dws.core.recovery import recovered_states, recovery_records
from dws.core.remote.cache import read_unfetched
from dws.core.views import resource_for
from dws.core.workspace import Workspace
from dws.errors import DwsError, RefusedError
from dws.model.records import SnapshotRecord
from dws.model.roles import Role
from dws.resources.base import ObjectRef
from dws.store.base import CorruptObjectError, ObjectMissingError


def tag_snapshot(ws: Workspace, ref: str, tag: str, *, force: bool = False) -> str:
    """Point ``tag`` at snapshot ``ref``; return the snapshot id."""
    with ws.locked("tag"):
        catalog = SnapshotCatalog(ws.layout)
        snapshot_id = catalog.resolve(ref, ws.head().snapshot)
        catalog.set_tag(tag, snapshot_id, force=force)
        return snapshot_id


def untag(ws: Workspace, tag: str) -> None:
    """Remove a tag (the snapshot stays)."""
    with ws.locked("tag"):
        SnapshotCatalog(ws.layout).delete_tag(tag)


def delete_snapshot(ws: Workspace, ref: str, *, force: bool = False) -> tuple[str, list[str]]:
    """Delete a snapshot record and its tags; objects go at the next gc."""
    with ws.locked("delete-snapshot"):
        catalog = SnapshotCatalog(ws.layout)
        head = ws.head()
        snapshot_id = catalog.resolve(ref, head.snapshot)
        restorable = {s.name for s in ws.resource_specs() if s.role.restored}
        in_use = snapshot_id == head.snapshot or any(
            base == snapshot_id for name, base in head.bases.items() if name in restorable
        )
        if in_use and not force:
            raise RefusedError(
                f"snapshot {snapshot_id[:12]} is the one the workspace's files were last "
                "snapshotted at or restored to; deleting it makes them look unsaved (use --force)"
            )
        tags = catalog.tags_by_snapshot().get(snapshot_id, [])
        for tag in tags:
            catalog.delete_tag(tag)
        catalog.delete(snapshot_id)
        return snapshot_id, tags


def _references(ws: Workspace, record: SnapshotRecord) -> Iterator[ObjectRef]:
    for name, recorded in record.resources.items():
        yield from resource_for(ws, name, recorded).references(recorded.state)


@dataclass
class GcReport:
    """What gc removed."""

    kept: int
    removed: int
    removed_bytes: int
    temporary: int


def gc(ws: Workspace, *, dry_run: bool = False) -> GcReport:
    """Delete every object no snapshot, run record, journaled swap or recovery record
    reaches."""
    with ws.locked("gc"):
        catalog = SnapshotCatalog(ws.layout)
        reachable: set[str] = set()
        for record in catalog.all():
            reachable.update(ref.oid for ref in _references(ws, record))
        kept = [*journaled_states(ws), *recovered_states(ws)]  # swap --back, dws recover
        for name, recorded in kept:
            reachable.update(
                ref.oid for ref in resource_for(ws, name, recorded).references(recorded.state)
            )
        store = ws.store
        code = frozenset(r.name for r in ws.resources() if r.role is Role.CODE)
        reachable.update(run_trees(ws.layout, store, code))
        pruned = store.prune(reachable.__contains__, dry_run=dry_run)
        if (pruned.removed or pruned.repacked) and not dry_run:
            ws.bump_store_generation()
        temporary = 0 if dry_run else store.clean_temporary() + collect_leftovers(ws.layout)
        return GcReport(len(reachable), pruned.removed, pruned.removed_bytes, temporary)


@dataclass
class FsckReport:
    """What fsck checked and found."""

    snapshots: int = 0
    objects: int = 0
    problems: list[str] = field(default_factory=list)
    not_fetched: int = 0  # blobs of snapshots pulled without their data (not problems)


def fsck(ws: Workspace, *, verify_content: bool = True) -> FsckReport:
    """Check every record parses, every referenced object exists, every object hashes
    to its name."""
    report = FsckReport()
    catalog = SnapshotCatalog(ws.layout)
    try:
        ws.resource_specs()
        ws.config()
        ws.head()
    except DwsError as exc:
        report.problems.append(exc.message)
    store = ws.store
    unfetched = read_unfetched(ws)
    for snapshot_id in catalog.ids():
        try:
            record = catalog.get(snapshot_id)
            for ref in _references(ws, record):
                if not store.has(ref.oid):
                    if snapshot_id in unfetched and not ref.tree:
                        report.not_fetched += 1
                        continue
                    report.problems.append(
                        f"snapshot {snapshot_id[:12]}: object {ref.oid[:12]} is missing"
                    )
        except (ObjectMissingError, CorruptObjectError) as exc:
            report.problems.append(f"snapshot {snapshot_id[:12]}: {exc.problem}")
        except DwsError as exc:
            report.problems.append(f"snapshot {snapshot_id[:12]}: {exc.message}")
        report.snapshots += 1
    _check_recoveries(ws, report)
    try:
        for tag, target in catalog.tags().items():
            if not catalog.exists(target):
                report.problems.append(f"tag {tag!r} names missing snapshot {target[:12]}")
    except DwsError as exc:
        report.problems.append(exc.message)
    report.problems.extend(store.check_structure())
    for oid in store.iter_ids():
        report.objects += 1
        if verify_content and not store.verify(oid):
            report.problems.append(f"object {oid[:12]} is corrupt (content does not match its id)")
    return report


def _check_recoveries(ws: Workspace, report: FsckReport) -> None:
    """Every recovery record parses and its objects are stored."""
    try:
        records = recovery_records(ws)
    except DwsError as exc:
        report.problems.append(exc.message)
        return
    for record in records:
        for name, saved in record.resources.items():
            refs = resource_for(ws, name, saved.saved).references(saved.saved.state)
            missing = [ref.oid for ref in refs if not ws.store.has(ref.oid)]
            if missing:
                report.problems.append(
                    f"recovery record {record.id[:10]}: object {missing[0][:12]} is missing"
                )
