"""Observing a step run from Python code (``Workspace.step``) in the process itself.

The recorder that `dws run` loads into child processes (``pyhook/dws_recorder.py``) is
installed here as an audit hook once per process; it records only while a step is open.
Audit hooks cannot be removed, so outside a step the hook returns at once. Events of other
threads while a step is open are recorded too (they are the same process's work)."""

from __future__ import annotations

import linecache
import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

from dws.core.lineage.observe import Observation, apply_event, unescape
from dws.core.lineage.pyhook.dws_recorder import Recorder

_lock = threading.Lock()
_lines: list[list[str]] = []  # one list per open step (steps may nest)
_installed = False


def _emit(line: str) -> None:
    for lines in _lines:
        lines.append(line)


def _install() -> None:
    global _installed
    with _lock:
        if not _installed:
            recorder = Recorder(_emit)
            sys.addaudithook(lambda event, args: recorder.hook(event, args) if _lines else None)
            _installed = True


@contextmanager
def observing() -> Iterator[Observation]:
    """Record this process's file events while the block runs; the observation is
    filled in when the block ends."""
    _install()
    lines: list[str] = []
    seen = Observation("python")
    _lines.append(lines)
    try:
        yield seen
    finally:
        _lines.remove(lines)
        for line in lines:
            fields = line.rstrip("\n").split("\t")
            apply_event(seen, fields[0], [unescape(f) for f in fields[1:]])


def caller_code(frame: FrameType | None) -> tuple[str, bytes] | None:
    """(file name, source) of the code that opened a step: a script's path, or a
    notebook cell (whose source only the line cache holds)."""
    if frame is None:
        return None
    name = frame.f_code.co_filename
    if os.path.isfile(name) and not name.startswith("<"):
        return name, b""
    lines = linecache.getlines(name)
    return (name, "".join(lines).encode()) if lines else None
