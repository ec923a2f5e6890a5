"""Records what a Python process does to files, through an audit hook (PEP 578).

It runs inside the user's processes (any Python >= 3.8, any environment), so it imports
nothing outside the standard library and does as little as possible per event. Each event
becomes one line of a shared log, appended with one ``write`` (several processes append to
the same file; a line is written whole):

    <pid> TAB <event> TAB <field> [TAB <field>] NEWLINE

Fields escape backslash, tab and newline. Events: ``S ppid`` (a process starts logging),
``R path sig`` (opened for reading; ``sig`` = size,mtime_ns,ino,ctime_ns at the open),
``U path sig`` (opened to update in place or append: read, then written), ``W path``
(created, truncated, linked to), ``L path`` (directory listed), ``M src dst`` (renamed),
``D path`` (removed), ``T path`` (a tree removed), ``C path`` (Python code executed from
this file), ``X program 0|1`` (a program started; 1 when it is Python that inherits the
recorder, 0 when nothing observes it).

Paths are absolute as the process named them (its cwd joined, links not resolved). Files
of the interpreter and its installed packages, ``/proc``, ``/dev`` and ``/sys`` are left
out, as are bytecode caches.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable
from typing import Any

LOG_ENV = "DWS_OBSERVE_LOG"
_PYTHON_RE = re.compile(r"python[0-9.]*(\.exe)?$|pypy[0-9.]*$")
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
_O_PATH = getattr(os, "O_PATH", 0)
_O_DIRECTORY = getattr(os, "O_DIRECTORY", 0)


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


def _skipped_prefixes() -> tuple[str, ...]:
    found = {"/proc/", "/dev/", "/sys/"}
    for prefix in (sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix):
        if prefix:
            found.add(os.path.join(os.path.abspath(prefix), ""))
    return tuple(sorted(found))


class Recorder:
    """Turns audit events into log lines handed to ``emit``."""

    def __init__(self, emit: Callable[[str], None]) -> None:
        self.emit = emit
        self.skipped = _skipped_prefixes()
        self.busy = False
        self.handlers: dict[str, Callable[[tuple[Any, ...]], None]] = {
            "open": self._open,
            "os.listdir": self._listing,
            "os.scandir": self._listing,
            "os.rename": self._rename,
            "os.remove": self._remove,
            "os.rmdir": self._remove,
            "shutil.rmtree": self._rmtree,
            "os.truncate": self._truncate,
            "os.link": self._link,
            "os.symlink": self._link,
            "exec": self._exec,
            "sqlite3.connect": self._sqlite,
            "subprocess.Popen": self._popen,
            "os.exec": self._os_exec,
            "os.posix_spawn": self._os_exec,
            "os.spawn": self._spawn,
            "os.system": self._system,
        }

    def hook(self, event: str, args: tuple[Any, ...]) -> None:
        """The audit hook; never raises (a failure here must not break the user's code)."""
        handler = self.handlers.get(event)
        if handler is None or self.busy:
            return
        self.busy = True
        try:
            handler(args)
        except Exception:  # observing must never change the program
            pass
        finally:
            self.busy = False

    # ---- paths ---------------------------------------------------------------------

    def _path(self, raw: Any, dir_fd: Any = None) -> str | None:
        if isinstance(raw, int) or raw is None:
            return None
        path = os.fsdecode(raw)
        if not os.path.isabs(path):
            if dir_fd not in (None, -1, -100):
                try:
                    path = os.path.join(os.readlink(f"/proc/self/fd/{dir_fd}"), path)
                except OSError:
                    return None
            path = os.path.abspath(path)
        else:
            path = os.path.normpath(path)
        if path.startswith(self.skipped) or path.endswith((".pyc", ".pyo")):
            return None
        return path

    def _line(self, *fields: str) -> None:
        self.emit("\t".join(_escape(f) for f in fields) + "\n")

    @staticmethod
    def _signature(path: str) -> str:
        try:
            st = os.stat(path)
        except OSError:
            return ""
        return f"{st.st_size},{st.st_mtime_ns},{st.st_ino},{st.st_ctime_ns}"

    # ---- events --------------------------------------------------------------------

    def _open(self, args: tuple[Any, ...]) -> None:
        path = self._path(args[0])
        if path is None:
            return
        mode = args[1] if len(args) > 1 and isinstance(args[1], str) else ""
        flags = args[2] if len(args) > 2 and isinstance(args[2], int) else 0
        if flags & _O_PATH:
            return
        updates = "+" in mode or "a" in mode
        if not mode:
            updates = bool(flags & os.O_APPEND) or bool(
                flags & os.O_RDWR and not flags & (os.O_CREAT | os.O_TRUNC)
            )
        writes = any(c in mode for c in "wax+") or bool(flags & _WRITE_FLAGS)
        if updates and not (("w" in mode) or flags & os.O_TRUNC):
            self._line("U", path, self._signature(path))
        elif writes:
            self._line("W", path)
        elif flags & _O_DIRECTORY:
            self._line("L", path)
        else:
            self._line("R", path, self._signature(path))

    def _listing(self, args: tuple[Any, ...]) -> None:
        path = self._path(args[0] if args and args[0] is not None else ".")
        if path is not None:
            self._line("L", path)

    def _rename(self, args: tuple[Any, ...]) -> None:
        source = self._path(args[0], args[2] if len(args) > 2 else None)
        target = self._path(args[1], args[3] if len(args) > 3 else None)
        if source is not None and target is not None:
            self._line("M", source, target)
        elif target is not None:
            self._line("W", target)
        elif source is not None:
            self._line("D", source)

    def _remove(self, args: tuple[Any, ...]) -> None:
        path = self._path(args[0], args[1] if len(args) > 1 else None)
        if path is not None:
            self._line("D", path)

    def _rmtree(self, args: tuple[Any, ...]) -> None:
        path = self._path(args[0], args[1] if len(args) > 1 else None)
        if path is not None:
            self._line("T", path)

    def _truncate(self, args: tuple[Any, ...]) -> None:
        path = self._path(args[0])
        if path is not None:
            self._line("U", path, self._signature(path))

    def _link(self, args: tuple[Any, ...]) -> None:
        path = self._path(args[1], args[2] if len(args) > 2 else None)
        if path is not None:
            self._line("W", path)

    def _exec(self, args: tuple[Any, ...]) -> None:
        filename = getattr(args[0], "co_filename", "") if args else ""
        if filename and not filename.startswith("<"):
            path = self._path(filename)
            if path is not None:
                self._line("C", path)

    def _sqlite(self, args: tuple[Any, ...]) -> None:
        name = args[0] if args else None
        if isinstance(name, (str, bytes)) and os.fsdecode(name) not in ("", ":memory:"):
            path = self._path(name)
            if path is not None:
                self._line("U", path, self._signature(path))

    def _started(self, program: Any, env: Any) -> None:
        name = os.path.basename(os.fsdecode(program)) if program else "?"
        inherits = env is None or (isinstance(env, dict) and LOG_ENV in env)
        observed = bool(_PYTHON_RE.match(name)) and inherits
        self._line("X", name, "1" if observed else "0")

    def _popen(self, args: tuple[Any, ...]) -> None:
        executable, argv, _cwd, env = (list(args) + [None] * 4)[:4]
        if executable is None:
            if isinstance(argv, (list, tuple)) and argv:
                executable = argv[0]
            elif isinstance(argv, (str, bytes)):
                executable = "/bin/sh"  # shell=True
        self._started(executable, env)

    def _os_exec(self, args: tuple[Any, ...]) -> None:
        self._started(args[0] if args else None, args[2] if len(args) > 2 else None)

    def _spawn(self, args: tuple[Any, ...]) -> None:
        self._started(args[1] if len(args) > 1 else None, args[3] if len(args) > 3 else None)

    def _system(self, args: tuple[Any, ...]) -> None:
        self._started("/bin/sh", {})


class _LogFile:
    """Appends lines to the shared log; a forked child opens its own descriptor and
    announces itself."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.pid = -1
        self.fd = -1

    def announce(self) -> int:
        """Open the log for this process (once per pid) and say who its parent is."""
        pid = os.getpid()
        if pid != self.pid:
            self.fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC)
            self.pid = pid
            os.write(self.fd, f"{pid}\tS\t{os.getppid()}\n".encode())
        return pid

    def emit(self, line: str) -> None:
        """Append one event line."""
        pid = self.announce()
        os.write(self.fd, f"{pid}\t{line}".encode("utf-8", "surrogateescape"))


def start_from_environment() -> None:
    """Start recording into the log named by ``DWS_OBSERVE_LOG`` (if set)."""
    path = os.environ.get(LOG_ENV)
    if not path or not hasattr(sys, "addaudithook"):
        return  # Python before 3.8 cannot be observed: it never announces itself
    log = _LogFile(path)
    log.announce()  # even a process that touches no file says it was observed
    sys.addaudithook(Recorder(log.emit).hook)
