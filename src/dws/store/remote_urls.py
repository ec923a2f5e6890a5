"""Which backend serves a remote URL, checking such URLs, and opening the backend: the one
module that knows the concrete remote backends (a directory, ``s3://bucket/prefix``);
everything else sees the interface of ``remote_backend``. The backends are imported only
when one is opened, so the S3 code (and boto3) loads only for an S3 remote.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dws.store.remote_backend import RemoteBackend, RemotePlaces

BUCKET_SCHEME = "s3://"


def is_bucket_url(url: str) -> bool:
    """True for an ``s3://`` URL (an S3 remote); anything else names a directory."""
    return url.startswith(BUCKET_SCHEME)


def check_bucket_url(url: str) -> str:
    """The canonical ``s3://bucket/prefix`` form of ``url`` (no trailing ``/``); UsageError
    for a malformed one or one carrying credentials."""
    from dws.store.s3client import parse_s3_url

    return parse_s3_url(url).url.rstrip("/")


def check_endpoint_url(endpoint_url: str) -> None:
    """Refuse an S3 endpoint that is not a plain http(s) URL or carries credentials."""
    from dws.store import s3client

    s3client.check_endpoint_url(endpoint_url)


def open_backend(
    url: str,
    endpoint_url: str | None,
    places: RemotePlaces,
    *,
    create: bool,
    temporary_dir: str | None,
) -> RemoteBackend:
    """Connect to the remote at ``url`` (``create``: give an empty directory its layout);
    ``temporary_dir``, if given, is where it writes temporary files."""
    if is_bucket_url(url):
        from dws.store.s3_store import open_s3_remote

        return open_s3_remote(url, endpoint_url, places, create=create, temporary_dir=temporary_dir)
    from dws.store.remote_dir import open_directory_remote

    backend = open_directory_remote(url, places, create=create)
    if temporary_dir is not None:
        backend.keep_temporary_files_in(temporary_dir)
    return backend


def probe_backend(url: str, endpoint_url: str | None, places: RemotePlaces) -> RemoteBackend | None:
    """Check, changing nothing, that the remote at ``url`` can be used: an S3 prefix whose
    bucket exists and whose listing the credentials allow (one request, tried once), or a
    directory that is a remote, empty, or absent with an existing parent. The open backend
    when there may be something to read there, None for an empty or absent directory; a
    DwsError saying what is wrong otherwise."""
    if is_bucket_url(url):
        from dws.store.s3_store import probe_s3_remote

        return probe_s3_remote(url, endpoint_url, places)
    from dws.store.remote_dir import probe_directory_remote

    return probe_directory_remote(url, places)
