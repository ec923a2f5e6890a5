"""Swap the data behind a source-data resource."""

from __future__ import annotations

import os
from dataclasses import dataclass

from dws.core.lineage.queries import StaleOutput, lineage_context, stale_outputs
from dws.core.registry_ops import repoint_resource
from dws.core.restore import RestoreOutcome, restore_snapshot
from dws.core.workspace import Workspace
from dws.errors import UsageError
from dws.model.records import ResourceSpec
from dws.model.roles import Role


@dataclass
class SwapOutcome:
    """What `swap` did and which outputs are stale now."""

    resource: str
    old: str
    new: str
    restored: RestoreOutcome | None
    stale: list[StaleOutput]


def swap_source(ws: Workspace, name: str, target: str, cwd: str) -> SwapOutcome:
    """Re-point source-data resource ``name`` at directory ``target``, or bring back its
    version in a snapshot with ``target`` = ``NAME@REF``."""
    spec = _spec(ws, name)
    if spec.role is not Role.SOURCE_DATA:
        raise UsageError(f"{name!r} is {spec.role.value}; swap re-points source-data only")
    restored = None
    before = str(spec.params.get("path", ""))
    after = before
    resource_part, at, ref = target.partition("@")
    path = os.path.join(cwd, target)
    if at and not os.path.exists(path):
        if resource_part != name:
            raise UsageError(f"{target!r}: to bring back a version, write {name}@TAG")
        restored = restore_snapshot(ws, ref, only=[name])
        after = f"{before} as of {ref}"
    else:
        if not os.path.isdir(path):
            raise UsageError(f"{target} is not a directory")
        _, new = repoint_resource(ws, name, path)
        after = str(new.params.get("path"))
    ws.release()
    stale = stale_outputs(lineage_context(ws))
    return SwapOutcome(name, before, after, restored, stale)


def _spec(ws: Workspace, name: str) -> ResourceSpec:
    for spec in ws.resource_specs():
        if spec.name == name:
            return spec
    raise UsageError(f"no resource named {name!r}")
