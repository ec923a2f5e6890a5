"""Smoke run of bench/ui.py (showing a big workspace): a tiny workspace built in process,
the report's row printed with its time and size, a row per `dws ui` page, the JSON
written, and a second run reusing the cached workspace. The figures themselves are not
checked."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from helpers.common import run_dws

ROOT = Path(__file__).resolve().parents[2]
UI = ROOT / "bench" / "ui.py"


def _bench(work: Path) -> str:
    proc = subprocess.run(
        [sys.executable, str(UI), "--smoke", "--work-dir", str(work)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def _rows(stdout: str) -> dict[str, list[str]]:
    rows = {}
    for line in stdout.splitlines():
        if line.startswith("| "):
            cells = [c.strip() for c in line.strip("|").split("|")]
            rows[cells[0]] = cells[1:]
    return rows


def test_ui_smoke_builds_measures_and_reuses_the_workspace(tmp_path: Path) -> None:
    work = tmp_path / "work"
    first = _bench(work)
    assert "built now" in first
    median, _, size = _rows(first)["dws report -o FILE"]
    assert median.endswith(" s") and size.endswith(" MB"), first  # not FAILED
    assert "report at most 5 MB" in first and "written in at most 5 s" in first

    raw = json.loads((work / "results-smoke.json").read_text())
    row, *pages = raw["rows"]
    assert row["median_s"] > 0 and not row["error"] and len(row["wall_s"]) == 1
    assert len(pages) >= 10 and all(p["label"].startswith("ui: ") for p in pages)
    assert not [p["error"] for p in pages if p["error"]]  # every page answered 200
    assert "first byte in at most 300 ms" in first
    scale = raw["scale"]
    (ws,) = work.glob("ws-*/ws")
    meta = ws / ".dataworkspace"
    assert len(list((meta / "snapshots").iterdir())) == scale["snapshots"]
    runs = scale["snapshots"] * scale["runs_per_cycle"]
    assert len(list((meta / "lineage" / "runs").iterdir())) == runs
    graph = run_dws("--json", "lineage", "graph", cwd=ws)
    assert graph.code == 0, graph.err
    steps = [n for n in json.loads(graph.out)["nodes"] if n["type"] == "step"]
    assert len(steps) == scale["runs_per_cycle"] and not any(n["stale"] for n in steps)

    second = _bench(work)
    assert "reused from" in second and "dws report -o FILE" in _rows(second)
    assert not (work / "scratch").exists(), "scratch directory left behind"
