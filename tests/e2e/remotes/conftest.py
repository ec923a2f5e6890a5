"""Fixtures for the remote tests: a small workspace with data, and a remote of each kind
(a directory, and a bucket prefix on the SeaweedFS test server)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

import dws
from helpers.failure import Result, run_dws, write_files


@dataclass
class RemoteSpot:
    """Where a test remote is and what a `dws` process needs to reach it."""

    kind: str
    url: str
    env: dict[str, str] = field(default_factory=dict)
    server: Any = None

    def run(self, *args: str, cwd: Path | str, **kwargs: Any) -> Result:
        """`dws ARGS` with this remote's environment."""
        return run_dws(*args, cwd=cwd, env=self.env, **kwargs)

    def ok(self, *args: str, cwd: Path | str) -> Result:
        """`dws ARGS`, which must succeed."""
        result = self.run(*args, cwd=cwd)
        assert result.code == 0, (args, result.out, result.err)
        return result

    def json(self, *args: str, cwd: Path | str) -> Any:
        """The --json output of a successful `dws ARGS`."""
        return json.loads(self.ok(*args, "--json", cwd=cwd).out)


@pytest.fixture
def dir_remote(tmp_path: Path) -> RemoteSpot:
    """A directory remote (not created yet: the first push makes it)."""
    return RemoteSpot("dir", str(tmp_path / "remote"))


@pytest.fixture
def s3_remote(s3_server: Any) -> RemoteSpot:
    """A fresh bucket prefix on the test SeaweedFS server."""
    bucket = s3_server.make_bucket()
    return RemoteSpot("s3", f"s3://{bucket}/team/ws", dict(s3_server.env()), s3_server)


@pytest.fixture(params=["dir", "s3"])
def remote(request: pytest.FixtureRequest) -> RemoteSpot:
    """Each remote kind in turn."""
    name = "dir_remote" if request.param == "dir" else "s3_remote"
    spot: RemoteSpot = request.getfixturevalue(name)
    return spot


SAMPLE: dict[str, str | bytes] = {
    "data/raw/a.csv": "x,y\n1,2\n",
    "data/raw/sub/b.txt": "bee\n",
    "data/raw/sub/deeper/c.bin": bytes(range(256)) * 3,
    "data/raw/big.bin": os.urandom(300_000),
    "data/raw/n é.txt": "non-ascii name\n",
    "data/features/f.csv": "f\n1\n",
    "results/metrics.json": '{"acc": 0.5}',
}


@pytest.fixture
def make_workspace(tmp_path: Path) -> Callable[..., Path]:
    """A workspace with source data, features and results, snapshotted as v1. It is set up
    through the Python API, the layer under `dws init`, `dws add` and `dws snapshot`
    (tests/e2e/workspace drives those commands themselves): one process start per step
    would cost more than the step."""

    def make(name: str = "ws", files: dict[str, str | bytes] | None = None) -> Path:
        root = tmp_path / name
        root.mkdir()
        write_files(root, {**SAMPLE, **(files or {})})
        (root / "data/raw/run.sh").write_text("#!/bin/sh\n")
        (root / "data/raw/run.sh").chmod(0o755)
        os.symlink("a.csv", root / "data/raw/link")
        (root / "data/raw/empty").mkdir()
        ws = dws.Workspace.init(str(root))
        here = str(root)
        ws.add_resource("local-files", "data/raw", "source-data", name="raw", relative_to=here)
        ws.add_resource("local-files", "data/features", "intermediate-data", relative_to=here)
        ws.add_resource("local-files", "results", "results", relative_to=here)
        ws.snapshot("v1", "first")
        return root

    return make


def pushed_workspace(
    spot: RemoteSpot, make_workspace: Callable[..., Path], name: str = "ws"
) -> Path:
    """A sample workspace (``make_workspace``) with ``spot`` as origin, pushed."""
    ws: Path = make_workspace(name)
    push_to_origin(spot, ws)
    return ws


def push_to_origin(spot: RemoteSpot, ws: Path) -> None:
    """Add ``spot`` as the origin of ``ws`` and push: a set-up step, through the Python API
    (under `dws remote add` and `dws push`) with the remote's environment."""
    with pytest.MonkeyPatch.context() as environment:
        for key, value in spot.env.items():
            environment.setenv(key, value)
        workspace = dws.Workspace.open(str(ws))
        workspace.add_remote("origin", spot.url)
        workspace.push()


def clone_of(spot: RemoteSpot, destination: Path) -> Path:
    """A clone of ``spot`` at ``destination``: a set-up step, through the Python API (under
    `dws clone`) with the remote's environment."""
    with pytest.MonkeyPatch.context() as environment:
        for key, value in spot.env.items():
            environment.setenv(key, value)
        dws.Workspace.clone(spot.url, str(destination), relative_to=str(destination.parent))
    return destination
