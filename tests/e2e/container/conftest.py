"""Fixtures of the container tests: podman with a private store in the test's temporary
directory, and a local registry started for the test and stopped afterwards."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers.containers import Podman, Registry


@pytest.fixture
def podman(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Podman:
    """podman over a private store; `dws` subprocesses of the test see the same store."""
    found = Podman(tmp_path / "podman")
    for key, value in found.env.items():
        monkeypatch.setenv(key, value)
    return found


@pytest.fixture
def registry(tmp_path: Path, podman: Podman) -> Iterator[Registry]:
    """A registry on 127.0.0.1 (free port) that podman may reach over plain HTTP."""
    server = Registry(tmp_path / "registry")
    server.start()
    podman.allow_insecure(server.host)
    try:
        yield server
    finally:
        server.stop()
