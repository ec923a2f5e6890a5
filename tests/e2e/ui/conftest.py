"""The project of ``helpers.ui.build_project``, served by `dws ui` once per module."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers.ui import Served, build_project, serving


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_project(tmp_path_factory.mktemp("ui") / "proj")


@pytest.fixture(scope="module")
def served(project: Path) -> Iterator[Served]:
    with serving(project) as server:
        yield server
