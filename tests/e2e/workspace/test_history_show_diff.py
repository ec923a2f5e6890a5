"""dws history / log, dws show, dws diff."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers.cli import (
    api_snapshot,
    as_json,
    assert_error,
    assert_unchanged,
    disk_state,
    dws,
    ok,
    tag_target,
    write_files,
)


@pytest.fixture
def three(ws_v1: Path) -> tuple[Path, str, str, str]:
    """v1 (fixture), v2 (raw edited, b.csv deleted, features file added), v3 untagged
    (results changed); returns the workspace and the three ids."""
    (ws_v1 / "data/raw/b.csv").unlink()
    write_files(ws_v1, {"data/raw/a.csv": "id,value\n1,11\n", "data/features/new dir/g.npy": b"g"})
    v2 = api_snapshot(ws_v1, "v2", "second")
    write_files(ws_v1, {"results/metrics.json": '{"accuracy": 0.75}'})
    v3 = api_snapshot(ws_v1)
    v1 = tag_target(ws_v1, "v1")
    assert v1 is not None
    return ws_v1, v1, v2, v3


def test_history_empty(ws: Path) -> None:
    assert "No snapshots yet" in ok(dws(ws, "history")).out
    assert as_json(dws(ws, "--json", "history")) == []


def test_history_lists_newest_first_with_tags_messages_and_head(
    three: tuple[Path, str, str, str],
) -> None:
    root, v1, v2, v3 = three

    lines = ok(dws(root, "history")).out.splitlines()

    assert len(lines) == 3
    assert lines[0].startswith(f"* {v3[:10]}")
    assert lines[1].startswith(f"  {v2[:10]} [v2]") and lines[1].endswith("second")
    assert lines[2].startswith(f"  {v1[:10]} [v1]") and lines[2].endswith("first")


def test_history_json(three: tuple[Path, str, str, str]) -> None:
    root, v1, v2, v3 = three

    doc = as_json(dws(root, "--json", "history"))

    assert [e["id"] for e in doc] == [v3, v2, v1]
    assert [e["tags"] for e in doc] == [[], ["v2"], ["v1"]]
    assert [e["parent"] for e in doc] == [v2, v1, None]
    assert [e["message"] for e in doc] == ["", "second", "first"]
    assert doc[1]["resources"]["raw"]["state"]["files"] == 1
    assert all(e["created"] and e["hostname"] and e["user"] for e in doc)


def test_log_is_history(three: tuple[Path, str, str, str]) -> None:
    root = three[0]

    assert ok(dws(root, "log")).out == ok(dws(root, "history")).out
    assert as_json(dws(root, "--json", "log")) == as_json(dws(root, "--json", "history"))


def test_history_marks_head_after_restore(three: tuple[Path, str, str, str]) -> None:
    root, v1, _, _ = three
    ok(dws(root, "restore", "v1"))

    lines = ok(dws(root, "history")).out.splitlines()

    assert [line[:2] for line in lines] == ["  ", "  ", "* "]
    assert v1[:10] in lines[2]


def test_show_by_tag(three: tuple[Path, str, str, str]) -> None:
    root, v1, v2, _ = three

    text = ok(dws(root, "show", "v2")).out
    doc = as_json(dws(root, "--json", "show", "v2"))

    assert f"snapshot {v2}" in text
    assert "tags:     v2" in text
    assert "message:  second" in text
    assert f"parent:   {v1[:10]}" in text
    assert "raw (local-files, source-data): 1 file," in text
    assert "accuracy = 0.5" in text
    assert doc["id"] == v2
    assert doc["tags"] == ["v2"]
    assert doc["parent"] == v1
    assert doc["resources"]["features"]["role"] == "intermediate-data"
    assert doc["resources"]["features"]["state"]["files"] == 2
    assert doc["metrics"] == {"results/metrics.json": {"accuracy": 0.5}}


def test_show_defaults_to_head_and_accepts_prefix_and_full_id(
    three: tuple[Path, str, str, str],
) -> None:
    root, v1, _, v3 = three

    assert as_json(dws(root, "--json", "show"))["id"] == v3
    assert as_json(dws(root, "--json", "show", "HEAD"))["id"] == v3
    assert as_json(dws(root, "--json", "show", v1[:6]))["id"] == v1
    assert as_json(dws(root, "--json", "show", v1))["id"] == v1
    assert as_json(dws(root, "--json", "show", v1[:12].upper()))["id"] == v1


@pytest.mark.parametrize("ref", ["nosuch", "0000000000", "v9", "a/b"])
def test_show_unknown_ref_exits_2(three: tuple[Path, str, str, str], ref: str) -> None:
    root = three[0]
    before = disk_state(root)

    result = dws(root, "show", ref)

    assert_error(result, 2, contains=ref)
    assert_unchanged(root, before)


def test_show_head_without_snapshots_exits_2(ws: Path) -> None:
    assert_error(dws(ws, "show"), 2, contains="HEAD")


def _changes(doc: dict[str, object]) -> dict[str, dict[str, str]]:
    resources = doc["resources"]
    assert isinstance(resources, list)
    return {r["name"]: {c["path"]: c["status"] for c in r["changes"]} for r in resources}


def test_diff_between_two_snapshots(three: tuple[Path, str, str, str]) -> None:
    root, v1, v2, _ = three

    doc = as_json(dws(root, "--json", "diff", "v1", "v2"))
    text = ok(dws(root, "diff", "v1", "v2")).out

    assert doc["old"] == v1 and doc["new"] == v2
    assert _changes(doc) == {
        "raw": {"a.csv": "modified", "b.csv": "deleted"},
        "features": {"new dir/g.npy": "added"},
        "results": {},
    }
    raw = next(r for r in doc["resources"] if r["name"] == "raw")
    change = next(c for c in raw["changes"] if c["path"] == "a.csv")
    assert change["kind"] == "file"
    assert change["old"] != change["new"]
    assert change["size"] == len("id,value\n1,11\n")
    assert "modified  a.csv" in text
    assert "deleted   b.csv" in text
    assert "added     new dir/g.npy" in text
    assert "results (results): unchanged" in text


def test_diff_is_directional(three: tuple[Path, str, str, str]) -> None:
    root = three[0]

    doc = as_json(dws(root, "--json", "diff", "v2", "v1"))

    assert _changes(doc)["raw"] == {"a.csv": "modified", "b.csv": "added"}
    assert _changes(doc)["features"] == {"new dir/g.npy": "deleted"}


def test_diff_against_the_working_state(three: tuple[Path, str, str, str]) -> None:
    root, v1, _, _ = three
    write_files(root, {"data/raw/c.csv": "unsaved\n"})
    (root / "results/metrics.json").unlink()

    doc = as_json(dws(root, "--json", "diff", "v1"))

    assert doc["old"] == v1 and doc["new"] is None
    assert _changes(doc) == {
        "raw": {"a.csv": "modified", "b.csv": "deleted", "c.csv": "added"},
        "features": {"new dir/g.npy": "added"},
        "results": {"metrics.json": "deleted"},
    }


def test_diff_of_a_snapshot_with_itself_is_empty(three: tuple[Path, str, str, str]) -> None:
    root = three[0]

    doc = as_json(dws(root, "--json", "diff", "v2", "v2"))

    assert _changes(doc) == {"raw": {}, "features": {}, "results": {}}


@pytest.mark.parametrize("args", [["nosuch"], ["v1", "nosuch"], ["nosuch", "v1"]])
def test_diff_unknown_ref_exits_2(three: tuple[Path, str, str, str], args: list[str]) -> None:
    root = three[0]
    before = disk_state(root)

    result = dws(root, "diff", *args)

    assert_error(result, 2, contains="nosuch")
    assert_unchanged(root, before)
