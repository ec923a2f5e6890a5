"""Fixtures of the failure tests (helpers live in helpers.py)."""

from __future__ import annotations

import pytest

from helpers.failure import DWS


@pytest.fixture(autouse=True)
def _dws_installed() -> None:
    """Every failure test runs the installed `dws`."""
    assert DWS, "the dws command is not installed in this environment"
