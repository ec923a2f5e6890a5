"""A tag, snapshot reference or resource name typed in the wrong case or with a small typo
is refused as unknown (exit 2, nothing changed), naming the closest names."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers.cli import api, assert_error, assert_unchanged, disk_state, dws, ok

SNAPSHOT_COMMANDS = {
    "restore": ["restore", "V1"],
    "show": ["show", "V1"],
    "diff": ["diff", "v1", "V1"],
    "tag": ["tag", "V1", "best"],
    "tag -d": ["tag", "-d", "V1"],
    "results export": ["results", "export", "V1", "out"],
    "lineage show --snapshot": ["lineage", "show", "results/metrics.json", "--snapshot", "V1"],
    "lineage graph --snapshot": ["lineage", "graph", "--snapshot", "V1"],
    "delete-snapshot": ["delete-snapshot", "V1"],
}


@pytest.mark.parametrize("command", SNAPSHOT_COMMANDS)
def test_a_tag_in_the_wrong_case_suggests_the_tag(ws_v1: Path, command: str) -> None:
    before = disk_state(ws_v1)

    result = dws(ws_v1, *SNAPSHOT_COMMANDS[command])

    assert_error(result, 2, contains="(did you mean v1?)")
    assert "'V1'" in result.err
    assert_unchanged(ws_v1, before)


def test_a_typo_suggests_the_closest_tags_only(ws_v1: Path) -> None:
    api(ws_v1).tag("v1", "baseline")
    api(ws_v1).tag("v1", "v2")

    result = dws(ws_v1, "show", "baselien")
    several = dws(ws_v1, "show", "v3")

    assert_error(result, 2, contains="no snapshot or tag named 'baselien' (did you mean baseline?)")
    assert_error(several, 2, contains="(did you mean v1 or v2?)")


def test_head_in_lower_case_suggests_head(ws_v1: Path) -> None:
    assert_error(dws(ws_v1, "show", "head"), 2, contains="(did you mean HEAD?)")


def test_an_unrelated_name_gets_no_suggestion(ws_v1: Path) -> None:
    result = dws(ws_v1, "show", "nosuch")

    assert_error(result, 2, contains="no snapshot or tag named 'nosuch' (see `dws history`)")
    assert "did you mean" not in result.err


RESOURCE_COMMANDS = {
    "restore --only": ["restore", "v1", "--only", "Raw"],
    "restore --exclude": ["restore", "v1", "--exclude", "Raw"],
    "remove": ["remove", "Raw"],
    "swap": ["swap", "Raw", "data/features"],
    "swap --back": ["swap", "Raw", "--back"],
    "resources --trust": ["resources", "--trust", "Raw"],
}


@pytest.mark.parametrize("command", RESOURCE_COMMANDS)
def test_a_resource_name_in_the_wrong_case_suggests_it(ws_v1: Path, command: str) -> None:
    before = disk_state(ws_v1)

    result = dws(ws_v1, *RESOURCE_COMMANDS[command])

    assert_error(result, 2, contains="no resource named 'Raw' (did you mean raw?)")
    assert_unchanged(ws_v1, before)


def test_a_resource_name_with_a_typo_suggests_it(ws_v1: Path) -> None:
    result = dws(ws_v1, "remove", "featurs")

    assert_error(result, 2, contains="no resource named 'featurs' (did you mean features?)")


def test_the_suggestion_is_not_taken_for_the_user(ws_v1: Path) -> None:
    result = dws(ws_v1, "remove", "raww")

    assert_error(result, 2, contains="(did you mean raw?)")
    assert [s.name for s in api(ws_v1).resources()] == ["raw", "features", "results"]
    ok(dws(ws_v1, "show", "v1"))
