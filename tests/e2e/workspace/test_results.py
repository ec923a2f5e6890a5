"""dws results, dws results export."""

from __future__ import annotations

import fcntl
import json
import os
import re
import struct
import subprocess
import termios
from pathlib import Path

import pytest

from helpers.cli import (
    DWS,
    api_snapshot,
    as_json,
    assert_error,
    assert_unchanged,
    assert_usage_error,
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


def test_results_of_snapshots_without_metrics(ws: Path, tmp_path: Path) -> None:
    write_files(ws, {"data/raw/a.csv": "id\n1\n"})
    api_snapshot(ws, "v1", "no metrics")
    assert as_json(dws(ws, "--json", "results"))[0]["metrics"] == {}
    ok(dws(ws, "results"))
    assert_error(dws(ws, "results", "-m", "accuracy"), 2, contains="none recorded yet")
    plot = tmp_path / "chart.svg"
    ok(dws(ws, "results", "--plot", str(plot)))
    assert plot.read_text().startswith("<svg")


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


def on_terminal(root: Path, *args: str, columns: int = 80) -> str:
    """What ``dws ARGS`` shows on a terminal ``columns`` wide (styles removed)."""
    leader, follower = os.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
    env = {**os.environ, "COLUMNS": str(columns), "DWS_LOCK_TIMEOUT": "1"}
    with subprocess.Popen(
        [DWS, *args], cwd=root, env=env, stdout=follower, stderr=subprocess.PIPE
    ) as proc:
        os.close(follower)
        chunks = []
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # EIO: the command closed the terminal
                break
            if not chunk:
                break
            chunks.append(chunk)
        os.close(leader)
        assert proc.stderr is not None
        err = proc.stderr.read().decode()
        assert proc.wait(timeout=60) == 0, err
    text = b"".join(chunks).decode().replace("\r\n", "\n")
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", text)


@pytest.fixture
def two_files(ws: Path) -> Path:
    """Two snapshots of results/a/metrics.json and results/b/metrics.json (acc, loss)."""
    for tag, acc, loss in (("v1", 0.5, 5000.0), ("v2", 0.123456, 0.25)):
        write_files(
            ws,
            {
                "results/a/metrics.json": json.dumps({"acc": acc, "loss": loss}),
                "results/b/metrics.json": json.dumps({"acc": acc / 2, "loss": loss * 2}),
            },
        )
        api_snapshot(ws, tag)
    return ws


def test_results_on_a_terminal_name_metrics_by_what_tells_them_apart(two_files: Path) -> None:
    lines = on_terminal(two_files, "results").splitlines()

    assert lines[0].split() == ["snapshot", "tags", "a/acc", "a/loss", "b/acc", "b/loss"]
    v1 = tag_target(two_files, "v1")
    assert v1 is not None
    assert lines[1].split() == [v1[:10], "v1", "0.5", "5000", "0.25", "10000"]
    assert lines[2].split()[1:] == ["v2", "0.1235", "0.25", "0.06173", "0.5"]
    assert all(len(line) <= 80 for line in lines), lines
    assert "…" not in "\n".join(lines)


def test_results_wider_than_the_terminal_show_one_row_per_metric(ws: Path) -> None:
    keys = [f"metric_{i}" for i in range(12)]
    for n, tag in enumerate(("v1", "v2", "v3")):
        values = {k: i + 0.5 for i, k in enumerate(keys)} | {"run": n}
        write_files(ws, {f"results/{run}/metrics.json": json.dumps(values) for run in ("a", "b")})
        api_snapshot(ws, tag)

    lines = on_terminal(ws, "results").splitlines()

    assert all(len(line) <= 80 for line in lines), lines
    ids = [tag_target(ws, tag) for tag in ("v1", "v2", "v3")]
    assert lines[0].split() == ["metric", *[i[:10] for i in ids if i]]
    assert lines[1].split() == ["v1", "v2", "v3"]
    rows = {line.split()[0]: line.split()[1:] for line in lines[2:]}
    assert list(rows) == [f"{run}/{k}" for run in ("a", "b") for k in sorted([*keys, "run"])]
    assert rows["b/metric_11"] == ["11.5"] * 3
    assert rows["a/run"] == ["0", "1", "2"]


def test_results_metric_selects_by_name_key_or_glob(two_files: Path) -> None:
    assert on_terminal(two_files, "results", "--metric", "a/*").splitlines()[0].split() == [
        "snapshot",
        "tags",
        "a/acc",
        "a/loss",
    ]
    header = on_terminal(two_files, "results", "-m", "acc").splitlines()[0]
    assert header.split() == ["snapshot", "tags", "a/acc", "b/acc"]
    piped = ok(dws(two_files, "results", "-m", "loss", "-m", "b/acc")).out.splitlines()
    assert piped[0].split("\t") == [
        "snapshot",
        "tags",
        "results/a/metrics.json:loss",
        "results/b/metrics.json:acc",
        "results/b/metrics.json:loss",
    ]
    assert piped[1].split("\t")[2:] == ["5000", "0.25", "10000"]
    rows = as_json(dws(two_files, "--json", "results", "--metric", "results/b/*:loss"))
    assert [r["metrics"] for r in rows] == [
        {"results/b/metrics.json:loss": 10000.0},
        {"results/b/metrics.json:loss": 0.5},
    ]


def test_results_metric_matching_nothing_is_a_usage_error(two_files: Path) -> None:
    result = dws(two_files, "results", "--metric", "f1")

    assert_error(result, 2, contains="no metric matches 'f1'")
    assert "a/acc, a/loss, b/acc, b/loss" in result.err
    assert_usage_error(dws(two_files, "results", "--metric"))


def test_results_whole_numbers_print_as_integers(ws_v1: Path) -> None:
    write_files(ws_v1, {"results/metrics.json": json.dumps({"accuracy": 5000.0, "big": 1e9})})
    api_snapshot(ws_v1, "v2")

    piped = ok(dws(ws_v1, "results")).out.splitlines()
    shown = on_terminal(ws_v1, "results").splitlines()

    assert piped[2].split("\t")[2:] == ["5000", "1000000000"]
    assert shown[2].split()[2:] == ["5000", "1000000000"]


def test_results_plot_draws_one_chart_per_metric(two_runs: Path, tmp_path: Path) -> None:
    from xml.etree import ElementTree

    svg_ns = "{http://www.w3.org/2000/svg}"
    write_files(two_runs, {"results/metrics.json": json.dumps({"accuracy": 0.9, "<b>x</b>": 1})})
    api_snapshot(two_runs, "v3")
    before = disk_state(two_runs)
    out = tmp_path / "charts.svg"
    ok(dws(two_runs, "results", "--metric", "accuracy", "--metric", "<b>x</b>", "--plot", str(out)))
    assert_unchanged(two_runs, before)
    drawn = ElementTree.fromstring(out.read_text())
    charts = {g.get("data-metric"): g for g in drawn.iter(f"{svg_ns}g")}
    assert set(charts) == {"metrics/accuracy", "metrics/<b>x</b>"}  # names as the table's
    points = [c.get("data-snapshot") for c in charts["metrics/accuracy"].iter(f"{svg_ns}circle")]
    assert points == [tag_target(two_runs, tag) for tag in ("v1", "v2", "v3")]
    assert len(list(charts["metrics/<b>x</b>"].iter(f"{svg_ns}circle"))) == 1  # only v3 has it
    assert not [e for e in drawn.iter() if e.tag.endswith("}b")]  # the name stays text
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".dws-tmp")]


def test_results_plot_writes_svg_or_png_only(two_runs: Path, tmp_path: Path) -> None:
    assert_usage_error(dws(two_runs, "results", "--plot", str(tmp_path / "x.jpg")))
    assert not (tmp_path / "x.jpg").exists()
