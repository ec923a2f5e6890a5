"""Swap the data behind a source-data resource (docs/swap.md).

The resource keeps its path, so code that reads ``data/raw/t.csv`` keeps reading it and
lineage records the content it really read. What changes is the content: a directory's
(imported into the store as a tree, then restored into the resource), or the resource's
version in a snapshot. Before anything changes, the resource's current content is put in
the store and the swap is journaled, so `--back` can bring it back.

Every swap plans first (nothing written), checks the plan, and only then acts; with
``dry_run`` it stops after the plan.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from dws.core.catalog import SnapshotCatalog
from dws.core.lineage.queries import StaleOutput, lineage_context, stale_outputs
from dws.core.lineage.swap_journal import (
    SwapEntry,
    last_swap,
    pop_swap,
    push_swap,
    swaps_left,
)
from dws.core.restore import apply_plans, saved_states, select_resources
from dws.core.trust import check_writable
from dws.core.workspace import Workspace
from dws.errors import IntegrityError, RefusedError, UsageError
from dws.model.paths import is_within
from dws.model.records import ResourceSnapshot
from dws.model.roles import Role
from dws.model.treediff import Change
from dws.resources.base import Resource, RestorePlan, State, listed


@dataclass
class SwapOutcome:
    """What `swap` did (or, with dry_run, would do) and which outputs are stale now."""

    resource: str
    path: str  # the resource's directory: it stays where it is
    source: str  # what now stands behind it (a directory, NAME@REF, or the content before)
    changes: list[Change]  # files added, changed and removed in the resource
    applied: bool
    back: int  # swaps of the resource that `--back` can still undo
    stale: list[StaleOutput] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def swap_source(
    ws: Workspace,
    name: str,
    target: str | None,
    cwd: str,
    *,
    back: bool = False,
    dry_run: bool = False,
) -> SwapOutcome:
    """Put other content behind source-data resource ``name``, keeping its path: that of
    directory ``target`` (relative to ``cwd``), or with ``target`` = ``NAME@REF`` its
    content in snapshot REF; ``back``: the content from before its last swap. The current
    content is stored and the swap journaled first; nothing changes if a check fails."""
    if back == (target is not None):
        raise UsageError("give either a directory or NAME@SNAPSHOT to swap in, or --back")
    with ws.locked("swap"):
        resource = _source_resource(ws, name)
        if back:
            outcome = _swap_back(ws, resource, dry_run)
        else:
            assert target is not None
            outcome = _swap_in(ws, resource, target, cwd, dry_run)
        outcome.back = swaps_left(ws, name)
        outcome.warnings.extend(resource.warnings)
    ws.release()
    if outcome.applied:
        outcome.stale = stale_outputs(lineage_context(ws))
    return outcome


# ---- checks --------------------------------------------------------------------------------


def _source_resource(ws: Workspace, name: str) -> Resource:
    spec = ws.resource_spec(name)
    if spec.role is not Role.SOURCE_DATA:
        raise UsageError(f"{name!r} is {spec.role.value}; swap replaces source data only")
    resource = ws.resource(spec)
    resource.check_swappable()
    root = resource.local_path()
    if root is None:
        raise UsageError(f"resource {name!r} has no local directory to swap")
    if os.path.exists(os.path.join(root, ".git")):
        raise UsageError(
            f"resource {name!r} ({root}) is a git repository; swap replaces plain data "
            "directories only"
        )
    check_writable(ws, [resource])
    return resource


def _overlap(a: str, b: str) -> bool:
    return is_within(a, b) or is_within(b, a)


def _check_directory(ws: Workspace, resource: Resource, path: str, given: str) -> str:
    """The real path of the directory to swap in, after every check on it."""
    if not os.path.isdir(path):
        what = "does not exist" if not os.path.lexists(path) else "is not a directory"
        raise UsageError(f"{given} {what}")
    real = os.path.realpath(path)
    root = resource.local_path()
    assert root is not None
    if _overlap(real, os.path.realpath(root)):
        raise UsageError(
            f"{given} overlaps resource {resource.name!r}'s own directory; swap in a "
            "directory outside it"
        )
    if _overlap(real, os.path.realpath(ws.layout.meta)):
        raise UsageError(f"{given} overlaps the workspace's metadata (.dataworkspace)")
    if os.path.exists(os.path.join(real, ".git")):
        raise UsageError(
            f"{given} is a git repository; swap takes a plain directory of data (copy the "
            "files out of the repository first)"
        )
    return real


def _check_plan(plan: RestorePlan, *, objects_pending: bool, back: bool) -> None:
    """Refuse a plan that would lose data or cannot be carried out, before anything changes.
    ``objects_pending``: the target's content is not stored yet (a dry run of a swap from a
    directory), so missing objects are expected."""
    name = plan.resource
    if plan.verify_failures:
        raise IntegrityError(
            f"the swapped-in version of {name!r} was recorded as hashes only; there is no "
            "content to bring back; nothing was changed"
        )
    if plan.missing_objects and not objects_pending:
        raise IntegrityError(
            f"{len(plan.missing_objects)} file(s) to swap in are missing from the object "
            "store; nothing was changed (run `dws fsck`)",
            details=listed([f"{name}/{p}" for p in plan.missing_objects]),
        )
    if plan.blocked:
        raise RefusedError(
            f"{len(plan.blocked)} untracked (ignored) file(s) in {name!r} stand where the "
            "swap needs a file; nothing was changed (move them away, then swap again)",
            details=listed([f"{name}/{p}" for p in plan.blocked]),
        )
    if plan.conflicts:
        why = (
            "changed since the swap and were never snapshotted; --back would overwrite them "
            "(snapshot them first)"
            if back
            else "are untracked (ignored) and stand where the swap writes a file (move them away)"
        )
        raise RefusedError(
            f"{len(plan.conflicts)} file(s) in {name!r} {why}; nothing was changed",
            details=listed([f"{name}/{p}" for p in plan.conflicts]),
        )


# ---- swapping in ---------------------------------------------------------------------------


def _swap_in(
    ws: Workspace, resource: Resource, target: str, cwd: str, dry_run: bool
) -> SwapOutcome:
    """Swap in a directory, or NAME@REF."""
    name = resource.name
    path = os.path.join(cwd, target)
    resource_part, at, ref = target.partition("@")
    if at and not os.path.lexists(path):
        if resource_part != name or not ref:
            raise UsageError(f"{target!r}: to bring back a version, write {name}@SNAPSHOT")
        return _swap_in_snapshot(ws, resource, ref, dry_run)
    directory = _check_directory(ws, resource, path, target)
    wanted = resource.import_directory(directory, store=not dry_run)
    current = resource.save_state(store=not dry_run)
    plan = resource.plan_restore(wanted, [current])
    _check_plan(plan, objects_pending=dry_run, back=False)
    outcome = _outcome(resource, directory, plan)
    if dry_run:
        return outcome
    _journal(ws, resource, directory, current, wanted, None)
    resource.apply_restore(plan)
    outcome.applied = True
    return outcome


def _swap_in_snapshot(ws: Workspace, resource: Resource, ref: str, dry_run: bool) -> SwapOutcome:
    """Bring back the resource's content in snapshot ``ref`` (as `restore --only NAME`
    does, moving its base to the snapshot), after saving what is there."""
    name = resource.name
    catalog = SnapshotCatalog(ws.layout)
    head = ws.head()
    record = catalog.get(catalog.resolve(ref, head.snapshot))
    chosen, skipped = select_resources(ws, record, [name], None)
    if not chosen:
        raise UsageError(f"{name!r} in snapshot {ref}: {skipped.get(name, 'not restorable')}")
    wanted = record.resources[name].state
    current = resource.save_state(store=not dry_run)
    plan = resource.plan_restore(wanted, [current])
    _check_plan(plan, objects_pending=False, back=False)
    outcome = _outcome(resource, f"{name}@{ref}", plan)
    if dry_run:
        return outcome
    _journal(ws, resource, f"{name}@{ref}", current, wanted, record.id)
    apply_plans(ws, ws.head(), record, [resource], [plan])
    outcome.applied = True
    return outcome


def _journal(
    ws: Workspace,
    resource: Resource,
    source: str,
    before: State,
    after: State,
    restored_to: str | None,
) -> None:
    """Make the saved content durable, then journal the swap (the commit point: from here
    on `--back` can undo it, and gc keeps both states)."""
    ws.store.flush()
    kind, role = resource.spec.type, resource.role
    push_swap(
        ws,
        resource.name,
        source=source,
        before=ResourceSnapshot(kind, role, before),
        after=ResourceSnapshot(kind, role, after),
        restored_to=restored_to,
    )
    resource.committed()


def _outcome(resource: Resource, source: str, plan: RestorePlan) -> SwapOutcome:
    path = resource.local_path()
    assert path is not None
    return SwapOutcome(resource.name, path, source, plan.visible_changes, False, 0)


# ---- swapping back -------------------------------------------------------------------------


def _swap_back(ws: Workspace, resource: Resource, dry_run: bool) -> SwapOutcome:
    """Bring back the content from before the last swap, and the head's base with it.
    Refused when it would overwrite content that is neither what the swap put there nor
    in the resource's base snapshot."""
    name = resource.name
    entry = last_swap(ws, name)
    if entry is None:
        raise UsageError(f"no swap of {name!r} to undo")
    if entry.before.type != resource.spec.type:
        raise UsageError(
            f"resource {name!r} is {resource.spec.type} now but was {entry.before.type} "
            "before its last swap; cannot bring that content back"
        )
    catalog = SnapshotCatalog(ws.layout)
    saved = [entry.after.state, *saved_states(resource, catalog, ws.head())]
    plan = resource.plan_restore(entry.before.state, saved)
    _check_plan(plan, objects_pending=False, back=True)
    outcome = _outcome(resource, f"the content from before the swap of {entry.source}", plan)
    if dry_run:
        return outcome
    resource.apply_restore(plan)
    _restore_head(ws, catalog, name, entry)
    pop_swap(ws, name, entry)
    outcome.applied = True
    return outcome


def _restore_head(ws: Workspace, catalog: SnapshotCatalog, name: str, entry: SwapEntry) -> None:
    """The resource's base goes back to what it was before the swap; so does the head's
    snapshot, if the swap (from NAME@REF) moved it and nothing moved it since."""
    head = ws.head()
    if entry.base is not None and catalog.exists(entry.base):
        head.bases[name] = entry.base
    else:
        head.bases.pop(name, None)
    moved_by_swap = entry.restored_to is not None and head.snapshot == entry.restored_to
    if moved_by_swap and entry.snapshot is not None and catalog.exists(entry.snapshot):
        head.snapshot = entry.snapshot
    ws.save_head(head)
