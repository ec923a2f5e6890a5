"""What a run's processes did to files, as seen by an observer, in one shape.

Two observers fill an ``Observation``: the Python recorder (an audit hook loaded into
every Python process of the run, ``pyhook/``) and strace (``strace/``, imported only when a
run may be traced). Which one runs is decided by ``choose_observer``. See docs/lineage.md,
"Observing a run".
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from typing import TYPE_CHECKING

from msgspec import Struct, field

if TYPE_CHECKING:
    from dws.core.lineage.strace.parse import TraceResult

Signature = tuple[int, int, int, int]  # size, mtime_ns, inode, ctime_ns
PYTHON_NAME_RE = re.compile(r"python[0-9.]*$|pypy[0-9.]*$")
HOOK_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "pyhook")
LOG_ENV = "DWS_OBSERVE_LOG"
OBSERVERS = ("auto", "python", "strace", "none")


class Observation(Struct):
    """Absolute paths, named as the processes named them.

    ``read`` holds paths read before the run first wrote them, with the file's signature
    at the open when the observer knows it; ``written`` paths created or changed;
    ``removed`` paths removed and not created again; ``moved`` renames in order;
    ``listed`` directories listed; ``executed`` programs and Python code run;
    ``unobserved`` programs started that no observer followed; ``sources`` code that
    exists only in memory (a notebook cell), by the name its interpreter gave it."""

    observer: str
    read: dict[str, Signature | None] = field(default_factory=dict)
    written: set[str] = field(default_factory=set)
    removed: set[str] = field(default_factory=set)
    moved: list[tuple[str, str]] = field(default_factory=list)
    listed: set[str] = field(default_factory=set)
    executed: set[str] = field(default_factory=set)
    unobserved: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    sources: dict[str, bytes] = field(default_factory=dict)  # code only memory holds

    def note_read(self, path: str, signature: Signature | None) -> None:
        """A read counts only before the run first wrote the path."""
        if path not in self.written and path not in self.read:
            self.read[path] = signature

    def note_write(self, path: str) -> None:
        """``path`` was created or changed."""
        self.written.add(path)
        self.removed.discard(path)

    def note_remove(self, path: str) -> None:
        """``path`` was removed (a file the run made and removed again leaves no trace)."""
        if path in self.written:
            self.written.discard(path)
            if path not in self.read:
                return
        self.removed.add(path)

    def note_move(self, source: str, target: str) -> None:
        """A rename: whatever was written under ``source`` now lies under ``target``."""
        prefix = source + "/"
        for inner in [p for p in self.written if p.startswith(prefix)]:
            self.written.discard(inner)
            self.note_write(target + inner[len(source) :])
        if source not in self.written:
            self.moved.append((source, target))
        self.note_remove(source)
        self.note_write(target)


# ---- choosing -----------------------------------------------------------------------


def is_python_command(argv: list[str]) -> bool:
    """True when ``argv`` runs a Python interpreter: by name, or a script whose first
    line names one (``#!/usr/bin/env python3``, console scripts of a venv)."""
    if not argv:
        return False
    if PYTHON_NAME_RE.match(os.path.basename(argv[0])):
        return True
    program = shutil.which(argv[0]) if os.sep not in argv[0] else argv[0]
    if program is None:
        return False
    try:
        with open(program, "rb") as handle:
            first = handle.readline(256)
    except OSError:
        return False
    if not first.startswith(b"#!"):
        return False
    words = first[2:].decode("utf-8", "replace").split()
    names = [os.path.basename(w) for w in words[:2]]
    return any(PYTHON_NAME_RE.match(name) for name in names)


def choose_observer(argv: list[str], wanted: str) -> str:
    """``python``, ``strace`` or ``none`` for ``wanted`` (``auto`` or one of them):
    Python commands get the Python recorder, others strace where it can trace."""
    if wanted != "auto":
        return wanted
    if is_python_command(argv):
        return "python"
    from dws.core.lineage.strace.tracer import strace_unavailable_reason

    return "strace" if strace_unavailable_reason() is None else "none"


def python_environment(log_path: str) -> dict[str, str]:
    """Environment for a command observed by the Python recorder."""
    env = dict(os.environ)
    existing = env.get("PYTHONPATH")
    env["PYTHONPATH"] = HOOK_DIR + (os.pathsep + existing if existing else "")
    env[LOG_ENV] = log_path
    return env


# ---- reading the Python recorder's log ------------------------------------------------


def unescape(text: str) -> str:
    """A recorder log field as the path or name it stands for."""
    if "\\" not in text:
        return text
    return re.sub(r"\\(.)", lambda m: {"t": "\t", "n": "\n"}.get(m.group(1), m.group(1)), text)


def _signature(text: str) -> Signature | None:
    try:
        size, mtime, ino, ctime = map(int, text.split(","))
    except ValueError:
        return None
    return size, mtime, ino, ctime


def parse_python_log(path: str, first_pid: int | None = None) -> Observation:
    """Read the shared log the Python recorder wrote. ``first_pid`` is the command's own
    process: when it never announced itself, the recorder did not load (``python -I``,
    ``-E`` or ``-S``) and the observation says so in ``unobserved``."""
    seen = Observation("python")
    pids: set[int] = set()
    try:
        with open(path, encoding="utf-8", errors="surrogateescape", newline="\n") as log:
            lines = log.read().split("\n")
    except FileNotFoundError:
        lines = []
    for line in lines:
        fields = line.split("\t")
        if "\\" in line:
            fields = [unescape(f) for f in fields]
        if len(fields) < 2 or not fields[0].isdigit():
            continue
        pids.add(int(fields[0]))
        apply_event(seen, fields[1], fields[2:])
    if first_pid is not None and first_pid not in pids:
        seen.unobserved.append("python (the recorder did not load: -I, -E or -S?)")
    return seen


def apply_event(seen: Observation, event: str, args: list[str]) -> None:
    """Apply one recorder event to ``seen``."""
    if not args:
        return
    path = args[0]
    if event == "R":
        seen.note_read(path, _signature(args[1]) if len(args) > 1 else None)
    elif event == "U":
        seen.note_read(path, _signature(args[1]) if len(args) > 1 else None)
        seen.note_write(path)
    elif event == "W":
        seen.note_write(path)
    elif event == "L":
        seen.listed.add(path)
    elif event == "M" and len(args) > 1:
        seen.note_move(path, args[1])
    elif event == "D":
        seen.note_remove(path)
    elif event == "T":
        for inner in [p for p in seen.written if p.startswith(path + "/")]:
            seen.note_remove(inner)
        seen.note_remove(path)
        seen.removed.add(path)
    elif event == "C":
        seen.executed.add(path)
    elif event == "X" and len(args) > 1 and args[1] == "0" and path not in seen.unobserved:
        seen.unobserved.append(path)


# ---- strace ---------------------------------------------------------------------------


def from_trace(trace: TraceResult) -> Observation:
    """The strace parser's result in the common shape (strace cannot stat at the open)."""
    seen = Observation("strace", warnings=list(trace.warnings))
    seen.read = dict.fromkeys(sorted(trace.read))
    seen.written = set(trace.written)
    seen.removed = set(trace.removed)
    # a rename of a file the run wrote itself (an atomic write) moves nothing that was there
    seen.moved = [(source, target) for source, target in trace.moved if source in trace.removed]
    seen.listed = set(trace.listed)
    seen.executed = set(trace.executed)
    return seen


def interpreter_prefixes() -> tuple[str, ...]:
    """Where this interpreter's own files live: code read from there is not the step's."""
    found = {
        os.path.join(os.path.abspath(p), "")
        for p in (sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix)
        if p
    }
    return tuple(sorted(found | {"/usr/", "/lib/", "/lib64/", "/bin/", "/sbin/", "/etc/"}))
