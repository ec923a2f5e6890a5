"""The workspace lock: one mutating command at a time; a second one fails with exit 5."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
from collections.abc import Iterator

from dws.errors import LockedError

DEFAULT_WAIT_SECONDS = 3.0


def _wait_seconds() -> float:
    try:
        return float(os.environ.get("DWS_LOCK_TIMEOUT", DEFAULT_WAIT_SECONDS))
    except ValueError:
        return DEFAULT_WAIT_SECONDS


@contextlib.contextmanager
def workspace_lock(lock_path: str, command: str, *, at_least: float = 0.0) -> Iterator[None]:
    """Hold the lock for the duration of a mutating command (waiting for it up to
    DWS_LOCK_TIMEOUT seconds, or ``at_least``)."""
    from filelock import FileLock, Timeout  # only commands that change something lock

    holder_path = lock_path + ".holder"
    lock = FileLock(lock_path)
    try:
        lock.acquire(timeout=max(_wait_seconds(), at_least))
    except Timeout:
        raise LockedError(
            f"workspace is locked by {_describe_holder(holder_path)}; "
            "wait for it to finish and retry"
        ) from None
    try:
        holder = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "command": command,
            "since": time.strftime("%Y-%m-%dT%H:%M:%S"),
        }
        with open(holder_path, "w", encoding="utf-8") as handle:
            json.dump(holder, handle)
        yield
    finally:
        with contextlib.suppress(OSError):
            os.unlink(holder_path)
        lock.release()


def _describe_holder(holder_path: str) -> str:
    try:
        with open(holder_path, encoding="utf-8") as handle:
            holder = json.load(handle)
        return (
            f"`dws {holder.get('command', '?')}` (pid {holder.get('pid')} on "
            f"{holder.get('host')}, since {holder.get('since')})"
        )
    except (OSError, ValueError, AttributeError):
        return "another dws process"
