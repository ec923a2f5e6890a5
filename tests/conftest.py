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
    in the machine's /tmp; at the end, any ``dws-*`` temporary file left there or in the
    machine's /tmp fails the session. The user's cache directory (where reads from a
    remote keep what they fetched) is redirected there too."""
    import tempfile

    private = tmp_path_factory.mktemp("tmp")
    saved_cache = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(tmp_path_factory.mktemp("cache"))
    saved = os.environ.get("TMPDIR")
    machine_tmp = tempfile.gettempdir()
    before = set(_dws_entries(machine_tmp))
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
        if saved_cache is None:
            os.environ.pop("XDG_CACHE_HOME", None)
        else:
            os.environ["XDG_CACHE_HOME"] = saved_cache
    leaked = sorted(set(_dws_entries(machine_tmp)) - before) + _dws_entries(str(private))
    assert not leaked, f"dws left temporary files behind: {leaked[:10]}"


def _dws_entries(directory: str) -> list[str]:
    """Entries dws names as its own temporary files (``dws-*``) in ``directory``."""
    try:
        return [os.path.join(directory, n) for n in os.listdir(directory) if n.startswith("dws-")]
    except FileNotFoundError:
        return []
