"""Opening a remote from its configuration, and checking it holds this workspace."""

from __future__ import annotations

import os

from dws.core.remote import layout
from dws.core.remote.config import RemoteConfig
from dws.core.remote.records import read_identity
from dws.core.workspace import Workspace
from dws.errors import UsageError
from dws.model.records import WorkspaceInfo
from dws.store.remote_backend import RemoteBackend
from dws.store.remote_urls import open_backend


def open_remote(
    config: RemoteConfig, *, create: bool = False, local_dir: str | None = None
) -> RemoteBackend:
    """Connect to a directory or S3 remote (``create``: make an empty one's layout).

    ``local_dir`` is the workspace's ``local/``, below which a remote writes its temporary
    files; without it (a clone, before its workspace exists) an S3 remote writes them to
    the system's temporary directory (see store.s3_packs.IndexFiles).
    ``check_same_workspace`` gives it later to a remote opened without."""
    temporary = temporary_dir(local_dir) if local_dir is not None else None
    return open_backend(
        config.url, config.endpoint_url, layout.PLACES, create=create, temporary_dir=temporary
    )


def temporary_dir(local_dir: str) -> str:
    """Where remotes write temporary files in a workspace: ``local/tmp/`` (made when first
    needed; what a killed process left there is removed by the next that uses it)."""
    return os.path.join(local_dir, "tmp")


def check_same_workspace(ws: Workspace, remote: RemoteBackend) -> WorkspaceInfo | None:
    """Refuse a remote that holds another workspace; a remote that may serve this one
    writes its temporary files in its ``local/tmp/`` from now on."""
    info = read_identity(remote)
    if info is not None and info.id != ws.info.id:
        raise UsageError(
            f"the remote {remote.url} holds workspace {info.name!r} ({info.id}), not this "
            f"one ({ws.info.id}); use `dws clone` to get it, or another remote"
        )
    remote.keep_temporary_files_in(temporary_dir(ws.layout.local))
    return info
