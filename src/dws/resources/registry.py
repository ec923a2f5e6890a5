"""The one place resource types are registered. Each type's module is imported the first
time a resource of that type is used, so a workspace of local directories never pays
for importing the git or S3 code."""

from __future__ import annotations

import importlib

from dws.errors import UsageError
from dws.resources.base import Resource

# type name -> (module, class)
RESOURCE_TYPES: dict[str, tuple[str, str]] = {
    "local-files": ("dws.resources.local_files.resource", "LocalFilesResource"),
    "git": ("dws.resources.git.resource", "GitResource"),
    "s3": ("dws.resources.s3.resource", "S3Resource"),
    "container": ("dws.resources.container.resource", "ContainerResource"),
}


def resource_type(name: str) -> type[Resource]:
    """The class implementing resource type ``name``."""
    try:
        module_name, class_name = RESOURCE_TYPES[name]
    except KeyError:
        known = ", ".join(sorted(RESOURCE_TYPES))
        raise UsageError(f"unknown resource type {name!r}: known types are {known}") from None
    kind: type[Resource] = getattr(importlib.import_module(module_name), class_name)
    assert kind.type_name == name
    return kind
