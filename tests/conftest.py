"""Fixtures every test folder shares (helpers live in the helpers package)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

import dws
from helpers.common import Result, run_dws


@pytest.fixture
def dws_cli() -> Callable[..., Result]:
    """The `run_dws` helper as a fixture."""
    return run_dws


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """An empty project directory with data/raw, data/features and results."""
    root = tmp_path / "project"
    for sub in ("data/raw", "data/features", "results"):
        (root / sub).mkdir(parents=True)
    return root


@pytest.fixture
def workspace(project: Path) -> dws.Workspace:
    """A workspace over ``project`` with raw (source), features (intermediate), results."""
    ws = dws.Workspace.init(str(project))
    ws.add_resource("local-files", str(project / "data/raw"), "source-data", name="raw")
    ws.add_resource("local-files", str(project / "data/features"), "intermediate-data")
    ws.add_resource("local-files", str(project / "results"), "results")
    return ws


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory):
    """A SeaweedFS S3 server on 127.0.0.1 for this test process (see tests/s3_server.py).
    Skipped only when DWS_TESTS_NO_S3=1; a missing `weed` binary fails the test."""
    from s3_server import SKIP_ENV, start_s3_server

    if os.environ.get(SKIP_ENV) == "1":
        pytest.skip(f"{SKIP_ENV}=1: S3 tests skipped")
    server = start_s3_server(tmp_path_factory.mktemp("s3server"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session", autouse=True)
def _private_temporary_directory(tmp_path_factory: pytest.TempPathFactory):
    """Temporary files of this test process and of everything it starts (`dws`, the S3
    server) go below pytest's own temporary directory, so a killed `dws` leaves nothing
    in the machine's /tmp."""
    import tempfile

    private = tmp_path_factory.mktemp("tmp")
    saved = os.environ.get("TMPDIR")
    os.environ["TMPDIR"] = str(private)
    tempfile.tempdir = None  # read TMPDIR again
    try:
        yield private
    finally:
        if saved is None:
            os.environ.pop("TMPDIR", None)
        else:
            os.environ["TMPDIR"] = saved
        tempfile.tempdir = None
