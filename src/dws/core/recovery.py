"""Recovery records: ``local/recovery/<id>.json``, what a restore overwrote that no
snapshot held, stored before it was overwritten (docs/reliability.md, "Recovery records").

A restore with ``--force`` stores every unsaved file it is about to overwrite or delete;
any restore names the content it overwrites that only the store still holds (a deleted
snapshot's), so gc keeps it. `dws recover` lists the records, puts their files back where
nothing else stands now (or copies them elsewhere) and drops them. The records are
machine-local: they describe this machine's files.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field

import msgspec

from dws.core.workspace import Workspace, utc_now
from dws.errors import FormatError, NotFoundError, RefusedError, UsageError
from dws.model.digest import hash_bytes
from dws.model.ids import looks_like_id_prefix
from dws.model.paths import check_resource_name
from dws.model.records import (
    Head,
    ResourceSnapshot,
    ResourceSpec,
    SnapshotRecord,
    check_format,
    decode_json,
    encode_record,
    record_id_of,
)
from dws.resources.base import PutBackPlan, Resource, RestorePlan
from dws.store.fileio import write_atomic

RECOVERY_DIR = "recovery"
FORMAT = 1


class RecoveredResource(msgspec.Struct, frozen=True, kw_only=True):
    """One resource's saved paths: a state holding exactly them, and where they were."""

    saved: ResourceSnapshot
    path: str  # the resource's directory when they were saved
    paths: list[str]  # what was saved (files, links, directories), as the restore named them


class RecoveryRecord(msgspec.Struct, frozen=True, kw_only=True):
    """local/recovery/<id>.json: write-once; ``id`` is the hash of the record without it."""

    format: int = FORMAT
    id: str = ""
    created: str
    restoring: str  # the snapshot the restore brought back
    head: str | None  # the snapshot the workspace was at before
    resources: dict[str, RecoveredResource]

    def with_id(self) -> RecoveryRecord:
        """The record with its content-derived id filled in."""
        body = msgspec.structs.replace(self, id="")
        return msgspec.structs.replace(self, id=hash_bytes(encode_record(body)))

    @property
    def files(self) -> int:
        """Files (and links) saved, over every resource."""
        return sum(int(r.saved.state.get("files", 0)) for r in self.resources.values())


def _folder(ws: Workspace) -> str:
    return ws.layout.local_file(RECOVERY_DIR)


def save_for_restore(
    ws: Workspace,
    head: Head,
    target: SnapshotRecord,
    resources: list[Resource],
    plans: list[RestorePlan],
    *,
    force: bool,
) -> RecoveryRecord | None:
    """Before a restore applies ``plans``: store what they overwrite that no saved state
    holds (conflicts only when ``force``: without it the restore was refused) and write
    the record durably; say so in each plan's notes. None when nothing needed saving."""
    saved: dict[str, RecoveredResource] = {}
    for resource, plan in zip(resources, plans, strict=True):
        paths = [*plan.recoverable, *(plan.conflicts if force else [])]
        if not paths:
            continue
        state = resource.save_paths(paths)
        if state is None:  # the type keeps it its own way
            continue
        where = resource.local_path() or ""
        recorded = ResourceSnapshot(resource.spec.type, resource.role, state)
        saved[resource.name] = RecoveredResource(saved=recorded, path=where, paths=sorted(paths))
    if not saved:
        return None
    ws.store.flush()
    record = RecoveryRecord(
        created=utc_now(), restoring=target.id, head=head.snapshot, resources=saved
    ).with_id()
    os.makedirs(_folder(ws), exist_ok=True)
    data = encode_record(record)
    write_atomic(os.path.join(_folder(ws), f"{record.id}.json"), data + b"\n", durable=True)
    for plan in plans:
        if plan.resource in saved:
            plan.notes.append(recovery_note(record, plan.resource))
    return record


def recovery_note(record: RecoveryRecord, name: str) -> str:
    """What a restore says about the paths of ``name`` it saved in ``record``."""
    count = len(record.resources[name].paths)
    short = record.id[:10]
    return (
        f"{count} path(s) of {name} no snapshot holds were saved first, in recovery record "
        f"{short}: "
        f"`dws recover {short}` puts them back (`--to DIR` copies them elsewhere)"
    )


def would_save(plans: list[RestorePlan], *, force: bool) -> int:
    """How many paths a restore of ``plans`` would save in a recovery record."""
    return sum(len(p.recoverable) + (len(p.conflicts) if force else 0) for p in plans)


def recovery_records(ws: Workspace) -> list[RecoveryRecord]:
    """Every recovery record, newest first."""
    try:
        names = os.listdir(_folder(ws))
    except FileNotFoundError:
        return []
    records = [_read(ws, n[: -len(".json")]) for n in names if n.endswith(".json")]
    return sorted(records, key=lambda r: (r.created, r.id), reverse=True)


def _read(ws: Workspace, record_id: str) -> RecoveryRecord:
    path = os.path.join(_folder(ws), f"{record_id}.json")
    what = f"local/{RECOVERY_DIR}/{record_id}.json"
    with open(path, "rb") as handle:
        data = handle.read()
    record: RecoveryRecord = decode_json(data, RecoveryRecord, what)
    check_format(record.format, what, (FORMAT,))
    if record_id_of(data, what) != record_id or record.id != record_id:
        raise FormatError(f"{what} does not match its name (it was changed)")
    for name, saved in record.resources.items():
        check_resource_name(name)
        if saved.path and not os.path.isabs(saved.path):
            raise FormatError(f"{what}: resource {name!r} has a relative path")
    return record


def find_recovery(ws: Workspace, ref: str) -> RecoveryRecord:
    """The record whose id starts with ``ref``."""
    if not looks_like_id_prefix(ref.lower()):
        raise UsageError(f"{ref!r} is not a recovery record id (see `dws recover`)")
    matches = [r for r in recovery_records(ws) if r.id.startswith(ref.lower())]
    if not matches:
        raise NotFoundError(f"no recovery record {ref!r} (see `dws recover`)")
    if len(matches) > 1:
        raise UsageError(f"recovery record prefix {ref!r} is ambiguous; give more digits")
    return matches[0]


@dataclass
class PutBackOutcome:
    """What `dws recover` wrote (or, with dry_run, would write)."""

    record: RecoveryRecord
    plans: list[PutBackPlan] = field(default_factory=list)
    applied: bool = False


def put_back(
    ws: Workspace, ref: str, *, to: str | None = None, dry_run: bool = False
) -> PutBackOutcome:
    """Write the files of recovery record ``ref`` back into their resources' directories
    (or under ``to``/<resource>/), refusing before anything is written when something
    else stands at any of their paths."""
    with ws.locked("recover"):
        record = find_recovery(ws, ref)
        if to is not None and os.path.lexists(to) and not _empty_dir(to):
            raise UsageError(f"{to} already exists and is not an empty directory")
        outcome = PutBackOutcome(record)
        for name, saved in record.resources.items():
            resource = _resource(ws, name, saved)
            dest = os.path.join(to, name) if to is not None else None
            outcome.plans.append(resource.plan_put_back(saved.saved.state, dest))
        clashes = [f"{p.resource}/{c}" for p in outcome.plans for c in p.clashes]
        if clashes:
            raise RefusedError(
                f"{len(clashes)} path(s) of recovery record {record.id[:10]} hold other "
                "content now; nothing was written (move them away, or use --to DIR)",
                details=clashes[:20],
            )
        if dry_run:
            return outcome
        for name, plan in zip(record.resources, outcome.plans, strict=True):
            _resource(ws, name, record.resources[name]).apply_put_back(plan)
        outcome.applied = True
        return outcome


def _resource(ws: Workspace, name: str, saved: RecoveredResource) -> Resource:
    """The resource the paths were saved from, reading them from where they were."""
    for spec in ws.resource_specs():
        if spec.name == name and spec.type == saved.saved.type:
            return ws.resource(spec)
    params = {"path": saved.path} if saved.path else {}
    return ws.resource(ResourceSpec(name, saved.saved.type, saved.saved.role, params))


def _empty_dir(path: str) -> bool:
    return os.path.isdir(path) and not os.path.islink(path) and not os.listdir(path)


def drop_recovery(ws: Workspace, ref: str) -> RecoveryRecord:
    """Delete a recovery record (its objects go at the next gc)."""
    with ws.locked("recover"):
        record = find_recovery(ws, ref)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(os.path.join(_folder(ws), f"{record.id}.json"))
        return record


def recovered_states(ws: Workspace) -> list[tuple[str, ResourceSnapshot]]:
    """(resource name, state) of everything recovery records hold (gc keeps it)."""
    return [
        (name, saved.saved)
        for record in recovery_records(ws)
        for name, saved in record.resources.items()
    ]
