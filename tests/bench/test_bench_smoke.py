"""Smoke run of the benchmark suite (bench/run.py): tiny workloads, dws only, one round,
then its last section, the `dws run` overhead (bench/run_overhead.py --quick: 50 files);
bench/scale.py on tiny trees; bench/reading.py --smoke (reading snapshots without restoring).

It checks that the scripts run end to end and print their whole tables; the figures
themselves are not checked (the real benchmark is `make bench`, not part of CI).
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RUN = ROOT / "bench" / "run.py"
WORKLOADS = ("many", "large", "flat")
OPERATIONS = (
    "first snapshot",
    "no-op snapshot",
    "snapshot after 1% change",
    "restore into empty dir",
)
OVERHEAD_WORKLOADS = ("read", "compute")
OVERHEAD_VARIANTS = ("bare", "none", "python")  # and strace, where it can trace


def _bench(script: Path, *args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    """Run a bench script from the project root; it must succeed."""
    proc = subprocess.run(
        [sys.executable, str(script), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def test_bench_smoke_prints_every_row(tmp_path: Path) -> None:
    work = tmp_path / "work"
    proc = _bench(RUN, "--smoke", "--tools", "dws", "--work-dir", str(work), timeout=120)

    rows = {}
    for line in proc.stdout.splitlines():
        if line.startswith("| "):
            cells = [c.strip() for c in line.strip("|").split("|")]
            rows[(cells[0], cells[1])] = cells[2:]
    for workload in WORKLOADS:
        for op in OPERATIONS:
            assert (workload, op) in rows, f"no row for {workload} / {op}:\n{proc.stdout}"
            (dws_cell,) = rows[(workload, op)]
            assert dws_cell.endswith("MiB)"), dws_cell  # "0.215 s (30 MiB)", not FAILED

    raw = json.loads((work / "results-smoke.json").read_text())
    assert len(raw["runs"]) == len(WORKLOADS)
    assert all(r["verified"] and not r["error"] for r in raw["runs"])

    overhead = json.loads((work / "run-overhead-smoke.json").read_text())
    assert overhead["files"] == 50 and overhead["rounds"] == 1
    assert not overhead["failures"], overhead["failures"]
    medians = {(r["workload"], r["variant"]): r["median_s"] for r in overhead["summary"]}
    for workload in OVERHEAD_WORKLOADS:
        for variant in OVERHEAD_VARIANTS:
            assert medians.get((workload, variant)), f"{workload} / {variant}: {medians}"
            label = overhead["variants"][variant]
            assert (workload, label) in rows, f"no row for {workload} / {label}:\n{proc.stdout}"
    assert "budget = 10% of the bare step + 0.3 s" in proc.stdout
    left = [p for p in work.glob("run-overhead-*") if p.is_dir()]
    assert not left, f"scratch directory left behind: {left}"


def test_scale_smoke_measures_every_operation_and_draws_the_plot(tmp_path: Path) -> None:
    """bench/scale.py on a tiny tree per layout: every operation measured (restores counted
    back), the JSON and the SVG written."""
    svg, results = tmp_path / "scale.svg", tmp_path / "scale.json"
    _bench(
        ROOT / "bench" / "scale.py",
        *("--files", "200", "--work-dir", str(tmp_path / "work")),
        *("--json", str(results), "--svg", str(svg)),
        timeout=300,
    )
    rows = json.loads(results.read_text())["rows"]
    measured = {(r["layout"], r["files"], r["op"]) for r in rows}
    expected = {
        (layout, files, op)
        for layout in ("tree", "flat")
        for files in (200,)
        for op in ("first", "noop", "change", "restore")
    }
    assert measured == expected
    assert all(r["wall_s"] > 0 for r in rows)
    assert svg.read_text().lstrip().startswith("<svg") and "<polyline" in svg.read_text()


def test_reading_smoke_prints_every_row_and_writes_the_json(tmp_path: Path) -> None:
    """bench/reading.py --smoke: every part's rows printed with a time (peers where
    installed), the goals summed up, the JSON written, no scratch left behind. Without
    pyarrow or the S3 server, part 1 must say it was skipped instead."""
    work = tmp_path / "work"
    parts = "random,cat,stream"
    if os.environ.get("DWS_TESTS_NO_S3") == "1":
        parts = "cat,stream"
    proc = _bench(
        ROOT / "bench" / "reading.py",
        "--smoke",
        "--parts",
        parts,
        "--work-dir",
        str(work),
        timeout=180,
    )

    rows = {}
    for line in proc.stdout.splitlines():
        if line.startswith("| "):
            cells = [c.strip() for c in line.strip("|").split("|")]
            rows[(cells[0], cells[1])] = cells[2:]
    expected = [
        ("cat", "cat (floor)"),
        ("cat", "dws cat"),
        *(
            (part, label)
            for part in ("stream-loose", "stream-chunked")
            for label in ("cat > out (floor)", "dws cat > out")
        ),
    ]
    if shutil.which("git"):
        expected.append(("cat", "git show"))
    if shutil.which("restic"):
        expected += [
            ("cat", "restic dump"),
            ("stream-loose", "restic dump > out"),
            ("stream-chunked", "restic dump > out"),
        ]
    has_pyarrow = importlib.util.find_spec("pyarrow") is not None
    if "random" in parts and has_pyarrow:
        expected += [
            ("random", "pyarrow, local file (floor)"),
            ("random", "dws.open + pyarrow, from S3"),
            ("random", "dws get (whole file), from S3"),
        ]
    elif "random" in parts:
        assert "pyarrow is not installed" in proc.stdout
    for key in expected:
        assert key in rows, f"no row for {key}:\n{proc.stdout}"
        assert rows[key][0].endswith(" s"), rows[key]  # "0.244 s", not FAILED
    assert set(rows) == set(expected) | {("part", "command")}, proc.stdout

    raw = json.loads((work / "results-smoke.json").read_text())
    measured = {(r["part"], r["label"]) for r in raw["rows"]}
    assert measured == set(expected)
    assert all(r["median_s"] > 0 and not r["errors"] for r in raw["rows"])
    assert len(raw["goals"]) == (4 if ("random", "dws.open + pyarrow, from S3") in rows else 3)
    if has_pyarrow and "random" in parts:
        (column,) = [r for r in raw["rows"] if r["key"] == "dws" and r["part"] == "random"]
        assert 0 < column["figures"][0]["fetched_bytes"] < raw["setup"]["parquet_bytes"]
    assert not (work / "scratch").exists(), "scratch directory left behind"
