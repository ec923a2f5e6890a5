"""The one S3 client module of dws, used by the S3 remote (store.s3_store, s3_packs) and
the s3 resource type (resources.s3): making a boto3 client, parsing ``s3://`` URLs, turning
botocore errors into dws errors, and the requests both need (head, get, put, delete, the
paginated listings) on ``S3Connection``.

boto3 is optional (the ``s3`` extra, see ``INSTALL_HINT``) and imported only inside
functions, so the rest of dws never loads it. Credentials come only from the standard AWS chain
(environment, shared config files, instance roles); dws never takes, stores or prints them,
and no error message built here quotes a server message or a URL that could carry one.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any, NoReturn
from urllib.parse import urlsplit

from msgspec import Struct

from dws.errors import DwsError, NotFoundError, UsageError
from dws.model.distribution import install_hint

INSTALL_HINT = install_hint("s3", "S3 support needs boto3")
ENDPOINT_ENV = "AWS_ENDPOINT_URL"
DEFAULT_REGION = "us-east-1"
MAX_KEY_BYTES = 1024
DELETE_BATCH = 1000  # the most keys one DeleteObjects request takes

_BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_IP_ADDRESS = re.compile(r"^\d+\.\d+\.\d+\.\d+$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_PRECONDITION_CODES = {"PreconditionFailed", "ConditionalRequestConflict", "412"}
_NOT_FOUND_CODES = {"NoSuchKey", "NotFound", "404", "NoSuchVersion"}
_DENIED_CODES = {
    "AccessDenied",
    "403",
    "Forbidden",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "ExpiredToken",
    "InvalidToken",
    "AllAccessDisabled",
}


class S3Location(Struct, frozen=True):
    """A bucket and a key prefix; the prefix is empty or ends with ``/``."""

    bucket: str
    prefix: str = ""

    @property
    def url(self) -> str:
        """The canonical ``s3://bucket/prefix/`` form."""
        return f"s3://{self.bucket}/{self.prefix}"

    def key(self, relative: str) -> str:
        """The full key of ``relative`` (a ``/``-separated path) below the prefix."""
        return self.prefix + relative.lstrip("/")

    def relative(self, key: str) -> str:
        """The part of ``key`` below the prefix (the key must start with it)."""
        if not key.startswith(self.prefix):
            raise ValueError(f"key {key!r} is not below {self.prefix!r}")
        return key[len(self.prefix) :]


def parse_s3_url(url: str) -> S3Location:
    """Parse ``s3://bucket[/prefix]``; a prefix is treated as a directory (``/`` appended).

    Refuses credentials in the URL, query strings, invalid bucket names and prefixes with
    empty, ``.`` or ``..`` segments or control characters (UsageError; the message never
    repeats the part before ``@``)."""
    if not url.startswith("s3://"):
        raise UsageError("an S3 location must look like s3://bucket/prefix")
    rest = url[len("s3://") :]
    host, _, path = rest.partition("/")
    if "@" in host or ":" in host:
        raise UsageError(
            "an s3:// URL must not carry credentials or a port; credentials come from the "
            "AWS chain (environment, ~/.aws) and the endpoint from --endpoint-url"
        )
    parts = urlsplit(url)
    if parts.query or parts.fragment or "?" in url or "#" in url:
        raise UsageError(f"an S3 location has no query or fragment: s3://{host}/...")
    _check_bucket(host)
    return S3Location(host, _normalise_prefix(path, host))


def _check_bucket(bucket: str) -> None:
    if not _BUCKET_NAME.match(bucket) or ".." in bucket or _IP_ADDRESS.match(bucket):
        raise UsageError(
            f"invalid S3 bucket name {bucket!r}: 3-63 characters of lowercase letters, "
            "digits, '.' and '-', starting and ending with a letter or digit"
        )


def _normalise_prefix(path: str, bucket: str) -> str:
    if path == "":
        return ""
    if _CONTROL.search(path) or "\\" in path:
        raise UsageError(f"the prefix of s3://{bucket}/ has control characters or backslashes")
    segments = path.rstrip("/").split("/")
    if any(seg in ("", ".", "..") for seg in segments):
        raise UsageError(f"invalid prefix in s3://{bucket}/{path}: no empty, '.' or '..' segments")
    prefix = "/".join(segments) + "/"
    if len(prefix.encode("utf-8")) >= MAX_KEY_BYTES:
        raise UsageError(f"the prefix of s3://{bucket}/ is too long")
    return prefix


def resolve_endpoint(explicit: str | None = None) -> str | None:
    """The endpoint URL to use: ``explicit``, else ``AWS_ENDPOINT_URL``, else None (AWS)."""
    endpoint = explicit or os.environ.get(ENDPOINT_ENV) or None
    if endpoint is not None:
        check_endpoint_url(endpoint)
    return endpoint


def check_endpoint_url(endpoint: str) -> None:
    """Refuse an endpoint that is not a plain http(s) URL or carries credentials."""
    parts = urlsplit(endpoint)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError("an S3 endpoint URL must look like http(s)://host[:port]")
    if "@" in parts.netloc:
        raise UsageError("an S3 endpoint URL must not carry credentials")


def endpoint_label(endpoint: str | None) -> str:
    """How messages name an endpoint."""
    return f"the S3 endpoint {endpoint}" if endpoint else "AWS S3 (no endpoint given)"


class S3Connection(Struct, frozen=True):
    """A client and the endpoint it talks to (None: AWS), so error messages can name it,
    with the requests the S3 remote and the s3 resource share. Each request turns botocore
    errors into dws errors naming the bucket and key; ``head`` and ``get`` answer None for
    what does not exist, ``put`` False for a condition that does not hold."""

    client: Any
    endpoint: str | None

    def errors(self, bucket: str, key: str | None = None) -> AbstractContextManager[None]:
        """``s3_errors`` for this connection's endpoint."""
        return s3_errors(bucket, key, self.endpoint)

    def head(self, bucket: str, key: str, **options: Any) -> dict[str, Any] | None:
        """HeadObject (``options``: VersionId...), None when the key or version is absent."""
        return self._or_none(self.client.head_object, bucket, key, options)

    def get(self, bucket: str, key: str, **options: Any) -> dict[str, Any] | None:
        """GetObject (``options``: VersionId, Range, IfMatch...), None when the key or version
        is absent or an ``IfMatch`` ETag no longer holds. Read the body within ``errors``."""
        return self._or_none(self.client.get_object, bucket, key, options)

    def _or_none(
        self, call: Callable[..., Any], bucket: str, key: str, options: dict[str, Any]
    ) -> dict[str, Any] | None:
        try:
            response: dict[str, Any] = call(Bucket=bucket, Key=key, **options)
            return response
        except Exception as exc:
            if is_not_found(exc) or error_code(exc) in _PRECONDITION_CODES:
                return None
            raise_translated(exc, bucket=bucket, key=key, endpoint=self.endpoint)

    def put(self, bucket: str, key: str, body: bytes, **condition: str) -> bool:
        """PutObject; with a ``condition`` (IfNoneMatch, IfMatch), False when the server
        says it does not hold."""
        try:
            self.client.put_object(Bucket=bucket, Key=key, Body=body, **condition)
            return True
        except Exception as exc:
            if condition and error_code(exc) in _PRECONDITION_CODES:
                return False
            raise_translated(exc, bucket=bucket, key=key, endpoint=self.endpoint)

    def delete(self, bucket: str, key: str, **condition: str) -> bool:
        """DeleteObject without a version id (no error when the key is absent; in a
        versioned bucket the key gets a delete marker); with a ``condition`` (IfMatch),
        False when the server says it does not hold."""
        try:
            self.client.delete_object(Bucket=bucket, Key=key, **condition)
            return True
        except Exception as exc:
            if condition and error_code(exc) in _PRECONDITION_CODES:
                return False
            if condition and is_not_found(exc):
                return False
            raise_translated(exc, bucket=bucket, key=key, endpoint=self.endpoint)

    def list_uploads(self, bucket: str, prefix: str) -> Iterator[dict[str, Any]]:
        """Every multipart upload in progress below ``prefix`` (ListMultipartUploads, all
        pages): its ``Key``, ``UploadId`` and ``Initiated``."""
        for upload in self._listed("list_multipart_uploads", "Uploads", bucket, prefix, {}):
            if str(upload.get("Key", "")).startswith(prefix):
                yield upload

    def abort_upload(self, bucket: str, key: str, upload_id: str) -> None:
        """AbortMultipartUpload (no error when the upload is already gone)."""
        try:
            self.client.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
        except Exception as exc:
            if error_code(exc) == "NoSuchUpload" or is_not_found(exc):
                return
            raise_translated(exc, bucket=bucket, key=key, endpoint=self.endpoint)

    def delete_batch(self, bucket: str, keys: list[str], where: str | None) -> list[Any]:
        """One DeleteObjects request for at most DELETE_BATCH keys (no version ids); the
        per-key errors the server reports. ``where`` names the keys in error messages."""
        if len(keys) > DELETE_BATCH:
            raise ValueError(f"DeleteObjects takes at most {DELETE_BATCH} keys")
        objects = [{"Key": key} for key in keys]
        with self.errors(bucket, where):
            answer = self.client.delete_objects(
                Bucket=bucket, Delete={"Objects": objects, "Quiet": True}
            )
        return list(answer.get("Errors") or [])

    def list_objects(
        self, bucket: str, prefix: str, delimiter: str | None = None
    ) -> Iterator[dict[str, Any]]:
        """Every current object below ``prefix`` (ListObjectsV2, all pages); with a
        ``delimiter``, those not below another one."""
        options = {"Delimiter": delimiter} if delimiter else {}
        return self._listed("list_objects_v2", "Contents", bucket, prefix, options)

    def list_versions(self, bucket: str, prefix: str) -> Iterator[dict[str, Any]]:
        """Every object version below ``prefix`` (ListObjectVersions, all pages); delete
        markers are left out."""
        return self._listed("list_object_versions", "Versions", bucket, prefix, {})

    def _listed(
        self, operation: str, field: str, bucket: str, prefix: str, options: dict[str, Any]
    ) -> Iterator[dict[str, Any]]:
        with self.errors(bucket, prefix or None):
            paginator = self.client.get_paginator(operation)
            for page in paginator.paginate(Bucket=bucket, Prefix=prefix, **options):
                yield from page.get(field, [])


# A probe client answers one question before `dws status` or `dws snapshot` lists a
# prefix: can the bucket be reached at all? Its bounds make an endpoint that is down cost
# seconds, not the minutes the working client's retries and timeouts can add up to:
# * connect 3 s: a TCP (and TLS) handshake takes well under a second on a working network;
# * read 5 s: the probe is one ListObjectsV2 of one key, which a working server answers in
#   well under a second;
# * 2 attempts in all: one retry, for a connection dropped once.
# A refused connection or an unknown host fails at once; an address that drops packets
# costs about 2 x 3 s, a server that accepts connections but never answers 2 x 5 s.
PROBE_CONNECT_TIMEOUT = 3
PROBE_READ_TIMEOUT = 5
PROBE_ATTEMPTS = 2


def connect(
    endpoint_url: str | None = None, *, max_pool_connections: int = 16, probe: bool = False
) -> S3Connection:
    """A client (see ``make_client``) together with its resolved endpoint."""
    endpoint = resolve_endpoint(endpoint_url)
    client = make_client(endpoint, max_pool_connections=max_pool_connections, probe=probe)
    return S3Connection(client, endpoint)


def make_client(
    endpoint_url: str | None = None, *, max_pool_connections: int = 16, probe: bool = False
) -> Any:
    """A boto3 S3 client for ``endpoint_url`` (or ``AWS_ENDPOINT_URL``, or AWS itself).

    With an endpoint, path-style addressing is used (most S3-compatible servers need it)
    and the region defaults to us-east-1 when none is configured. The working client
    retries (5 attempts in all, "standard" mode) and waits long for large listings and
    transfers (10 s to connect, 120 s to read); a ``probe`` client, for one small request
    telling whether the endpoint can be reached, gives up within seconds (see above)."""
    boto3 = _import_boto3()
    from botocore.config import Config

    endpoint = resolve_endpoint(endpoint_url)
    if probe:
        attempts: dict[str, Any] = {"total_max_attempts": PROBE_ATTEMPTS}
        timeouts = (PROBE_CONNECT_TIMEOUT, PROBE_READ_TIMEOUT)
    else:
        attempts, timeouts = {"max_attempts": 4}, (10, 120)
    config = Config(
        retries={**attempts, "mode": "standard"},
        connect_timeout=timeouts[0],
        read_timeout=timeouts[1],
        max_pool_connections=max_pool_connections,
        s3={"addressing_style": "path"} if endpoint else {},
    )
    session = boto3.session.Session()
    region = session.region_name or (DEFAULT_REGION if endpoint else None)
    return session.client("s3", endpoint_url=endpoint, region_name=region, config=config)


def _import_boto3() -> Any:
    try:
        import boto3
    except ImportError:
        raise UsageError(INSTALL_HINT) from None
    return boto3


def error_code(exc: BaseException) -> str | None:
    """The S3 error code of a botocore ClientError (``NoSuchKey``, ``PreconditionFailed``...),
    else None."""
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return None
    code = response.get("Error", {}).get("Code")
    return str(code) if code is not None else None


def is_not_found(exc: BaseException) -> bool:
    """True when ``exc`` says the key, version or bucket does not exist."""
    code = error_code(exc)
    return code in _NOT_FOUND_CODES or code == "NoSuchBucket"


def translate_error(
    exc: BaseException, *, bucket: str, key: str | None = None, endpoint: str | None = None
) -> DwsError | None:
    """The dws error for a botocore/boto3 exception, or None when ``exc`` is not one.

    Messages name the bucket, key and endpoint only; never credentials or server text."""
    try:
        from botocore import exceptions as bc
    except ImportError:
        return None
    where = f"s3://{bucket}/{key}" if key else f"s3://{bucket}"
    label = endpoint_label(endpoint)
    if isinstance(exc, bc.ClientError):
        code = error_code(exc) or "unknown"
        if code == "NoSuchBucket":
            return NotFoundError(
                f"S3 bucket {bucket!r} does not exist at {label}: check the bucket name and "
                "the endpoint, or create the bucket"
            )
        if code in _NOT_FOUND_CODES:
            return NotFoundError(f"{where} does not exist")
        if code in _DENIED_CODES:
            return DwsError(
                f"access to {where} was denied ({code}): check the AWS credentials "
                "(environment or profile) and the bucket policy"
            )
        return DwsError(f"S3 request for {where} failed: {code}")
    if isinstance(exc, bc.NoCredentialsError | bc.PartialCredentialsError):
        return DwsError(
            f"no usable AWS credentials for {where}: set AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY, or AWS_PROFILE"
        )
    if isinstance(exc, bc.EndpointConnectionError | bc.ConnectTimeoutError):
        return DwsError(
            f"cannot reach {label} (for {where}): check the endpoint URL "
            "(--endpoint-url or AWS_ENDPOINT_URL) and that the server is up"
        )
    if isinstance(exc, bc.ReadTimeoutError):
        return DwsError(f"{label} did not answer in time (for {where})")
    if isinstance(exc, bc.ParamValidationError):
        return UsageError(f"invalid S3 request for {where}")
    if isinstance(exc, bc.BotoCoreError):
        return DwsError(f"S3 request for {where} at {label} failed: {type(exc).__name__}")
    return None


def raise_translated(
    exc: BaseException, *, bucket: str, key: str | None = None, endpoint: str | None = None
) -> NoReturn:
    """Raise the dws error for ``exc`` (without chaining the botocore exception), or ``exc``
    itself when it is not a botocore error."""
    mapped = translate_error(exc, bucket=bucket, key=key, endpoint=endpoint)
    if mapped is None:
        raise exc
    raise mapped from None


@contextmanager
def s3_errors(bucket: str, key: str | None = None, endpoint: str | None = None) -> Iterator[None]:
    """Run a block of S3 calls, turning botocore errors into one-line dws errors."""
    try:
        yield
    except DwsError:
        raise
    except Exception as exc:
        raise_translated(exc, bucket=bucket, key=key, endpoint=endpoint)
