"""The helpers of tests/conftest.py (run_dws, write_files, manifest) and the crash-point
runner, shared with the failure tests (``tests`` is on sys.path, ``failure`` a package)."""

from __future__ import annotations

from failure.helpers import CRASHPOINT, Result, manifest, run_crashing, run_dws, write_files

__all__ = ["CRASHPOINT", "Result", "manifest", "run_crashing", "run_dws", "write_files"]
