"""Opening a remote from its configuration, and checking it holds this workspace."""

from __future__ import annotations

from dws.core.remote_config import RemoteConfig
from dws.core.workspace import Workspace
from dws.errors import FormatError, UsageError
from dws.model.records import WorkspaceInfo, decode_resources, decode_workspace_info
from dws.store.remote_base import Remote
from dws.store.remote_dir import open_directory_remote


def open_remote(config: RemoteConfig, *, create: bool = False) -> Remote:
    """Connect to a directory or S3 remote (``create``: make an empty one's layout)."""
    if config.is_s3:
        from dws.store.s3_store import open_s3_remote

        return open_s3_remote(config.url, config.endpoint_url, create=create)
    return open_directory_remote(config.url, create=create)


def remote_identity(remote: Remote) -> WorkspaceInfo | None:
    """The remote's workspace.json (validated), or None for an empty remote."""
    data = remote.files.read("workspace.json")
    if data is None:
        return None
    try:
        return decode_workspace_info(data)
    except FormatError as exc:
        raise FormatError(f"the remote's {exc.message}") from None


def check_same_workspace(ws: Workspace, remote: Remote) -> WorkspaceInfo | None:
    """Refuse a remote that holds another workspace."""
    info = remote_identity(remote)
    if info is not None and info.id != ws.info.id:
        raise UsageError(
            f"the remote {remote.url} holds workspace {info.name!r} ({info.id}), not this "
            f"one ({ws.info.id}); use `dws clone` to get it, or another remote"
        )
    return info


def remote_resources_bytes(remote: Remote) -> bytes:
    """The remote's resources.json, validated."""
    data = remote.files.read("resources.json")
    if data is None:
        raise FormatError(f"the remote {remote.url} has no resources.json")
    try:
        decode_resources(data)
    except FormatError as exc:
        raise FormatError(f"the remote's {exc.message}") from None
    return data
