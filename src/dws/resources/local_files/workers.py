"""Running a restore's file writes on several processes.

Writing 50,000 small files costs Python work and the kernel's file creation per file.
Threads cannot share that out (they queue on the GIL, and measured slower), but forked
processes can, each taking whole directories so that no two contend for one directory.
A child inherits the store's open packs and loaded indexes, writes its files exactly as
the parent would (temp file, rename), and sends back how far it got and each file's stat
signature. The parent does its own share meanwhile.

Children die with the parent (``PR_SET_PDEATHSIG``): a killed restore leaves no process
behind writing on. A child that fails reports the error; one that dies is reported as
such; either way the parent records only what was finished.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import os
import pickle
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from typing import BinaryIO, Generic, TypeVar

from msgspec import Struct, field

from dws.errors import DwsError, IntegrityError, LockedError, RefusedError, UsageError

Item = TypeVar("Item")
Result = TypeVar("Result")
Signature = tuple[int, int, int, int]  # size, mtime_ns, ino, ctime_ns

MAX_WORKERS = 4
DEFAULT_FORK_FROM = 2000  # fewer writes than this are not worth a process
_PR_SET_PDEATHSIG = 1
STREAM_PIPE_BYTES = 1 << 20  # how far ahead of its reader a streaming child may run
_ERRORS: dict[int, type[DwsError]] = {
    cls.exit_code: cls for cls in (DwsError, UsageError, RefusedError, IntegrityError, LockedError)
}


class PartResult(Struct):
    """How one share of the work went: ``signatures`` has one entry per finished item."""

    signatures: list[Signature | None] = field(default_factory=list)
    linked: int = 0
    error: tuple[int, str, list[str]] | None = None  # exit code, message, details
    # the process died: what it was writing may be left part way, under its final name
    # when it was inside a directory being built
    died: bool = False
    # the error itself, kept only in the process that raised it (its class and fields
    # survive there; across a pipe only ``error`` travels)
    exception: DwsError | None = None

    def __reduce__(self) -> tuple[Callable[..., PartResult], tuple[()]]:
        kept = {name: getattr(self, name) for name in self.__struct_fields__}
        return functools.partial(PartResult, **{**kept, "exception": None}), ()


class Share(Struct, Generic[Item]):
    """Items for one process, in their original order."""

    items: list[Item] = field(default_factory=list)
    weight: int = 0


def fork_from(variable: str = "DWS_RESTORE_FORK_FROM", default: int = DEFAULT_FORK_FROM) -> int:
    """From how much work (a restore: file writes) a command forks, from the environment
    ``variable`` (0: never)."""
    return count_setting(variable, default)


def count_setting(variable: str, default: int) -> int:
    """A count from the environment ``variable`` (0 or less: no limit; not a number:
    ``default``)."""
    try:
        value = int(os.environ.get(variable, default))
    except ValueError:
        return default
    return value if value > 0 else sys.maxsize


def worker_count() -> int:
    """One process per core, at most MAX_WORKERS (DWS_RESTORE_WORKERS overrides)."""
    try:
        wanted = int(os.environ.get("DWS_RESTORE_WORKERS", 0))
    except ValueError:
        wanted = 0
    if wanted > 0:
        return min(wanted, 16)
    return max(1, min(MAX_WORKERS, os.cpu_count() or 1))


def can_fork() -> bool:
    """Several workers wanted, and this process has no other thread: a thread holding a
    lock at the moment of the fork would leave that lock held forever in the child (a
    notebook kernel, for one, has threads; it restores on one process)."""
    return worker_count() > 1 and hasattr(os, "fork") and threading.active_count() == 1


def split(
    items: Sequence[Item], group: Callable[[Item], str], weight: Callable[[Item], int], parts: int
) -> list[list[Item]]:
    """``items`` in ``parts`` shares of about equal weight, the original order kept within a
    share; empty shares dropped. Each group (a directory) stays whole in one share, unless
    it alone outweighs a fair share (one flat directory of 100,000 images): it is then cut
    into runs of consecutive items, each at most a fair share. Processes creating files in
    one directory contend for its lock, but still finish sooner than one process alone."""
    groups: dict[str, int] = {}
    for item in items:
        key = group(item)
        groups[key] = groups.get(key, 0) + weight(item)
    fair = max(1, -(-sum(groups.values()) // parts))
    keys: list[tuple[str, int]] = []  # the (group, run) of each item
    filled: dict[str, tuple[int, int]] = {}  # heavy group -> (current run, its weight)
    for item in items:
        key = group(item)
        if groups[key] <= fair:
            keys.append((key, 0))
            continue
        run, load = filled.get(key, (0, 0))
        if load and load + weight(item) > fair:
            run, load = run + 1, 0
        filled[key] = (run, load + weight(item))
        keys.append((key, run))
    runs: dict[tuple[str, int], int] = {}
    for item, run_key in zip(items, keys, strict=True):
        runs[run_key] = runs.get(run_key, 0) + weight(item)
    shares: list[Share[Item]] = [Share() for _ in range(parts)]
    owner: dict[tuple[str, int], int] = {}
    for run_key, total in sorted(runs.items(), key=lambda kv: (-kv[1], kv[0])):
        lightest = min(range(parts), key=lambda i: shares[i].weight)
        owner[run_key] = lightest
        shares[lightest].weight += total
    for item, run_key in zip(items, keys, strict=True):
        shares[owner[run_key]].items.append(item)
    return [share.items for share in shares if share.items]


def run_shares(
    shares: list[list[Item]], run: Callable[[list[Item]], PartResult]
) -> list[PartResult]:
    """``run`` each share: the first here, the others in forked children at the same time.
    ``run`` returns what it finished, and its error if it stopped early. Results come
    back in the order of ``shares``."""

    def guarded(share: list[Item]) -> PartResult:
        return _guarded(run, share)

    def died(why: str) -> PartResult:
        return PartResult(error=(1, f"a restore worker process died ({why})", []), died=True)

    return fork_map(shares, guarded, died)


def fork_map(
    shares: list[list[Item]],
    run: Callable[[list[Item]], Result],
    died: Callable[[str], Result],
) -> list[Result]:
    """``run`` each share: the first here, the others in forked children at the same time
    (here too when no process can be made); a child that dies gives ``died(why)``. Results
    come back in the order of ``shares``."""
    if not shares:
        return []
    children: dict[int, tuple[int, int]] = {}  # share index -> pid, read end of its pipe
    here = [0]  # shares this process runs: its own, and any no child could be made for
    try:
        for position in range(1, len(shares)):
            try:
                children[position] = _fork(shares[position], run)
            except OSError:  # no process to spare (EAGAIN, ENOMEM): do it here
                here.append(position)
        results = {position: run(shares[position]) for position in here}
    except BaseException:
        for pid, _ in children.values():
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        _collect(list(children.values()), died)
        raise
    results.update(zip(children, _collect(list(children.values()), died), strict=True))
    return [results[position] for position in range(len(shares))]


class Streams(Generic[Result]):
    """The results of forked children (see ``fork_streams``), each child's read in the
    order it produced them, as the reader needs them."""

    def __init__(self, children: list[tuple[int, BinaryIO]]) -> None:
        self._children: list[tuple[int, BinaryIO] | None] = list(children)

    def __len__(self) -> int:
        return len(self._children)

    def next(self, child: int) -> Result | None:
        """The next result of ``child``; None once it has finished, failed or died (a
        result cut short by its death included)."""
        running = self._children[child]
        if running is None:
            return None
        try:
            result: Result = pickle.load(running[1])  # our own child's bytes, never outside's
        except Exception:  # the end of its results, or of the child
            self._stop(child)
            return None
        return result

    def _stop(self, child: int) -> None:
        running = self._children[child]
        self._children[child] = None  # first: a pid once collected may be another's
        if running is None:
            return
        pid, pipe = running
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)  # done, or blocked on results no one will read
        pipe.close()
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)

    def close(self) -> None:
        """Stop every child still running and collect them all."""
        for child in range(len(self._children)):
            self._stop(child)


def fork_streams(shares: list[list[Item]], produce: Callable[[Item], Result]) -> Streams[Result]:
    """One forked child per share, each sending back ``produce(item)`` for the items of
    its share in order, as it goes: it runs ahead of its reader only as far as its pipe
    holds, so memory does not grow with the work. A child that fails stops sending. The
    caller reads with ``Streams.next`` and must ``close`` the streams."""
    children: list[tuple[int, BinaryIO]] = []
    try:
        for share in shares:
            read_end, write_end = os.pipe()
            with contextlib.suppress(OSError, AttributeError):
                fcntl.fcntl(write_end, fcntl.F_SETPIPE_SZ, STREAM_PIPE_BYTES)
            _prctl()  # loaded before the fork, for the child
            pid = os.fork()
            if pid == 0:  # the child: never returns, never runs the caller's code
                try:
                    os.close(read_end)
                    _stream_child(share, produce, write_end)
                finally:
                    os._exit(1)
            os.close(write_end)
            children.append((pid, os.fdopen(read_end, "rb")))
    except BaseException:
        Streams(children).close()
        raise
    return Streams(children)


def _stream_child(share: list[Item], produce: Callable[[Item], Result], write_end: int) -> None:
    code = 0
    try:
        _die_with_parent()
        with os.fdopen(write_end, "wb") as pipe:
            for item in share:
                pickle.dump(produce(item), pipe, protocol=pickle.HIGHEST_PROTOCOL)
                pipe.flush()
    except BaseException:
        code = 1
    finally:
        os._exit(code)


def _fork(share: list[Item], run: Callable[[list[Item]], Result]) -> tuple[int, int]:
    read_end, write_end = os.pipe()
    _prctl()  # loaded before the fork, for the child
    pid = os.fork()
    if pid == 0:  # the child: never returns
        code = 0
        try:
            os.close(read_end)
            _die_with_parent()
            data = pickle.dumps(run(share), protocol=pickle.HIGHEST_PROTOCOL)
            with os.fdopen(write_end, "wb") as pipe:
                pipe.write(data)
        except BaseException:
            code = 1
        finally:
            os._exit(code)
    os.close(write_end)
    return pid, read_end


@functools.cache
def _prctl() -> Callable[..., int] | None:
    """libc's ``prctl`` (None where there is none). Loaded by the parent before it forks:
    ctypes costs a few milliseconds to import, which no command that does not fork pays
    and no child pays again."""
    try:
        import ctypes

        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


def _die_with_parent() -> None:
    prctl = _prctl()
    if prctl is not None:
        with contextlib.suppress(OSError):
            prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() == 1:  # the parent died before the line above took effect
        os._exit(1)


def _guarded(run: Callable[[list[Item]], PartResult], share: list[Item]) -> PartResult:
    # ``run`` reports its errors in its result, with what it finished; this is a safety net
    try:
        return run(share)
    except DwsError as exc:
        return PartResult(error=(exc.exit_code, exc.message, exc.details))


def _collect(children: list[tuple[int, int]], died: Callable[[str], Result]) -> list[Result]:
    results = []
    for pid, read_end in children:
        with os.fdopen(read_end, "rb") as pipe:
            data = pipe.read()  # before waiting: a child blocks until its result is read
        _, status = os.waitpid(pid, 0)
        code = os.waitstatus_to_exitcode(status)
        result: Result | None = None
        if data and code == 0:
            with contextlib.suppress(Exception):
                result = pickle.loads(data)  # our own child's bytes, never from outside
        if result is None:
            result = died(f"killed by signal {-code}" if code < 0 else f"exit {code}")
        results.append(result)
    return results


def raise_first_error(results: list[PartResult]) -> None:
    """Raise the first share's error: the exception itself where it was raised in this
    process, else the error class its exit code names."""
    for result in results:
        if result.exception is not None:
            raise result.exception
        if result.error is not None:
            code, message, details = result.error
            raise _ERRORS.get(code, DwsError)(message, details=details)
