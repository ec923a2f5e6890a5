"""Locks on a remote, so that gc never deletes the objects of a push in flight.

A push writes its objects before the snapshot records that name them, so while it runs
they look unreferenced. Every push that sends something and every remote gc therefore
holds a lock: a small file ``locks/<kind>-<random>.json`` (``layout.lock_key``) written
with the remote's conditional create, the same on every backend (S3 ``If-None-Match: *``,
a directory ``link(2)``). It says who holds it (kind, user, host, pid) and since when,
and its holder rewrites it every few minutes (``REFRESH_EVERY``, on a thread).

The protocol, as restic's: write your own lock first, then list ``locks/``. A push
conflicts with any live gc lock, a gc with any live push or other gc lock; on a conflict
the newcomer removes its own lock and refuses (RefusedError, exit 3). Two that race may
both refuse, but both cannot proceed: whichever lists second sees the other's lock.

A lock is not live when it was not refreshed for ``STALE_AFTER`` (its process is stuck,
or gone on another machine), or when it belongs to a process of this machine that no
longer runs (same boot and pid namespace, the pid gone). Those are ignored and named in
the output. ``dws remote unlock`` removes them, and a named lock on request.

A holder that cannot refresh its lock in time (network down, process suspended) or finds
it removed must not commit: ``RemoteLock.check`` raises before a push writes its records
and before gc deletes anything. Times are UTC from each machine's clock: clocks more
than a few minutes apart shorten or lengthen the stale period accordingly.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

import msgspec
from msgspec import Struct

from dws.core.remote import layout
from dws.errors import DwsError, FormatError, RefusedError
from dws.model.records import decode_json, encode_record
from dws.store.remote_backend import RemoteBackend

PUSH = "push"
GC = "gc"
KINDS = (PUSH, GC)
CONFLICTS = {PUSH: frozenset({GC}), GC: frozenset({PUSH, GC})}
STALE_AFTER = 30 * 60.0  # seconds without a refresh after which a lock is ignored
REFRESH_EVERY = 5 * 60.0  # how often a holder rewrites its lock
LOST_AFTER = STALE_AFTER - 2 * REFRESH_EVERY  # a holder this late in refreshing stops
LOCK_FORMAT = 1

_DOING = {PUSH: "push to", GC: "collect garbage on"}


class LockRecord(msgspec.Struct, frozen=True):
    """The content of ``locks/<name>.json``."""

    format: int
    kind: str
    user: str
    host: str
    pid: int
    created: str  # UTC, ISO 8601 with Z
    refreshed: str
    process: str = ""  # boot id and pid namespace: where ``pid`` names a process


class SeenLock(Struct, frozen=True):
    """A lock found on the remote and what it is worth: ``live``, ``stale`` (not refreshed
    for STALE_AFTER), ``gone`` (its process no longer runs on this machine) or
    ``unreadable`` (taken as live: only an unlock removes it)."""

    name: str
    kind: str
    state: str
    record: LockRecord | None
    raw: bytes  # the file's content as judged

    def describe(self, now: float) -> str:
        """``<kind> lock <name> of <user> on <host> (pid N), taken ..., refreshed ...``."""
        record = self.record
        if record is None:
            return f"{self.kind} lock {self.name} (unreadable)"
        refreshed = _parse_time(record.refreshed)
        ago = "" if refreshed is None else f" ({_duration(now - refreshed)} ago)"
        return (
            f"{self.kind} lock {self.name} of {record.user} on {record.host} (pid "
            f"{record.pid}), taken {_shown_time(record.created)}, refreshed "
            f"{_shown_time(record.refreshed)}{ago}"
        )


def lock_name(kind: str) -> str:
    """A new lock's name: ``<kind>-<16 random hex digits>``."""
    return f"{kind}-{secrets.token_hex(8)}"


def kind_of(name: str) -> str | None:
    """The kind of the lock named ``name`` (``push-…``, ``gc-…``), else None."""
    kind, dash, rest = name.partition("-")
    return kind if dash and rest and kind in KINDS else None


def read_locks(
    remote: RemoteBackend,
    *,
    kinds: frozenset[str] | None = None,
    now: float | None = None,
    besides: str = "",
) -> list[SeenLock]:
    """The locks on the remote (of ``kinds``, else all; not the one named ``besides``),
    judged as of ``now``. A lock that vanishes while read is left out; files that name no
    lock are ignored."""
    when = time.time() if now is None else now
    found = []
    for file_name in sorted(remote.files.list(layout.LOCKS)):
        if not file_name.endswith(layout.RECORD_SUFFIX):
            continue
        name = file_name[: -len(layout.RECORD_SUFFIX)]
        kind = kind_of(name)
        if kind is None or (kinds is not None and kind not in kinds) or name == besides:
            continue
        data = remote.files.read(layout.lock_key(name))
        if data is None:
            continue
        try:
            record: LockRecord | None = decode_lock(data)
        except FormatError:
            record = None
        found.append(SeenLock(name, kind, _judge(record, when), record, data))
    return found


def decode_lock(data: bytes) -> LockRecord:
    """A lock file's content, checked (FormatError when it is not one this dws reads)."""
    record: LockRecord = decode_json(data, LockRecord, "lock file")
    if record.format != LOCK_FORMAT or record.kind not in KINDS:
        raise FormatError("lock file of an unknown format or kind")
    if _parse_time(record.refreshed) is None or _parse_time(record.created) is None:
        raise FormatError("lock file with an invalid time")
    return record


def _judge(record: LockRecord | None, now: float) -> str:
    if record is None:
        return "unreadable"
    refreshed = _parse_time(record.refreshed)
    if refreshed is None or now - refreshed > STALE_AFTER:
        return "stale"
    if record.process and record.process == this_process_space() and not _running(record.pid):
        return "gone"
    return "live"


class RemoteLock:
    """This process's lock of one kind on a remote: ``acquire`` it (refusing on a
    conflict), ``check`` it is still held before committing, ``release`` it (also when
    never acquired, and more than once). While held, a thread refreshes it."""

    def __init__(
        self,
        remote: RemoteBackend,
        kind: str,
        remote_name: str,
        *,
        clock: Callable[[], float] = time.time,
        refresh_every: float = REFRESH_EVERY,
    ) -> None:
        if kind not in KINDS:
            raise ValueError(f"unknown lock kind {kind!r}")
        self.remote = remote
        self.kind = kind
        self.remote_name = remote_name
        self.name = lock_name(kind)
        self.key = layout.lock_key(self.name)
        self.clock = clock
        self.refresh_every = refresh_every
        self.held = False
        self.refreshed_at = 0.0  # this machine's clock at the last refresh that worked
        self.lost: str | None = None  # why the lock can no longer be trusted
        self._created = ""
        self._mutex = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def acquire(self) -> list[str]:
        """Write this lock, then refuse if another live lock conflicts with it (removing
        this one first). Returns the stale or gone locks it ignored, described."""
        if self.held:
            return []
        now = self.clock()
        self._created = _format_time(now)
        self.held = True  # from here on, release() removes the key whatever happens
        if not self.remote.files.create(self.key, self._content(now)):
            self.held = False  # the name is someone else's: never remove it
            raise DwsError(f"lock {self.name} already exists on {self.remote_name}; run again")
        self.refreshed_at = now
        others = read_locks(
            self.remote, kinds=CONFLICTS[self.kind], now=self.clock(), besides=self.name
        )
        blocking = [s for s in others if s.state in ("live", "unreadable")]
        if blocking:
            self.release()
            raise RefusedError(self._refusal(blocking))
        self._start_refreshing()
        now = self.clock()
        return [f"ignored the {s.state} {s.describe(now)}" for s in others]

    def refresh(self) -> None:
        """Rewrite the lock with the current time (the holder's sign of life). A lock
        removed meanwhile (``dws remote unlock``), or last refreshed so long ago that
        others may have taken it for stale, is marked lost and not written again."""
        with self._mutex:
            if not self.held or self.lost is not None:
                return
            now = self.clock()
            if now - self.refreshed_at > LOST_AFTER:  # others may have judged it stale:
                self.lost = f"it was not refreshed for {_duration(now - self.refreshed_at)}"
                return  # reviving it now would hide that (a process suspended, say)
            if self.remote.files.read(self.key) is None:
                self.lost = "it was removed from the remote"
                return
            self.remote.files.write(self.key, self._content(now))
            self.refreshed_at = now

    def check(self) -> None:
        """Raise RefusedError unless the lock is still on the remote and was refreshed
        recently enough that no one can have taken it for stale."""
        with self._mutex:
            if not self.held:
                raise RefusedError(f"the {self.kind} lock on {self.remote_name} is not held")
            late = self.clock() - self.refreshed_at
            if self.lost is None and late > LOST_AFTER:
                self.lost = f"it was not refreshed for {_duration(late)}"
            if self.lost is None and self.remote.files.read(self.key) is None:
                self.lost = "it was removed from the remote"
            lost = self.lost
        if lost is not None:
            raise RefusedError(
                f"the {self.kind} lock on {self.remote_name} was lost ({lost}), so another "
                f"command may have used the remote meanwhile; stopped before changing what "
                f"others see: run it again"
            )

    def release(self) -> None:
        """Stop refreshing and remove the lock from the remote (best effort: a lock left
        behind is ignored once stale, or at once on this machine when its process is gone)."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join()
        with self._mutex:
            if not self.held:
                return
            self.held = False
            with contextlib.suppress(DwsError, OSError):
                self.remote.files.delete(self.key)

    def __enter__(self) -> RemoteLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def _start_refreshing(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._refresh_loop, name=f"dws-{self.kind}-lock", daemon=True
        )
        self._thread.start()

    def _refresh_loop(self) -> None:
        while not self._stop.wait(self.refresh_every):
            with contextlib.suppress(Exception):  # check() judges by the last that worked
                self.refresh()

    def _content(self, now: float) -> bytes:
        record = LockRecord(
            format=LOCK_FORMAT,
            kind=self.kind,
            user=_user(),
            host=socket.gethostname(),
            pid=os.getpid(),
            created=self._created,
            refreshed=_format_time(now),
            process=this_process_space(),
        )
        return encode_record(record) + b"\n"

    def _refusal(self, blocking: list[SeenLock]) -> str:
        first = blocking[0]
        more = f" (and {len(blocking) - 1} more)" if len(blocking) > 1 else ""
        again = (
            f"push {self.remote_name}" if self.kind == PUSH else f"gc --remote {self.remote_name}"
        )
        return (
            f"cannot {_DOING[self.kind]} {self.remote_name} now: it holds the "
            f"{first.describe(self.clock())}{more}; run `dws {again}` again when that has "
            f"finished (if its process is gone: `dws remote unlock {self.remote_name} "
            f"{first.name}`)"
        )


def this_process_space() -> str:
    """Where this process's pid means something: the boot id and pid namespace (Linux),
    else "" (pids of other machines are never judged)."""
    try:
        with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as handle:
            boot = handle.read().strip()
        namespace = os.readlink("/proc/self/ns/pid")
    except OSError:
        return ""
    return f"{boot} {namespace}"


def _running(pid: int) -> bool:
    if pid <= 0:
        return True  # not a pid: assume its process lives
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists, owned by someone else
    return True


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def _format_time(when: float) -> str:
    return datetime.fromtimestamp(when, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_time(text: str) -> float | None:
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return None
    return parsed.timestamp()


def _shown_time(text: str) -> str:
    parsed = _parse_time(text)
    if parsed is None:
        return "at an unknown time"
    return datetime.fromtimestamp(parsed, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 2 * 3600:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h"
