"""Lines of history in one workspace: restore an old snapshot and snapshot again, twice.
`dws history --graph` draws the forks; `dws status` names only lines newer than HEAD, so
one's own experiments do not nag."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers.cli import api, api_snapshot, as_json, dws, ok, write_files


@pytest.fixture
def forked(ws_v1: Path) -> tuple[Path, dict[str, str]]:
    """v1 - v2 - v3; then restore v2 and take e1; then restore v1 and take e2 (HEAD)."""
    root = ws_v1
    ids = {"v1": api(root).resolve("v1")}
    for name in ("v2", "v3"):
        write_files(root, {"data/raw/a.csv": f"id,value\n1,{name}\n"})
        ids[name] = api_snapshot(root, name)
    for name, base in (("e1", "v2"), ("e2", "v1")):
        api(root).restore(base)
        write_files(root, {"data/raw/b.csv": f"id,value\n3,{name}\n"})
        ids[name] = api_snapshot(root, name, f"experiment {name}")
    return root, ids


def test_graph_draws_each_line_and_where_it_forks(forked: tuple[Path, dict[str, str]]) -> None:
    root, ids = forked

    lines = ok(dws(root, "history", "--graph")).out.splitlines()

    expected = [
        ("@", "e2"),
        ("| *", "e1"),
        ("| | *", "v3"),
        ("| |/", None),
        ("| *", "v2"),
        ("|/", None),
        ("*", "v1"),
    ]
    assert len(lines) == len(expected), lines
    for line, (lanes, name) in zip(lines, expected, strict=True):
        if name is None:
            assert line == lanes
        else:
            assert line.startswith(f"{lanes} {ids[name][:10]} [{name}]"), line
    assert lines[0].endswith("experiment e2")
    assert ok(dws(root, "log", "--graph")).out == ok(dws(root, "history", "--graph")).out


def test_plain_history_keeps_its_order_and_points_at_the_graph(
    forked: tuple[Path, dict[str, str]],
) -> None:
    root, ids = forked

    result = ok(dws(root, "history"))

    names = ["e2", "e1", "v3", "v2", "v1"]
    assert [line[2:12] for line in result.out.splitlines()] == [ids[n][:10] for n in names]
    assert result.out.startswith(f"* {ids['e2'][:10]}")
    assert "3 lines of history: `dws history --graph`" in result.err
    doc = as_json(dws(root, "--json", "history", "--graph"))  # --json is the same list
    assert [(e["id"], e["parent"]) for e in doc] == [
        (ids["e2"], ids["v1"]),
        (ids["e1"], ids["v2"]),
        (ids["v3"], ids["v2"]),
        (ids["v2"], ids["v1"]),
        (ids["v1"], None),
    ]


def test_a_straight_history_has_no_hint(ws_v1: Path) -> None:
    write_files(ws_v1, {"data/raw/a.csv": "changed\n"})
    api_snapshot(ws_v1, "v2")

    result = ok(dws(ws_v1, "history"))

    assert result.err == ""
    assert [line[:1] for line in ok(dws(ws_v1, "history", "--graph")).out.splitlines()] == [
        "@",
        "*",
    ]


def test_status_is_quiet_about_older_lines_of_ones_own(
    forked: tuple[Path, dict[str, str]],
) -> None:
    root, _ = forked

    assert as_json(dws(root, "--json", "status"))["other_lines"] == []
    assert "line" not in ok(dws(root, "status")).out
    assert api(root).other_lines() == []


def test_status_names_newer_lines_after_going_back(forked: tuple[Path, dict[str, str]]) -> None:
    root, ids = forked
    api(root).restore("v3")  # an older line: e1 and e2 were taken after v3

    doc = as_json(dws(root, "--json", "status"))
    text = ok(dws(root, "status")).out

    assert [(o["id"], o["fork"], o["snapshots"]) for o in doc["other_lines"]] == [
        (ids["e2"], ids["v1"], 1),
        (ids["e1"], ids["v2"], 1),
    ]
    assert doc["other_lines"][0]["message"] == "experiment e2"
    assert f"A newer line: {ids['e2'][:10]} (" in text
    assert f"1 snapshot since {ids['v1'][:10]}" in text
    assert f"`dws diff HEAD {ids['e1'][:10]}` compares them" in text
    assert [o.tip.id for o in api(root).other_lines()] == [ids["e2"], ids["e1"]]

    write_files(root, {"data/raw/a.csv": "id,value\n1,v4\n"})
    api_snapshot(root, "v4")  # a snapshot after them: they are older now
    assert as_json(dws(root, "--json", "status"))["other_lines"] == []


def test_restoring_an_older_snapshot_of_the_same_line_names_nothing(
    forked: tuple[Path, dict[str, str]],
) -> None:
    root, _ = forked
    api(root).restore("v1")  # every line continues from v1

    assert as_json(dws(root, "--json", "status"))["other_lines"] == []


def test_graph_says_where_a_parent_was_deleted(forked: tuple[Path, dict[str, str]]) -> None:
    root, ids = forked
    ok(dws(root, "delete-snapshot", "v2"))
    lines = ok(dws(root, "history", "--graph")).out.splitlines()
    orphans = [line for line in lines if "was deleted" in line]
    assert len(orphans) == 2 and all(f"its parent {ids['v2'][:10]}" in o for o in orphans)
    assert any(ids["e1"][:10] in o for o in orphans) and any(ids["v3"][:10] in o for o in orphans)
