"""Collecting what killed commands left in ``.dataworkspace/``: temporary files of atomic
writes in the record directories, and per-process files in ``local/`` (run logs, private
git indexes) whose process is gone. gc calls it while it holds the workspace lock, so no
live command is writing a record; per-process files of live processes are kept."""

from __future__ import annotations

import contextlib
import os
import re

from dws.core.layout import Layout
from dws.store.fileio import TEMP_PREFIX, process_running

# local/trace-<pid>-<random>.log (a run's observer log), local/git-<name>-<pid>.index
_PER_PROCESS = (re.compile(r"trace-(\d+)-[^/]*\.log"), re.compile(r"git-.+-(\d+)\.index"))


def collect_leftovers(layout: Layout) -> int:
    """Remove what killed commands left behind; return how many files."""
    record_dirs = [
        layout.meta,
        layout.snapshots,
        layout.tags,
        os.path.join(layout.lineage, "runs"),
        os.path.join(layout.lineage, "steps"),
        layout.local,
        layout.local_file("recovery"),
    ]
    removed = 0
    for directory in record_dirs:
        for name in _names(directory):
            if name.startswith(TEMP_PREFIX) or (
                directory == layout.local and _dead_process_file(name)
            ):
                removed += _remove(os.path.join(directory, name))
    return removed


def _names(directory: str) -> list[str]:
    try:
        return os.listdir(directory)
    except (FileNotFoundError, NotADirectoryError):
        return []


def _dead_process_file(name: str) -> bool:
    for pattern in _PER_PROCESS:
        match = pattern.fullmatch(name)
        if match:
            return not _alive(int(match.group(1)))
    return False


def _alive(pid: int) -> bool:
    return pid == os.getpid() or process_running(pid)


def _remove(path: str) -> int:
    with contextlib.suppress(FileNotFoundError, IsADirectoryError, PermissionError):
        os.unlink(path)
        return 1
    return 0
