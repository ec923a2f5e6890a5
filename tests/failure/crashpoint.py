"""Run the `dws` CLI with a crash point: SIGKILL the process at an exact place.

Usage: python crashpoint.py MODULE:ATTR.PATH:WHEN:N[:SUBSTRING] -- DWS-ARGS...

The named function (looked up in MODULE, following ATTR.PATH) is wrapped so that its N-th
call (counted across threads; with SUBSTRING, only calls whose arguments' repr contains it
count) kills the whole process with SIGKILL just before (WHEN = before) or just after
(after) the original runs (in a forked worker process: the worker's N-th call, and the
main process dies with it). Nothing is caught or cleaned up: the state on disk is exactly
what a `kill -9` at that point leaves behind.

WHEN = ENOSPC, EACCES, EIO, ...: instead of the N-th call, the function raises that OSError
(no file name, as a failing write(2) on a descriptor does) and from then on every call
does, as a full disk would; the process goes on and handles it.
"""

from __future__ import annotations

import errno
import functools
import importlib
import os
import signal
import sys
import threading
from collections.abc import Callable
from typing import Any

_MAIN_PID = os.getpid()


def _die() -> None:
    # in a forked worker (restore writes files on several processes) the count is the
    # worker's own; the whole command dies, as with `kill -9` of dws (workers follow it)
    if os.getpid() != _MAIN_PID:
        os.kill(_MAIN_PID, signal.SIGKILL)
    os.kill(os.getpid(), signal.SIGKILL)


def install(spec: str) -> None:
    """Wrap the function named by ``spec`` (see the module docstring)."""
    module_name, attr_path, when, count_text, *rest = spec.split(":", 4)
    needle = rest[0] if rest else ""
    fault = getattr(errno, when, None) if when.isupper() else None
    if when not in ("before", "after") and fault is None:
        raise SystemExit(f"crashpoint: 'when' must be before, after or an errno name, not {when!r}")
    target_count = int(count_text)
    owner: Any = importlib.import_module(module_name)
    *parents, name = attr_path.split(".")
    for part in parents:
        owner = getattr(owner, part)
    original: Callable[..., Any] = getattr(owner, name)
    lock = threading.Lock()
    calls = [0]

    @functools.wraps(original)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        counted = not needle or needle in repr((args, kwargs))
        with lock:
            calls[0] += counted
            hit = counted and calls[0] == target_count
        if fault is not None and counted and calls[0] >= target_count:
            raise OSError(fault, os.strerror(fault))
        if hit and when == "before":
            _die()
        result = original(*args, **kwargs)
        if hit and when == "after":
            _die()
        return result

    setattr(owner, name, wrapper)


def main() -> None:
    """Install the crash point, then run the CLI with the remaining arguments."""
    argv = sys.argv[1:]
    if len(argv) < 2 or argv[1] != "--":
        raise SystemExit(__doc__)
    install(argv[0])
    from dws.cli.main import main as dws_main

    sys.argv = ["dws", *argv[2:]]
    dws_main(argv[2:])


if __name__ == "__main__":
    main()
