"""The Python recorder's events and how they become an observation, without running dws."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from dws.core.lineage.observe import (
    Observation,
    apply_event,
    is_python_command,
    parse_python_log,
)
from dws.core.lineage.pyhook.dws_recorder import Recorder


def recorded(tmp_path: Path, *events: tuple[str, tuple[object, ...]]) -> list[list[str]]:
    lines: list[str] = []
    recorder = Recorder(lines.append)
    for event, args in events:
        recorder.hook(event, args)
    return [line.rstrip("\n").split("\t") for line in lines]


def test_opens_become_reads_writes_and_updates(tmp_path: Path) -> None:
    data = tmp_path / "a.csv"
    data.write_text("1\n")
    lines = recorded(
        tmp_path,
        ("open", (str(data), "r", os.O_RDONLY)),
        ("open", (str(tmp_path / "out.txt"), "w", os.O_WRONLY | os.O_CREAT | os.O_TRUNC)),
        ("open", (str(data), "a", os.O_WRONLY | os.O_APPEND | os.O_CREAT)),
        ("open", (str(data), "r+", os.O_RDWR)),
        ("open", (str(data), None, os.O_RDONLY | getattr(os, "O_PATH", 0))),
        ("open", (3, "r", os.O_RDONLY)),  # a descriptor: nothing to record
    )
    st = os.stat(data)
    signature = f"{st.st_size},{st.st_mtime_ns},{st.st_ino},{st.st_ctime_ns}"
    expected = [["R", str(data), signature], ["W", str(tmp_path / "out.txt")]]
    expected += [["U", str(data), signature], ["U", str(data), signature]]
    if not getattr(os, "O_PATH", 0):
        expected.append(["R", str(data), signature])
    assert lines == expected


def test_interpreter_files_and_bytecode_are_left_out(tmp_path: Path) -> None:
    stdlib = os.path.join(sys.base_prefix, "lib", "json", "__init__.py")
    lines = recorded(
        tmp_path,
        ("open", (stdlib, "r", os.O_RDONLY)),
        ("open", (str(tmp_path / "__pycache__/m.cpython-311.pyc"), "r", os.O_RDONLY)),
        ("open", ("/proc/self/status", "r", os.O_RDONLY)),
    )
    assert lines == []


def test_programs_started_say_whether_the_recorder_follows_them(tmp_path: Path) -> None:
    lines = recorded(
        tmp_path,
        ("subprocess.Popen", (sys.executable, [sys.executable, "x.py"], None, None)),
        ("subprocess.Popen", (None, ["sh", "-c", "true"], None, None)),
        ("subprocess.Popen", (None, "ls | wc", None, None)),
        ("subprocess.Popen", (sys.executable, ["python"], None, {"PATH": "/bin"})),
        ("os.system", ("true",)),
    )
    name = os.path.basename(sys.executable)
    shell = ["X", "sh", "0"]
    assert lines == [["X", name, "1"], shell, shell, ["X", name, "0"], shell]


def test_a_failing_handler_never_breaks_the_program(tmp_path: Path) -> None:
    lines: list[str] = []
    recorder = Recorder(lines.append)
    recorder.hook("os.rename", ())  # malformed arguments: ignored
    recorder.hook("open", (object(), "r", 0))
    assert lines == []


def test_names_with_tabs_and_newlines_round_trip(tmp_path: Path) -> None:
    log = tmp_path / "log"
    odd = str(tmp_path / "a\tb\nc\\d.csv")
    lines: list[str] = []
    Recorder(lines.append).hook("open", (odd, "r", os.O_RDONLY))
    log.write_text("".join(f"42\t{line}" for line in lines), encoding="utf-8")
    seen = parse_python_log(str(log), first_pid=42)
    assert list(seen.read) == [odd] and not seen.unobserved


def test_events_make_an_observation() -> None:
    seen = Observation("python")
    for event, args in [
        ("R", ["/w/in.csv", "1,2,3,4"]),
        ("W", ["/w/.tmp1"]),
        ("M", ["/w/.tmp1", "/w/out.csv"]),  # an atomic write: the temporary name leaves no trace
        ("M", ["/w/old.csv", "/w/new.csv"]),  # a move of a file that was there
        ("W", ["/w/tree/x"]),
        ("T", ["/w/tree"]),
        ("R", ["/w/out.csv", "5,6,7,8"]),  # read back after writing it: not an input
        ("L", ["/w"]),
        ("C", ["/w/code.py"]),
        ("X", ["sh", "0"]),
        ("X", ["python3", "1"]),
    ]:
        apply_event(seen, event, args)
    assert seen.read == {"/w/in.csv": (1, 2, 3, 4)}
    assert seen.written == {"/w/out.csv", "/w/new.csv"}
    assert seen.removed == {"/w/old.csv", "/w/tree"}
    assert seen.moved == [("/w/old.csv", "/w/new.csv")]
    assert seen.listed == {"/w"} and seen.executed == {"/w/code.py"}
    assert seen.unobserved == ["sh"]


def test_a_process_that_never_announced_itself_was_not_observed(tmp_path: Path) -> None:
    log = tmp_path / "log"
    log.write_text("7\tS\t1\n7\tR\t/w/a\t\n", encoding="utf-8")
    assert parse_python_log(str(log), first_pid=8).unobserved
    assert not parse_python_log(str(log), first_pid=7).unobserved
    assert parse_python_log(str(tmp_path / "missing"), first_pid=7).unobserved


@pytest.mark.parametrize(
    ("argv", "python"),
    [
        (["python3", "x.py"], True),
        (["python3.11", "-m", "pkg"], True),
        ([sys.executable, "-c", "1"], True),
        (["sh", "-c", "python x.py"], False),
        (["/definitely/not/there"], False),
        ([], False),
    ],
)
def test_python_commands_are_recognised(argv: list[str], python: bool) -> None:
    assert is_python_command(argv) is python


def test_a_script_with_a_python_shebang_is_python(tmp_path: Path) -> None:
    script = tmp_path / "tool"
    script.write_text("#!/usr/bin/env python3\nprint(1)\n")
    script.chmod(0o755)
    shell = tmp_path / "tool.sh"
    shell.write_text("#!/bin/sh\necho 1\n")
    shell.chmod(0o755)
    assert is_python_command([str(script)]) and not is_python_command([str(shell)])
