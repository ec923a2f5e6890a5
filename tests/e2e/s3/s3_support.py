"""Helpers of the s3 tests: seeding a bucket and reading back what it holds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dws import api
from helpers.cli import run_dws

PREFIX = "ev/"


def dws(root: Path, server: Any, *args: str, env: dict[str, str] | None = None) -> Any:
    """Run ``dws ARGS`` in ``root`` pointed at the test server."""
    return run_dws(*args, cwd=root, env={**server.env(), **(env or {})})


def new_workspace(tmp_path: Path, server: Any) -> Path:
    """An empty workspace (made through the Python API: a set-up step)."""
    root = tmp_path / "ws"
    root.mkdir()
    api.Workspace.init(str(root))
    return root


def put(client: Any, bucket: str, files: dict[str, bytes], prefix: str = PREFIX) -> None:
    for key, data in files.items():
        client.put_object(Bucket=bucket, Key=prefix + key, Body=data)


def contents(client: Any, bucket: str, prefix: str = PREFIX) -> dict[str, bytes]:
    """path below ``prefix`` -> bytes of every current object."""
    out: dict[str, bytes] = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            body = client.get_object(Bucket=bucket, Key=item["Key"])["Body"]
            out[item["Key"][len(prefix) :]] = body.read()
    return out


def versions(client: Any, bucket: str) -> set[tuple[str, str]]:
    """(key, version id) of every object version (delete markers left out)."""
    found: set[tuple[str, str]] = set()
    for page in client.get_paginator("list_object_versions").paginate(Bucket=bucket):
        for item in page.get("Versions", []):
            found.add((item["Key"], item["VersionId"]))
    return found


def all_entries(client: Any, bucket: str) -> set[tuple[str, str, bool]]:
    """(key, version id, is latest) of versions and delete markers: the whole history."""
    found: set[tuple[str, str, bool]] = set()
    for page in client.get_paginator("list_object_versions").paginate(Bucket=bucket):
        for item in page.get("Versions", []) + page.get("DeleteMarkers", []):
            found.add((item["Key"], item["VersionId"], bool(item["IsLatest"])))
    return found
