"""Adding and removing resources, with the validation rules of docs/format.md."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from dws.core.trust import trust_new_resources
from dws.core.workspace import Workspace
from dws.errors import UsageError
from dws.model.paths import check_resource_name, is_within
from dws.model.records import ResourceSpec
from dws.model.roles import Role, parse_role
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
    relative_to: str | None = None,
) -> Resource:
    """Register a resource; nothing is changed unless every check passes. A local
    ``location`` that is relative is taken from ``relative_to`` (default: the workspace)."""
    kind = resource_type(type_name)
    _check_options(kind, options or {})
    if relative_to is not None and kind.is_local_location(location):
        location = os.path.abspath(os.path.join(relative_to, os.path.expanduser(location)))
    parsed_role = parse_role(role)
    if parsed_role not in kind.allowed_roles:
        allowed = ", ".join(sorted(r.value for r in kind.allowed_roles))
        raise UsageError(
            f"a {type_name} resource cannot have role {parsed_role.value}: use {allowed}"
        )
    chosen = check_resource_name(kind.default_name(location) if name is None else name)
    options = {**(options or {}), "name": chosen}
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
            _check_overlap(ws, resource, [ws.resource(s) for s in specs])
            if options.get("create"):
                os.makedirs(path, exist_ok=True)
        resource.setup(location, options)
        ws.save_resource_specs([*specs, spec])
        trust_new_resources(ws, [resource])
        return resource


def _check_options(kind: type[Resource], options: dict[str, Any]) -> None:
    """Refuse an option (given, not left at its default) the type does not read."""
    for option, value in options.items():
        if value not in (None, False) and option not in kind.add_options:
            flag = "--" + option.replace("_", "-")
            raise UsageError(f"{flag} does not apply to {kind.type_name} resources")


def _nests(outer: Resource, inner: Resource) -> bool:
    return inner.spec.type in type(outer).may_contain


def _check_overlap(ws: Workspace, new: Resource, existing: list[Resource]) -> None:
    """Directories of resources never overlap, with one exception: a type may declare
    which types' resources may lie strictly inside it, and whether the workspace
    metadata directory may (a git repository holding data directories, or the workspace's
    own repository); it then leaves those paths out of its state."""
    path = new.local_path()
    assert path is not None
    real = os.path.realpath(path)
    meta = os.path.realpath(ws.layout.meta)
    meta_inside = is_within(meta, real) and meta != real
    if is_within(real, meta) or (meta_inside and not type(new).may_contain_meta):
        raise UsageError(f"{path} overlaps the workspace metadata directory {ws.layout.meta}")
    for other in existing:
        other_path = other.local_path()
        if other_path is None:
            continue
        other_real = os.path.realpath(other_path)
        if other_real == real:
            recorded = other.spec.params.get("path")
            shown = recorded if isinstance(recorded, str) else other_path
            raise UsageError(f"{shown} is already the resource {other.name!r}")
        if is_within(real, other_real) and _nests(other, new):
            _refuse_code_in_code(other, new, path)
            continue
        if is_within(other_real, real) and _nests(new, other):
            _refuse_code_in_code(new, other, other_path)
            continue
        if is_within(real, other_real) or is_within(other_real, real):
            raise UsageError(f"{path} overlaps resource {other.name!r} ({other_path})")


def _refuse_code_in_code(outer: Resource, inner: Resource, inner_path: str) -> None:
    """A code directory inside a code resource (a repository) is recorded by it already,
    unless the repository leaves it out (git ignores it)."""
    if outer.role is Role.CODE and inner.role is Role.CODE and outer.records_path(inner_path):
        raise UsageError(
            f"{inner_path} lies inside the {outer.spec.type} code resource {outer.name!r}, "
            "which already records it as code; add it with a data role, or not at all"
        )


@dataclass
class IgnoreSuggestion:
    """Lines that would make a resource's own tool (git) ignore other resources' directories
    lying inside it."""

    resource: str
    file: str
    lines: list[str]


def ignore_suggestions(ws: Workspace, name: str) -> list[IgnoreSuggestion]:
    """Suggestions that concern resource ``name``: as the container, or as the contained."""
    resources = ws.resources()
    paths = {r.name: r.local_path() for r in resources}
    out = []
    for outer in resources:
        outer_path = paths[outer.name]
        if not type(outer).may_contain or outer_path is None:
            continue
        outer_real = os.path.realpath(outer_path)
        nested = [
            path
            for inner in resources
            if (path := paths[inner.name]) is not None
            and inner.name != outer.name
            and name in (outer.name, inner.name)
            and _nests(outer, inner)
            and is_within(os.path.realpath(path), outer_real)
        ]
        suggestion = outer.ignore_suggestion(nested) if nested else None
        if suggestion is not None:
            out.append(IgnoreSuggestion(outer.name, *suggestion))
    return out


def apply_ignore_suggestion(ws: Workspace, suggestion: IgnoreSuggestion) -> None:
    """Append the suggested lines to the ignore file (created if missing)."""
    try:
        with open(suggestion.file, "rb") as handle:
            existing = handle.read()
    except FileNotFoundError:
        existing = b""
    prefix = b"" if not existing or existing.endswith(b"\n") else b"\n"
    with open(suggestion.file, "ab") as handle:
        handle.write(prefix + "".join(line + "\n" for line in suggestion.lines).encode())


def remove_resource(ws: Workspace, name: str) -> ResourceSpec:
    """Forget a resource; its files are never touched."""
    with ws.locked("remove"):
        specs = ws.resource_specs()
        spec = ws.resource_spec(name, specs)
        ws.resource(spec).forget()
        ws.save_resource_specs([s for s in specs if s.name != name])
        return spec


def repoint_resource(ws: Workspace, name: str, location: str) -> tuple[ResourceSpec, ResourceSpec]:
    """Point resource ``name`` at another directory (its type, role and options stay);
    the old directory is not touched. Returns (old spec, new spec)."""
    with ws.locked("swap"):
        specs = ws.resource_specs()
        old = ws.resource_spec(name, specs)
        kind = resource_type(old.type)
        options = {key: value for key, value in old.params.items() if key != "path"}
        params = kind.prepare_params(location, ws.root, {**options, "name": name})
        new = ResourceSpec(old.name, old.type, old.role, {**old.params, **params})
        resource = ws.resource(new)
        if resource.local_path() is not None:
            _check_overlap(ws, resource, [ws.resource(s) for s in specs if s.name != name])
        ws.resource(old).forget()
        ws.save_resource_specs([new if s.name == name else s for s in specs])
        trust_new_resources(ws, [resource])
        return old, new
