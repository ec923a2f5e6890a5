"""The workspace lock: one mutating command at a time; a second one fails with exit 5.

It is an exclusive ``flock`` on ``local/lock``, taken here with ``fcntl`` rather than
through the filelock library, whose imports cost every mutating command 25-40 ms. The
kernel releases it when the holder exits, however it exits; filelock's ``FileLock`` on
the same file takes the same lock."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from collections.abc import Iterator

from dws.errors import DwsError, LockedError

DEFAULT_WAIT_SECONDS = 3.0
POLL_SECONDS = 0.05


def _wait_seconds() -> float:
    try:
        return float(os.environ.get("DWS_LOCK_TIMEOUT", DEFAULT_WAIT_SECONDS))
    except ValueError:
        return DEFAULT_WAIT_SECONDS


@contextlib.contextmanager
def workspace_lock(lock_path: str, command: str, *, at_least: float = 0.0) -> Iterator[None]:
    """Hold the lock for the duration of a mutating command (waiting for it up to
    DWS_LOCK_TIMEOUT seconds, or ``at_least``)."""
    holder_path = lock_path + ".holder"
    lock = _acquire(lock_path, max(_wait_seconds(), at_least))
    if lock is None:
        raise LockedError(
            f"workspace is locked by {_describe_holder(holder_path)}; "
            "wait for it to finish and retry"
        )
    try:
        holder = {
            "pid": os.getpid(),
            "host": os.uname().nodename,
            "command": command,
            "since": time.strftime("%Y-%m-%dT%H:%M:%S"),
        }
        with open(holder_path, "w", encoding="utf-8") as handle:
            json.dump(holder, handle)
        yield
    finally:
        with contextlib.suppress(OSError):
            os.unlink(holder_path)
        os.close(lock)  # releases the lock


def _acquire(lock_path: str, wait: float) -> int | None:
    """A descriptor of ``lock_path`` holding its exclusive lock, trying for ``wait``
    seconds; None if another process held it all that time."""
    handle = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    deadline = time.monotonic() + wait
    try:
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return handle
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    os.close(handle)
                    return None
                time.sleep(POLL_SECONDS)
            except OSError as exc:  # ENOSYS, ENOLCK: the file system cannot lock
                raise DwsError(
                    f"cannot lock {lock_path}: {exc.strerror}; the file system holding the "
                    "workspace does not support file locks"
                ) from None
    except BaseException:
        os.close(handle)
        raise


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
