"""The remote lock protocol (core.remote.locks), in memory and on a directory remote:
conflicts refuse and leave nothing, stale and gone locks are ignored, a racing pair never
both proceeds, a holder that lost its lock stops before committing."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from dws.core.remote import layout
from dws.core.remote.locks import (
    GC,
    LOST_AFTER,
    PUSH,
    STALE_AFTER,
    RemoteLock,
    read_locks,
    this_process_space,
)
from dws.errors import RefusedError
from dws.store.memory import MemoryObjectStore
from dws.store.remote_backend import RemoteBackend, RemoteChangedError, RemoteFiles
from dws.store.remote_dir import open_directory_remote


class MemoryFiles(RemoteFiles):
    """A remote's small files in a dict, with conditional writes."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.mutex = threading.Lock()
        self.versions = itertools.count()
        self.tokens: dict[str, str] = {}

    def list(self, directory: str) -> dict[str, str]:
        with self.mutex:
            return {
                key[len(directory) + 1 :]: self.tokens[key]
                for key in self.files
                if key.startswith(directory + "/") and "/" not in key[len(directory) + 1 :]
            }

    def read(self, key: str) -> bytes | None:
        with self.mutex:
            return self.files.get(key)

    def _put(self, key: str, data: bytes) -> None:
        self.files[key] = data
        self.tokens[key] = str(next(self.versions))

    def create(self, key: str, data: bytes) -> bool:
        with self.mutex:
            if key in self.files:
                return False
            self._put(key, data)
            return True

    def replace(self, key: str, data: bytes, expected: bytes | None) -> None:
        with self.mutex:
            if self.files.get(key) != expected:
                raise RemoteChangedError(key)
            self._put(key, data)

    def write(self, key: str, data: bytes) -> None:
        with self.mutex:
            self._put(key, data)

    def delete(self, key: str) -> None:
        with self.mutex:
            self.files.pop(key, None)

    def delete_if(self, key: str, expected: bytes) -> bool:
        with self.mutex:
            if self.files.get(key) != expected:
                return False
            del self.files[key]
            return True


def memory_remote() -> RemoteBackend:
    return RemoteBackend("memory://remote", MemoryObjectStore(), MemoryFiles())


@pytest.fixture(params=["memory", "dir"])
def remote(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RemoteBackend]:
    """An empty remote: in memory, or a directory."""
    if request.param == "memory":
        backend = memory_remote()
    else:
        backend = open_directory_remote(str(tmp_path / "remote"), layout.PLACES, create=True)
    try:
        yield backend
    finally:
        backend.close()


class Clock:
    """A clock the test moves."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def lock_files(remote: RemoteBackend) -> list[str]:
    return sorted(remote.files.list(layout.LOCKS))


def put_lock(remote: RemoteBackend, name: str, *, age: float, **fields: object) -> None:
    """A lock file written behind the protocol's back (another machine's, by default)."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - age))
    record = {
        "format": 1,
        "kind": name.split("-")[0],
        "user": "bob",
        "host": "elsewhere",
        "pid": 4242,
        "created": stamp,
        "refreshed": stamp,
        "process": "another machine",
        **fields,
    }
    assert remote.files.create(layout.lock_key(name), json.dumps(record).encode())


def test_a_lock_says_who_holds_it_and_goes_away_on_release(remote: RemoteBackend) -> None:
    lock = RemoteLock(remote, GC, "origin")
    assert lock.acquire() == []
    (name,) = lock_files(remote)
    assert name == f"{lock.name}.json" and name.startswith("gc-")
    record = json.loads(remote.files.read(layout.lock_key(lock.name)) or b"")
    assert record["kind"] == "gc" and record["pid"] == os.getpid()
    assert record["host"] and record["user"] and record["created"].endswith("Z")
    assert record["refreshed"] == record["created"]
    lock.check()
    lock.release()
    lock.release()  # twice is fine
    assert lock_files(remote) == []


@pytest.mark.parametrize(
    ("first", "second", "conflict"),
    [(PUSH, GC, True), (GC, PUSH, True), (GC, GC, True), (PUSH, PUSH, False)],
)
def test_conflicting_locks_refuse_and_leave_nothing(
    remote: RemoteBackend, first: str, second: str, conflict: bool
) -> None:
    holder = RemoteLock(remote, first, "origin")
    holder.acquire()
    newcomer = RemoteLock(remote, second, "origin")
    try:
        if not conflict:
            newcomer.acquire()
            assert len(lock_files(remote)) == 2
            return
        with pytest.raises(RefusedError) as refused:
            newcomer.acquire()
        message = refused.value.message
        assert "\n" not in message
        assert f"{first} lock {holder.name}" in message and f"pid {os.getpid()}" in message
        assert f"`dws remote unlock origin {holder.name}`" in message
        assert lock_files(remote) == [f"{holder.name}.json"]  # its own lock is gone
    finally:
        newcomer.release()
        holder.release()
    assert lock_files(remote) == []


def test_stale_locks_are_ignored_and_named(remote: RemoteBackend) -> None:
    put_lock(remote, "push-0123456789abcdef", age=STALE_AFTER + 60)
    lock = RemoteLock(remote, GC, "origin")
    ignored = lock.acquire()
    assert len(ignored) == 1 and "stale push lock push-0123456789abcdef of bob" in ignored[0]
    lock.release()
    assert lock_files(remote) == ["push-0123456789abcdef.json"]  # ignored, not removed


def test_a_fresh_lock_of_another_machine_holds_even_if_its_pid_is_unknown_here(
    remote: RemoteBackend,
) -> None:
    put_lock(remote, "gc-0123456789abcdef", age=STALE_AFTER - 60, pid=2**22 + 7)
    with pytest.raises(RefusedError, match="gc lock gc-0123456789abcdef of bob on elsewhere"):
        RemoteLock(remote, PUSH, "origin").acquire()


def test_the_lock_of_a_process_gone_from_this_machine_is_ignored(remote: RemoteBackend) -> None:
    if not this_process_space():
        pytest.skip("no /proc: pids of this machine cannot be judged")
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    put_lock(remote, "push-00000000deadbeef", age=0, pid=child.pid, process=this_process_space())
    lock = RemoteLock(remote, GC, "origin")
    ignored = lock.acquire()
    assert len(ignored) == 1 and ignored[0].startswith("ignored the gone push lock")
    lock.release()


def test_an_unreadable_lock_holds_until_unlocked(remote: RemoteBackend) -> None:
    assert remote.files.create(layout.lock_key("gc-ffffffffffffffff"), b"{not json")
    remote.files.create(layout.lock_key("notes"), b"not a lock name: ignored")
    with pytest.raises(RefusedError, match=r"gc lock gc-ffffffffffffffff \(unreadable\)"):
        RemoteLock(remote, PUSH, "origin").acquire()
    assert [s.state for s in read_locks(remote)] == ["unreadable"]


class Scheduler:
    """Runs workers on threads one remote request at a time: before each request a worker
    waits at ``gate`` until the scheduler lets it go, choosing among the waiting workers
    by ``picks`` (then the first)."""

    def __init__(self, picks: tuple[int, ...]) -> None:
        self.cond = threading.Condition()
        self.picks = list(picks)
        self.names: list[str] = []
        self.waiting: dict[str, bool] = {}
        self.finished: set[str] = set()
        self.current: str | None = None

    def gate(self) -> None:
        who = threading.current_thread().name
        if who not in self.names:
            return  # the test's own thread, releasing at the end
        with self.cond:
            if self.current == who:
                self.current = None
            self.waiting[who] = True
            self.cond.notify_all()
            assert self.cond.wait_for(lambda: self.current == who, timeout=10)

    def run(self, workers: dict[str, Callable[[], None]]) -> None:
        self.names = sorted(workers)

        def body(who: str) -> None:
            try:
                workers[who]()
            finally:
                with self.cond:
                    self.finished.add(who)
                    if self.current == who:
                        self.current = None
                    self.cond.notify_all()

        threads = [threading.Thread(target=body, args=(w,), name=w) for w in self.names]
        for thread in threads:
            thread.start()
        with self.cond:
            while True:
                assert self.cond.wait_for(
                    lambda: (
                        self.current is None
                        and all(self.waiting.get(w) or w in self.finished for w in self.names)
                    ),
                    timeout=10,
                )
                runnable = [w for w in self.names if self.waiting.get(w)]
                if not runnable:
                    break
                pick = self.picks.pop(0) if self.picks else 0
                self.current = runnable[pick % len(runnable)]
                self.waiting[self.current] = False
                self.cond.notify_all()
        for thread in threads:
            thread.join(10)


class GatedFiles(MemoryFiles):
    """MemoryFiles whose every request waits for its turn."""

    def __init__(self, scheduler: Scheduler) -> None:
        super().__init__()
        self.scheduler = scheduler

    def list(self, directory: str) -> dict[str, str]:
        self.scheduler.gate()
        return super().list(directory)

    def read(self, key: str) -> bytes | None:
        self.scheduler.gate()
        return super().read(key)

    def create(self, key: str, data: bytes) -> bool:
        self.scheduler.gate()
        return super().create(key, data)

    def delete(self, key: str) -> None:
        self.scheduler.gate()
        super().delete(key)


def _acquirer(lock: RemoteLock, proceeded: list[str]) -> Callable[[], None]:
    def run() -> None:
        try:
            lock.acquire()
            proceeded.append(lock.name)
        except RefusedError:
            pass

    return run


@pytest.mark.parametrize("kinds", [(GC, PUSH), (PUSH, GC), (GC, GC)])
def test_racing_holders_may_both_refuse_but_never_both_proceed(kinds: tuple[str, str]) -> None:
    """Every interleaving of two acquires, request by request: at most one proceeds, both
    refusing happens, and a refused one leaves no lock behind."""
    outcomes = set()
    for picks in itertools.product((0, 1), repeat=8):
        scheduler = Scheduler(picks)
        files = GatedFiles(scheduler)
        remote = RemoteBackend("memory://remote", MemoryObjectStore(), files)
        locks = {w: RemoteLock(remote, kind, "origin") for w, kind in zip("ab", kinds, strict=True)}
        proceeded: list[str] = []
        scheduler.run({who: _acquirer(locks[who], proceeded) for who in locks})
        assert len(proceeded) <= 1, picks
        assert set(MemoryFiles.list(files, layout.LOCKS)) == {f"{n}.json" for n in proceeded}
        outcomes.add(len(proceeded))
        for lock in locks.values():
            lock.release()
    assert outcomes == {0, 1}  # both refusing is possible, and so is one proceeding


def test_refresh_moves_the_time_and_a_late_holder_stops(remote: RemoteBackend) -> None:
    clock = Clock()
    lock = RemoteLock(remote, PUSH, "origin", clock=clock)
    lock.acquire()
    key = layout.lock_key(lock.name)
    clock.now += 600
    lock.refresh()
    record = json.loads(remote.files.read(key) or b"")
    assert record["refreshed"] > record["created"]
    lock.check()
    clock.now += LOST_AFTER + 1  # no refresh worked for that long: someone may judge it stale
    with pytest.raises(RefusedError, match=r"lock on origin was lost \(it was not refreshed"):
        lock.check()
    lock.release()
    assert lock_files(remote) == []


def test_a_lock_refreshed_too_late_is_not_revived(remote: RemoteBackend) -> None:
    """A holder that wakes after others could have judged its lock stale (a suspended
    process) must not make it look fresh again: it stops instead."""
    clock = Clock()
    lock = RemoteLock(remote, GC, "origin", clock=clock)
    lock.acquire()
    written = remote.files.read(layout.lock_key(lock.name))
    clock.now += LOST_AFTER + 60
    lock.refresh()
    assert remote.files.read(layout.lock_key(lock.name)) == written
    with pytest.raises(RefusedError, match="was not refreshed for"):
        lock.check()
    lock.release()


def test_a_removed_lock_is_not_written_back_and_stops_its_holder(remote: RemoteBackend) -> None:
    lock = RemoteLock(remote, GC, "origin")
    lock.acquire()
    remote.files.delete(layout.lock_key(lock.name))  # `dws remote unlock origin gc-…`
    lock.refresh()
    assert lock_files(remote) == []
    with pytest.raises(RefusedError, match="removed from the remote"):
        lock.check()
    lock.release()


def test_a_thread_refreshes_the_lock_while_it_is_held(remote: RemoteBackend) -> None:
    clock = Clock()
    lock = RemoteLock(remote, GC, "origin", clock=clock, refresh_every=0.01)
    lock.acquire()
    key = layout.lock_key(lock.name)
    first = json.loads(remote.files.read(key) or b"")["refreshed"]
    clock.now += 60
    deadline = time.monotonic() + 30
    while json.loads(remote.files.read(key) or b"")["refreshed"] == first:
        assert time.monotonic() < deadline, "the lock was never refreshed"
        time.sleep(0.01)
    lock.check()
    lock.release()
    assert lock_files(remote) == []
