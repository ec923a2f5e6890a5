"""dws.core.lineage.strace: the log parser over synthetic logs, and a few real traces."""

from __future__ import annotations

import os
import posixpath
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dws.core.lineage.strace.parse import TraceResult, parse_strace_log, parse_strace_text
from dws.core.lineage.strace.syntax import decode_c_string
from dws.core.lineage.strace.tracer import (
    StraceMissingError,
    strace_argv,
    strace_unavailable_reason,
)
from dws.errors import UsageError

WS = "/ws"


def parse(*lines: str, cwd: str = WS) -> TraceResult:
    return parse_strace_text("\n".join(lines) + "\n", cwd)


def strace_quote(data: bytes, *, hex_all: bool = False) -> str:
    """Escape bytes as strace prints a string (default style, or -xx)."""
    if hex_all:
        return "".join(f"\\x{b:02x}" for b in data)
    named = {9: "\\t", 10: "\\n", 11: "\\v", 12: "\\f", 13: "\\r", 34: '\\"', 92: "\\\\"}
    out = []
    for i, b in enumerate(data):
        following = data[i + 1 : i + 2]
        if b in named:
            out.append(named[b])
        elif 0x20 <= b < 0x7F:
            out.append(chr(b))
        elif following and following.isdigit():
            out.append(f"\\{b:03o}")
        else:
            out.append(f"\\{b:o}")
    return "".join(out)


# ---- opens ------------------------------------------------------------------------------


def test_open_flags_decide_read_or_written() -> None:
    result = parse(
        '10 openat(AT_FDCWD</ws>, "in.csv", O_RDONLY|O_CLOEXEC) = 3</ws/in.csv>',
        '10 openat(AT_FDCWD</ws>, "out.csv", O_WRONLY|O_CREAT|O_TRUNC, 0666) = 4</ws/out.csv>',
        '10 open("log.txt", O_WRONLY|O_APPEND) = 5</ws/log.txt>',
        '10 creat("made", 0644) = 6</ws/made>',
        '10 openat(AT_FDCWD</ws>, "db", O_RDWR) = 7</ws/db>',
        '10 openat(AT_FDCWD</ws>, "new.db", O_RDWR|O_CREAT|O_EXCL, 0600) = 8</ws/new.db>',
        '10 openat(AT_FDCWD</ws>, "handle", O_RDONLY|O_PATH) = 9</ws/handle>',
        '10 openat(AT_FDCWD</ws>, "data", O_RDONLY|O_NONBLOCK|O_CLOEXEC|O_DIRECTORY) = 3</ws/data>',
        '10 openat2(AT_FDCWD</ws>, "o2", {flags=O_WRONLY|O_CREAT, mode=0600, resolve=0}, 24) = 3',
    )
    assert result.read == {"/ws/in.csv", "/ws/db", "/ws/data"}
    assert result.written == {
        "/ws/out.csv",
        "/ws/log.txt",
        "/ws/made",
        "/ws/db",
        "/ws/new.db",
        "/ws/o2",
    }
    assert result.directories == {"/ws/data"}
    assert result.removed == set()
    assert result.warnings == []


def test_failed_and_unfinished_calls_are_ignored() -> None:
    result = parse(
        '10 openat(AT_FDCWD</ws>, "nope", O_RDONLY) = -1 ENOENT (No such file or directory)',
        '10 mkdir("exists", 0777) = -1 EEXIST (File exists)',
        '10 openat(AT_FDCWD</ws>, "lost", O_WRONLY|O_CREAT, 0666 <unfinished ...>',
        "10 +++ killed by SIGKILL +++",
    )
    assert (result.read, result.written, result.warnings) == (set(), set(), [])


def test_probes_are_not_reads() -> None:
    result = parse(
        '10 newfstatat(AT_FDCWD</ws>, "a", {st_mode=S_IFREG|0644, st_size=1, ...}, 0) = 0',
        '10 access("b", R_OK) = 0',
        '10 readlink("c", "d", 4096) = 1',
        '10 statx(AT_FDCWD</ws>, "e", AT_STATX_SYNC_AS_STAT, STATX_ALL, {stx_mask=0}) = 0',
    )
    assert (result.read, result.written, result.warnings) == (set(), set(), [])


def test_read_counts_only_before_the_first_write() -> None:
    result = parse(
        '10 openat(AT_FDCWD</ws>, "a", O_RDONLY) = 3</ws/a>',
        '10 openat(AT_FDCWD</ws>, "a", O_WRONLY|O_TRUNC) = 3</ws/a>',
        '10 openat(AT_FDCWD</ws>, "b", O_WRONLY|O_CREAT, 0666) = 3</ws/b>',
        '10 openat(AT_FDCWD</ws>, "b", O_RDONLY) = 3</ws/b>',
    )
    assert result.read == {"/ws/a"}
    assert result.written == {"/ws/a", "/ws/b"}


def test_execve_is_a_read_of_the_program_and_a_failed_search_is_not() -> None:
    result = parse(
        '10 execve("/usr/bin/run.sh", ["run.sh"], 0x7ff /* 3 vars */) = -1 ENOENT (No such file)',
        '10 execve("./code/run.sh", ["./code/run.sh"], 0x7ff /* 3 vars */) = 0',
    )
    assert result.read == {"/ws/code/run.sh"}


# ---- processes and directories ----------------------------------------------------------


def test_children_inherit_the_cwd_at_fork_even_when_logged_before_fork_returns() -> None:
    result = parse(
        '10 chdir("sub") = 0',
        "10 vfork( <unfinished ...>",
        '11 execve("/bin/cat", ["cat", "x"], 0x7ff /* 3 vars */ <unfinished ...>',
        "10 <... vfork resumed>) = 11",
        "11 <... execve resumed>) = 0",
        '11 openat(AT_FDCWD, "x", O_RDONLY) = 3</ws/sub/x>',
        "10 clone(child_stack=NULL, flags=CLONE_CHILD_CLEARTID|SIGCHLD, child_tidptr=0x7) = 12",
        '10 chdir("/elsewhere") = 0',
        '12 openat(AT_FDCWD, "y", O_WRONLY|O_CREAT|O_TRUNC, 0666) = 3</ws/sub/y>',
        '12 chdir("..") = 0',
        '10 openat(AT_FDCWD, "z", O_RDONLY) = 3</elsewhere/z>',
        '12 openat(AT_FDCWD, "w", O_RDONLY) = 3</ws/w>',
    )
    assert result.read == {"/bin/cat", "/ws/sub/x", "/elsewhere/z", "/ws/w"}
    assert result.written == {"/ws/sub/y"}
    assert result.warnings == []


def test_threads_created_with_clone_fs_share_the_cwd() -> None:
    result = parse(
        "10 clone3({flags=CLONE_VM|CLONE_FS|CLONE_FILES|CLONE_THREAD, exit_signal=0}, 88) = 11",
        '11 chdir("data") = 0',
        '10 openat(AT_FDCWD, "f", O_RDONLY) = 3</ws/data/f>',
    )
    assert result.read == {"/ws/data/f"}


def test_fchdir_and_directory_fds_use_the_annotated_path() -> None:
    result = parse(
        '10 openat(AT_FDCWD, "/tmp/other", O_RDONLY|O_DIRECTORY) = 3</tmp/other>',
        "10 fchdir(3</tmp/other>) = 0",
        '10 openat(AT_FDCWD, "a", O_RDONLY) = 4</tmp/other/a>',
        '10 unlinkat(3</tmp/other>, "old", 0) = 0',
        '10 mkdirat(3</tmp/other>, "new", 0777) = 0',
        '10 openat(5<socket:[123]>, "b", O_RDONLY) = 6',
    )
    assert result.read == {"/tmp/other", "/tmp/other/a"}
    assert result.removed == {"/tmp/other/old"}
    assert result.written == {"/tmp/other/new"}
    assert result.directories == {"/tmp/other", "/tmp/other/new"}
    assert len(result.warnings) == 1 and "line 6" in result.warnings[0]


def test_directory_fds_map_back_to_the_unresolved_path() -> None:
    # /ws/link is a symlink to /real: the kernel reports the fd as /real, we keep /ws/link.
    result = parse(
        '10 openat(AT_FDCWD, "link", O_RDONLY|O_PATH|O_DIRECTORY) = 3</real>',
        '10 openat(3</real>, "f", O_RDONLY) = 4</real/f>',
    )
    assert result.read == {"/ws/link/f"}


def test_lines_without_pid_and_bracketed_pids_are_understood() -> None:
    result = parse(
        'openat(AT_FDCWD, "a", O_RDONLY) = 3',
        '[pid    77] openat(AT_FDCWD, "b", O_RDONLY) = 3',
    )
    assert result.read == {"/ws/a", "/ws/b"}
    assert len(result.warnings) == 1  # pid 77 has no known parent: assumed to start in /ws


# ---- renames, links, removals -----------------------------------------------------------


def test_atomic_write_reports_the_final_name_only() -> None:
    result = parse(
        '10 openat(AT_FDCWD, "out/.tmp123", O_RDWR|O_CREAT|O_EXCL|O_CLOEXEC, 0600) = 3',
        '10 rename("out/.tmp123", "out/model.pkl") = 0',
    )
    assert result.written == {"/ws/out/model.pkl"}
    assert result.read == result.removed == set()


def test_renaming_a_directory_moves_what_was_written_inside() -> None:
    result = parse(
        '10 mkdir("tmpdir", 0777) = 0',
        '10 openat(AT_FDCWD, "tmpdir/part-0", O_WRONLY|O_CREAT, 0666) = 3',
        '10 renameat2(AT_FDCWD, "tmpdir", AT_FDCWD, "final", RENAME_NOREPLACE) = 0',
    )
    assert result.written == {"/ws/final", "/ws/final/part-0"}
    assert result.directories == {"/ws/final"} or result.directories == set()
    assert result.removed == set()


def test_rename_of_an_existing_file_removes_the_source_and_exchange_writes_both() -> None:
    result = parse(
        '10 renameat(AT_FDCWD, "a", AT_FDCWD, "b") = 0',
        '10 renameat2(AT_FDCWD, "c", AT_FDCWD, "d", RENAME_EXCHANGE) = 0',
    )
    assert result.removed == {"/ws/a"}
    assert result.written == {"/ws/b", "/ws/c", "/ws/d"}


def test_removals_temp_files_and_recreation() -> None:
    result = parse(
        '10 unlink("gone") = 0',
        '10 openat(AT_FDCWD, "scratch", O_WRONLY|O_CREAT, 0666) = 3',
        '10 unlinkat(AT_FDCWD, "scratch", 0) = 0',
        '10 openat(AT_FDCWD, "edited", O_RDONLY) = 3',
        '10 openat(AT_FDCWD, "edited", O_WRONLY|O_TRUNC) = 3',
        '10 unlink("edited") = 0',
        '10 unlink("back") = 0',
        '10 openat(AT_FDCWD, "back", O_WRONLY|O_CREAT, 0666) = 3',
        '10 mkdir("d", 0777) = 0',
        '10 rmdir("d") = 0',
        '10 unlinkat(AT_FDCWD, "olddir", AT_REMOVEDIR) = 0',
    )
    assert result.removed == {"/ws/gone", "/ws/edited", "/ws/olddir"}
    assert result.written == {"/ws/back"}
    assert result.read == {"/ws/edited"}
    assert result.directories == set()


def test_links_symlinks_and_truncate_are_writes() -> None:
    result = parse(
        '10 link("a", "b") = 0',
        '10 linkat(AT_FDCWD, "c", AT_FDCWD, "d", 0) = 0',
        '10 linkat(3, "", AT_FDCWD, "e", AT_EMPTY_PATH) = 0',
        '10 symlink("target", "f") = 0',
        '10 symlinkat("target", AT_FDCWD, "g") = 0',
        '10 truncate("h", 0) = 0',
    )
    assert result.written == {f"/ws/{name}" for name in "bdefgh"}
    assert result.read == set()


def test_renames_are_recorded_in_order_as_source_and_target() -> None:
    result = parse(
        '10 openat(AT_FDCWD, "out/.tmp1", O_WRONLY|O_CREAT|O_EXCL, 0600) = 3</ws/out/.tmp1>',
        '10 rename("out/.tmp1", "out/model.pkl") = 0',
        '10 rename("missing", "x") = -1 ENOENT (No such file or directory)',
        '10 renameat(3</ws/out>, "a", AT_FDCWD, "/tmp/b") = 0',
        '10 renameat2(AT_FDCWD, "c", AT_FDCWD, "d", RENAME_EXCHANGE) = 0',
        '10 mkdir("stage", 0777) = 0',
        '10 openat(AT_FDCWD, "stage/part-0", O_WRONLY|O_CREAT, 0666) = 3</ws/stage/part-0>',
        '10 renameat2(AT_FDCWD, "stage", AT_FDCWD, "final", RENAME_NOREPLACE) = 0',
        '10 renameat2(AT_FDCWD, "e", AT_FDCWD, "f", 0) = 0',
    )
    assert result.moved == [
        ("/ws/out/.tmp1", "/ws/out/model.pkl"),
        ("/ws/out/a", "/tmp/b"),
        ("/ws/stage", "/ws/final"),
        ("/ws/e", "/ws/f"),
    ]
    assert result.written == {
        "/ws/out/model.pkl",
        "/tmp/b",
        "/ws/c",
        "/ws/d",
        "/ws/final",
        "/ws/final/part-0",
        "/ws/f",
    }
    assert result.removed == {"/ws/out/a", "/ws/e"}
    assert result.warnings == []


def test_renames_are_named_the_way_the_command_reached_the_files() -> None:
    # /ws/link -> /real: a rename through a directory fd keeps the linked name.
    result = parse(
        '10 openat(AT_FDCWD</real>, "tmp", O_RDONLY|O_DIRECTORY) = 3</real/tmp>',
        '10 renameat(3</real/tmp>, "x", AT_FDCWD</real>, "y") = 0',
        cwd="/ws/link",
    )
    assert result.moved == [("/ws/link/tmp/x", "/ws/link/y")]


def test_executed_programs() -> None:
    result = parse(
        '10 execve("/usr/bin/run.sh", ["run.sh"], 0x7ff /* 3 vars */) = -1 ENOENT (No such file)',
        '10 execve("./code/run.sh", ["./code/run.sh"], 0x7ff /* 3 vars */) = 0',
        '10 openat(AT_FDCWD, "/usr/bin/env", O_RDONLY|O_PATH|O_CLOEXEC) = 3</usr/bin/env>',
        '10 execveat(3</usr/bin/env>, "", ["env"], 0x7ff /* 3 vars */, AT_EMPTY_PATH) = 0',
        '10 execveat(4</opt/tools>, "bin/tool", ["tool"], 0x7ff /* 3 vars */, 0) = 0',
        '10 openat(AT_FDCWD, "a.out", O_WRONLY|O_CREAT|O_TRUNC, 0777) = 3</ws/a.out>',
        '10 execve("a.out", ["a.out"], 0x7ff /* 3 vars */) = 0',
    )
    assert result.executed == {
        "/ws/code/run.sh",
        "/usr/bin/env",
        "/opt/tools/bin/tool",
        "/ws/a.out",
    }
    # Running a program is also a read of it, unless the command wrote it first.
    assert result.read == {"/ws/code/run.sh", "/usr/bin/env", "/opt/tools/bin/tool"}
    assert result.written == {"/ws/a.out"}
    assert result.warnings == []


def test_listed_directories() -> None:
    result = parse(
        '10 openat(AT_FDCWD, "data", O_RDONLY|O_NONBLOCK|O_CLOEXEC|O_DIRECTORY) = 3</ws/data>',
        '10 openat(AT_FDCWD, "handle", O_RDONLY|O_PATH|O_DIRECTORY) = 4</ws/handle>',
        '10 openat(AT_FDCWD, "plain", O_RDONLY) = 5</ws/plain>',
        '10 mkdir("made", 0777) = 0',
        '10 openat(AT_FDCWD, "made", O_RDONLY|O_DIRECTORY) = 6</ws/made>',
        '10 openat(AT_FDCWD, "gone", O_RDONLY|O_DIRECTORY) = 6</ws/gone>',
        '10 openat(AT_FDCWD, "nope", O_RDONLY|O_DIRECTORY) = -1 ENOTDIR (Not a directory)',
        '10 unlinkat(AT_FDCWD, "gone", AT_REMOVEDIR) = 0',
    )
    assert result.listed == {"/ws/data", "/ws/made", "/ws/gone"}
    assert result.read == {"/ws/data", "/ws/plain", "/ws/gone"}
    assert result.directories == {"/ws/data", "/ws/made", "/ws/gone"}
    assert result.removed == {"/ws/gone"}


# ---- reopening through /proc/<pid>/fd ---------------------------------------------------


def test_reopening_a_handle_through_proc_reads_or_writes_the_real_file() -> None:
    result = parse(
        '10 openat(AT_FDCWD, "data/raw/a.csv", O_RDONLY|O_CLOEXEC|O_PATH) = 3</ws/data/raw/a.csv>',
        '10 openat(AT_FDCWD, "/proc/self/fd/3", O_RDONLY|O_CLOEXEC) = 4</ws/data/raw/a.csv>',
        '10 openat(AT_FDCWD, "out.csv", O_RDONLY|O_PATH) = 5</ws/out.csv>',
        '10 openat(AT_FDCWD, "/proc/thread-self/fd/5", O_WRONLY|O_TRUNC) = 6</ws/out.csv>',
        '10 openat(AT_FDCWD, "/proc/10/fd/5", O_RDONLY) = 6</ws/out.csv>',
        '10 openat(AT_FDCWD, "db", O_PATH) = 7</ws/db>',
        '10 openat(AT_FDCWD, "/proc/10/task/11/fd/7", O_RDWR) = 8</ws/db>',
        '10 openat(AT_FDCWD, "d", O_RDONLY|O_PATH|O_DIRECTORY) = 9</ws/d>',
        '10 openat(AT_FDCWD, "/dev/fd/9", O_RDONLY|O_NONBLOCK|O_DIRECTORY) = 10</ws/d>',
        '10 openat(AT_FDCWD, "/dev/fd/9/f", O_RDONLY) = 11</ws/d/f>',
        '10 openat(10</ws/d>, "g", O_RDONLY) = 12</ws/d/g>',
        '10 chdir("/proc/self/fd") = 0',
        '10 openat(AT_FDCWD, "3", O_WRONLY|O_APPEND) = 13</ws/data/raw/a.csv>',
        '10 openat(AT_FDCWD, "/proc/self/fd/9", O_RDONLY|O_PATH) = 14</ws/d>',
    )
    assert result.read == {"/ws/data/raw/a.csv", "/ws/db", "/ws/d", "/ws/d/f", "/ws/d/g"}
    assert result.written == {"/ws/out.csv", "/ws/db", "/ws/data/raw/a.csv"}
    assert result.listed == {"/ws/d"}
    assert result.warnings == []


def test_reopening_follows_the_name_the_handle_was_opened_by() -> None:
    # /ws/link -> /real: the reopened file is named through the link, like the handle.
    result = parse(
        '10 openat(AT_FDCWD</real>, "a.csv", O_RDONLY|O_PATH) = 3</real/a.csv>',
        '10 openat(AT_FDCWD</real>, "/proc/self/fd/3", O_RDONLY) = 4</real/a.csv>',
        cwd="/ws/link",
    )
    assert result.read == {"/ws/link/a.csv"}


def test_reopening_obeys_the_read_before_first_write_rule() -> None:
    result = parse(
        '10 openat(AT_FDCWD, "a", O_PATH) = 3</ws/a>',
        '10 openat(AT_FDCWD, "/proc/self/fd/3", O_WRONLY|O_CREAT|O_TRUNC, 0666) = 4</ws/a>',
        '10 openat(AT_FDCWD, "/proc/self/fd/3", O_RDONLY) = 4</ws/a>',
    )
    assert result.read == set()
    assert result.written == {"/ws/a"}


def test_descriptor_links_that_name_no_file_warn_and_are_skipped() -> None:
    result = parse(
        '10 openat(AT_FDCWD, "/proc/self/fd/5", O_RDONLY) = 6<pipe:[16116]>',
        '10 openat(AT_FDCWD, "/dev/fd/63", O_RDONLY) = 3',
        '10 openat(AT_FDCWD, "/proc/self/fd/3", O_RDONLY) = 4</ws/tmp (deleted)>',
        '10 execve("/proc/self/fd/3", ["prog"], 0x7ff /* 3 vars */) = 0',
        '10 truncate("/dev/fd/4", 0) = 0',
        '10 rename("/proc/self/fd/3", "x") = -1 EXDEV (Invalid cross-device link)',
        '10 openat(AT_FDCWD, "/proc/self/fd", O_RDONLY|O_DIRECTORY) = 3</proc/10/fd>',
    )
    everything = result.read | result.written | result.removed | result.executed
    assert everything == {"/proc/self/fd"}  # listing the table is not reopening a file
    assert result.moved == []
    assert len(result.warnings) == 5
    assert "pipe:[16116]" in result.warnings[0] and "line 1" in result.warnings[0]
    assert "line 4" in result.warnings[3] and "execve" in result.warnings[3]


def test_reopening_does_not_rename_the_file_for_later_calls() -> None:
    # The kernel path behind /proc/self/fd/3 must not be taken for an alias of it.
    result = parse(
        '10 openat(AT_FDCWD, "d", O_RDONLY|O_PATH|O_DIRECTORY) = 3</ws/d>',
        '10 openat(AT_FDCWD, "/proc/self/fd/3", O_RDONLY|O_DIRECTORY) = 4</ws/d>',
        '10 openat(4</ws/d>, "f", O_RDONLY) = 5</ws/d/f>',
        '10 chdir("/proc/self/fd/3") = 0',
        '10 openat(AT_FDCWD</ws/d>, "g", O_WRONLY|O_CREAT, 0666) = 5</ws/d/g>',
        '10 openat(AT_FDCWD</ws/d>, "/ws/d/h", O_RDONLY) = 5</ws/d/h>',
    )
    assert result.read == {"/ws/d", "/ws/d/f", "/ws/d/h"}
    assert result.written == {"/ws/d/g"}
    assert result.warnings == []


# ---- notation ---------------------------------------------------------------------------


def test_escaped_names() -> None:
    result = parse(
        r'10 openat(AT_FDCWD, "a b/q\"uote", O_RDONLY) = 3',
        r'10 openat(AT_FDCWD, "new\nline\\x", O_RDONLY) = 3',
        r'10 openat(AT_FDCWD, "\303\251t\303\251", O_RDONLY) = 3',
        r'10 openat(AT_FDCWD, "\xe6\x97\xa5\xe6\x9c\xac", O_RDONLY) = 3',
        r'10 openat(AT_FDCWD, "lt<gt>, (x) = 3", O_RDONLY) = 3',
        r'10 openat(AT_FDCWD, "bad\377byte", O_RDONLY) = 3',
        r'10 openat(3</ws/d\0741\76>, "in", O_RDONLY) = 3',
    )
    assert result.read == {
        '/ws/a b/q"uote',
        "/ws/new\nline\\x",
        "/ws/été",
        "/ws/日本",
        "/ws/lt<gt>, (x) = 3",
        os.fsdecode(b"/ws/bad\xffbyte"),
        "/ws/d<1>/in",
    }
    assert result.warnings == []


def test_odd_lines_give_warnings_not_errors() -> None:
    result = parse(
        "complete garbage",
        "10 <... openat resumed>) = 3",
        '10 openat(AT_FDCWD, "trunc"..., O_RDONLY) = 3',
        '10 openat(AT_FDCWD, "unbalanced", O_RDONLY = 3',
        "10 --- SIGCHLD {si_signo=SIGCHLD} ---",
        "10 +++ exited with 0 +++",
        '10 openat(AT_FDCWD, "fine", O_RDONLY) = 3',
        "10 getdents64(3</ws>, 0x55 /* 4 entries */, 32768) = 112",
        "",
    )
    assert result.read == {"/ws/fine"}
    assert len(result.warnings) == 4


def test_warnings_are_capped() -> None:
    result = parse(*["garbage"] * 500)
    assert len(result.warnings) == 101
    assert result.warnings[-1] == "... and 400 more warnings"


@given(st.binary(max_size=64), st.booleans())
def test_c_escape_decoder_round_trips(data: bytes, hex_all: bool) -> None:
    assert decode_c_string(strace_quote(data, hex_all=hex_all)) == data


@given(st.binary(min_size=1, max_size=64).filter(lambda b: b"\x00" not in b))
def test_any_path_bytes_survive_a_log_line(name: bytes) -> None:
    line = f'10 openat(AT_FDCWD</w\\76>, "{strace_quote(name)}", O_RDONLY) = 3</x>'
    expected = posixpath.normpath(posixpath.join("/w", os.fsdecode(name)))
    expected = "/" + expected.lstrip("/")
    result = parse(line, cwd="/w")
    assert result.read == {expected}
    assert result.warnings == []


# ---- strace itself ----------------------------------------------------------------------


def test_missing_strace_gives_an_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "")
    with pytest.raises(StraceMissingError, match="apt install strace") as caught:
        strace_argv(["true"], "/tmp/log")
    assert isinstance(caught.value, UsageError)
    assert strace_unavailable_reason() is not None


UNAVAILABLE = strace_unavailable_reason()
needs_strace = pytest.mark.skipif(UNAVAILABLE is not None, reason=f"--trace: {UNAVAILABLE}")


def traced(tmp_path: Path, argv: list[str], cwd: Path) -> TraceResult:
    log = tmp_path / "strace.log"
    subprocess.run(strace_argv(argv, str(log)), cwd=cwd, check=False, timeout=120)
    result = parse_strace_log(str(log), str(cwd))
    assert result.warnings == []
    return result


def under(paths: set[str], root: Path) -> set[str]:
    """The paths inside root, relative to it."""
    prefix = str(root) + "/"
    return {p[len(prefix) :] for p in paths if p.startswith(prefix)}


PYTHON_SCRIPT = """
import os, tempfile
data = open("in.txt").read()
with open("out.txt", "w") as f:
    f.write(data.upper())
try:
    open("missing.txt")
except FileNotFoundError:
    pass
fd, tmp = tempfile.mkstemp(dir="res")
with os.fdopen(fd, "w") as f:
    f.write("model")
os.replace(tmp, "res/model.bin")
names = {"été.csv": "in", "日本 語.txt": "out", 'q"uote\\nline': "out"}
for name, how in names.items():
    if how == "in":
        open(name).read()
    else:
        open(name, "w").close()
"""


@needs_strace
def test_real_python_run(tmp_path: Path) -> None:
    work = tmp_path / "w"
    (work / "res").mkdir(parents=True)
    (work / "in.txt").write_text("hi")
    (work / "été.csv").write_text("x")
    (work / "step.py").write_text(PYTHON_SCRIPT)
    result = traced(tmp_path, [sys.executable, "step.py"], work)
    assert under(result.read, work) == {"in.txt", "step.py", "été.csv"}
    assert under(result.written, work) == {
        "out.txt",
        "res/model.bin",
        "日本 語.txt",
        'q"uote\nline',
    }
    assert under(result.removed, work) == set()


@needs_strace
def test_real_shell_child_in_another_directory(tmp_path: Path) -> None:
    work = tmp_path / "w"
    (work / "sub").mkdir(parents=True)
    (work / "sub" / "x").write_text("x")
    (work / "old").write_text("o")
    script = "cd sub && cat x > y && mkdir -p made/deep && cd .. && rm old && cat nope; true"
    result = traced(tmp_path, ["sh", "-c", script], work)
    assert under(result.read, work) == {"sub/x"}
    assert under(result.written, work) == {"sub/y", "sub/made", "sub/made/deep"}
    assert under(result.removed, work) == {"old"}
    assert under(result.directories, work) == {"sub/made", "sub/made/deep"}


SPAWNING_SCRIPT = """
import os, subprocess, threading
subprocess.run(["sh", "-c", "cat x > y"], cwd="sub", check=True)
os.chdir("sub")
worker = threading.Thread(target=lambda: open("from-thread", "w").close())
worker.start()
worker.join()
"""


@needs_strace
def test_real_subprocess_cwd_and_threads(tmp_path: Path) -> None:
    work = tmp_path / "w"
    (work / "sub").mkdir(parents=True)
    (work / "sub" / "x").write_text("x")
    (work / "spawn.py").write_text(SPAWNING_SCRIPT)
    result = traced(tmp_path, [sys.executable, "spawn.py"], work)
    assert under(result.read, work) == {"spawn.py", "sub/x"}
    assert under(result.written, work) == {"sub/y", "sub/from-thread"}


HANDLE_SCRIPT = """
import os
fd = os.open("a.csv", os.O_PATH)
with open(f"/proc/self/fd/{fd}") as f:
    data = f.read()
os.close(os.open("out.csv", os.O_WRONLY | os.O_CREAT, 0o644))
handle = os.open("out.csv", os.O_PATH)
with open(f"/dev/fd/{handle}", "w") as f:
    f.write(data)
os.rename("out.csv", "final.csv")
log = os.open("log.txt", os.O_PATH)
with open(f"/proc/{os.getpid()}/fd/{log}", "a") as f:
    f.write("done")
os.makedirs("stage")
os.rename("stage", "done")
names = os.listdir(os.path.join(os.getcwd(), "done"))
"""


@needs_strace
def test_real_reopen_through_proc_and_rename(tmp_path: Path) -> None:
    work = tmp_path / "w"
    work.mkdir()
    (work / "a.csv").write_text("a,b\n")
    (work / "log.txt").write_text("")
    (work / "step.py").write_text(HANDLE_SCRIPT)
    result = traced(tmp_path, [sys.executable, "step.py"], work)
    assert under(result.read, work) == {"step.py", "a.csv"}
    assert under(result.written, work) == {"final.csv", "log.txt", "done"}
    moves = [
        (str(work / a), str(work / b)) for a, b in [("out.csv", "final.csv"), ("stage", "done")]
    ]
    assert result.moved == moves
    assert under(result.listed, work) == {"done"}
    assert sys.executable in result.executed
    assert not any(p.startswith(("/proc/", "/dev/fd/")) for p in result.read | result.written)
    assert (work / "final.csv").read_text() == "a,b\n"
    assert (work / "log.txt").read_text() == "done"


def test_a_relative_start_directory_is_made_absolute() -> None:
    result = parse('10 openat(AT_FDCWD, "f", O_RDONLY) = 3', cwd=".")
    assert result.read == {os.path.join(os.getcwd(), "f")}


def test_reused_pids_cannot_loop_the_parent_chain() -> None:
    result = parse(
        '10 openat(AT_FDCWD, "a", O_RDONLY) = 3',
        "30 clone(flags=SIGCHLD) = 20",
        "20 clone(flags=SIGCHLD) = 30",  # pids reused: each looks like the other's parent
        '20 openat(AT_FDCWD, "f", O_RDONLY) = 3',
    )
    assert result.read == {"/ws/a", "/ws/f"}
    assert len(result.warnings) == 1


def test_a_start_directory_reached_through_a_symlink_names_every_path_through_it() -> None:
    # /ws/link -> /real. Programs that call getcwd() see /real; rmtree works through fds.
    result = parse(
        '10 openat(AT_FDCWD</real>, "/real/step.py", O_RDONLY) = 3</real/step.py>',
        '10 mkdir("tmp", 0777) = 0',
        '10 openat(AT_FDCWD</real>, "tmp/f", O_WRONLY|O_CREAT, 0666) = 3</real/tmp/f>',
        '10 openat(AT_FDCWD</real>, "tmp", O_RDONLY|O_CLOEXEC) = 3</real/tmp>',
        '10 unlinkat(3</real/tmp>, "f", 0) = 0',
        '10 unlinkat(AT_FDCWD</real>, "tmp", AT_REMOVEDIR) = 0',
        '10 openat(AT_FDCWD</real>, "out", O_WRONLY|O_CREAT, 0666) = 3</real/out>',
        cwd="/ws/link",
    )
    assert result.read == {"/ws/link/step.py"}
    assert result.written == {"/ws/link/out"}
    assert result.removed == set()


def test_parent_steps_through_a_symlink_follow_the_kernel() -> None:
    # /ws/link -> /real/deep: '..' from there is /real, not /ws.
    result = parse(
        '10 chdir("link") = 0',
        '10 openat(AT_FDCWD</real/deep>, "a", O_RDONLY) = 3</real/deep/a>',
        '10 chdir("..") = 0',
        '10 openat(AT_FDCWD</real>, "b", O_RDONLY) = 3</real/b>',
    )
    assert result.read == {"/ws/link/a", "/real/b"}
    assert result.warnings == []


def test_names_with_backslashes_in_annotations_are_decoded_once() -> None:
    result = parse(
        r'10 openat(AT_FDCWD, "x\\y", O_RDONLY|O_DIRECTORY) = 3</ws/x\\y>',
        r'10 openat(3</ws/x\\y>, "f", O_RDONLY) = 4</ws/x\\y/f>',
    )
    assert result.read == {"/ws/x\\y", "/ws/x\\y/f"}


LINKED_SCRIPT = """
import os, shutil
os.makedirs("scratch/a")
open("scratch/a/part", "w").close()
shutil.rmtree("scratch")
open(os.path.join(os.getcwd(), "out.txt"), "w").close()
"""


@needs_strace
def test_real_run_in_a_directory_reached_through_a_symlink(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    (real / "step.py").write_text(LINKED_SCRIPT)
    link = tmp_path / "link"
    link.symlink_to(real)
    result = traced(tmp_path, [sys.executable, "step.py"], link)
    assert under(result.written, link) == {"out.txt"}
    assert under(result.read, link) >= {"step.py"}
    assert under(result.read | result.written | result.removed, real) == set()
    assert result.removed == set()
