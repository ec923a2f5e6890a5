"""Read-only views of a workspace: status, history, show, diff."""

from __future__ import annotations

from dataclasses import dataclass, field

from dws.core.catalog import SnapshotCatalog
from dws.core.workspace import Workspace
from dws.errors import UnreachableError
from dws.model.records import ResourceSnapshot, ResourceSpec, SnapshotRecord
from dws.model.roles import Role
from dws.model.treediff import Change
from dws.resources.base import Resource


@dataclass
class ResourceChanges:
    """Changes of one resource between two states."""

    name: str
    type: str
    role: Role
    changes: list[Change]
    note: str = ""
    warnings: list[str] = field(default_factory=list)
    base: str | None = None
    notes: list[str] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)  # names not UTF-8, left out
    unreachable: str | None = None  # why the content could not be read (status only)

    @property
    def visible(self) -> list[Change]:
        """Changes worth listing."""
        return [c for c in self.changes if c.visible]


class StatusReport(list[ResourceChanges]):
    """Each resource's changes, and the HEAD they were computed against (read once, so a
    snapshot finishing meanwhile cannot pair a new HEAD with old changes)."""

    def __init__(self, head: str | None, items: list[ResourceChanges]) -> None:
        super().__init__(items)
        self.head = head


def status(ws: Workspace) -> StatusReport:
    """For each resource, what changed since its base snapshot; a resource that cannot be
    reached is reported so (``unreachable``), and the others as usual."""
    catalog = SnapshotCatalog(ws.layout)
    head = ws.head()
    out = []
    for resource in ws.resources():
        base_id = head.bases.get(resource.name)
        recorded = _recorded(catalog, base_id, resource)
        note = "" if recorded is not None else "never snapshotted"
        try:
            resource.check_reachable()
            changes, unreadable = resource.status_report(recorded.state if recorded else None)
            notes = resource.notes(recorded.state if recorded else None, None)
        except UnreachableError as exc:  # reported; the other resources still are
            out.append(
                ResourceChanges(
                    resource.name,
                    resource.spec.type,
                    resource.role,
                    [],
                    note,
                    list(resource.warnings),
                    base_id if recorded else None,
                    unreachable=exc.message,
                )
            )
            continue
        out.append(
            ResourceChanges(
                resource.name,
                resource.spec.type,
                resource.role,
                changes,
                note,
                list(resource.warnings),
                base_id if recorded else None,
                notes,
                unreadable,
            )
        )
    return StatusReport(head.snapshot, out)


def _recorded(
    catalog: SnapshotCatalog, snapshot_id: str | None, resource: Resource
) -> ResourceSnapshot | None:
    if not snapshot_id or not catalog.exists(snapshot_id):
        return None
    recorded = catalog.get(snapshot_id).resources.get(resource.name)
    if recorded is None or recorded.type != resource.spec.type:
        return None
    return recorded


def resource_for(ws: Workspace, name: str, recorded: ResourceSnapshot) -> Resource:
    """The resource that can read ``recorded``: the registered one, or a detached reader."""
    for spec in ws.resource_specs():
        if spec.name == name and spec.type == recorded.type:
            return ws.resource(spec)
    return ws.resource(ResourceSpec(name, recorded.type, recorded.role, {}))


def diff(ws: Workspace, ref_a: str, ref_b: str | None = None) -> list[ResourceChanges]:
    """File-level changes from snapshot ``ref_a`` to ``ref_b`` (None: the working state)."""
    catalog = SnapshotCatalog(ws.layout)
    head = ws.head().snapshot
    old = catalog.get(catalog.resolve(ref_a, head))
    new = catalog.get(catalog.resolve(ref_b, head)) if ref_b is not None else None
    registered = [s.name for s in ws.resource_specs()]
    recorded = [*old.resources, *(new.resources if new is not None else [])]
    names = [n for n in registered if new is None or n in recorded]
    names += sorted(set(recorded) - set(names))
    return [_diff_one(ws, name, old, new) for name in names]


def _diff_one(
    ws: Workspace, name: str, old: SnapshotRecord, new: SnapshotRecord | None
) -> ResourceChanges:
    before = old.resources.get(name)
    if new is None:
        current = {r.name: r for r in ws.resources()}
        resource = current.get(name)
        if resource is None:
            assert before is not None
            return ResourceChanges(name, before.type, before.role, [], "no longer registered")
        if before is None or before.type != resource.spec.type:
            return ResourceChanges(name, resource.spec.type, resource.role, [], "not in snapshot")
        changes = resource.diff_states(before.state, None)
        return ResourceChanges(
            name,
            resource.spec.type,
            resource.role,
            changes,
            notes=resource.notes(before.state, None),
        )
    after = new.resources.get(name)
    if before is None or after is None:
        present = after or before
        assert present is not None
        note = "added" if before is None else "removed"
        return ResourceChanges(name, present.type, present.role, [], f"resource {note}")
    if before.type != after.type:
        return ResourceChanges(name, after.type, after.role, [], "resource type changed")
    reader = resource_for(ws, name, before)
    changes = reader.diff_states(before.state, after.state)
    notes = reader.notes(before.state, after.state)
    return ResourceChanges(name, after.type, after.role, changes, notes=notes)


def history(ws: Workspace) -> list[tuple[SnapshotRecord, list[str]]]:
    """Every snapshot, newest first, with its tags."""
    catalog = SnapshotCatalog(ws.layout)
    tags = catalog.tags_by_snapshot()
    return [(r, tags.get(r.id, [])) for r in reversed(catalog.all())]


def show(ws: Workspace, ref: str) -> tuple[SnapshotRecord, list[str]]:
    """One snapshot with its tags."""
    catalog = SnapshotCatalog(ws.layout)
    record = catalog.get(catalog.resolve(ref, ws.head().snapshot))
    return record, catalog.tags_by_snapshot().get(record.id, [])


def resolve(ws: Workspace, ref: str) -> str:
    """Full id of a snapshot reference."""
    return SnapshotCatalog(ws.layout).resolve(ref, ws.head().snapshot)
