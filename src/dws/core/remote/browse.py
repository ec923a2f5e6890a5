"""Reading a snapshot straight from a remote, without a workspace (``dws get URL …``,
``dws.open(remote=…)``, ``dws://`` with a remote): the record and tags come from the remote,
and objects through a bounded local read cache (``store.readcache``), fetching only what the
paths read need."""

from __future__ import annotations

import os

from dws.core.reading import SnapshotFiles, mount_point
from dws.core.remote import layout
from dws.core.remote.config import check_endpoint, list_remotes, normalize_url
from dws.core.remote.records import read_identity, remote_snapshot
from dws.core.workspace import Workspace
from dws.errors import NotFoundError
from dws.model.records import ResourceSpec
from dws.resources.base import ResourceContext
from dws.resources.registry import resource_type
from dws.store.readcache import CachedObjects, user_cache_dir
from dws.store.remote_urls import is_bucket_url, open_backend

HEAD_REF = "HEAD"


def remote_location(
    remote: str, endpoint_url: str | None, ws: Workspace | None
) -> tuple[str, str | None]:
    """(URL, endpoint) of ``remote``: the name of a remote of ``ws``, or a URL (a
    directory, relative to the current one, or ``s3://bucket/prefix``)."""
    if ws is not None and "/" not in remote and "://" not in remote:
        for config in list_remotes(ws):
            if config.name == remote:
                return config.url, endpoint_url or config.endpoint_url
    url = normalize_url(remote, os.getcwd())
    return url, check_endpoint(endpoint_url, url)


def open_remote_snapshot(
    url: str, ref: str, *, endpoint_url: str | None = None, cache_dir: str | None = None
) -> SnapshotFiles:
    """The files of snapshot ``ref`` (a remote tag, an id prefix, or HEAD: the newest) of
    the remote at ``url`` (a directory or ``s3://bucket/prefix``). ``cache_dir`` holds the
    read cache (default: the user's cache directory). Close the result when done: that
    closes the remote."""
    if not is_bucket_url(url):
        url = os.path.abspath(url)
        if not os.path.isdir(url):
            raise NotFoundError(f"{url} is not a directory, so not a dws remote")
    cache = cache_dir or user_cache_dir()
    scratch = os.path.join(cache, "tmp")
    os.makedirs(scratch, exist_ok=True)
    remote = open_backend(url, endpoint_url, layout.PLACES, create=False, temporary_dir=scratch)
    try:
        if read_identity(remote) is None:
            raise NotFoundError(f"{url} holds no dws workspace (nothing was pushed there)")
        record = remote_snapshot(remote, None if ref == HEAD_REF else ref)
        if record is None:
            raise NotFoundError(f"the remote {url} holds no snapshot yet")
        store = CachedObjects(remote.objects, cache)
        context = ResourceContext(scratch, scratch, store, 0)
        mounts = []
        for name, recorded in sorted(record.resources.items()):
            spec = record.definition(name) or ResourceSpec(name, recorded.type, recorded.role, {})
            mounts.append((name, mount_point(spec, None), resource_type(spec.type)(spec, context)))
        return SnapshotFiles(record, mounts, closer=remote.close)
    except BaseException:
        remote.close()
        raise
