"""Fixtures of the CLI tests. Set-up goes through the Python API (in process, fast); the
command under test always runs as a `dws` subprocess."""

from __future__ import annotations

from pathlib import Path

import pytest

import dws
from helpers.cli import V1_FILES, write_files


@pytest.fixture
def ws(workspace: dws.Workspace, project: Path) -> Path:
    """A workspace over ``project``: raw (source-data), features (intermediate-data),
    results (results); no files and no snapshot yet."""
    return project


@pytest.fixture
def ws_v1(ws: Path) -> Path:
    """``ws`` holding V1_FILES, snapshotted as v1."""
    write_files(ws, V1_FILES)
    dws.Workspace.open(str(ws)).snapshot("v1", "first")
    return ws
