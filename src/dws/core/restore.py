"""Restoring a snapshot: every resource but results back to its recorded state, after
checking that nothing unsaved would be overwritten."""

from __future__ import annotations

from dataclasses import dataclass, field

from dws.core.catalog import SnapshotCatalog
from dws.core.definitions import differing, how_to_add, lacking
from dws.core.recovery import RecoveryRecord, save_for_restore, would_save
from dws.core.trust import check_writable
from dws.core.workspace import Workspace
from dws.errors import DwsError, IntegrityError, RefusedError, UsageError
from dws.model.records import Head, ResourceSpec, SnapshotRecord
from dws.model.roles import Role
from dws.resources.base import Resource, RestorePlan, State, listed

LINK_COPY, LINK_HARDLINK = "copy", "hardlink"
RESULTS_NOT_REVERTED = "results are never reverted"
LINK_MODES = (LINK_COPY, LINK_HARDLINK)


@dataclass
class RestoreOutcome:
    """What restore did (or, with dry_run, would do)."""

    record: SnapshotRecord
    plans: list[RestorePlan]
    skipped: dict[str, str] = field(default_factory=dict)
    applied: bool = False
    recovery: RecoveryRecord | None = None  # what was saved before being overwritten
    to_save: int = 0  # paths a recovery record holds (or, with dry_run, would hold)
    added: list[str] = field(default_factory=list)  # resources added from the snapshot
    # resources the snapshot defines as other resources of the same name (name -> how)
    differing: dict[str, str] = field(default_factory=dict)


def restore_snapshot(
    ws: Workspace,
    ref: str,
    *,
    only: list[str] | None = None,
    exclude: list[str] | None = None,
    force: bool = False,
    dry_run: bool = False,
    link: str = LINK_COPY,
) -> RestoreOutcome:
    """Bring the chosen resources back to snapshot ``ref``; touch nothing if any check fails.
    What it overwrites that no snapshot holds (with ``force``, changes never snapshotted)
    is stored first, in a recovery record.

    ``link="hardlink"``: large files of source-data resources become read-only hard links
    to their store objects instead of copies (every file written there is read-only)."""
    if link not in LINK_MODES:
        raise UsageError(f"unknown link mode {link!r}; use one of: {', '.join(LINK_MODES)}")
    with ws.locked("restore"):
        catalog = SnapshotCatalog(ws.layout)
        head = ws.head()
        record = catalog.get(catalog.resolve(ref, head.snapshot))
        specs = ws.resource_specs()
        additions = resources_to_add(specs, record, only, exclude)
        resources, skipped = select_resources(ws, record, only, exclude, additions)
        check_writable(ws, resources)
        plans = [_plan(r, record, catalog, head) for r in resources]
        for resource, plan in zip(resources, plans, strict=True):
            plan.link = link == LINK_HARDLINK and resource.role is Role.SOURCE_DATA
        _check(plans, force or dry_run, record.id in catalog.unfetched(), record.id)
        outcome = RestoreOutcome(record, plans, skipped, to_save=would_save(plans, force=force))
        outcome.added = [spec.name for spec in additions]
        outcome.differing = differing(specs, record)
        if additions and not dry_run:
            ws.save_resource_specs(specs + additions)
        if dry_run or not resources:
            # nothing brought back: HEAD stays, so status, diff HEAD and snapshot still
            # compare with what the files match
            return outcome
        # nothing that is in no snapshot is overwritten before it is in the store
        outcome.recovery = save_for_restore(ws, head, record, resources, plans, force=force)
        apply_plans(ws, head, record, resources, plans)
        outcome.applied = True
        return outcome


def apply_plans(
    ws: Workspace,
    head: Head,
    record: SnapshotRecord,
    resources: list[Resource],
    plans: list[RestorePlan],
) -> None:
    """Carry out checked plans that bring ``resources`` to snapshot ``record``, moving the
    head along (callers hold the lock)."""
    for resource, plan in zip(resources, plans, strict=True):
        # an interrupted restore leaves files at their base or target version: both
        # count as saved when the next restore plans (see docs/reliability)
        head.restoring[resource.name] = record.id
        ws.save_head(head)
        resource.apply_restore(plan)
        head.bases[resource.name] = record.id
        del head.restoring[resource.name]
        head.snapshot = record.id
        ws.save_head(head)


def resources_to_add(
    specs: list[ResourceSpec],
    record: SnapshotRecord,
    only: list[str] | None,
    exclude: list[str] | None,
) -> list[ResourceSpec]:
    """The resources ``record`` records that the workspace lacks and a restore brings back,
    from the definitions the snapshot carries; one it cannot define (a directory on the
    machine the snapshot was taken on, a record without definitions) refuses the restore."""
    found = lacking(specs, [record])

    def chosen(name: str) -> bool:
        return (not only or name in only) and not (exclude and name in exclude)

    unusable = {name: why for name, why in found.unusable.items() if chosen(name)}
    if unusable:
        first = min(unusable)
        listing = "; ".join(f"{name}: {why}" for name, why in sorted(unusable.items()))
        raise RefusedError(
            f"snapshot {record.id[:12]} records resource(s) this workspace does not have and "
            f"cannot add as recorded ({listing}); nothing was changed",
            details=[
                f"give it a place here with {how_to_add(first, record.resources[first].type)}, "
                f"or leave it out with --exclude {first}"
            ],
        )
    return [spec for spec in found.usable if chosen(spec.name)]


def select_resources(
    ws: Workspace,
    record: SnapshotRecord,
    only: list[str] | None,
    exclude: list[str] | None,
    additions: list[ResourceSpec] | None = None,
) -> tuple[list[Resource], dict[str, str]]:
    """The resources a restore of ``record`` brings back (``additions``: resources the
    workspace does not have yet, defined by the snapshot), and why the others are left."""
    specs = ws.resource_specs() + (additions or [])
    recorded_names = list(record.resources)
    for name in (only or []) + (exclude or []):
        if name not in recorded_names:
            ws.resource_spec(name, specs)
    all_resources = [ws.resource(spec) for spec in specs]
    skipped: dict[str, str] = {}
    chosen = []
    for resource in all_resources:
        if (only and resource.name not in only) or (exclude and resource.name in exclude):
            continue
        recorded = record.resources.get(resource.name)
        if recorded is None:
            skipped[resource.name] = "not in this snapshot; left as it is"
        elif resource.role is Role.RESULTS or recorded.role is Role.RESULTS:
            skipped[resource.name] = RESULTS_NOT_REVERTED
        elif recorded.type != resource.spec.type:
            raise UsageError(
                f"resource {resource.name!r} is {resource.spec.type} now but was "
                f"{recorded.type} in the snapshot; cannot restore it"
            )
        else:
            chosen.append(resource)
    return chosen, skipped


def _plan(
    resource: Resource, record: SnapshotRecord, catalog: SnapshotCatalog, head: Head
) -> RestorePlan:
    saved = saved_states(resource, catalog, head)
    return resource.plan_restore(record.resources[resource.name].state, saved)


def saved_states(resource: Resource, catalog: SnapshotCatalog, head: Head) -> list[State]:
    """The recorded states whose files are safe to overwrite in ``resource``: its base,
    and the target of an interrupted restore."""
    saved: list[State] = []
    for snapshot_id in (head.bases.get(resource.name), head.restoring.get(resource.name)):
        if snapshot_id and catalog.exists(snapshot_id):
            recorded = catalog.get(snapshot_id).resources.get(resource.name)
            if recorded is not None and recorded.type == resource.spec.type:
                saved.append(recorded.state)
    return saved


# What stops a restore before anything is touched, in the order it is checked:
# (plan field, error, message; True when --force does not override it)
_BLOCKERS: list[tuple[str, type[DwsError], str, bool]] = [
    (
        "verify_failures",
        IntegrityError,
        "{n} file(s) differ from the snapshot in hash-only resources; nothing was changed "
        "(restore their content by hand, then run restore again)",
        True,
    ),
    (
        "missing_objects",
        IntegrityError,
        "{n} file(s) of the snapshot are missing from the object store; nothing was changed "
        "({fix})",
        True,
    ),
    (
        "blocked",
        RefusedError,
        "{n} untracked (ignored) file(s) stand where the snapshot has a file; nothing was "
        "changed (move them away, then restore again)",
        True,
    ),
    (
        "conflicts",
        RefusedError,
        "{n} file(s) have changes not yet snapshotted that restore would overwrite; nothing "
        "was changed (snapshot them first, or use --force: it saves them first)",
        False,
    ),
]


def _check(plans: list[RestorePlan], force: bool, unfetched: bool, snapshot_id: str) -> None:
    """Refuse on the first blocker. Objects missing because the snapshot was pulled
    without its data are no damage: that error (exit 1) names the pull that fetches them;
    otherwise fsck tells the extent (exit 4)."""
    fix = (
        f"it was pulled without its data: run `dws pull --snapshot {snapshot_id[:12]}`"
        if unfetched
        else "run `dws fsck`"
    )
    for field_name, error, message, always in _BLOCKERS:
        paths = [f"{p.resource}/{path}" for p in plans for path in getattr(p, field_name)]
        if paths and (always or not force):
            kind = DwsError if unfetched and field_name == "missing_objects" else error
            raise kind(message.format(n=len(paths), fix=fix), details=listed(paths))
