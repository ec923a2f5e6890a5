"""Snapshots of stale outputs: `dws snapshot` warns and records them (format 2), `--strict`
refuses, `dws results` and `dws show` mark them, and a state without any stays format 1."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

import dws
from dws.errors import FormatError
from dws.model.records import check_format
from helpers.cli import as_json, assert_error, assert_unchanged, disk_state, ok, run_dws
from helpers.git import GIT_ENV

from .conftest import PREPARE_RUN, make_pipeline

TRAIN = (
    "run", "-n", "train", "-i", "data/features", "-o", "results/model.txt",
    "-o", "results/metrics.json", "--", "python3", "code/train.py", "--epochs", "2",
)  # fmt: skip
# results.json is a metrics file by default: the evaluation's score is a metric
EVALUATE = (
    "run", "--", "python3", "code/evaluate.py", "results/model.txt", "results/results.json",
)  # fmt: skip


def run_all(root: Path) -> None:
    for argv in (PREPARE_RUN, TRAIN, EVALUATE):
        ok(run_dws(*argv, cwd=root))


def stored_record(root: Path, snapshot_id: str) -> dict[str, Any]:
    path = root / ".dataworkspace/snapshots" / f"{snapshot_id}.json"
    doc: dict[str, Any] = json.loads(path.read_text())
    return doc


def snapshot(root: Path, *args: str) -> tuple[dict[str, Any], str]:
    """`dws snapshot ARGS --json`: the record as stored, and what went to stderr."""
    result = run_dws("--json", "snapshot", *args, cwd=root)
    doc = as_json(result)
    return stored_record(root, doc["id"]), result.err


def make_evaluate_stale(root: Path) -> None:
    """Change the evaluation's code: only its output, results/results.json, is stale."""
    with (root / "code/evaluate.py").open("a") as code:
        code.write("# scored differently from now on\n")


@pytest.fixture(scope="module")
def ran_once(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The pipeline run once, all of it up to date, snapshotted as v1: built once per
    module (each test works on its own copy, `ran`)."""
    root = make_pipeline(tmp_path_factory.mktemp("stale") / "pipe")
    with pytest.MonkeyPatch.context() as env:  # the autouse fixture is per test
        for key, value in GIT_ENV.items():
            env.setenv(key, value)
        run_all(root)
        record, err = snapshot(root, "v1")
    assert "stale" not in err and "stale" not in record
    return root


@pytest.fixture
def ran(ran_once: Path, tmp_path: Path) -> Path:
    """A copy of ``ran_once`` of this test's own."""
    return Path(shutil.copytree(ran_once, tmp_path / "pipe", symlinks=True))


def test_a_state_without_stale_outputs_records_none(ran: Path) -> None:
    v1 = run_dws("--json", "show", "v1", cwd=ran)
    record = stored_record(ran, as_json(v1)["id"])
    assert record["format"] == 2  # it carries its resources' definitions
    assert "stale" not in record
    assert as_json(v1)["stale"] == []
    assert record["runs"]  # the runs explaining it are still recorded


def test_a_stale_output_is_warned_about_and_recorded(ran: Path) -> None:
    make_evaluate_stale(ran)
    record, err = snapshot(ran, "v2")
    assert record["format"] == 2
    assert record["stale"] == ["results/results.json"]
    warning = [line for line in err.splitlines() if "stale" in line]
    assert len(warning) == 1, err
    assert "1 stale output" in warning[0] and "results/results.json" in warning[0]
    assert "dws rerun" in warning[0] and "dws status" in warning[0]
    # the stored record reads back (format 2 is this version's), and names them in show
    shown = ok(run_dws("show", "v2", cwd=ran)).out
    assert "stale outputs (1)" in shown and "results/results.json" in shown
    assert as_json(run_dws("--json", "show", "v2", cwd=ran))["stale"] == ["results/results.json"]


def test_a_transitively_stale_pipeline_lists_every_stale_output(ran: Path) -> None:
    (ran / "data/raw/train.csv").write_text("a,b\n5,6\n")
    record, err = snapshot(ran, "v2")
    assert record["stale"] == [
        "data/features/train.csv",
        "results/metrics.json",
        "results/model.txt",
        "results/results.json",
    ]
    assert "4 stale output(s)" in err and "and 1 more" in err


def test_an_older_dws_refuses_a_record_with_stale_outputs_asking_for_an_upgrade(
    ran: Path,
) -> None:
    make_evaluate_stale(ran)
    record, _ = snapshot(ran, "v2")
    with pytest.raises(FormatError, match="upgrade dws"):
        check_format(record["format"], "snapshot record")  # what format-1 readers do


def test_strict_refuses_a_stale_state_and_writes_nothing(ran: Path) -> None:
    make_evaluate_stale(ran)
    before = disk_state(ran)
    result = run_dws("snapshot", "v2", "--strict", cwd=ran)
    assert_error(result, 3, max_lines=1, contains="dws rerun")
    assert "results/results.json" in result.err
    assert_unchanged(ran, before)


def test_strict_records_an_up_to_date_state(ran: Path) -> None:
    (ran / "data/raw/extra.csv").write_text("x\n")  # no run read it
    record, err = snapshot(ran, "v2", "--strict")
    assert "stale" not in record
    assert "stale" not in err


def test_strict_from_python_raises_refused(ran: Path) -> None:
    make_evaluate_stale(ran)
    ws = dws.Workspace.open(str(ran))
    with pytest.raises(dws.RefusedError, match="stale"):
        ws.snapshot("v2", strict=True)
    outcome = ws.snapshot("v2")
    assert outcome.record.stale == ["results/results.json"]
    assert any("stale output" in w for w in outcome.warnings)


def test_an_unchanged_stale_state_warns_again(ran: Path) -> None:
    make_evaluate_stale(ran)
    first, _ = snapshot(ran, "v2")
    assert first["stale"] == ["results/results.json"]
    again = run_dws("snapshot", cwd=ran)
    ok(again)
    assert "Nothing changed" in again.out
    assert "1 stale output" in again.err
    assert_error(run_dws("snapshot", "--strict", cwd=ran), 3, max_lines=1, contains="stale")


def test_results_mark_the_metrics_of_stale_files_only(ran: Path) -> None:
    make_evaluate_stale(ran)
    snapshot(ran, "v2")
    rows = as_json(run_dws("--json", "results", cwd=ran))
    by_tag = {row["tags"][0]: row for row in rows}
    assert by_tag["v1"]["stale"] == []
    assert by_tag["v2"]["stale"] == ["results/results.json:score"]
    assert "results/metrics.json:size" in by_tag["v2"]["metrics"]

    text = ok(run_dws("results", "--json", cwd=ran)).out  # --json after the command too
    assert json.loads(text) == rows
    table = ok(run_dws("results", cwd=ran)).out.splitlines()
    header = table[0].split()
    by_row = {
        cells[1]: dict(zip(header, cells, strict=True)) for cells in map(str.split, table[1:3])
    }
    score = by_tag["v2"]["metrics"]["results/results.json:score"]
    assert by_row["v2"]["results/results.json:score"] == f"{score:g}*"
    assert by_row["v1"]["results/results.json:score"] == f"{score:g}"
    for name in ("results/metrics.json:size", "results/metrics.json:epochs"):
        assert not by_row["v2"][name].endswith("*")
    assert table[3].startswith("* ") and "stale output" in table[3]


def test_results_without_stale_snapshots_have_no_marker(ran: Path) -> None:
    table = ok(run_dws("results", cwd=ran)).out
    assert "*" not in table and "stale" not in table


def test_a_snapshots_lineage_reads_only_its_runs_and_names_the_missing(ran: Path) -> None:
    ws = dws.Workspace.open(str(ran))
    listed = stored_record(ran, ws.resolve("v1"))["runs"]
    assert len(listed) == 3
    runs_dir = ran / ".dataworkspace/lineage/runs"
    # a run the snapshot does not list, damaged: the snapshot's lineage does not read it
    (runs_dir / ("f" * 64 + ".json")).write_text("{not json")
    graph = ws.lineage_graph(snapshot="v1")
    steps = [n["run"] for n in graph["nodes"] if n["type"] == "step"]
    assert sorted(steps) == sorted(listed)
    # one listed run gone, one damaged: both left out; the command names the damaged one
    (runs_dir / f"{listed[0]}.json").unlink()
    (runs_dir / f"{listed[1]}.json").write_text("{not json")
    graph = ws.lineage_graph(snapshot="v1")
    assert [n["run"] for n in graph["nodes"] if n["type"] == "step"] == [listed[2]]
    shown = ok(run_dws("lineage", "graph", "--snapshot", "v1", cwd=ran))
    assert f"run record {listed[1][:12]} skipped" in shown.err


def test_a_run_record_changed_in_place_is_decoded_again(ran: Path) -> None:
    from dws.core.lineage.catalog import RunCatalog
    from dws.core.workspace import Workspace

    catalog = RunCatalog(Workspace.open(str(ran)).layout)
    first = catalog.all()[0]
    assert catalog.get(first.id) is first  # the same bytes: decoded once in this process
    path = ran / ".dataworkspace/lineage/runs" / f"{first.id}.json"
    data = path.read_bytes()
    flipped = data.replace(b'"step"', b'"stEp"', 1)  # same size, written at once
    assert len(flipped) == len(data) and flipped != data
    path.write_bytes(flipped)
    with pytest.raises(FormatError):
        catalog.get(first.id)
    path.write_bytes(data)
    assert catalog.get(first.id) == first


def test_checking_many_runs_scans_each_resource_once(
    pipeline: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dws.resources.local_files.resource import LocalFilesResource

    for n in range(6):  # six runs, each reading a file of its own
        (pipeline / f"data/raw/part{n}.csv").write_text(f"x\n{n}\n")
        step = ("python3", "code/prepare.py", f"data/raw/part{n}.csv", f"data/features/p{n}.csv")
        ok(run_dws("run", "--", *step, cwd=pipeline))
    scans = []
    original = LocalFilesResource._scan

    def counted(self: LocalFilesResource, *args: Any, **kwargs: Any) -> Any:
        scans.append(self.name)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(LocalFilesResource, "_scan", counted)
    graph = dws.Workspace.open(str(pipeline)).lineage_graph(everything=True)
    assert len([n for n in graph["nodes"] if n["type"] == "step"]) == 6
    assert len(scans) == len(set(scans)), scans  # not once per run
