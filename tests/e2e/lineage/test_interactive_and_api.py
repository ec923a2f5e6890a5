"""Asking on a terminal (driven through a pseudo-terminal) and remembering the answer;
the Python step API; --trace; OpenLineage export; damaged run records."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import time
from pathlib import Path

import pytest
from blake3 import blake3

import dws
from helpers.cli import DWS, run_dws

from .conftest import FAIL_RUN, PREPARE_RUN

HAND_SCRIPT = "import sys; open(sys.argv[1], 'a').write('more\\n')"


def run_on_terminal(
    args: list[str],
    cwd: Path,
    answers: list[str],
    timeout: float = 60,
    prompt: bytes = b"input or output",
) -> tuple[int, str]:
    """Run `dws` with a pseudo-terminal as stdin/stdout/stderr, answering each prompt (a
    last line containing ``prompt`` and ending with ':')."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [DWS, *args],
        cwd=cwd,
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env={**os.environ, "DWS_LOCK_TIMEOUT": "5"},
    )
    os.close(slave)
    seen, pending = b"", list(answers)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(master, 4096)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
            if pending and seen.rstrip().endswith(b":") and prompt in seen.splitlines()[-1]:
                os.write(master, pending.pop(0).encode() + b"\n")
        elif proc.poll() is not None:
            break
    code = proc.wait(timeout=timeout)
    os.close(master)
    return code, seen.decode(errors="replace")


def test_asks_on_a_terminal_and_remembers(pipeline: Path) -> None:
    (pipeline / "data/features/hand.csv").write_text("made by hand\n")
    argv = ["run", "-n", "append", "--observe", "none", "--", "python3", "-c", HAND_SCRIPT]
    argv.append("data/features/hand.csv")
    code, text = run_on_terminal(argv, pipeline, ["o"])
    assert code == 0, text
    assert "data/features/hand.csv" in text and "input or output" in text
    memory = json.loads((pipeline / ".dataworkspace/lineage/steps/append.json").read_text())
    assert memory["answers"] == {"data/features/hand.csv": "output"}
    # the answer is remembered: batch mode (nothing asked) now knows it
    again = run_dws("--batch", "run", *argv[1:], cwd=pipeline)
    assert again.code == 0, again.err
    runs = [json.loads(p.read_text()) for p in (pipeline / ".dataworkspace/lineage/runs").iterdir()]
    assert all([o["path"] for o in r["outputs"]] == ["hand.csv"] for r in runs) and len(runs) == 2


def test_python_step_api(pipeline: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(pipeline)
    ws = dws.Workspace.open(str(pipeline))
    with ws.step(
        "train", inputs=["data/raw"], outputs=["results/model.txt"], params={"epochs": 5}
    ) as step:
        (pipeline / "results/model.txt").write_text("weights\n")
        step.log_metrics({"accuracy": 0.93, "loss": {"train": 0.1}})
    record = step.record
    assert record is not None and record.succeeded and record.via == "python"
    assert record.metrics == {"accuracy": 0.93, "loss.train": 0.1}
    assert record.params == {"epochs": 5}
    assert {o.path for o in record.outputs} == {"model.txt", "train/metrics.json"}
    metrics = json.loads((pipeline / "results/train/metrics.json").read_text())
    assert metrics == {"accuracy": 0.93, "loss": {"train": 0.1}}
    view = ws.lineage("results/model.txt")
    assert [t.run.step for t in view.trees] == ["train"]
    # a failing step is recorded as failed and the exception goes on
    with pytest.raises(RuntimeError), ws.step("broken", outputs=["results/b.txt"]):
        (pipeline / "results/b.txt").write_text("half")
        raise RuntimeError("boom")
    statuses = sorted(r.status for r in ws.runs())
    assert statuses == ["failed", "succeeded"]
    with pytest.raises(dws.errors.UsageError):
        ws.step("x", inputs=["/definitely/not/in/a/resource"])


def test_openlineage_export(pipeline: Path) -> None:
    for argv in (PREPARE_RUN, FAIL_RUN):
        run_dws(*argv, cwd=pipeline)
    result = run_dws("lineage", "export", "--format", "openlineage", "--all", cwd=pipeline)
    assert result.code == 0, result.err
    events = [json.loads(line) for line in result.out.splitlines()]
    assert sorted(e["eventType"] for e in events) == ["COMPLETE", "FAIL", "START", "START"]
    for event in events:
        assert {"eventTime", "producer", "schemaURL", "run", "job"} <= set(event)
        assert event["job"]["namespace"] == "pipe"


def test_trace_finds_reads_and_writes(pipeline: Path, traceable: None) -> None:
    script = (
        "import json; d = open('data/raw/train.csv').read(); "
        "open('data/features/t.csv', 'w').write(d); "
        "open('results/n.json', 'w').write(json.dumps(len(d)))"
    )
    result = run_dws(
        "--json", "run", "--trace", "-n", "traced", "--", "python3", "-c", script, cwd=pipeline
    )
    assert result.code == 0, result.err
    record = json.loads(result.out)
    assert record["traced"] is True
    assert {(i["resource"], i["path"]) for i in record["inputs"]} >= {("raw", "train.csv")}
    assert {(o["resource"], o["path"]) for o in record["outputs"]} == {
        ("features", "t.csv"),
        ("results", "n.json"),
    }
    assert not any(i["path"].endswith(".pyc") for i in record["inputs"])


def test_damaged_run_record_is_skipped_with_a_warning(pipeline: Path) -> None:
    run_dws(
        "run",
        "--",
        "python3",
        "code/prepare.py",
        "data/raw/train.csv",
        "data/features/train.csv",
        cwd=pipeline,
    )
    runs = pipeline / ".dataworkspace/lineage/runs"
    (good,) = list(runs.iterdir())
    bad = runs / ("0" * 64 + ".json")
    bad.write_text(good.read_text().replace("prepare", "../etc"))
    result = run_dws("--json", "lineage", "runs", "--all", cwd=pipeline)
    assert result.code == 0
    assert [r["step"] for r in json.loads(result.out)] == ["prepare"]


def test_trace_in_place_update_is_input_and_output(pipeline: Path, traceable: None) -> None:
    target = pipeline / "data/features/log.txt"
    target.write_text("first\n")
    before = blake3(target.read_bytes()).hexdigest()
    script = "f = open('data/features/log.txt', 'r+'); f.read(); f.write('second\\n'); f.close()"
    result = run_dws(
        "--json", "run", "--trace", "-n", "append", "--", "python3", "-c", script, cwd=pipeline
    )
    assert result.code == 0, result.err
    record = json.loads(result.out)
    inputs = {(i["resource"], i["path"]): i["id"] for i in record["inputs"]}
    outputs = {(o["resource"], o["path"]): o["id"] for o in record["outputs"]}
    assert inputs[("features", "log.txt")] == before
    assert outputs[("features", "log.txt")] == blake3(b"first\nsecond\n").hexdigest()
