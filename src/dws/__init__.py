"""Data Workspaces: snapshot, restore and share a data science project as one workspace.

The public names are loaded on first use, so `dws --help` does not pay for them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dws.api import (
        FsckReport,
        GcReport,
        ResourceChanges,
        RestoreOutcome,
        ResultsRow,
        SnapshotOutcome,
        Workspace,
        open,
        snapshot_files,
    )
    from dws.errors import (
        DwsError,
        FormatError,
        IntegrityError,
        LockedError,
        NotFoundError,
        RefusedError,
        UsageError,
    )

__version__ = "0.1.0"

__all__ = [
    "DwsError",
    "FormatError",
    "FsckReport",
    "GcReport",
    "IntegrityError",
    "LockedError",
    "NotFoundError",
    "RefusedError",
    "ResourceChanges",
    "RestoreOutcome",
    "ResultsRow",
    "SnapshotOutcome",
    "UsageError",
    "Workspace",
    "__version__",
    "open",
    "snapshot_files",
]


def load_ipython_extension(ipython: Any) -> None:
    """`%load_ext dws`: the ``%dws`` line magic (``%dws status``, ``%dws snapshot v3``)."""
    from dws.cli.notebook import register

    register(ipython)


_ERRORS = frozenset(name for name in __all__ if name.endswith("Error"))


def __getattr__(name: str) -> Any:
    if name in _ERRORS:
        return getattr(importlib.import_module("dws.errors"), name)
    if name in __all__:
        return getattr(importlib.import_module("dws.api"), name)
    raise AttributeError(f"module 'dws' has no attribute {name!r}")
