"""The resource definitions snapshots carry: which of them a workspace lacks, and which of
those it can take as they are.

A snapshot record holds, for every resource it records, the type-specific keys of its
``resources.json`` entry when it was taken (``SnapshotRecord.definitions``). Pull adds the
resources of pulled snapshots that the workspace lacks, restore those of the snapshot it
brings back, clone those of the snapshot it restores. A definition whose directory is an
absolute path belongs to the machine the snapshot was taken on and is never taken as it is:
a person on this machine names the directory (``dws add``, ``clone --map``).
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from msgspec import Struct, field

from dws.errors import DwsError
from dws.model.records import ResourceSpec, SnapshotRecord
from dws.resources.registry import resource_type


class Definitions(Struct):
    """Resources some snapshots record that a workspace lacks: those it can add as they
    are (``usable``) and those it cannot, with why (``unusable``: name -> reason)."""

    usable: list[ResourceSpec] = field(default_factory=list)
    unusable: dict[str, str] = field(default_factory=dict)


def machine_local_path(spec: ResourceSpec) -> str | None:
    """The directory of a definition that only means something on the machine it was
    written on (an absolute path), else None."""
    path = spec.params.get("path")
    return path if isinstance(path, str) and os.path.isabs(path) else None


def lacking(
    specs: list[ResourceSpec], records: Iterable[SnapshotRecord], names: Iterable[str] | None = None
) -> Definitions:
    """The resources ``records`` record that ``specs`` lack (only ``names`` when given),
    each defined by the newest record that carries its definition."""
    have = {spec.name for spec in specs}
    wanted = None if names is None else set(names)
    found = Definitions()
    seen: set[str] = set()
    newest_first = sorted(records, key=lambda r: (r.created, r.id), reverse=True)
    for record in newest_first:
        for name in sorted(record.resources):
            if name in have or name in seen or (wanted is not None and name not in wanted):
                continue
            seen.add(name)
            reason = _unusable(record, name)
            if reason is None:
                spec = record.definition(name)
                assert spec is not None
                found.usable.append(spec)
            else:
                found.unusable[name] = reason
    # a name first seen without a usable definition may have one in an older record
    for name in list(found.unusable):
        older = next(
            (r for r in newest_first if name in r.resources and _unusable(r, name) is None), None
        )
        if older is not None:
            spec = older.definition(name)
            assert spec is not None
            found.usable.append(spec)
            del found.unusable[name]
    return found


def _unusable(record: SnapshotRecord, name: str) -> str | None:
    """Why ``record``'s definition of ``name`` cannot be taken as it is, or None."""
    spec = record.definition(name)
    if spec is None:
        return (
            f"snapshot {record.id[:12]} was taken by a dws that did not record resource definitions"
        )
    try:
        resource_type(spec.type)
    except DwsError as exc:
        return exc.message
    path = machine_local_path(spec)
    if path is not None:
        return (
            f"its directory {path} is on the machine the snapshot was taken on ({record.hostname})"
        )
    return None


def difference(ours: ResourceSpec, theirs: ResourceSpec) -> str | None:
    """How two definitions of one resource name make two different resources (another
    type, role, or directory inside the workspace), or None when they are the same
    resource (directories outside the workspace differ from machine to machine)."""
    if ours.type != theirs.type or ours.role is not theirs.role:
        return f"{ours.type} {ours.role.value} here, {theirs.type} {theirs.role.value} there"
    mine, other = ours.params.get("path"), theirs.params.get("path")
    if machine_local_path(ours) or machine_local_path(theirs) or mine == other:
        return None
    return f"at {mine} here, at {other} there"


def differing(specs: list[ResourceSpec], record: SnapshotRecord) -> dict[str, str]:
    """The resources of ``specs`` that ``record`` defines as another resource of the same
    name (name -> how they differ)."""
    out = {}
    for spec in specs:
        recorded = record.definition(spec.name)
        why = None if recorded is None else difference(spec, recorded)
        if why is not None:
            out[spec.name] = why
    return out


def as_recorded(specs: list[ResourceSpec], record: SnapshotRecord) -> list[ResourceSpec]:
    """``specs`` with each resource ``record`` defines as another resource of that name
    replaced by the record's definition (a fresh clone restores the snapshot as taken)."""
    replaced = differing(specs, record)
    out = []
    for spec in specs:
        recorded = record.definition(spec.name) if spec.name in replaced else None
        out.append(recorded if recorded is not None and not machine_local_path(recorded) else spec)
    return out


def how_to_add(name: str, type_name: str) -> str:
    """What a user runs to give resource ``name`` a place on this machine."""
    return f"`dws add {type_name} PATH --name {name}`"
