"""The one exception tree of dws.

    DwsError (exit 1)                    anything that went wrong, with a user-facing message
    ├── UnreachableError (exit 1)        a resource's content cannot be reached now
    ├── UsageError (exit 2)              bad arguments or input
    │   └── NotFoundError (exit 2)       unknown snapshot, tag, resource or path
    ├── RefusedError (exit 3)            refused to avoid losing data (unsaved changes, tag exists)
    ├── IntegrityError (exit 4)          stored or on-disk content does not match its record
    │   └── FormatError (exit 4)         metadata is malformed, hostile or of an unknown version
    └── LockedError (exit 5)             another dws command holds the workspace lock

Every error carries a one- or two-line message saying what went wrong and what to do;
the CLI prints it and exits with ``exit_code``.
"""

from __future__ import annotations


class DwsError(Exception):
    """Base of every error dws raises on purpose."""

    exit_code = 1

    def __init__(self, message: str, *, details: list[str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or []


class UnreachableError(DwsError):
    """A resource's content cannot be reached now (server down, credentials refused, bucket
    gone): status reports the resource as unreachable, snapshot refuses it. Made from an
    error of another kind, it keeps that error's exit code, so commands that do not look
    for it exit as before."""

    def __init__(self, message: str, *, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class UsageError(DwsError):
    """The command or its input is wrong; nothing was changed."""

    exit_code = 2


class NotFoundError(UsageError):
    """A named snapshot, tag, resource or path does not exist."""


class RefusedError(DwsError):
    """The operation would lose data, so it was not started."""

    exit_code = 3


class IntegrityError(DwsError):
    """Content does not match what was recorded."""

    exit_code = 4


class FormatError(IntegrityError):
    """Metadata on disk is malformed, hostile or of an unknown format version."""


class LockedError(DwsError):
    """Another dws process holds the workspace lock."""

    exit_code = 5
