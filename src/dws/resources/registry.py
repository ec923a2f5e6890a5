"""The one place resource types are registered."""

from __future__ import annotations

from dws.errors import UsageError
from dws.resources.base import Resource
from dws.resources.git.resource import GitResource
from dws.resources.local_files.resource import LocalFilesResource
from dws.resources.s3.resource import S3Resource

RESOURCE_TYPES: dict[str, type[Resource]] = {
    LocalFilesResource.type_name: LocalFilesResource,
    GitResource.type_name: GitResource,
    S3Resource.type_name: S3Resource,
}


def resource_type(name: str) -> type[Resource]:
    """The class implementing resource type ``name``."""
    try:
        return RESOURCE_TYPES[name]
    except KeyError:
        known = ", ".join(sorted(RESOURCE_TYPES))
        raise UsageError(f"unknown resource type {name!r}: known types are {known}") from None
