"""The workspace lock: exclusive across processes, waited for, released however its
holder ends, and the same lock filelock takes on the file."""

from __future__ import annotations

import errno
import fcntl
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import filelock
import pytest

from dws.core.lock import workspace_lock
from dws.errors import DwsError, LockedError


def _holder(lock_path: Path, ready: Path) -> subprocess.Popen[bytes]:
    """Another process that takes the lock, says so, and holds it until killed."""
    code = textwrap.dedent(
        f"""
        import pathlib, time
        from dws.core.lock import workspace_lock
        with workspace_lock({str(lock_path)!r}, "snapshot"):
            pathlib.Path({str(ready)!r}).touch()
            time.sleep(60)
        """
    )
    process = subprocess.Popen([sys.executable, "-c", code])
    deadline = time.monotonic() + 30
    while not ready.exists():
        assert process.poll() is None and time.monotonic() < deadline
        time.sleep(0.02)
    return process


def test_a_second_process_waits_then_fails_naming_the_holder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DWS_LOCK_TIMEOUT", "0.3")
    lock_path = tmp_path / "lock"
    holder = _holder(lock_path, tmp_path / "ready")
    try:
        started = time.monotonic()
        with (
            pytest.raises(LockedError, match=f"dws snapshot.*pid {holder.pid}"),
            workspace_lock(str(lock_path), "gc"),
        ):
            pytest.fail("the lock was taken twice")
        assert time.monotonic() - started >= 0.3
    finally:
        holder.kill()
        holder.wait()


def test_a_killed_holder_leaves_the_lock_free(tmp_path: Path) -> None:
    lock_path = tmp_path / "lock"
    holder = _holder(lock_path, tmp_path / "ready")
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()

    with workspace_lock(str(lock_path), "snapshot"):
        assert (tmp_path / "lock.holder").exists()


def test_the_lock_is_released_when_the_command_fails(tmp_path: Path) -> None:
    lock_path = tmp_path / "lock"
    opened = len(os.listdir("/proc/self/fd"))
    with pytest.raises(RuntimeError), workspace_lock(str(lock_path), "snapshot"):
        raise RuntimeError("the command failed")

    assert not (tmp_path / "lock.holder").exists()
    assert len(os.listdir("/proc/self/fd")) == opened
    other = filelock.FileLock(str(lock_path))
    other.acquire(timeout=0)
    other.release()


def test_filelock_and_this_lock_exclude_each_other(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DWS_LOCK_TIMEOUT", "0")
    lock_path = tmp_path / "lock"
    with (
        filelock.FileLock(str(lock_path)),
        pytest.raises(LockedError, match="another dws process"),
        workspace_lock(str(lock_path), "snapshot"),
    ):
        pytest.fail("the lock was taken twice")
    with workspace_lock(str(lock_path), "snapshot"), pytest.raises(filelock.Timeout):
        filelock.FileLock(str(lock_path)).acquire(timeout=0)


def test_a_lock_that_cannot_be_made_is_an_error_not_a_wait(tmp_path: Path) -> None:
    with (
        pytest.raises(FileNotFoundError),
        workspace_lock(str(tmp_path / "missing" / "lock"), "snapshot"),
    ):
        pytest.fail("no lock file could be made")


def test_a_file_system_without_locks_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_locks(fd: int, operation: int) -> None:
        raise OSError(errno.ENOSYS, os.strerror(errno.ENOSYS))

    monkeypatch.setattr(fcntl, "flock", no_locks)
    opened = len(os.listdir("/proc/self/fd"))
    with (
        pytest.raises(DwsError, match="does not support file locks"),
        workspace_lock(str(tmp_path / "lock"), "snapshot"),
    ):
        pytest.fail("no lock was taken")
    assert len(os.listdir("/proc/self/fd")) == opened
