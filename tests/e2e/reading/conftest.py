"""Fixtures of the `dws://` tests: a workspace holding a CSV file and a parquet dataset (a
directory of parts) at two versions, built with the `dws` command, and the same pushed to a
directory remote and to a bucket prefix on the SeaweedFS test server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import fsspec
import pytest

from helpers.reading import Pushed, Versions, build_versions, ok


@pytest.fixture(scope="module")
def versions(tmp_path_factory: pytest.TempPathFactory) -> Versions:
    """The two versions in a workspace (shared by a module's tests: they only read it)."""
    return build_versions(tmp_path_factory.mktemp("versions") / "ws")


@pytest.fixture(scope="session", autouse=True)
def _dws_protocol() -> None:
    """``dws://`` known to fsspec: through the installed entry point, or registered here
    when the installed metadata predates it (test_entry_point checks the metadata)."""
    from dws.filesystem import DwsFileSystem

    try:
        fsspec.get_filesystem_class("dws")
    except (ImportError, ValueError):
        fsspec.register_implementation("dws", DwsFileSystem, clobber=True)


@pytest.fixture(autouse=True)
def _own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Reads without a workspace cache below the test's directory, never in the user's
    cache; filesystems made by a test are not reused by the next."""
    cache = tmp_path / "xdg-cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    from dws.filesystem import DwsFileSystem

    DwsFileSystem.clear_instance_cache()
    yield cache
    DwsFileSystem.clear_instance_cache()


@pytest.fixture
def elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The current directory moved to an empty directory that is not in a workspace."""
    away = tmp_path / "elsewhere"
    away.mkdir()
    monkeypatch.chdir(away)
    return away


@pytest.fixture(scope="module")
def dir_pushed(versions: Versions, tmp_path_factory: pytest.TempPathFactory) -> Pushed:
    """The versions pushed to a directory remote."""
    url = str(tmp_path_factory.mktemp("dir-remote") / "remote")
    ok("remote", "add", "dir", url, cwd=versions.root)
    ok("push", "dir", cwd=versions.root)
    return Pushed("dir", url, {})


@pytest.fixture(scope="module")
def s3_pushed(versions: Versions, s3_server: Any) -> Pushed:
    """The versions pushed to a bucket prefix on the SeaweedFS test server."""
    url = f"s3://{s3_server.make_bucket()}/team/ws"
    env = dict(s3_server.env())
    ok("remote", "add", "s3", url, cwd=versions.root, env=env)
    ok("push", "s3", cwd=versions.root, env=env)
    del env["AWS_ENDPOINT_URL"]  # readers name the endpoint in the storage options
    return Pushed("s3", url, env, s3_server.endpoint_url)


@pytest.fixture(params=["dir", "s3"])
def pushed(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Pushed:
    """Each remote kind in turn, with its credentials in this process's environment."""
    spot: Pushed = request.getfixturevalue(f"{request.param}_pushed")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    for key, value in spot.env.items():
        monkeypatch.setenv(key, value)
    return spot
