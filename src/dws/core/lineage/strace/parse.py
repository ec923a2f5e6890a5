"""Parsing the log of a command run under strace (``tracer``) into a ``TraceResult``.

``parse_strace_log`` is a pure function of the log text and the directory the command
started in, so it is tested with synthetic logs. It follows every process's current
directory and decides, call by call, what was read, written, removed, moved, executed and
listed. Paths are absolute, lexically normalised, and named the way the command reached
them (through symbolic links, not resolving them). See docs/trace.md for the rules.
"""

from __future__ import annotations

import os
import posixpath
import re
from collections.abc import Callable, Iterable, Iterator

from msgspec import Struct, field

from dws.core.lineage.strace.syntax import (
    CALL_NAME_RE,
    FD_ARG_RE,
    LINE_RE,
    RESUMED_RE,
    UNFINISHED_RE,
    Call,
    decode_c_string,
    parse_call,
    string_arg,
)

MAX_WARNINGS = 100


class TraceResult(Struct):
    """What a traced command did to files, as absolute normalised paths.

    A path read and later written is an output: it is in ``written``, and in ``read`` only if
    it was read before its first write. A path written and later removed during the run (a
    temporary file) is in neither set, nor in ``removed``. ``directories`` marks the paths
    known to be directories (listed with open(O_DIRECTORY) or created with mkdir).

    ``moved``, ``executed`` and ``listed`` record events as they happened, temporary paths
    included: every rename (source, target) in log order, except RENAME_EXCHANGE; every
    program run with execve/execveat; every directory opened with O_DIRECTORY for reading."""

    read: set[str] = field(default_factory=set)
    written: set[str] = field(default_factory=set)
    removed: set[str] = field(default_factory=set)
    directories: set[str] = field(default_factory=set)
    warnings: list[str] = field(default_factory=list)
    moved: list[tuple[str, str]] = field(default_factory=list)
    executed: set[str] = field(default_factory=set)
    listed: set[str] = field(default_factory=set)


def parse_strace_log(path: str, cwd: str) -> TraceResult:
    """Parse the log strace wrote (see ``tracer.strace_argv``); ``cwd`` is where the
    command started."""

    def lines() -> Iterator[str]:
        # Latin-1 maps every byte to one character, so nothing in the log can fail to decode;
        # strace escapes non-ASCII bytes in strings anyway.
        with open(path, encoding="latin-1", newline="\n") as log:
            yield from log

    return _LogParser(cwd).run(lines)


def parse_strace_text(text: str, cwd: str) -> TraceResult:
    """``parse_strace_log`` over log text already in memory."""
    return _LogParser(cwd).run(lambda: iter(text.split("\n")))


# ---- the state machine ------------------------------------------------------------------


class _Cwd:
    """A current directory; threads created with CLONE_FS share one. It is ``exact`` unless
    it was reached through '..' or guessed: then the kernel's view (-y) replaces it."""

    def __init__(self, path: str, exact: bool = True) -> None:
        self.path = path
        self.exact = exact


_PROCESS_CALLS = {"clone", "clone3", "fork", "vfork"}
_RELEVANT = _PROCESS_CALLS | {
    "open", "openat", "openat2", "creat", "execve", "execveat", "chdir", "fchdir",
    "rename", "renameat", "renameat2", "link", "linkat", "symlink", "symlinkat",
    "unlink", "unlinkat", "mkdir", "mkdirat", "rmdir", "truncate",
}  # fmt: skip
_WRITE_FLAGS = {"O_WRONLY", "O_RDWR", "O_CREAT", "O_TRUNC"}


class _LogParser:
    """One log's parse: every process's current directory and parent, the paths the
    kernel reported under other names, and the result so far."""

    def __init__(self, cwd: str) -> None:
        self.start = _normalise(os.path.abspath(cwd))
        self.cwds: dict[int, _Cwd] = {}
        self.parents: dict[int, tuple[int, bool]] = {}  # child -> (parent, shares cwd)
        self.first_pid: int | None = None
        self.aliases: dict[str, str] = {}  # path as the kernel reports it -> as named
        self.ever_written: set[str] = set()
        self.result = TraceResult()
        self.dropped_warnings = 0

    def run(self, lines: Callable[[], Iterable[str]]) -> TraceResult:
        # Pass 1 learns parentage: a child's first lines often come before fork() returns
        # in the parent, and the child starts in the parent's directory.
        for call in self._calls(lines(), _PROCESS_CALLS, warn=False):
            if call.result and call.result > 0:
                shares = any("CLONE_FS" in arg for arg in call.args)
                self.parents.setdefault(call.result, (call.pid, shares))
        for call in self._calls(lines(), _RELEVANT, warn=True):
            self._apply(call)
        done = self.result
        done.directories &= done.read | done.written | done.removed
        if self.dropped_warnings:
            done.warnings.append(f"... and {self.dropped_warnings} more warnings")
        return done

    def warn(self, message: str) -> None:
        if len(self.result.warnings) < MAX_WARNINGS:
            self.result.warnings.append(message)
        else:
            self.dropped_warnings += 1

    def _calls(self, lines: Iterable[str], names: set[str], *, warn: bool) -> Iterator[Call]:
        """The completed calls named in ``names``, unfinished/resumed pairs joined."""
        pending: dict[int, str] = {}
        for number, raw in enumerate(lines, 1):
            line = raw.rstrip("\r\n")
            if not line.strip():
                continue
            match = LINE_RE.fullmatch(line)
            pid, text = (int(match.group(1)), match.group(2)) if match else (-1, line)
            if self.first_pid is None and (match or CALL_NAME_RE.match(text)):
                self.first_pid = pid
            if text.startswith(("---", "+++")):
                continue  # signals, exits
            unfinished = UNFINISHED_RE.fullmatch(text)
            if unfinished:
                pending[pid] = unfinished.group(1)
                continue
            resumed = RESUMED_RE.fullmatch(text)
            if resumed:
                start = pending.pop(pid, None)
                if start is None:
                    if warn and resumed.group(1) in _RELEVANT:
                        self.warn(f"line {number}: {resumed.group(1)} resumed but never started")
                    continue
                text = start + resumed.group(2)
            name = CALL_NAME_RE.match(text)
            if name is None or name.group(1) not in names:
                if warn and name is None:
                    self.warn(f"line {number}: not understood: {line[:200]!r}")
                continue
            call = parse_call(number, pid, text)
            if call is None:
                if warn:
                    self.warn(f"line {number}: not understood: {line[:200]!r}")
                continue
            yield call

    # -- directories --

    def cwd_of(self, pid: int, children: frozenset[int] = frozenset()) -> _Cwd:
        """A process's current directory; one first seen starts in its parent's."""
        cell = self.cwds.get(pid)
        if cell is not None:
            return cell
        parent = self.parents.get(pid)
        if parent is not None and parent[0] != pid and parent[0] not in children:
            parent_cell = self.cwd_of(parent[0], children | {pid})  # reused pids: no loops
            cell = parent_cell if parent[1] else _Cwd(parent_cell.path, parent_cell.exact)
        elif pid == self.first_pid:
            cell = _Cwd(self.start)
        else:
            self.warn(f"process {pid} has no known parent; assuming it started in {self.start}")
            cell = _Cwd(self.start, exact=False)
        self.cwds[pid] = cell
        return cell

    def resolve(self, call: Call, dirfd_index: int | None, path_index: int) -> str | None:
        """The absolute path a call named, from its path argument and dirfd (or cwd); None,
        with a warning, for a descriptor's link in /proc (its file is not known here)."""
        resolved = self.resolve_exact(call, dirfd_index, path_index)
        if resolved and _is_fd_link(resolved[0]):
            self.warn(f"line {call.line}: {call.name} names {resolved[0]}: file not known")
            return None
        return resolved[0] if resolved else None

    def resolve_exact(
        self, call: Call, dirfd_index: int | None, path_index: int
    ) -> tuple[str, bool] | None:
        """``resolve``, and whether the path names the file the kernel found (no '..'
        folded lexically on top of a directory that may be a symbolic link)."""
        raw = string_arg(call.args, path_index)
        if raw is None:
            self.warn(f"line {call.line}: {call.name} has an unreadable or truncated path")
            return None
        path = os.fsdecode(raw)
        no_parent_steps = ".." not in path.split("/")
        if path.startswith("/"):
            return self.translate(_normalise(path)), no_parent_steps
        if dirfd_index is not None and dirfd_index < len(call.args):
            base = self.dirfd_path(call, dirfd_index)
            if base is None:
                return None
            exact = self.cwd_of(call.pid).exact if _is_at_fdcwd(call.args[dirfd_index]) else True
        else:
            cell = self.cwd_of(call.pid)
            base, exact = cell.path, cell.exact
        joined = posixpath.join(base, path) if path else base
        return _normalise(joined), exact and no_parent_steps

    def dirfd_path(self, call: Call, index: int) -> str | None:
        """The directory a dirfd argument stands for (AT_FDCWD: the process's cwd)."""
        match = FD_ARG_RE.fullmatch(call.args[index])
        if match and match.group(1) == "AT_FDCWD":
            return self.cwd_of(call.pid).path
        kernel = _kernel_path(match.group(2)) if match and match.group(2) else None
        if kernel is not None:
            return self.translate(kernel)
        self.warn(f"line {call.line}: {call.name} uses a directory fd with no known path")
        return None

    def sync_cwd(self, call: Call) -> None:
        """Compare the process's cwd with the kernel's (``AT_FDCWD</path>``): learn the
        alias when ours is exact, else take the kernel's."""
        for arg in call.args:
            match = FD_ARG_RE.fullmatch(arg) if _is_at_fdcwd(arg) else None
            kernel = _kernel_path(match.group(2)) if match and match.group(2) else None
            if kernel is not None:
                cell = self.cwd_of(call.pid)
                if cell.exact:
                    self.learn(kernel, cell.path)
                else:
                    cell.path, cell.exact = self.translate(kernel), True
                return

    def learn(self, kernel: str, named: str) -> None:
        """Remember that the kernel's ``kernel`` is what the command called ``named``."""
        if kernel != "/" and not _is_fd_link(named) and self.translate(kernel) != named:
            self.aliases.setdefault(kernel, named)

    def translate(self, path: str) -> str:
        """A path the kernel reported (symbolic links resolved), named as the command
        reached it when a known alias covers it."""
        if not self.aliases:
            return path
        probe = path
        while probe != "/":
            named = self.aliases.get(probe)
            if named is not None:
                return named + path[len(probe) :]
            probe = posixpath.dirname(probe)
        return path

    # -- effects --

    def _apply(self, call: Call) -> None:
        if call.result is None or call.result < 0:
            return  # failed or never completed
        self.sync_cwd(call)
        name = call.name
        if name in _PROCESS_CALLS:
            if call.result > 0 and call.result not in self.cwds:
                shares = self.parents.get(call.result, (call.pid, False))[1]
                parent_cell = self.cwd_of(call.pid)
                copy = _Cwd(parent_cell.path, parent_cell.exact)
                self.cwds[call.result] = parent_cell if shares else copy
        elif name in {"open", "openat", "openat2", "creat"}:
            self._open(call)
        elif name in {"execve", "execveat"}:
            path = self.resolve(call, 0, 1) if name == "execveat" else self.resolve(call, None, 0)
            if path:
                self.read(path)
                self.result.executed.add(path)
        elif name in {"chdir", "fchdir"}:
            self._chdir(call)
        else:
            self._change(call)

    def _open(self, call: Call) -> None:
        at = call.name in {"openat", "openat2"}
        resolved = self.resolve_exact(call, 0 if at else None, 1 if at else 0)
        kernel = _kernel_path(call.result_fd_path) if call.result_fd_path else None
        if call.name == "creat":
            flags = {"O_CREAT", "O_WRONLY", "O_TRUNC"}
        else:
            flag_text = call.args[2 if at else 1] if len(call.args) > (2 if at else 1) else ""
            if call.name == "openat2":
                found = re.search(r"flags=([^,}]*)", flag_text)
                flag_text = found.group(1) if found else ""
            flags = {part.strip() for part in flag_text.split("|")}
        if resolved is None:
            return
        path, exact = resolved
        handle = "O_PATH" in flags or "O_TMPFILE" in flags  # O_TMPFILE: named by linkat
        if _is_fd_link(path):
            if handle:
                return
            # A file reopened through a descriptor's link (/proc/self/fd/N, /dev/fd/N): the
            # descriptor returned names the file itself.
            if kernel is None:
                shown = f" ({call.result_fd_path})" if call.result_fd_path else ""
                self.warn(
                    f"line {call.line}: {call.name} reopens {path}, but the descriptor it "
                    f"returns names no file{shown}"
                )
                return
            path = self.translate(kernel)
        elif exact and kernel:
            self.learn(kernel, path)
        if handle:
            return  # a handle, not content
        if "O_RDWR" in flags and not flags & {"O_CREAT", "O_TRUNC"}:
            self.read(path)  # updated in place: its old content is read too
        if flags & _WRITE_FLAGS:
            self.write(path)
        else:
            self.read(path)
            if "O_DIRECTORY" in flags:
                self.result.directories.add(path)
                self.result.listed.add(path)

    def _chdir(self, call: Call) -> None:
        cell = self.cwd_of(call.pid)
        if call.name == "chdir":
            resolved = self.resolve_exact(call, None, 0)
        else:
            path = self.dirfd_path(call, 0) if call.args else None
            resolved = (path, True) if path else None
        if resolved is not None:
            cell.path, cell.exact = resolved
            if _is_fd_link(cell.path):
                cell.exact = False  # a descriptor's link: take the kernel's view when seen

    def _change(self, call: Call) -> None:
        """Renames, links, removals, mkdir and truncate."""
        name = call.name
        if name in {"rename", "renameat", "renameat2"}:
            at = name != "rename"
            source = self.resolve(call, 0 if at else None, 1 if at else 0)
            target = self.resolve(call, 2 if at else None, 3 if at else 1)
            if source is None or target is None:
                return
            if name == "renameat2" and "RENAME_EXCHANGE" in "".join(call.args[4:]):
                self.write(source)
                self.write(target)
            else:
                self.result.moved.append((source, target))
                self.move(source, target)
        elif name in {"link", "linkat", "symlink", "symlinkat"}:
            slots: dict[str, tuple[int | None, int]] = {"link": (None, 1), "linkat": (2, 3)}
            slots["symlink"] = (None, 1)
            dirfd, index = slots.get(name, (1, 2))
            target = self.resolve(call, dirfd, index)
            if target:
                self.write(target)
        elif name in {"unlink", "unlinkat", "rmdir"}:
            path = self.resolve(call, 0, 1) if name == "unlinkat" else self.resolve(call, None, 0)
            if path:
                self.remove(path)
        elif name in {"mkdir", "mkdirat"}:
            path = self.resolve(call, 0, 1) if name == "mkdirat" else self.resolve(call, None, 0)
            if path:
                self.write(path)
                self.result.directories.add(path)
        elif name == "truncate":
            path = self.resolve(call, None, 0)
            if path:
                self.write(path)

    def read(self, path: str) -> None:
        if path not in self.ever_written:
            self.result.read.add(path)

    def write(self, path: str) -> None:
        self.ever_written.add(path)
        self.result.written.add(path)
        self.result.removed.discard(path)

    def remove(self, path: str) -> None:
        result = self.result
        if path in result.written:
            result.written.discard(path)
            if path not in result.read:
                return  # made during the run and gone again: a temporary file
        result.removed.add(path)

    def move(self, source: str, target: str) -> None:
        """rename(): the target is written (with anything written under a renamed
        directory moved along); the source is removed."""
        prefix = source + "/"
        moved = {p for p in self.result.written if p.startswith(prefix)}
        for inner in moved:
            self.result.written.discard(inner)
            self.write(target + inner[len(source) :])
        self.remove(source)
        self.write(target)


def _kernel_path(annotation: str) -> str | None:
    """The path in a -y annotation (``</path>``, already without brackets), if it is one."""
    path = os.fsdecode(decode_c_string(annotation))
    if not path.startswith("/") or path.endswith(" (deleted)"):
        return None  # a socket, pipe or anonymous inode, or a removed directory
    return _normalise(path)


_FD_LINK_RE = re.compile(
    r"/(?:proc/(?:self|thread-self|\d+)(?:/task/\d+)?|dev)/fd/\d+(?:/.*)?", re.S
)


def _is_fd_link(path: str) -> bool:
    """Whether ``path`` goes through a descriptor's link: /proc/<pid>/fd/N, /dev/fd/N."""
    return _FD_LINK_RE.fullmatch(path) is not None


def _is_at_fdcwd(arg: str) -> bool:
    return arg.startswith("AT_FDCWD")


def _normalise(path: str) -> str:
    """Lexical normalisation; a leading '//' (kept by POSIX normpath) becomes '/'."""
    normal = posixpath.normpath(path)
    return "/" + normal.lstrip("/") if normal.startswith("//") else normal
