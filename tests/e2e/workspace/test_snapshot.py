"""dws snapshot."""

from __future__ import annotations

import getpass
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from helpers.cli import (
    META,
    V1_FILES,
    as_json,
    assert_error,
    assert_unchanged,
    assert_usage_error,
    disk_state,
    dws,
    head,
    object_path,
    ok,
    snapshot_ids,
    tag_target,
    write_files,
)


def test_first_snapshot_with_tag_and_message(ws: Path) -> None:
    write_files(ws, V1_FILES)

    result = ok(dws(ws, "snapshot", "v1", "-m", "baseline"))

    (ident,) = snapshot_ids(ws)
    assert tag_target(ws, "v1") == ident
    assert f"Snapshot {ident[:10]} [v1] recorded" in result.out
    assert "raw (source-data): 2 files" in result.out
    record = json.loads((ws / META / "snapshots" / f"{ident}.json").read_text())
    assert record["message"] == "baseline"
    assert record["parent"] is None
    assert set(record["resources"]) == {"raw", "features", "results"}
    assert record["resources"]["raw"]["role"] == "source-data"
    assert record["resources"]["raw"]["state"]["files"] == 2
    assert head(ws)["snapshot"] == ident
    # content is in the store
    assert object_path(ws, b"id,value\n3,30\n").exists()


def test_snapshot_json_and_long_message_option(ws: Path) -> None:
    write_files(ws, V1_FILES)

    doc = as_json(dws(ws, "--json", "snapshot", "--message", "first run"))

    assert doc["created_new"] is True
    assert doc["tags"] == []
    assert doc["message"] == "first run"
    assert doc["id"] == snapshot_ids(ws)[0]
    assert doc["resources"]["features"]["state"]["bytes"] == len(b"\x00\x01\x02features")
    assert doc["metrics"] == {"results/metrics.json": {"accuracy": 0.5}}
    assert list((ws / META / "tags").iterdir()) == []


def test_second_snapshot_records_parent_and_changes(ws_v1: Path) -> None:
    (v1,) = snapshot_ids(ws_v1)
    write_files(ws_v1, {"data/raw/c.csv": "id\n4\n"})

    doc = as_json(dws(ws_v1, "--json", "snapshot", "v2"))

    assert doc["parent"] == v1
    assert doc["resources"]["raw"]["state"]["files"] == 3
    assert sorted(snapshot_ids(ws_v1)) == sorted([v1, doc["id"]])
    assert tag_target(ws_v1, "v2") == doc["id"]
    assert tag_target(ws_v1, "v1") == v1


def test_no_change_snapshot_reuses_the_record_and_attaches_the_tag(ws_v1: Path) -> None:
    (v1,) = snapshot_ids(ws_v1)

    result = ok(dws(ws_v1, "snapshot", "baseline"))

    assert snapshot_ids(ws_v1) == [v1]
    assert tag_target(ws_v1, "baseline") == v1
    assert "Nothing changed" in result.out
    assert v1[:10] in result.out
    assert "baseline" in result.out


def test_no_change_snapshot_json_says_no_new_record(ws_v1: Path) -> None:
    (v1,) = snapshot_ids(ws_v1)

    doc = as_json(dws(ws_v1, "--json", "snapshot"))

    assert doc["created_new"] is False
    assert doc["id"] == v1
    assert snapshot_ids(ws_v1) == [v1]


def test_no_change_snapshot_with_its_own_tag_is_fine(ws_v1: Path) -> None:
    before = disk_state(ws_v1)

    ok(dws(ws_v1, "snapshot", "v1"))

    assert_unchanged(ws_v1, before)


def test_tag_collision_is_refused_and_records_nothing(ws_v1: Path) -> None:
    write_files(ws_v1, {"data/raw/a.csv": "changed\n"})
    before = disk_state(ws_v1)

    result = dws(ws_v1, "snapshot", "v1")

    assert_error(result, 3, contains="--force")
    assert_unchanged(ws_v1, before)


def test_no_change_snapshot_with_a_tag_naming_another_snapshot_is_refused(ws_v1: Path) -> None:
    write_files(ws_v1, {"data/raw/a.csv": "changed\n"})
    ok(dws(ws_v1, "snapshot", "v2"))
    before = disk_state(ws_v1)

    result = dws(ws_v1, "snapshot", "v1")

    assert_error(result, 3, contains="v1")
    assert_unchanged(ws_v1, before)


def test_force_moves_an_existing_tag(ws_v1: Path) -> None:
    (v1,) = snapshot_ids(ws_v1)
    write_files(ws_v1, {"data/raw/a.csv": "changed\n"})

    doc = as_json(dws(ws_v1, "--json", "snapshot", "v1", "--force"))

    assert doc["created_new"] is True
    assert tag_target(ws_v1, "v1") == doc["id"] != v1
    assert sorted(snapshot_ids(ws_v1)) == sorted([v1, doc["id"]])


def test_force_moves_a_tag_onto_an_unchanged_state(ws_v1: Path) -> None:
    write_files(ws_v1, {"data/raw/a.csv": "changed\n"})
    v2 = as_json(dws(ws_v1, "--json", "snapshot", "v2"))["id"]

    result = ok(dws(ws_v1, "snapshot", "v1", "--force"))

    assert tag_target(ws_v1, "v1") == v2
    assert len(snapshot_ids(ws_v1)) == 2
    assert "v1" in result.out


BAD_TAGS = ["abc123", "deadbeef", "0123", "a/b", ".hidden", "x..y", "v1.lock", "HEAD", "a b", "é"]


@pytest.mark.parametrize("tag", BAD_TAGS)
def test_bad_tag_names_are_refused_and_nothing_is_recorded(ws: Path, tag: str) -> None:
    write_files(ws, V1_FILES)
    before = disk_state(ws)

    result = dws(ws, "snapshot", tag)

    assert_error(result, 2, contains=tag)
    assert_unchanged(ws, before)


def test_dash_tag_is_refused(ws: Path) -> None:
    write_files(ws, V1_FILES)
    before = disk_state(ws)

    as_option = dws(ws, "snapshot", "-x")
    after_separator = dws(ws, "snapshot", "--", "-x")

    assert_usage_error(as_option)
    assert_error(after_separator, 2, contains="-x")
    assert_unchanged(ws, before)


def test_snapshot_fails_cleanly_when_a_resource_directory_is_gone(ws_v1: Path) -> None:
    shutil.rmtree(ws_v1 / "data" / "features")
    before = disk_state(ws_v1)

    result = dws(ws_v1, "snapshot", "v2")

    assert result.code != 0
    assert_error(result, result.code, contains="features")
    assert_unchanged(ws_v1, before)


def test_snapshot_quiet_prints_nothing(ws: Path) -> None:
    write_files(ws, V1_FILES)

    result = ok(dws(ws, "-q", "snapshot", "v1"))

    assert result.out == ""
    assert len(snapshot_ids(ws)) == 1


# ---- who took the snapshot ---------------------------------------------------------------


def _gitconfig(path: Path, name: str, email: str) -> Path:
    path.write_text(f"[user]\n\tname = {name}\n\temail = {email}\n")
    return path


def _recorded_user(root: Path, env: dict[str, str]) -> str:
    write_files(root, {"data/raw/a.csv": f"{len(snapshot_ids(root))}\n"})
    ok(dws(root, "snapshot", env=env))
    return str(as_json(dws(root, "--json", "show"))["user"])


def _no_git_config(tmp_path: Path) -> dict[str, str]:
    return {"GIT_CONFIG_GLOBAL": str(tmp_path / "no-such-gitconfig"), "GIT_CONFIG_NOSYSTEM": "1"}


def test_a_snapshot_is_attributed_to_the_global_git_identity(ws: Path, tmp_path: Path) -> None:
    config = _gitconfig(tmp_path / "global", "Ana Lopez", "ana@example.org")
    env = {**_no_git_config(tmp_path), "GIT_CONFIG_GLOBAL": str(config)}

    assert _recorded_user(ws, env) == "Ana Lopez <ana@example.org>"
    assert "by Ana Lopez <ana@example.org> on " in ok(dws(ws, "show")).out


def test_the_repository_identity_wins_over_the_global_one(ws: Path, tmp_path: Path) -> None:
    config = _gitconfig(tmp_path / "global", "Ana Lopez", "ana@example.org")
    env = {**_no_git_config(tmp_path), "GIT_CONFIG_GLOBAL": str(config)}
    subprocess.run(["git", "init", "-q", str(ws)], check=True, env={**os.environ, **env})
    _gitconfig(ws / ".git" / "config", "Bo Chen", "bo@lab.example")

    assert _recorded_user(ws, env) == "Bo Chen <bo@lab.example>"


def test_without_a_git_identity_the_login_name_is_recorded(ws: Path, tmp_path: Path) -> None:
    assert _recorded_user(ws, _no_git_config(tmp_path)) == getpass.getuser()


def test_without_git_the_login_name_is_recorded(ws: Path, tmp_path: Path) -> None:
    config = _gitconfig(tmp_path / "global", "Ana Lopez", "ana@example.org")
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    env = {"GIT_CONFIG_GLOBAL": str(config), "PATH": str(empty)}

    assert _recorded_user(ws, env) == getpass.getuser()


def test_a_failing_git_never_fails_the_snapshot(ws: Path, tmp_path: Path) -> None:
    fake = tmp_path / "fake-bin"
    fake.mkdir()
    (fake / "git").write_text("#!/bin/sh\necho 'fatal: broken' >&2\nexit 128\n")
    (fake / "git").chmod(0o755)

    assert _recorded_user(ws, {"PATH": str(fake)}) == getpass.getuser()


def test_control_characters_of_a_git_identity_are_not_recorded(ws: Path, tmp_path: Path) -> None:
    config = _gitconfig(tmp_path / "global", "Ana\tLopez\x1b[31m", "ana@example.org")
    env = {**_no_git_config(tmp_path), "GIT_CONFIG_GLOBAL": str(config)}

    assert _recorded_user(ws, env) == "Ana Lopez [31m <ana@example.org>"
