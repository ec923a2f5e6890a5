"""The ``remotes`` section of config.json: name -> {url, endpoint_url?}; never credentials."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from dws.core.workspace import Workspace
from dws.errors import FormatError, NotFoundError, RefusedError, UsageError
from dws.model.paths import check_file_like_name, is_file_like_name
from dws.store.fileio import write_atomic
from dws.store.remote_urls import check_bucket_url, check_endpoint_url, is_bucket_url

MAX_REMOTE_NAME = 64


@dataclass(frozen=True)
class RemoteConfig:
    """One configured remote."""

    name: str
    url: str
    endpoint_url: str | None = None

    @property
    def is_s3(self) -> bool:
        """True for ``s3://`` remotes."""
        return is_bucket_url(self.url)

    def to_json(self) -> dict[str, str]:
        """The config.json entry."""
        out = {"url": self.url}
        if self.endpoint_url:
            out["endpoint_url"] = self.endpoint_url
        return out


def check_remote_name(name: str) -> str:
    """Remote names become file names in local/remotes/."""
    return check_file_like_name(name, "remote name", MAX_REMOTE_NAME)


def normalize_url(url: str, base: str) -> str:
    """An ``s3://bucket/prefix`` URL (checked), or a directory made absolute against
    ``base``; URLs carrying credentials and other schemes are refused."""
    if is_bucket_url(url):
        return check_bucket_url(url)
    if url.startswith("file://"):
        from urllib.parse import unquote, urlsplit

        parts = urlsplit(url)
        if "@" in parts.netloc:
            raise UsageError("refusing a remote URL with credentials in it")
        if parts.netloc not in ("", "localhost"):
            raise UsageError("a file:// remote must be on this machine (file:///path)")
        url = unquote(parts.path)
    if "://" in url:
        scheme = url.split("://", 1)[0]
        raise UsageError(
            f"unsupported remote URL scheme {scheme!r}: give a directory or s3://bucket/prefix"
        )
    if not url or "\x00" in url:
        raise UsageError("a remote needs a directory or an s3://bucket/prefix URL")
    return os.path.normpath(os.path.join(base, os.path.expanduser(url)))


def check_endpoint(endpoint_url: str | None, url: str) -> str | None:
    """Validate an endpoint (S3 remotes only; no credentials in it)."""
    if endpoint_url is None:
        return None
    if not is_bucket_url(url):
        raise UsageError("--endpoint-url applies to s3:// remotes only")
    check_endpoint_url(endpoint_url)
    return endpoint_url.rstrip("/")


def _parse(name: str, value: Any) -> RemoteConfig:
    """A remote read from config.json (a shared, possibly hostile file): its name becomes
    a file name under local/, its URL a place dws writes to."""
    if not is_file_like_name(name, MAX_REMOTE_NAME):
        raise FormatError(f"config.json: invalid remote name {str(name)[:80]!r}")
    if not isinstance(value, dict) or not isinstance(value.get("url"), str):
        raise FormatError(f"config.json: remote {name!r} has no url")
    url = value["url"]
    endpoint = value.get("endpoint_url")
    if endpoint is not None and not isinstance(endpoint, str):
        raise FormatError(f"config.json: remote {name!r} has an invalid endpoint_url")
    try:
        if is_bucket_url(url):
            check_bucket_url(url)  # refuses credentials and malformed buckets
            ok = True
        else:
            ok = os.path.isabs(url) and "\x00" not in url and "://" not in url
    except UsageError:
        ok = False
    if not ok:
        raise FormatError(
            f"config.json: remote {name!r} must be an absolute directory or s3://bucket/prefix"
        )
    return RemoteConfig(name, url, endpoint)


def list_remotes(ws: Workspace) -> list[RemoteConfig]:
    """Configured remotes, sorted by name."""
    remotes = ws.config().get("remotes", {})
    if not isinstance(remotes, dict):
        raise FormatError("config.json: 'remotes' must be an object")
    return [_parse(name, remotes[name]) for name in sorted(remotes)]


def get_remote(ws: Workspace, name: str | None) -> RemoteConfig:
    """The remote named ``name``; without a name, the only one (or ``origin``)."""
    remotes = {r.name: r for r in list_remotes(ws)}
    if name is None:
        if "origin" in remotes:
            return remotes["origin"]
        if len(remotes) == 1:
            return next(iter(remotes.values()))
        if not remotes:
            raise NotFoundError("no remote configured (run `dws remote add NAME URL`)")
        raise UsageError(f"several remotes are configured; name one of {', '.join(remotes)}")
    if name not in remotes:
        raise NotFoundError(f"no remote named {name!r} (see `dws remote list`)")
    return remotes[name]


def _save(ws: Workspace, config: dict[str, Any]) -> None:
    data = (json.dumps(config, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()
    write_atomic(ws.layout.config_json, data, durable=True)


def add_remote(
    ws: Workspace,
    name: str,
    url: str,
    endpoint_url: str | None = None,
    *,
    base: str = ".",
    check: Callable[[RemoteConfig], None] | None = None,
) -> RemoteConfig:
    """Record a remote; refuse a name already in use. ``check`` (see
    ``open.check_usable``) may refuse the remote before config.json is written; it runs
    without the workspace lock, as it may wait for the network."""
    check_remote_name(name)
    normalized = normalize_url(url, base)
    remote = RemoteConfig(name, normalized, check_endpoint(endpoint_url, normalized))
    if check is not None:
        if name in _remotes_of(ws.config()):
            raise RefusedError(f"remote {name!r} already exists (remove it first)")
        check(remote)
    with ws.locked("remote"):
        config = ws.config()
        remotes = _remotes_of(config)
        if name in remotes:
            raise RefusedError(f"remote {name!r} already exists (remove it first)")
        remotes[name] = remote.to_json()
        _save(ws, config)
    return remote


def remove_remote(ws: Workspace, name: str) -> RemoteConfig:
    """Forget a remote (nothing on the remote is touched) and what we knew about it."""
    from dws.core.remote.cache import forget_remote

    with ws.locked("remote"):
        remote = get_remote(ws, name)
        config = ws.config()
        del config["remotes"][name]
        _save(ws, config)
        forget_remote(ws, name)
    return remote


def point_remote(
    ws: Workspace, name: str, url: str, endpoint_url: str | None = None, *, base: str = "."
) -> RemoteConfig:
    """Record remote ``name`` at ``url``: added when absent, left as it is when it already
    names that place, pointed there otherwise (forgetting what was known about its old one).
    Other remotes are kept as they are."""
    check_remote_name(name)
    normalized = normalize_url(url, base)
    remote = RemoteConfig(name, normalized, check_endpoint(endpoint_url, normalized))
    with ws.locked("remote"):
        config = ws.config()
        remotes = _remotes_of(config)
        current = remotes.get(name)
        if isinstance(current, dict) and (
            current.get("url"),
            current.get("endpoint_url"),
        ) == (remote.url, remote.endpoint_url):
            return remote
        remotes[name] = remote.to_json()
        _save(ws, config)
        if current is not None:
            from dws.core.remote.cache import forget_remote

            forget_remote(ws, name)
    return remote


def _remotes_of(config: dict[str, Any]) -> dict[str, Any]:
    """config.json's ``remotes`` object (made when absent)."""
    remotes = config.setdefault("remotes", {})
    if not isinstance(remotes, dict):
        raise FormatError("config.json: 'remotes' must be an object")
    return remotes
