"""dws results, dws results export."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .cli_support import (
    api_snapshot,
    as_json,
    assert_error,
    assert_unchanged,
    disk_state,
    dws,
    manifest,
    ok,
    tag_target,
    write_files,
)

METRICS_V1 = {
    "accuracy": 0.5,
    "loss": {"train": 0.25, "val": [1, 2.5]},
    "epochs": 3,
    "model": "resnet",
    "converged": True,
    "note": None,
}


@pytest.fixture
def two_runs(ws: Path) -> Path:
    """Two snapshots whose results hold different metrics files."""
    write_files(
        ws,
        {
            "data/raw/a.csv": "1\n",
            "results/metrics.json": json.dumps(METRICS_V1),
            "results/eval/results.json": json.dumps({"f1": 0.4}),
            "results/other.json": json.dumps({"ignored": 1}),
            "results/model.bin": b"\x00weights-v1",
        },
    )
    api_snapshot(ws, "v1", "baseline")
    write_files(
        ws,
        {
            "results/metrics.json": json.dumps({"accuracy": 0.75, "loss": {"train": 0.125}}),
            "results/model.bin": b"\x00weights-v2",
        },
    )
    (ws / "results/eval/results.json").unlink()
    api_snapshot(ws, "v2")
    return ws


def test_results_flattens_numeric_leaves_one_row_per_snapshot(two_runs: Path) -> None:
    rows = as_json(dws(two_runs, "--json", "results"))

    assert [r["snapshot"] for r in rows] == [tag_target(two_runs, "v1"), tag_target(two_runs, "v2")]
    assert [r["tags"] for r in rows] == [["v1"], ["v2"]]
    assert rows[0]["message"] == "baseline"
    assert rows[0]["metrics"] == {
        "results/metrics.json:accuracy": 0.5,
        "results/metrics.json:loss.train": 0.25,
        "results/metrics.json:loss.val.0": 1.0,
        "results/metrics.json:loss.val.1": 2.5,
        "results/metrics.json:epochs": 3.0,
        "results/eval/results.json:f1": 0.4,
    }
    assert rows[1]["metrics"] == {
        "results/metrics.json:accuracy": 0.75,
        "results/metrics.json:loss.train": 0.125,
    }


def test_results_table_with_one_metrics_file(ws_v1: Path) -> None:
    write_files(ws_v1, {"results/metrics.json": json.dumps({"accuracy": 0.75, "loss": 0.125})})
    api_snapshot(ws_v1, "v2")

    lines = ok(dws(ws_v1, "results")).out.splitlines()

    assert lines[0].split() == ["snapshot", "tags", "accuracy", "loss"]
    v1 = tag_target(ws_v1, "v1")
    v2 = tag_target(ws_v1, "v2")
    assert v1 is not None and v2 is not None
    assert lines[1].split() == [v1[:10], "v1", "0.5"]
    assert lines[2].split() == [v2[:10], "v2", "0.75", "0.125"]


def test_results_table_is_not_truncated_when_piped(two_runs: Path) -> None:
    """Not on a terminal (a pipe, a file), every column must be readable in full."""
    text = ok(dws(two_runs, "results")).out

    assert "…" not in text
    header = text.splitlines()[0].split()
    assert header[:2] == ["snapshot", "tags"]
    assert "results/metrics.json:loss.train" in header
    assert "results/eval/results.json:f1" in header
    v1 = tag_target(two_runs, "v1")
    assert v1 is not None and v1[:10] in text


def test_results_restores_nothing(two_runs: Path) -> None:
    before = disk_state(two_runs)

    ok(dws(two_runs, "results"))

    assert_unchanged(two_runs, before)


def test_results_of_a_workspace_without_snapshots(ws: Path) -> None:
    assert as_json(dws(ws, "--json", "results")) == []
    assert "No snapshots yet" in ok(dws(ws, "results")).out


def test_results_keeps_rows_of_snapshots_taken_before_a_restore(two_runs: Path) -> None:
    ok(dws(two_runs, "restore", "v1"))

    rows = as_json(dws(two_runs, "--json", "results"))

    assert len(rows) == 2
    assert rows[1]["metrics"]["results/metrics.json:accuracy"] == 0.75
    # results are never reverted: the working results are still v2's
    assert json.loads((two_runs / "results/metrics.json").read_text())["accuracy"] == 0.75


def test_results_export_materialises_an_old_snapshots_results(
    two_runs: Path, tmp_path: Path
) -> None:
    dest = tmp_path / "v1-results"
    working_before = disk_state(two_runs)

    result = ok(dws(two_runs, "results", "export", "v1", str(dest)))

    assert "4 file(s)" in result.out
    assert manifest(dest / "results") == {
        "metrics.json": ("file", json.dumps(METRICS_V1).encode(), False),
        "eval": ("dir", None, False),
        "eval/results.json": ("file", json.dumps({"f1": 0.4}).encode(), False),
        "other.json": ("file", json.dumps({"ignored": 1}).encode(), False),
        "model.bin": ("file", b"\x00weights-v1", False),
    }
    assert sorted(p.name for p in dest.iterdir()) == ["results"]
    assert_unchanged(two_runs, working_before)


def test_results_export_json_and_relative_destination(two_runs: Path) -> None:
    doc = as_json(dws(two_runs, "--json", "results", "export", "v2", "../exported"))

    dest = two_runs.parent / "exported"
    assert Path(doc["dest"]) == dest
    assert doc["files"] == {"results": 3}
    assert (dest / "results/model.bin").read_bytes() == b"\x00weights-v2"


def test_results_export_refuses_a_non_empty_destination(two_runs: Path, tmp_path: Path) -> None:
    dest = tmp_path / "busy"
    write_files(dest, {"keep.txt": "mine"})
    before = manifest(dest)

    result = dws(two_runs, "results", "export", "v1", str(dest))

    assert_error(result, 2, contains="not an empty directory")
    assert manifest(dest) == before


def test_results_export_unknown_snapshot_exits_2(two_runs: Path, tmp_path: Path) -> None:
    dest = tmp_path / "out"

    result = dws(two_runs, "results", "export", "nosuch", str(dest))

    assert_error(result, 2, contains="nosuch")
    assert not dest.exists()
