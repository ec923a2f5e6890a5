"""Adding and removing resources, with the validation rules of DESIGN §3."""

from __future__ import annotations

import os
from typing import Any

from dws.core.workspace import Workspace
from dws.errors import UsageError
from dws.model.paths import check_resource_name, default_resource_name
from dws.model.records import ResourceSpec
from dws.model.roles import parse_role
from dws.resources.base import Resource
from dws.resources.registry import resource_type


def add_resource(
    ws: Workspace,
    type_name: str,
    location: str,
    role: str,
    *,
    name: str | None = None,
    options: dict[str, Any] | None = None,
) -> Resource:
    """Register a resource; nothing is changed unless every check passes."""
    kind = resource_type(type_name)
    parsed_role = parse_role(role)
    if parsed_role not in kind.allowed_roles:
        allowed = ", ".join(sorted(r.value for r in kind.allowed_roles))
        raise UsageError(
            f"a {type_name} resource cannot have role {parsed_role.value}: use {allowed}"
        )
    chosen = check_resource_name(default_resource_name(location) if name is None else name)
    options = dict(options or {})
    with ws.locked("add"):
        specs = ws.resource_specs()
        if any(s.name == chosen for s in specs):
            hint = "" if name else " (choose another with --name)"
            raise UsageError(f"a resource named {chosen!r} already exists{hint}")
        params = kind.prepare_params(location, ws.root, options)
        spec = ResourceSpec(chosen, type_name, parsed_role, params)
        resource = ws.resource(spec)
        path = resource.local_path()
        if path is not None:
            _check_overlap(ws, path, [ws.resource(s) for s in specs])
            if options.get("create"):
                os.makedirs(path, exist_ok=True)
        ws.save_resource_specs([*specs, spec])
        return resource


def _inside(child: str, parent: str) -> bool:
    return child == parent or child.startswith(parent.rstrip(os.sep) + os.sep)


def _check_overlap(ws: Workspace, path: str, existing: list[Resource]) -> None:
    real = os.path.realpath(path)
    meta = os.path.realpath(ws.layout.meta)
    if _inside(real, meta) or _inside(meta, real):
        raise UsageError(f"{path} overlaps the workspace metadata directory {ws.layout.meta}")
    for other in existing:
        other_path = other.local_path()
        if other_path is None:
            continue
        other_real = os.path.realpath(other_path)
        if _inside(real, other_real) or _inside(other_real, real):
            raise UsageError(f"{path} overlaps resource {other.name!r} ({other_path})")


def remove_resource(ws: Workspace, name: str) -> ResourceSpec:
    """Forget a resource; its files are never touched."""
    with ws.locked("remove"):
        specs = ws.resource_specs()
        matching = [s for s in specs if s.name == name]
        if not matching:
            from dws.errors import NotFoundError

            raise NotFoundError(f"no resource named {name!r}")
        ws.resource(matching[0]).forget()
        ws.save_resource_specs([s for s in specs if s.name != name])
        return matching[0]
