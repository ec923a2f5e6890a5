"""A three-step pipeline through the `dws` command: run records, lineage show/graph,
staleness after a source change, swap, clean, rerun, failed runs."""

from __future__ import annotations

import json
from pathlib import Path
from xml.etree import ElementTree

from helpers.cli import run_dws

from .conftest import FAIL_RUN, PREPARE_RUN

PREPARE = PREPARE_RUN
TRAIN = (
    "run", "-n", "train", "-i", "data/features", "-o", "results/model.txt",
    "-o", "results/metrics.json", "--", "python3", "code/train.py", "--epochs", "2",
)  # fmt: skip
EVALUATE = ("run", "--", "python3", "code/evaluate.py", "results/model.txt", "results/eval.json")


def dws_json(root: Path, *args: str) -> object:
    result = run_dws("--json", *args, cwd=root)
    assert result.code == 0, result.err
    return json.loads(result.out)


def run_all(root: Path) -> None:
    for argv in (PREPARE, TRAIN, EVALUATE):
        result = run_dws(*argv, cwd=root)
        assert result.code == 0, result.err


def records(root: Path) -> list[dict]:
    runs = root / ".dataworkspace/lineage/runs"
    return [json.loads(p.read_text()) for p in sorted(runs.iterdir())]


def stale_paths(root: Path) -> list[str]:
    doc = dws_json(root, "status")
    assert isinstance(doc, dict)
    return sorted(item["path"] for item in doc["stale"])


def test_run_records_classify_and_hash(pipeline: Path) -> None:
    run_all(pipeline)
    by_step = {r["step"]: r for r in records(pipeline)}
    assert set(by_step) == {"prepare", "train", "evaluate"}
    prepare = by_step["prepare"]
    assert prepare["status"] == "succeeded" and prepare["exit_code"] == 0
    inputs = {(i["resource"], i["path"]) for i in prepare["inputs"]}
    assert inputs == {("raw", "train.csv"), ("code", "code/prepare.py")}
    assert [(o["resource"], o["path"]) for o in prepare["outputs"]] == [("features", "train.csv")]
    from blake3 import blake3

    written = (pipeline / "data/features/train.csv").read_bytes()
    assert prepare["outputs"][0]["id"] == blake3(written).hexdigest()
    assert by_step["train"]["params"] == {"epochs": "2"}
    train_inputs = {(i["resource"], i["path"], i["kind"]) for i in by_step["train"]["inputs"]}
    # observed: the listing of data/features and the file it read; -i adds the directory
    assert {("features", "", "dir"), ("features", "", "listing")} <= train_inputs
    assert ("features", "train.csv", "file") in train_inputs
    # evaluate's model.txt exists and an earlier step produced it: an input
    evaluate = by_step["evaluate"]
    assert ("results", "model.txt") in {(i["resource"], i["path"]) for i in evaluate["inputs"]}
    assert [o["path"] for o in evaluate["outputs"]] == ["eval.json"]
    code = prepare["code"][0]
    assert code["resource"] == "code" and len(code["commit"]) == 40 and code["dirty"] == []


def test_lineage_show_goes_down_to_source(pipeline: Path) -> None:
    run_all(pipeline)
    doc = dws_json(pipeline, "lineage", "show", "results/eval.json")
    assert isinstance(doc, dict)
    (evaluate,) = doc["produced_by"]
    assert evaluate["step"] == "evaluate"
    model = next(i for i in evaluate["inputs"] if i["path"] == "model.txt")
    (train,) = model["produced_by"]
    assert train["step"] == "train" and train["params"] == {"epochs": "2"}
    features = next(i for i in train["inputs"] if i["resource"] == "features")
    (prepare,) = features["produced_by"]
    assert prepare["step"] == "prepare"
    raw = next(i for i in prepare["inputs"] if i["resource"] == "raw")
    assert raw["produced_by"] == []
    text = run_dws("lineage", "show", "results/eval.json", cwd=pipeline)
    assert "step prepare" in text.out and "data/raw/train.csv" in text.out


SVG = "{http://www.w3.org/2000/svg}"


def test_graph_formats(pipeline: Path) -> None:
    run_all(pipeline)
    doc = dws_json(pipeline, "lineage", "graph", "--format", "json")
    assert isinstance(doc, dict)
    steps = sorted(n["step"] for n in doc["nodes"] if n["type"] == "step")
    assert steps == ["evaluate", "prepare", "train"]
    dot = run_dws("lineage", "graph", "--format", "dot", cwd=pipeline)
    assert dot.code == 0 and dot.out.startswith("digraph lineage {") and "->" in dot.out
    mermaid = run_dws("lineage", "graph", "--format", "mermaid", cwd=pipeline)
    assert mermaid.out.startswith("flowchart LR") and "-->" in mermaid.out
    svg = run_dws("lineage", "graph", "--format", "svg", cwd=pipeline)
    assert svg.code == 0, svg.err
    drawn = ElementTree.fromstring(svg.out)
    groups = [g for g in drawn.iter(f"{SVG}g") if "node" in g.get("class", "").split()]
    assert sorted(g.get("data-id") for g in groups) == sorted(n["id"] for n in doc["nodes"])
    assert len([p for p in drawn.iter(f"{SVG}path") if p.get("class") == "edge"]) == len(
        doc["edges"]
    )
    boxes = {g.get("data-id"): g.find(f"{SVG}rect") for g in groups}
    for edge in doc["edges"]:  # data flows left to right
        if edge["kind"] != "part-of":
            source, target = boxes[edge["from"]], boxes[edge["to"]]
            assert float(source.get("x")) < float(target.get("x")), edge


def test_source_change_makes_everything_downstream_stale(pipeline: Path) -> None:
    run_all(pipeline)
    assert stale_paths(pipeline) == []
    (pipeline / "data/raw/train.csv").write_text("a,b\n5,6\n")
    assert stale_paths(pipeline) == [
        "data/features/train.csv",
        "results/eval.json",
        "results/metrics.json",
        "results/model.txt",
    ]
    # back to the very same bytes: nothing is stale (hashes, not timestamps)
    (pipeline / "data/raw/train.csv").write_text("a,b\n1,2\n3,4\n")
    assert stale_paths(pipeline) == []


def test_code_change_makes_its_outputs_stale(pipeline: Path) -> None:
    run_all(pipeline)
    (pipeline / "code/evaluate.py").write_text((pipeline / "code/evaluate.py").read_text() + "\n")
    assert stale_paths(pipeline) == ["results/eval.json"]


def test_rerun_brings_outputs_up_to_date_in_order(pipeline: Path) -> None:
    run_all(pipeline)
    (pipeline / "data/raw/train.csv").write_text("a,b\n7,8\n9,10\n11,12\n")
    plan = dws_json(pipeline, "rerun", "--dry-run", "results/eval.json")
    assert isinstance(plan, dict)
    assert [s["step"] for s in plan["steps"]] == ["prepare", "train", "evaluate"]
    result = run_dws("rerun", "results/eval.json", cwd=pipeline)
    assert result.code == 0, result.err
    assert stale_paths(pipeline) == []
    assert (pipeline / "data/features/train.csv").read_text() == "A,B\n7,8\n9,10\n11,12\n"
    again = run_dws("rerun", "results/eval.json", cwd=pipeline)
    assert again.code == 0 and "up to date" in again.out


def test_clean_deletes_only_stale_intermediate_data(pipeline: Path) -> None:
    run_all(pipeline)
    (pipeline / "data/raw/train.csv").write_text("a,b\n0,0\n")
    dry = dws_json(pipeline, "clean", "--stale", "--dry-run")
    assert isinstance(dry, dict) and dry["removed"] == ["data/features/train.csv"]
    assert (pipeline / "data/features/train.csv").exists()
    result = run_dws("clean", "--stale", cwd=pipeline)
    assert result.code == 0, result.err
    assert not (pipeline / "data/features/train.csv").exists()
    assert (pipeline / "results/model.txt").exists()  # results are never cleaned
    assert (pipeline / "data/raw/train.csv").exists()
    # the cleaned file is made again by rerun
    assert run_dws("rerun", "results/eval.json", cwd=pipeline).code == 0
    assert (pipeline / "data/features/train.csv").read_text() == "A,B\n0,0\n"


def test_swap_puts_data_behind_the_source_path_and_back(pipeline: Path, tmp_path: Path) -> None:
    run_all(pipeline)
    assert run_dws("snapshot", "v1", cwd=pipeline).code == 0
    other = tmp_path / "raw-2026-11"
    other.mkdir()
    (other / "train.csv").write_text("a,b\n2,3\n")
    doc = dws_json(pipeline, "swap", "raw", str(other))
    assert isinstance(doc, dict)
    assert "data/features/train.csv" in [s["path"] for s in doc["stale"]]
    specs = json.loads((pipeline / ".dataworkspace/resources.json").read_text())
    assert next(s for s in specs if s["name"] == "raw")["path"] == "data/raw"  # path stays
    assert (pipeline / "data/raw/train.csv").read_text() == "a,b\n2,3\n"  # data changed
    assert run_dws("swap", "raw", "--back", cwd=pipeline).code == 0
    assert (pipeline / "data/raw/train.csv").read_text() == "a,b\n1,2\n3,4\n"
    (pipeline / "data/raw/train.csv").write_text("changed\n")
    assert run_dws("snapshot", "v2", cwd=pipeline).code == 0
    assert stale_paths(pipeline)
    result = run_dws("swap", "raw", "raw@v1", cwd=pipeline)
    assert result.code == 0, result.err
    assert (pipeline / "data/raw/train.csv").read_text() == "a,b\n1,2\n3,4\n"
    assert stale_paths(pipeline) == []


def test_swap_refuses_non_source_and_bad_targets(pipeline: Path) -> None:
    assert run_dws("swap", "features", "data/raw", cwd=pipeline).code == 2
    assert run_dws("swap", "raw", "no/such/dir", cwd=pipeline).code == 2
    assert run_dws("swap", "nosuch", "data", cwd=pipeline).code == 2


def test_failed_run_is_recorded_but_never_a_producer(pipeline: Path) -> None:
    result = run_dws(*FAIL_RUN, cwd=pipeline)
    assert result.code == 3  # the command's exit code
    (failed,) = records(pipeline)
    assert failed["status"] == "failed" and failed["exit_code"] == 3
    doc = dws_json(pipeline, "lineage", "show", "data/features/x.txt")
    assert isinstance(doc, dict) and doc["produced_by"] == []
    assert doc["failed_writer"] == failed["id"]
    # a step that reads the partial output: observed, and its input is labelled as what it is
    copy = "import sys; open(sys.argv[2], 'w').write(open(sys.argv[1]).read())"
    result = run_dws(
        "run", "-n", "copy", "--", "python3", "-c", copy, "data/features/x.txt", "results/c.txt",
        cwd=pipeline,
    )  # fmt: skip
    assert result.code == 0, result.err
    doc = dws_json(pipeline, "lineage", "show", "results/c.txt")
    assert isinstance(doc, dict)
    (made,) = doc["produced_by"]
    partial = next(i for i in made["inputs"] if i["path"] == "x.txt")
    assert partial["produced_by"] == [] and partial["origin"] == "from a failed run of step fail"
    assert stale_paths(pipeline) == ["results/c.txt"]


def test_batch_refuses_ambiguous_arguments_before_running(pipeline: Path) -> None:
    (pipeline / "data/features/hand.csv").write_text("made by hand\n")
    marker = pipeline / "results/ran"
    result = run_dws(
        "--batch",
        "run",
        "--observe",
        "none",
        "--",
        "python3",
        "-c",
        f"open({str(marker)!r}, 'w')",
        "data/features/hand.csv",
        cwd=pipeline,
    )
    assert result.code == 2
    assert "data/features/hand.csv" in result.err and "-i" in result.err and "-o" in result.err
    assert not marker.exists()
    assert not (pipeline / ".dataworkspace/lineage/runs").exists() or not list(
        (pipeline / ".dataworkspace/lineage/runs").iterdir()
    )


def test_output_into_source_data_is_refused(pipeline: Path) -> None:
    marker = pipeline / "results/ran"
    result = run_dws(
        "run",
        "-o",
        "data/raw/new.csv",
        "--",
        "python3",
        "-c",
        f"open({str(marker)!r}, 'w')",
        cwd=pipeline,
    )
    assert result.code == 3 and "source-data" in result.err
    assert not marker.exists()


def test_snapshot_records_runs_and_lineage_show_by_snapshot(pipeline: Path) -> None:
    run_all(pipeline)
    assert run_dws("snapshot", "v1", cwd=pipeline).code == 0
    snap = dws_json(pipeline, "show", "v1")
    assert isinstance(snap, dict)
    run_ids = {r["id"] for r in records(pipeline)}
    assert set(snap["runs"]) == run_ids
    # change the source and rerun: v1's lineage still names the old runs
    (pipeline / "data/raw/train.csv").write_text("x,y\n")
    assert run_dws("rerun", "results/eval.json", cwd=pipeline).code == 0
    old = dws_json(pipeline, "lineage", "show", "--snapshot", "v1", "results/eval.json")
    assert isinstance(old, dict) and old["produced_by"][0]["run"] in run_ids
    now = dws_json(pipeline, "lineage", "show", "results/eval.json")
    assert isinstance(now, dict) and now["produced_by"][0]["run"] not in run_ids
    # restore v1: the current lineage is v1's again
    assert run_dws("snapshot", "v2", cwd=pipeline).code == 0
    assert run_dws("restore", "v1", cwd=pipeline).code == 0
    back = dws_json(pipeline, "lineage", "show", "data/features/train.csv")
    assert isinstance(back, dict) and back["produced_by"][0]["run"] in run_ids


def test_gc_keeps_the_trees_lineage_looks_into(pipeline: Path) -> None:
    run_all(pipeline)
    assert run_dws("gc", cwd=pipeline).code == 0
    doc = dws_json(pipeline, "lineage", "show", "results/model.txt")
    assert isinstance(doc, dict)
    inputs = doc["produced_by"][0]["inputs"]
    features = next(i for i in inputs if i["resource"] == "features" and i["kind"] == "dir")
    assert [p["step"] for p in features["produced_by"]] == ["prepare"]


def test_paths_relative_to_a_subdirectory(pipeline: Path) -> None:
    result = run_dws(
        "run",
        "--",
        "python3",
        "../code/prepare.py",
        "raw/train.csv",
        "features/sub.csv",
        cwd=pipeline / "data",
    )
    assert result.code == 0, result.err
    (record,) = records(pipeline)
    assert record["cwd"] == "data"
    assert [(o["resource"], o["path"]) for o in record["outputs"]] == [("features", "sub.csv")]
    (pipeline / "data/raw/train.csv").write_text("q\n")
    assert run_dws("rerun", "data/features/sub.csv", cwd=pipeline).code == 0
    assert (pipeline / "data/features/sub.csv").read_text() == "Q\n"


def test_a_long_run_does_not_block_status(pipeline: Path) -> None:
    import subprocess
    import time

    from helpers.cli import DWS

    gate, started = pipeline / "results/gate", pipeline.parent / "started"
    script = (
        f"import os, time\nopen({str(started)!r}, 'w').close()\n"
        f"while not os.path.exists({str(gate)!r}): time.sleep(0.05)\n"
    )
    proc = subprocess.Popen(
        [DWS, "run", "-n", "wait", "-o", "results/w.txt", "--", "python3", "-c", script],
        cwd=pipeline,
    )
    try:
        deadline = time.monotonic() + 60
        while not started.exists():  # the command runs: dws waits for it
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.02)
        assert run_dws("status", cwd=pipeline).code == 0
        assert run_dws("snapshot", "during", cwd=pipeline).code == 0
    finally:
        gate.write_text("go")
        assert proc.wait(timeout=60) == 0
    assert [r["step"] for r in records(pipeline)] == ["wait"]


def test_secrets_on_the_command_line_are_refused_before_running(pipeline: Path) -> None:
    marker = pipeline / "results/ran"
    touch = f"open({str(marker)!r}, 'w')"
    for extra in (["--password", "hunter2"], ["--token=abc"], ["https://user:pw@example.com/x"]):
        result = run_dws("run", "--", "python3", "-c", touch, *extra, cwd=pipeline)
        assert result.code == 2 and "secret" in result.err, result.err
        assert "hunter2" not in result.err and "pw@" not in result.err
    assert not marker.exists()
    assert records(pipeline) == []
