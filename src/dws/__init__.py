"""Data Workspaces: snapshot, restore and share a data science project as one workspace."""

from dws.api import (
    FsckReport,
    GcReport,
    ResourceChanges,
    RestoreOutcome,
    ResultsRow,
    SnapshotOutcome,
    Workspace,
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
]
