"""Opening a remote from its configuration, and checking it holds this workspace."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

from dws.core.remote import layout
from dws.core.remote.config import RemoteConfig
from dws.core.remote.records import read_identity
from dws.core.workspace import Workspace
from dws.errors import DwsError, IntegrityError, UsageError
from dws.model.records import WorkspaceInfo
from dws.store.base import CorruptObjectError, ObjectMissingError
from dws.store.remote_backend import RemoteBackend
from dws.store.remote_urls import open_backend, probe_backend


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
    _refuse_other(ws, remote.url, info)
    remote.keep_temporary_files_in(temporary_dir(ws.layout.local))
    return info


def _refuse_other(ws: Workspace, url: str, info: WorkspaceInfo | None) -> None:
    """UsageError when the remote at ``url`` holds another workspace than ``ws``."""
    if info is not None and info.id != ws.info.id:
        raise UsageError(
            f"the remote {url} holds workspace {info.name!r} ({info.id}), not this "
            f"one ({ws.info.id}); use `dws clone` to get it, or another remote"
        )


def check_usable(ws: Workspace, config: RemoteConfig) -> None:
    """Refuse, before it is configured, a remote that push and pull could not use: an
    unreachable or unreadable one (a missing bucket, refused credentials, a directory that
    is neither empty nor a remote), or one holding another workspace. Nothing is written."""
    info = None
    try:
        remote = probe_backend(config.url, config.endpoint_url, layout.PLACES)
        if remote is not None:
            try:
                info = read_identity(remote)
            finally:
                remote.close()
    except DwsError as exc:
        message = (
            f"cannot add remote {config.name!r} ({config.url}): {exc.message}; to add it "
            "anyway (setting up offline), give --no-check"
        )
        raise _same_kind(exc, message) from None
    _refuse_other(ws, config.url, info)


def _same_kind(exc: DwsError, message: str) -> DwsError:
    """An error like ``exc`` (the same exit code) with another message."""
    try:
        return type(exc)(message)
    except TypeError:  # an error class taking other arguments
        error = DwsError(message)
        error.exit_code = exc.exit_code
        return error


@contextlib.contextmanager
def remote_objects(config: RemoteConfig) -> Iterator[None]:
    """Errors about objects read from the remote name it, and what shows the extent of the
    damage: `dws fsck --remote NAME` (a plain `dws fsck` checks only this workspace)."""
    try:
        yield
    except (ObjectMissingError, CorruptObjectError) as exc:
        raise IntegrityError(
            f"{exc.problem} on the remote {config.name!r} ({config.url}); run "
            f"`dws fsck --remote {config.name}` for the extent"
        ) from None
