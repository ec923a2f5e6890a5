#!/usr/bin/env python3
"""Scale check: dws on a tree of many tiny files (default 1,000,000).

Builds the tree once under the work directory (1,000 directories of tiny files with
deterministic content), then times, as whole processes: the first snapshot, a snapshot with
nothing changed, and a snapshot after rewriting 1% of the files. Prints wall time and peak
RSS for each. Not part of the test suite (the tree takes minutes to build).

Usage: python bench/scale.py [--files N] [--work-dir DIR] [--keep]
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DIRS = 1000


def dws_command() -> str:
    """The dws executable next to this interpreter, else the one on PATH."""
    local = Path(sys.executable).parent / "dws"
    found = str(local) if local.exists() else shutil.which("dws")
    if found is None:
        raise SystemExit("dws is not installed (run `make demo` or `pip install -e .` first)")
    return found


def build_tree(root: Path, files: int) -> None:
    """``files`` tiny files spread over DIRS directories; content is a function of the name."""
    per_dir = max(1, files // DIRS)
    written = 0
    for d in range(DIRS):
        directory = root / f"d{d:04d}"
        directory.mkdir(parents=True, exist_ok=True)
        for j in range(per_dir):
            if written == files:
                return
            (directory / f"f{j:05d}").write_bytes(f"{d}-{j}\n".encode())
            written += 1


def change_one_percent(root: Path, files: int, seed: int = 1) -> int:
    """Rewrite 1% of the files with new content (same names)."""
    rng = random.Random(seed)
    per_dir = max(1, files // DIRS)
    count = max(1, files // 100)
    for _ in range(count):
        d, j = rng.randrange(DIRS), rng.randrange(per_dir)
        (root / f"d{d:04d}" / f"f{j:05d}").write_bytes(f"changed {rng.random()}\n".encode())
    return count


def timed(argv: list[str], cwd: Path) -> tuple[float, float]:
    """(wall seconds, peak RSS MiB) of one child process."""
    start = time.perf_counter()
    process = subprocess.Popen(argv, cwd=cwd)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(argv)} failed")
    return wall, usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=1_000_000)
    parser.add_argument("--work-dir", type=Path, default=HERE / ".work" / "scale")
    parser.add_argument("--keep", action="store_true", help="keep the workspace afterwards")
    args = parser.parse_args()
    dws = dws_command()
    work: Path = args.work_dir
    tree = work / f"tree-{args.files}"
    if not tree.exists():
        started = time.perf_counter()
        build_tree(tree.with_suffix(".partial"), args.files)
        tree.with_suffix(".partial").rename(tree)
        print(f"built {args.files:,} files in {time.perf_counter() - started:.1f} s")
    ws = work / "ws"
    shutil.rmtree(ws, ignore_errors=True)
    ws.mkdir(parents=True)
    subprocess.run(["cp", "-a", str(tree), str(ws / "data")], check=True)
    subprocess.run([dws, "-q", "init"], cwd=ws, check=True)
    subprocess.run([dws, "-q", "add", "local-files", "data", "--role", "s"], cwd=ws, check=True)
    time.sleep(1)  # files older than the racy-timestamp window, as in real use
    os.sync()
    rows = [("first snapshot", *timed([dws, "-q", "snapshot", "v1"], ws))]
    os.sync()
    rows.append(("no-op snapshot", *timed([dws, "-q", "snapshot"], ws)))
    changed = change_one_percent(ws / "data", args.files)
    time.sleep(1)
    os.sync()
    rows.append((f"after 1% change ({changed:,} files)", *timed([dws, "-q", "snapshot"], ws)))
    print(f"\n{args.files:,} files in {DIRS} directories")
    print(f"{'operation':<32} {'wall':>9} {'peak RSS':>10}")
    for name, wall, rss in rows:
        print(f"{name:<32} {wall:>8.2f}s {rss:>7.0f} MiB")
    print(f"(this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB)")
    if not args.keep:
        shutil.rmtree(ws, ignore_errors=True)


if __name__ == "__main__":
    main()
