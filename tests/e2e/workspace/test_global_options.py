"""Global options (-C, --json, -q, -v), --help of every command, the workspace lock,
error style, format version checks."""

from __future__ import annotations

import json
from pathlib import Path

import filelock
import pytest

from helpers.cli import (
    META,
    as_json,
    assert_error,
    assert_unchanged,
    disk_state,
    dws,
    ok,
    resources_json,
    snapshot_ids,
    tag_target,
    write_files,
)

COMMANDS = [
    [],
    ["init"],
    ["add"],
    ["remove"],
    ["resources"],
    ["status"],
    ["snapshot"],
    ["restore"],
    ["recover"],
    ["history"],
    ["log"],
    ["show"],
    ["diff"],
    ["results"],
    ["results", "export"],
    ["tag"],
    ["delete-snapshot"],
    ["gc"],
    ["fsck"],
    ["run"],
    ["lineage"],
    ["lineage", "show"],
    ["lineage", "graph"],
    ["lineage", "runs"],
    ["lineage", "export"],
    ["swap"],
    ["clean"],
    ["rerun"],
    ["remote"],
    ["remote", "add"],
    ["remote", "remove"],
    ["remote", "list"],
    ["push"],
    ["pull"],
    ["clone"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: "-".join(c) or "dws")
def test_help_of_every_command_has_an_example(tmp_path: Path, command: list[str]) -> None:
    result = ok(dws(tmp_path, *command, "--help"))

    assert "Example" in result.out
    assert "Usage: dws" in result.out
    assert not (tmp_path / META).exists()


def test_top_level_help_lists_every_command(tmp_path: Path) -> None:
    text = ok(dws(tmp_path, "--help")).out

    for command in COMMANDS[1:]:
        assert command[0] in text


def test_version(tmp_path: Path) -> None:
    assert "0.1" in ok(dws(tmp_path, "--version")).out


def test_unknown_command_is_a_usage_error(tmp_path: Path) -> None:
    result = dws(tmp_path, "snapshott")

    assert result.code == 2
    assert "Traceback" not in result.err


# ---- -C DIR ------------------------------------------------------------------------------


def test_dash_c_runs_as_if_started_in_dir(tmp_path: Path) -> None:
    project = tmp_path / "elsewhere" / "proj"
    write_files(project, {"data/raw/a.csv": "1\n"})

    ok(dws(tmp_path, "-C", str(project), "init"))
    ok(dws(tmp_path, "-C", "elsewhere/proj", "add", "local-files", "data/raw", "-r", "s"))
    ok(dws(tmp_path, "-C", str(project), "add", "local-files", "out", "-r", "r", "--create"))
    ok(dws(tmp_path, "-C", str(project), "snapshot", "v1"))
    (project / "data/raw/a.csv").write_text("2\n")
    ok(dws(tmp_path, "-C", str(project), "snapshot", "v2"))
    doc = as_json(dws(tmp_path, "-C", str(project / "data"), "--json", "status"))
    ok(dws(tmp_path, "-C", str(project), "restore", "v1"))

    assert (project / META / "workspace.json").is_file()
    assert not (tmp_path / META).exists()
    assert [(r["name"], r["path"]) for r in resources_json(project)] == [
        ("raw", "data/raw"),
        ("out", "out"),
    ]
    assert (project / "out").is_dir()
    assert len(snapshot_ids(project)) == 2
    assert doc["head"] == tag_target(project, "v2")
    assert (project / "data/raw/a.csv").read_text() == "1\n"


def test_dash_c_export_destination_is_relative_to_dir(ws_v1: Path, tmp_path: Path) -> None:
    ok(dws(tmp_path, "-C", str(ws_v1), "results", "export", "v1", "exported"))

    assert (ws_v1 / "exported/results/metrics.json").read_text() == '{"accuracy": 0.5}'


def test_dash_c_to_a_missing_directory(tmp_path: Path) -> None:
    result = dws(tmp_path, "-C", str(tmp_path / "missing"), "status")

    assert_error(result, 2)


# ---- --json on every read command --------------------------------------------------------

READ_COMMANDS = [
    ["status"],
    ["history"],
    ["log"],
    ["resources"],
    ["show", "v1"],
    ["diff", "v1"],
    ["diff", "v1", "v1"],
    ["results"],
    ["tag"],
]


@pytest.mark.parametrize("command", READ_COMMANDS, ids="-".join)
def test_json_output_is_one_document_on_stdout(ws_v1: Path, command: list[str]) -> None:
    """`--json` after the command (the global `dws --json CMD` form is used everywhere else)."""
    write_files(ws_v1, {"data/raw/a.csv": "changed\n"})  # makes status warn on stderr

    result = ok(dws(ws_v1, *command, "--json"))

    doc = json.loads(result.out)
    assert isinstance(doc, dict | list)
    assert doc


@pytest.mark.parametrize("command", ["status", "history", "resources"])
def test_help_examples_use_json_after_the_command(tmp_path: Path, command: str) -> None:
    """The help shows `dws status --json`; test_json_output_is_one_document_on_stdout runs
    exactly that form."""
    assert f"dws {command} --json" in ok(dws(tmp_path, command, "--help")).out


def test_quiet_silences_stdout_but_not_errors(ws_v1: Path) -> None:
    write_files(ws_v1, {"data/raw/a.csv": "changed\n"})

    quiet = ok(dws(ws_v1, "-q", "snapshot", "v2"))
    failing = dws(ws_v1, "-q", "show", "nosuch")

    assert quiet.out == "" and quiet.err == ""
    assert tag_target(ws_v1, "v2") is not None
    assert_error(failing, 2, contains="nosuch")


def test_verbose_shows_a_traceback_on_errors(ws_v1: Path) -> None:
    result = dws(ws_v1, "-v", "show", "nosuch")

    assert result.code == 2
    assert "Traceback" in result.err
    assert "error: no snapshot or tag named 'nosuch'" in result.err


# ---- the workspace lock ------------------------------------------------------------------

MUTATING = {
    "snapshot": ["snapshot", "v2"],
    "restore": ["restore", "v1", "--force"],
    "add": ["add", "local-files", "extra", "-r", "i", "--create"],
    "remove": ["remove", "features"],
    "tag": ["tag", "v1", "best"],
    "tag-delete": ["tag", "--delete", "v1"],
    "delete-snapshot": ["delete-snapshot", "v1", "--force"],
    "gc": ["gc"],
}


@pytest.mark.parametrize("case", list(MUTATING))
def test_mutating_commands_fail_with_5_while_the_lock_is_held(ws_v1: Path, case: str) -> None:
    write_files(ws_v1, {"data/raw/a.csv": "changed\n"})
    lock = filelock.FileLock(str(ws_v1 / META / "local" / "lock"))
    with lock:
        before = disk_state(ws_v1)
        result = dws(ws_v1, *MUTATING[case], env={"DWS_LOCK_TIMEOUT": "1"})
        assert_error(result, 5, contains="locked")
        assert_unchanged(ws_v1, before)

    assert not (ws_v1 / "extra").exists()


def test_lock_message_names_the_holder(ws_v1: Path) -> None:
    holder = ws_v1 / META / "local" / "lock.holder"
    with filelock.FileLock(str(ws_v1 / META / "local" / "lock")):
        holder.write_text(
            json.dumps(
                {"pid": 4242, "host": "lab-1", "command": "snapshot", "since": "2026-01-01T10:00"}
            )
        )
        result = dws(ws_v1, "snapshot", "v2", env={"DWS_LOCK_TIMEOUT": "1"})

    assert_error(result, 5)
    assert "dws snapshot" in result.err
    assert "4242" in result.err and "lab-1" in result.err


def test_read_commands_do_not_need_the_lock(ws_v1: Path) -> None:
    with filelock.FileLock(str(ws_v1 / META / "local" / "lock")):
        for command in (["status"], ["history"], ["show", "v1"], ["diff", "v1"], ["results"]):
            ok(dws(ws_v1, *command, env={"DWS_LOCK_TIMEOUT": "1"}))


def test_lock_is_released_after_a_command(ws_v1: Path) -> None:
    ok(dws(ws_v1, "tag", "v1", "one"))
    ok(dws(ws_v1, "tag", "v1", "two"))

    lock = filelock.FileLock(str(ws_v1 / META / "local" / "lock"))
    lock.acquire(timeout=0)
    lock.release()
    assert not (ws_v1 / META / "local" / "lock.holder").exists()


# ---- damaged or foreign metadata ---------------------------------------------------------


def test_unknown_format_version_is_refused(ws_v1: Path) -> None:
    info_path = ws_v1 / META / "workspace.json"
    info = json.loads(info_path.read_text())
    info["format"] = 99
    info_path.write_text(json.dumps(info))
    before = disk_state(ws_v1)

    result = dws(ws_v1, "status")

    assert_error(result, 4, contains="format")
    assert_unchanged(ws_v1, before)


def test_malformed_resources_json_is_an_integrity_error(ws_v1: Path) -> None:
    (ws_v1 / META / "resources.json").write_text("[{not json")
    before = disk_state(ws_v1)

    for command in (["status"], ["snapshot", "v2"]):
        result = dws(ws_v1, *command)
        assert_error(result, 4, contains="resources")
        assert_unchanged(ws_v1, before)


def test_hostile_resource_path_is_not_followed(ws_v1: Path) -> None:
    """A resources.json whose name is not an identifier is rejected when read."""
    (ws_v1 / META / "resources.json").write_text(
        json.dumps([{"name": "../x", "type": "local-files", "role": "results", "path": "r"}])
    )

    result = dws(ws_v1, "status")

    assert_error(result, 4)


def test_tracebacks_only_with_dws_own_verbose_option(tmp_path: Path) -> None:
    """`-v` after the command name belongs to the command (or to the program `dws run`
    starts), not to dws: errors stay one line."""
    for args in (["run", "--", "echo", "-v"], ["status", "-v"], ["run", "--", "x", "-qv"]):
        result = dws(tmp_path, *args)
        assert result.code == 2 and "Traceback" not in result.err, (args, result.err)
    for args in (["-v", "status"], ["-qv", "status"], ["-C", ".", "--verbose", "status"]):
        result = dws(tmp_path, *args)
        assert result.code == 2 and "Traceback" in result.err, (args, result.err)


@pytest.mark.parametrize(
    "config",
    ['{"results": []}', '{"remotes": []}', '{"results": {"metrics": "x"}}', "[]", "{"],
    ids=["results-list", "remotes-list", "metrics-string", "not-an-object", "truncated"],
)
def test_a_config_of_the_wrong_shape_is_a_format_error(ws_v1: Path, config: str) -> None:
    (ws_v1 / META / "config.json").write_text(config)
    write_files(ws_v1, {"results/metrics.json": '{"accuracy": 0.9}'})
    before = disk_state(ws_v1)

    for args in (["snapshot", "v9"], ["remote", "list"], ["fsck"]):
        result = dws(ws_v1, *args)
        assert result.code == 4, (args, result.err)
        assert "config.json" in result.err and "internal error" not in result.err

    assert_unchanged(ws_v1, before)
