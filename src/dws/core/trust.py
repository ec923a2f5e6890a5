"""Which directories outside the workspace this machine has agreed dws may write to.

resources.json is shared (through git or a remote), so a resource may arrive pointing at
any absolute directory. dws writes into a resource's directory only when it lies inside
the workspace, or when a person on this machine named it: by `dws add`,
`dws clone --map`, or `dws resources --trust NAME`. The list lives in
local/trusted-paths.json (machine-local, never shared).
"""

from __future__ import annotations

import json
import os

from dws.core.workspace import Workspace
from dws.errors import RefusedError
from dws.model.paths import is_within
from dws.resources.base import Resource
from dws.store.fileio import write_atomic

TRUSTED_FILE = "trusted-paths.json"


def _external(ws: Workspace, resource: Resource) -> str | None:
    """The resource's real directory when it lies outside the workspace, else None."""
    local = resource.local_path()
    if local is None:
        return None
    real = os.path.realpath(local)
    return None if is_within(real, os.path.realpath(ws.root)) else real


def trusted_paths(ws: Workspace) -> set[str]:
    """The directories outside the workspace confirmed on this machine."""
    try:
        with open(ws.layout.local_file(TRUSTED_FILE), encoding="utf-8") as handle:
            value = json.load(handle)
    except FileNotFoundError:
        return set()
    except (ValueError, RecursionError):
        return set()  # a damaged list trusts nothing; `dws resources --trust` rebuilds it
    return {p for p in value if isinstance(p, str)} if isinstance(value, list) else set()


def trust_paths(ws: Workspace, paths: list[str]) -> None:
    """Add directories (made real) to the trusted list."""
    if not paths:
        return
    known = trusted_paths(ws) | {os.path.realpath(p) for p in paths}
    data = (json.dumps(sorted(known), indent=2) + "\n").encode()
    write_atomic(ws.layout.local_file(TRUSTED_FILE), data, durable=True)


def trust_resource(ws: Workspace, name: str) -> str | None:
    """Confirm resource ``name``'s directory; returns it (None: it is inside the workspace)."""
    resource = ws.resource(ws.resource_spec(name))
    external = _external(ws, resource)
    if external is not None:
        trust_paths(ws, [external])
    return external


def trust_new_resources(ws: Workspace, resources: list[Resource]) -> None:
    """Trust the outside directories of resources a person on this machine just named."""
    trust_paths(ws, [p for p in (_external(ws, r) for r in resources) if p is not None])


def check_writable(ws: Workspace, resources: list[Resource]) -> None:
    """Refuse (exit 3) to write into outside directories this machine never confirmed."""
    trusted = trusted_paths(ws)
    unconfirmed = []
    for resource in resources:
        external = _external(ws, resource)
        if external is not None and external not in trusted:
            unconfirmed.append((resource.name, external))
    if unconfirmed:
        listing = ", ".join(f"{name} ({path})" for name, path in unconfirmed)
        first = unconfirmed[0][0]
        raise RefusedError(
            f"refusing to write outside the workspace into directories this machine has not "
            f"confirmed: {listing}",
            details=[
                "resources.json is shared; if these are right, confirm each with "
                f"`dws resources --trust NAME` (e.g. `dws resources --trust {first}`)"
            ],
        )
