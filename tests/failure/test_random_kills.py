"""push, pull, clone, gc and run killed with SIGKILL at random moments (the crash-point
tests stop them at exact places): afterwards fsck passes, and running the command again
converges to what an uninterrupted run gives. DWS_KILL_ROUNDS / DWS_KILL_SEED as for the
snapshot and restore kill tests."""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

import pytest

from helpers.failure import (
    STANDARD_RESOURCES,
    assert_ok,
    assert_store_ok,
    copy_workspace,
    kill_after,
    kill_rounds,
    kill_seed,
    make_workspace,
    manifest,
    run_dws,
    small_files,
    start_dws,
    timed_run,
    write_files,
)

MiB = 1 << 20


@pytest.fixture(scope="module")
def pushed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A workspace with two snapshots (v2 drops half of v1's files), and the directory it
    will push to (not created yet)."""
    base = tmp_path_factory.mktemp("random-kills")
    ws = base / "ws"
    make_workspace(ws, STANDARD_RESOURCES)
    rng = random.Random(11)
    write_files(ws / "data/raw", small_files(rng, 1500, tag="v1"))
    write_files(ws / "data/features", {"big.bin": rng.randbytes(6 * MiB)})
    assert_ok(run_dws("snapshot", "v1", cwd=ws))
    shutil.rmtree(ws / "data/raw")
    write_files(ws / "data/raw", small_files(rng, 1500, tag="v2"))
    assert_ok(run_dws("snapshot", "v2", cwd=ws))
    assert_ok(run_dws("remote", "add", "origin", str(base / "remote"), cwd=ws))
    return ws, base / "remote"


def _history(ws: Path) -> list[tuple[str, list[str]]]:
    return sorted(
        (s["id"], s["tags"]) for s in json.loads(run_dws("--json", "history", cwd=ws).out)
    )


def _rounds(duration: float) -> list[tuple[int, float]]:
    rng = random.Random(kill_seed())
    return [(n, rng.uniform(0.0, 1.05) * duration) for n in range(kill_rounds(3))]


def test_push_killed_at_random_moments(pushed: tuple[Path, Path], tmp_path: Path) -> None:
    template, _ = pushed
    probe = copy_workspace(template, tmp_path / "probe")
    _, duration = timed_run("push", cwd=probe)
    for round_no, delay in _rounds(duration):
        ws = copy_workspace(template, tmp_path / f"r{round_no}")
        remote = tmp_path / f"remote{round_no}"
        assert_ok(run_dws("remote", "remove", "origin", cwd=ws))
        assert_ok(run_dws("remote", "add", "origin", str(remote), cwd=ws))
        context = f"push killed after {delay:.2f}s of ~{duration:.2f}s"
        kill_after(start_dws("push", cwd=ws), delay)
        assert_store_ok(ws, context)
        assert_ok(run_dws("push", cwd=ws))
        fsck = json.loads(run_dws("--json", "fsck", "--remote", "origin", cwd=ws).out)
        assert fsck["problems"] == [] and fsck["snapshots"] == 2, context


def test_pull_and_clone_killed_at_random_moments(pushed: tuple[Path, Path], tmp_path: Path) -> None:
    template, _ = pushed
    source = copy_workspace(template, tmp_path / "source")
    remote = tmp_path / "remote"
    assert_ok(run_dws("remote", "remove", "origin", cwd=source))
    assert_ok(run_dws("remote", "add", "origin", str(remote), cwd=source))
    assert_ok(run_dws("push", cwd=source))
    expected = _history(source)
    _, duration = timed_run("clone", str(remote), str(tmp_path / "probe"), cwd=tmp_path)
    for round_no, delay in _rounds(duration):
        dest = tmp_path / f"clone{round_no}"
        context = f"clone killed after {delay:.2f}s of ~{duration:.2f}s"
        kill_after(start_dws("clone", str(remote), str(dest), cwd=tmp_path), delay)
        if dest.exists():  # the kill came after the final rename
            assert_store_ok(dest, context)
        else:
            assert_ok(run_dws("clone", str(remote), str(dest), cwd=tmp_path))
        assert manifest(dest / "data/raw") == manifest(source / "data/raw"), context
        # pull killed at random: a fresh clone of v1 pulling everything
        kill_after(start_dws("pull", "--all", cwd=dest), delay / 2)
        assert_store_ok(dest, context + ", then pull killed")
        assert_ok(run_dws("pull", "--all", cwd=dest))
        assert _history(dest) == expected, context


def test_gc_killed_at_random_moments(pushed: tuple[Path, Path], tmp_path: Path) -> None:
    template, _ = pushed
    probe = copy_workspace(template, tmp_path / "probe")
    assert_ok(run_dws("delete-snapshot", "v1", cwd=probe))
    _, duration = timed_run("gc", cwd=probe)
    v2 = manifest(template / "data")
    for round_no, delay in _rounds(duration):
        ws = copy_workspace(template, tmp_path / f"r{round_no}")
        assert_ok(run_dws("delete-snapshot", "v1", cwd=ws))
        context = f"gc killed after {delay:.2f}s of ~{duration:.2f}s"
        kill_after(start_dws("gc", cwd=ws), delay)
        assert_store_ok(ws, context)
        assert_ok(run_dws("gc", cwd=ws))
        assert json.loads(run_dws("--json", "gc", "--dry-run", cwd=ws).out)["removed"] == 0
        shutil.rmtree(ws / "data")
        for path, _, _ in STANDARD_RESOURCES:
            (ws / path).mkdir(parents=True, exist_ok=True)
        assert_ok(run_dws("restore", "v2", "--force", cwd=ws))
        assert manifest(ws / "data") == v2, context


def test_run_killed_at_random_moments(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    make_workspace(ws, STANDARD_RESOURCES)
    write_files(ws / "data/raw", small_files(random.Random(5), 2000, tag="in"))
    count = "import os; open('data/features/out.txt', 'w').write(str(len(os.listdir('data/raw'))))"
    out = "data/features/out.txt"
    step = ("run", "-n", "copy", "-i", "data/raw", "-o", out, "--", "python3", "-c", count)
    _, duration = timed_run(*step, cwd=ws)
    for round_no, delay in _rounds(duration):
        context = f"run killed after {delay:.2f}s of ~{duration:.2f}s (round {round_no})"
        kill_after(start_dws(*step, cwd=ws), delay)
        assert_store_ok(ws, context)
        runs = json.loads(run_dws("--json", "lineage", "runs", "--all", cwd=ws).out)
        assert all(r["status"] == "succeeded" for r in runs), context  # whole records only
        assert_ok(run_dws(*step, cwd=ws))
        shown = json.loads(
            run_dws("--json", "lineage", "show", "data/features/out.txt", cwd=ws).out
        )
        assert shown["produced_by"], context
