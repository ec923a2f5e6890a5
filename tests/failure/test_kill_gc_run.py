"""`dws gc` and `dws run` stopped at named crash points (and `dws run` by SIGKILL while its
command runs): the store and the lineage stay consistent, and rerunning converges."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from dws.store.fileio import TEMP_PREFIX
from helpers.failure import (
    STANDARD_RESOURCES,
    assert_ok,
    assert_store_ok,
    copy_workspace,
    make_workspace,
    manifest,
    run_crashing,
    run_dws,
    small_files,
    start_dws,
    write_files,
)

MiB = 1 << 20


# ---- gc -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def gc_template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, object]]:
    """A workspace with v1 deleted (garbage: packed small and loose large objects) and v2
    kept; returns it and v2's data manifest."""
    root = tmp_path_factory.mktemp("gc") / "ws"
    make_workspace(root, STANDARD_RESOURCES)
    rng = random.Random(7)
    write_files(root / "data/raw", small_files(rng, 300, tag="v1"))
    write_files(root / "data/features", {"big.bin": rng.randbytes(2 * MiB)})
    assert_ok(run_dws("snapshot", "v1", cwd=root))
    shutil.rmtree(root / "data/raw")
    write_files(root / "data/raw", small_files(rng, 300, tag="v2"))
    write_files(root / "data/features", {"big.bin": rng.randbytes(2 * MiB)})
    assert_ok(run_dws("snapshot", "v2", cwd=root))
    assert_ok(run_dws("delete-snapshot", "v1", cwd=root))
    data = {name: manifest(root / "data" / name) for name in ("raw", "features")}
    return root, data


GC_POINTS = [
    "dws.store.loose:LooseObjectStore.delete:after:1",
    "dws.store.packfile:PackWriter.finish:before:1",
    "dws.store.packed:PackedObjectStore.flush:after:1",
    "os:unlink:after:1:.idx",
    "dws.core.workspace:Workspace.bump_store_generation:before:1",
]


@pytest.mark.parametrize("point", GC_POINTS)
def test_gc_killed_at_a_crash_point(
    gc_template: tuple[Path, dict[str, object]], tmp_path: Path, point: str
) -> None:
    template, v2_data = gc_template
    ws = copy_workspace(template, tmp_path / "ws")
    crashed = run_crashing(point, "gc", cwd=ws)
    assert crashed.code == -9, f"{point} was never reached: {crashed.err}"
    assert_store_ok(ws, point)
    assert_ok(run_dws("gc", cwd=ws))  # the rerun finishes the job
    assert_store_ok(ws, point + " (after the rerun)")
    again = run_dws("--json", "gc", "--dry-run", cwd=ws)
    assert json.loads(again.out)["removed"] == 0, point
    # v2 is whole: bring it back into emptied directories, byte for byte
    for name in ("raw", "features"):
        shutil.rmtree(ws / "data" / name)
        (ws / "data" / name).mkdir()
    assert_ok(run_dws("restore", "v2", "--force", cwd=ws))
    assert {name: manifest(ws / "data" / name) for name in ("raw", "features")} == v2_data


# ---- run ------------------------------------------------------------------------------------

DOUBLE = "import sys; open(sys.argv[2], 'w').write(open(sys.argv[1]).read() * 2)"
STEP = ("run", "--", "python3", "-c", DOUBLE, "data/raw/in.txt", "data/features/out.txt")


def _run_workspace(root: Path) -> Path:
    make_workspace(root, STANDARD_RESOURCES)
    write_files(root / "data/raw", {"in.txt": "hello\n"})
    return root


def _runs(ws: Path) -> list[dict[str, object]]:
    result = run_dws("--json", "lineage", "runs", "--all", cwd=ws)
    assert result.code == 0, result.err
    runs: list[dict[str, object]] = json.loads(result.out)
    return runs


def wait_for(marker: Path, proc: subprocess.Popen[str], timeout: float = 60) -> None:
    """Wait until the command dws started has written ``marker`` (dws must still run)."""
    deadline = time.monotonic() + timeout
    while not marker.exists():
        assert proc.poll() is None, f"dws ended before its command started: {proc.returncode}"
        assert time.monotonic() < deadline, "the command never started"
        time.sleep(0.02)


def _check_run_converges(ws: Path, context: str) -> None:
    assert_store_ok(ws, context)
    runs_dir = ws / ".dataworkspace/lineage/runs"
    partial = [p.name for p in runs_dir.glob("*") if not p.name.endswith(".json")]
    assert all(name.startswith(TEMP_PREFIX) for name in partial), (context, partial)
    assert run_dws("status", cwd=ws).code == 0, context
    assert_ok(run_dws(*STEP, cwd=ws))
    (last,) = [r for r in _runs(ws) if r["status"] == "succeeded"][-1:]
    out = ws / "data/features/out.txt"
    assert out.read_text() == "hello\nhello\n"
    shown = json.loads(run_dws("--json", "lineage", "show", "data/features/out.txt", cwd=ws).out)
    assert shown["produced_by"][0]["run"] == last["id"], context


RUN_POINTS = [
    "dws.core.lineage.execution:run_command:before:1",
    "dws.core.lineage.catalog:RunCatalog.put:before:1",
    "dws.core.lineage.catalog:RunCatalog.put:after:1",
    "dws.store.fileio:write_atomic:before:1:runs",
]


@pytest.mark.parametrize("point", RUN_POINTS)
def test_run_killed_at_a_crash_point(tmp_path: Path, point: str) -> None:
    ws = _run_workspace(tmp_path / "ws")
    crashed = run_crashing(point, *STEP, cwd=ws)
    assert crashed.code == -9, f"{point} was never reached: {crashed.err}"
    runs = _runs(ws)  # every record present is whole and valid
    assert len(runs) == (1 if point.endswith("put:after:1") else 0), point
    _check_run_converges(ws, point)


def test_run_killed_while_its_command_runs(tmp_path: Path) -> None:
    ws = _run_workspace(tmp_path / "ws")
    gate, started = ws / "gate", ws / "started"
    script = (
        f"import os, time\nopen({str(started)!r}, 'w').close()\n"
        f"while not os.path.exists({str(gate)!r}): time.sleep(0.05)\n"
    )
    proc = start_dws("run", "-o", "data/features/never.txt", "--", "python3", "-c", script, cwd=ws)
    wait_for(started, proc)  # the command runs: dws is waiting for it
    os.kill(proc.pid, signal.SIGKILL)
    gate.write_text("go")  # let the orphaned command end (it holds dws's output pipes)
    proc.communicate(timeout=60)
    assert proc.returncode == -9
    assert _runs(ws) == []  # nothing recorded for a run dws did not see end
    local = ws / ".dataworkspace/local"
    assert list(local.glob("trace-*.log")), "the killed run's observer log"
    assert_ok(run_dws("gc", cwd=ws))
    assert list(local.glob("trace-*.log")) == []  # collected: its process is gone
    _check_run_converges(ws, "killed while the command ran")


def test_concurrent_runs_snapshots_status_and_pushes_lose_nothing(tmp_path: Path) -> None:
    """Runs, snapshots, status and pushes at once on one workspace: each succeeds (the
    mutating ones wait for the lock), no run or snapshot is lost, the store and the remote
    stay whole."""
    ws = _run_workspace(tmp_path / "ws")
    assert_ok(run_dws("snapshot", "v0", cwd=ws))
    assert_ok(run_dws("remote", "add", "origin", str(tmp_path / "remote"), cwd=ws))
    procs = []
    for i in range(4):
        out = f"data/features/o{i}.txt"
        write = f"open({out!r}, 'w').write('{i}')"
        step = ("run", "-n", f"s{i}", "-o", out, "--", "python3", "-c", write)
        procs.append(start_dws(*step, cwd=ws, lock_timeout="60"))
        procs.append(start_dws("snapshot", cwd=ws, lock_timeout="60"))
        procs.append(start_dws("status", cwd=ws, lock_timeout="60"))
        procs.append(start_dws("push", cwd=ws, lock_timeout="60"))
    codes = [p.wait(timeout=180) for p in procs]
    assert codes == [0] * len(codes), [p.stderr.read() if p.stderr else "" for p in procs]
    assert sorted(r["step"] for r in _runs(ws)) == ["s0", "s1", "s2", "s3"]
    assert_store_ok(ws, "concurrent")
    assert_ok(run_dws("snapshot", cwd=ws))
    assert_ok(run_dws("push", cwd=ws))
    remote = json.loads(run_dws("--json", "fsck", "--remote", "origin", cwd=ws).out)
    assert remote["problems"] == []
    local = {s["id"] for s in json.loads(run_dws("--json", "history", cwd=ws).out)}
    assert remote["snapshots"] == len(local)
