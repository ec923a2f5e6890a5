#!/usr/bin/env python3
"""What `dws run` adds to a Python step: the same step timed bare and under `dws run`.

The budget: `dws run` takes at most 10% + 0.3 s more than the bare step, on a Python step
that reads 10,000 small files. This script measures it; it asserts nothing.

A workspace (dws init; data/raw source-data with FILES files of 200-3,000 bytes in DIRS
directories, data/features intermediate-data, results) and two step scripts:

  read      step.py reads every file under data/raw and writes data/features/read.txt
  compute   the same, then computes (pure Python) until the bare step takes about
            --compute seconds in all (calibrated once), and writes data/features/compute.txt

Each is timed as a whole process, in these variants:

  bare      python STEP
  none      dws run --observe none -i data/raw -o data/features/OUT -- python STEP
  python    dws run -- python STEP                    (auto: the Python recorder)
  strace    dws run --observe strace -- python STEP   (only where strace can trace)

(each dws run also gets `-n read` or `-n compute`, so the two scripts are two steps).

One untimed warm-up round runs first (the first `dws run` in a fresh workspace hashes
every file in its census; its time is reported apart). Then, in each round, the variants
run once each, their order rotating from round to round. The table shows the median over
the rounds, the overhead of each dws variant over the bare step, and whether it is within
10% + 0.3 s of it. Raw figures go to --json. See bench/README.md.

Usage: run_overhead.py [--files N] [--dirs N] [--rounds N] [--compute S] [--quick]
                       [--work-dir DIR] [--json PATH]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

# bench/run.py: this script's directory is on sys.path
from run import DEFAULT_WORK, Dws, machine_info

SEED = 7
MIN_SIZE, MAX_SIZE = 200, 3000
BUDGET_FRACTION, BUDGET_SECONDS = 0.10, 0.3

VARIANTS: tuple[tuple[str, str], ...] = (
    ("bare", "python STEP (no dws)"),
    ("none", "dws run --observe none -i data/raw -o OUT"),
    ("python", "dws run (auto: Python recorder)"),
    ("strace", "dws run --observe strace"),
)

# The compute part of the step, pure Python; the same code calibrates the iteration count.
SPIN_CODE = """\
def spin(n):
    acc = 0
    for i in range(n):
        acc = (acc * 31 + i) % 1000003
    return acc
"""

# The step: what a feature-extraction script does, reduced to reading every input once.
STEP = '''\
"""Reads every file under data/raw; writes their count, total size and a checksum."""

import os
import zlib

SPIN = {spin}  # iterations of pure-Python work after the reads (0: none)
OUT = {out!r}


{spin_code}

count = size = crc = 0
for top, dirs, names in os.walk("data/raw"):
    dirs.sort()
    for name in sorted(names):
        with open(os.path.join(top, name), "rb") as f:
            data = f.read()
        count += 1
        size += len(data)
        crc = zlib.crc32(data, crc)
acc = spin(SPIN)
with open(OUT, "w") as f:
    f.write(f"{{count}} files {{size}} bytes crc32 {{crc:08x}} spin {{acc}}\\n")
'''


# --------------------------------------------------------------------------- set-up


def make_tree(root: Path, files: int, dirs: int) -> int:
    """`files` files of MIN_SIZE..MAX_SIZE random bytes in `dirs` directories; same seed,
    same bytes. Returns the total size."""
    rng = random.Random(SEED)
    total = 0
    for i in range(files):
        d = root / f"d{i % dirs:03d}"
        if i < dirs:
            d.mkdir(parents=True)
        size = rng.randint(MIN_SIZE, MAX_SIZE)
        (d / f"f{i:05d}.bin").write_bytes(rng.randbytes(size))
        total += size
    return total


def write_step(ws: Path, name: str, out: str, spin: int) -> None:
    (ws / name).write_text(STEP.format(spin=spin, out=out, spin_code=SPIN_CODE))


def spin_rate() -> float:
    """Iterations of the step's compute loop per second in this interpreter (roughly)."""
    space: dict[str, Any] = {}
    exec(SPIN_CODE, space)
    n = 200_000
    while True:
        t0 = time.perf_counter()
        space["spin"](n)
        took = time.perf_counter() - t0
        if took > 0.3:
            return n / took
        n *= 2


def strace_reason() -> str | None:
    """Why `dws run --observe strace` cannot run here, or None when it can."""
    exe = shutil.which("strace")
    if exe is None:
        return "strace is not installed (apt-get install -y strace)"
    try:
        proc = subprocess.run(
            [exe, "-f", "-qq", "-o", os.devnull, "true"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return f"strace could not run: {exc}"
    if proc.returncode != 0:
        lines = proc.stderr.strip().splitlines()
        return f"strace cannot trace here ({lines[0] if lines else proc.returncode})"
    return None


# --------------------------------------------------------------------------- measuring


class Bench:
    def __init__(self, ws: Path, dws: str, python: str, log: Any) -> None:
        self.ws, self.dws, self.python, self.log = ws, dws, python, log
        self.env = {k: v for k, v in os.environ.items() if k != "DWS_OBSERVE_LOG"}
        self.recorded = 0  # dws runs so far: every later `dws run` reads their records

    def argv(self, variant: str, name: str, script: str, out: str) -> list[str]:
        step = [self.python, script]
        if variant == "bare":
            return step
        run = [self.dws, "run", "-n", name]  # else both scripts are the step "python"
        if variant == "none":
            return [*run, "--observe", "none", "-i", "data/raw", "-o", out, "--", *step]
        if variant == "python":
            return [*run, "--", *step]
        return [*run, "--observe", "strace", "--", *step]

    def time(self, argv: list[str], out: str, expected: str | None) -> tuple[float, str | None]:
        """Wall time of one run of `argv`, and why it failed (None when it did not)."""
        target = self.ws / out
        target.unlink(missing_ok=True)
        os.sync()  # no run pays for the previous one's write-back
        self.log.write(f"$ {' '.join(argv)}\n")
        self.log.flush()
        t0 = time.perf_counter()
        proc = subprocess.run(
            argv,
            cwd=self.ws,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            check=False,
        )
        wall = time.perf_counter() - t0
        self.recorded += argv[0] == self.dws
        self.log.write(f"# rc={proc.returncode} wall={wall:.3f}s\n")
        self.log.flush()
        if proc.returncode != 0:
            return wall, f"exit {proc.returncode}"
        got = target.read_text() if target.exists() else None
        if got is None:
            return wall, f"{out} was not written"
        if expected is not None and got != expected:
            return wall, f"{out} differs from the bare step's"
        return wall, None


# --------------------------------------------------------------------------- report


def summarise(
    times: dict[str, dict[str, list[float]]], workloads: list[str], variants: list[str]
) -> list[dict[str, Any]]:
    rows = []
    for w in workloads:
        walls = times[w]
        bare = statistics.median(walls["bare"]) if walls.get("bare") else None
        for v in variants:
            med = statistics.median(walls[v]) if walls.get(v) else None
            row: dict[str, Any] = {"workload": w, "variant": v, "median_s": med, "runs": walls[v]}
            if v != "bare" and med is not None and bare is not None:
                limit = bare * (1 + BUDGET_FRACTION) + BUDGET_SECONDS
                row.update(
                    overhead_s=med - bare,
                    overhead_pct=100 * (med - bare) / bare,
                    budget_s=limit - bare,
                    within=med <= limit,
                )
            rows.append(row)
    return rows


def render(rows: list[dict[str, Any]], labels: dict[str, str]) -> str:
    head = ["workload", "variant", "median", "overhead", "budget", "within"]
    body = []
    for r in rows:
        med = "FAILED" if r["median_s"] is None else f"{r['median_s']:.3f} s"
        if "overhead_s" in r:
            over = f"+{r['overhead_s']:.3f} s ({r['overhead_pct']:+.0f}%)"
            budget = f"{r['budget_s']:.3f} s"
            within = "yes" if r["within"] else f"NO (+{r['overhead_s'] - r['budget_s']:.3f} s)"
        else:
            over = budget = within = "-"
        body.append([r["workload"], labels[r["variant"]], med, over, budget, within])
    widths = [max(len(x[i]) for x in [head, *body]) for i in range(len(head))]

    def line(cells: list[str]) -> str:
        parts = [c.ljust(widths[i]) if i < 2 else c.rjust(widths[i]) for i, c in enumerate(cells)]
        return "| " + " | ".join(parts) + " |"

    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(head), sep, *(line(b) for b in body)])


# --------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--files", type=int, default=None, help="raw files (default 10,000)")
    ap.add_argument("--dirs", type=int, default=None, help="directories (default 100)")
    ap.add_argument("--rounds", type=int, default=None, help="timed rounds (default 3)")
    ap.add_argument(
        "--compute",
        type=float,
        default=None,
        help="seconds the bare compute step should take (default 2; 0: no compute workload)",
    )
    ap.add_argument(
        "--quick", action="store_true", help="50 files, 1 round, 0.3 s compute: checks it runs"
    )
    ap.add_argument("--work-dir", type=Path, default=DEFAULT_WORK, help="scratch (bench/.work)")
    ap.add_argument("--json", type=Path, default=None, help="where to write the raw figures")
    a = ap.parse_args(argv)
    q = a.quick
    a.files = a.files if a.files is not None else (50 if q else 10_000)
    a.dirs = a.dirs if a.dirs is not None else (5 if q else 100)
    a.rounds = a.rounds if a.rounds is not None else (1 if q else 3)
    a.compute = a.compute if a.compute is not None else (0.3 if q else 2.0)
    if a.files < 1 or a.dirs < 1 or a.rounds < 1:
        ap.error("--files, --dirs and --rounds must be at least 1")
    a.dirs = min(a.dirs, a.files)
    return a


def main(argv: list[str] | None = None) -> int:
    a = parse_args(argv)
    # a kill still removes the scratch directory (the `finally` below)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    dws = Dws(a.work_dir)
    why = dws.prepare()  # finds the command and compiles an editable install's bytecode
    if why is not None:
        print(f"error: {why}", file=sys.stderr)
        return 2
    no_strace = strace_reason()
    variants = [v for v, _ in VARIANTS if not (v == "strace" and no_strace)]
    labels = dict(VARIANTS)
    python = sys.executable
    work: Path = a.work_dir.resolve()
    work.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="run-overhead-", dir=work))
    log_path = (
        scratch.parent / "logs" / ("run-overhead-quick.log" if a.quick else "run-overhead.log")
    )
    log_path.parent.mkdir(exist_ok=True)
    started = datetime.datetime.now(datetime.UTC)
    failures: list[str] = []
    times: dict[str, dict[str, list[float]]] = {}
    warmup: dict[str, dict[str, float]] = {}
    measurements: list[dict[str, Any]] = []
    try:
        ws = scratch / "ws"
        raw = ws / "data" / "raw"
        t0 = time.perf_counter()
        total = make_tree(raw, a.files, a.dirs)
        (ws / "data" / "features").mkdir(parents=True)
        (ws / "results").mkdir()
        made = time.perf_counter() - t0

        workloads: dict[str, tuple[str, str]] = {"read": ("step.py", "data/features/read.txt")}
        write_step(ws, "step.py", "data/features/read.txt", 0)
        with open(log_path, "w") as log:
            bench = Bench(ws, dws.exe, python, log)
            for args in (
                ["init"],
                ["add", "local-files", "data/raw", "--role", "source-data"],
                ["add", "local-files", "data/features", "--role", "intermediate-data"],
                ["add", "local-files", "results", "--role", "results"],
            ):
                proc = subprocess.run(
                    [dws.exe, *args], cwd=ws, stdout=log, stderr=subprocess.STDOUT, check=False
                )
                if proc.returncode != 0:
                    print(f"error: dws {' '.join(args)} failed (see {log_path})", file=sys.stderr)
                    return 1
            if a.compute > 0:
                # the bare read step's time, then as much pure-Python work as fills the rest
                reads = min(
                    bench.time([python, "step.py"], workloads["read"][1], None)[0] for _ in range(3)
                )
                spin = int(max(0.0, a.compute - reads) * spin_rate())
                write_step(ws, "compute.py", "data/features/compute.txt", spin)
                workloads["compute"] = ("compute.py", "data/features/compute.txt")

            print(
                f"dws run overhead: {a.files:,} files ({total / 1e6:.1f} MB) in {a.dirs} dirs"
                f" (made in {made:.1f} s); {a.rounds} round(s); {os.cpu_count()} CPUs;"
                f" {dws.version}; log: {log_path}",
                flush=True,
            )
            if no_strace:
                print(f"skipping the strace variant: {no_strace}", flush=True)

            expected: dict[str, str] = {}
            for w, (script, out) in workloads.items():
                times[w] = {v: [] for v in variants}
                warmup[w] = {}
                for v in variants:  # untimed: census of a fresh workspace, page cache
                    wall, err = bench.time(bench.argv(v, w, script, out), out, expected.get(w))
                    warmup[w][v] = wall
                    if v == "bare" and err is None:
                        expected[w] = (ws / out).read_text()
                    if err:
                        failures.append(f"{w} {v} (warm-up): {err}")
                print(
                    f"  {w:<8} warm-up: "
                    + ", ".join(f"{v} {warmup[w][v]:.2f} s" for v in variants),
                    flush=True,
                )
            for rnd in range(a.rounds):
                k = rnd % len(variants)
                order = variants[k:] + variants[:k]  # alternate who goes first
                for w, (script, out) in workloads.items():
                    for v in order:
                        earlier = bench.recorded
                        wall, err = bench.time(bench.argv(v, w, script, out), out, expected.get(w))
                        measurements.append(
                            {"round": rnd + 1, "workload": w, "variant": v, "wall_s": wall}
                            | {"runs_recorded_before": earlier, "error": err}
                        )
                        mark = f"  FAILED ({err})" if err else ""
                        print(f"  {w:<8} round {rnd + 1}  {v:<7} {wall:7.3f} s{mark}", flush=True)
                        if err:
                            failures.append(f"{w} {v} round {rnd + 1}: {err}")
                        else:
                            times[w][v].append(wall)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    rows = summarise(times, list(times), variants)
    print()
    print(render(rows, labels))
    print()
    print(
        f"Median wall time of {a.rounds} round(s), whole process, warm page cache;"
        f" budget = {BUDGET_FRACTION:.0%} of the bare step + {BUDGET_SECONDS} s."
    )
    first = warmup.get("read", {}).get(variants[1]) if len(variants) > 1 else None
    if first is not None:
        print(
            f"The first dws run in the fresh workspace (its census hashes all {a.files:,}"
            f" files) took {first:.2f} s; later runs stat them only."
        )
    if measurements:
        before = [m["runs_recorded_before"] for m in measurements]
        print(
            "Each dws run reads the records of the runs before it: the timed runs came"
            f" after {min(before)} to {max(before)} of them."
        )
    for f in failures:
        print(f"!! {f} (see {log_path})")
    if a.json is not None:
        result = {
            "started": started.isoformat(timespec="seconds"),
            "host": platform.node(),
            "machine": machine_info(),
            "dws": dws.version,
            "files": a.files,
            "dirs": a.dirs,
            "bytes": total,
            "rounds": a.rounds,
            "compute_s": a.compute,
            "budget": {"fraction": BUDGET_FRACTION, "seconds": BUDGET_SECONDS},
            "variants": {v: labels[v] for v in variants},
            "skipped": {"strace": no_strace} if no_strace else {},
            "warmup": warmup,
            "summary": rows,
            "measurements": measurements,
            "failures": failures,
        }
        a.json.parent.mkdir(parents=True, exist_ok=True)
        a.json.write_text(json.dumps(result, indent=1) + "\n")
        print(f"raw figures: {a.json}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
