"""`dws restore` killed mid-way: every file is wholly old or wholly new, temporary files
stay invisible, and a rerun (without --force) completes with the snapshot's exact bytes."""

from __future__ import annotations

import os
import random
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

import dws
from dws.store.fileio import TEMP_PREFIX
from helpers.failure import (
    STANDARD_RESOURCES,
    Manifest,
    assert_ok,
    copy_workspace,
    head_trees,
    kill_after,
    kill_rounds,
    kill_seed,
    make_workspace,
    manifest,
    record,
    run_crashing,
    run_dws,
    small_files,
    start_dws,
    status_changes,
    store_problems,
    tag_target,
    temp_files,
    timed_run,
    trees_of,
    without_temp,
    write_files,
)

MiB = 1 << 20
RESTORED = ("raw", "features")
PATHS = {"raw": "data/raw", "features": "data/features", "results": "results"}


@dataclass(frozen=True)
class Versions:
    """A workspace at v2 whose restore to v1 is being interrupted."""

    root: Path
    old: dict[str, Manifest]  # what is on disk now (v2), per resource
    new: dict[str, Manifest]  # what restore v1 writes, per resource
    v1_trees: dict[str, str]


def _state_v1(root: Path, rng: random.Random, small: int) -> None:
    raw = root / "data/raw"
    write_files(raw, {f"a_only/x{i}.bin": rng.randbytes(300) for i in range(5)})
    write_files(raw, small_files(rng, small, tag="v1"))
    write_files(raw, {"shared/same.txt": "unchanged\n"})
    (raw / "tool.sh").write_text("#!/bin/sh\n")
    (raw / "tool.sh").chmod(0o755)
    os.symlink("shared/same.txt", raw / "ln")
    features = root / "data/features"
    write_files(features, {"big0.bin": rng.randbytes(6 * MiB), "big1.bin": rng.randbytes(6 * MiB)})
    write_files(root / "results", {"metrics.json": '{"acc": 0.5}'})


def _state_v2(root: Path, rng: random.Random, small: int) -> None:
    raw = root / "data/raw"
    shutil.rmtree(raw / "a_only")
    for i in range(small):
        # other sizes than in v1 (longer and shorter), so a torn write is visible
        path = raw / f"d{i % 40:02d}/f{i:05d}.txt"
        path.write_bytes(f"v2:{i}:".encode() + rng.randbytes(rng.randrange(1, 900)))
    write_files(raw, {f"b_only/y{i}.bin": rng.randbytes(200) for i in range(5)})
    (raw / "tool.sh").chmod(0o644)
    (raw / "ln").unlink()
    os.symlink("tool.sh", raw / "ln")
    features = root / "data/features"
    write_files(features, {"big0.bin": rng.randbytes(6 * MiB), "big1.bin": rng.randbytes(8 * MiB)})
    write_files(root / "results", {"metrics.json": '{"acc": 0.9}'})


def _resource_manifests(root: Path) -> dict[str, Manifest]:
    return {name: manifest(root / rel) for name, rel in PATHS.items()}


def _build(root: Path, small: int, seed: int) -> Versions:
    rng = random.Random(seed)
    make_workspace(root, STANDARD_RESOURCES)
    _state_v1(root, rng, small)
    ws = dws.Workspace.open(str(root))
    ws.snapshot("v1")
    new = _resource_manifests(root)
    _state_v2(root, rng, small)
    ws.snapshot("v2")
    old = _resource_manifests(root)
    v1_trees = trees_of(record(root, tag_target(root, "v1")))
    return Versions(root, old, new, v1_trees)


def _check_old_or_new(ws: Path, versions: Versions, context: str) -> None:
    """Every file is byte for byte its v2 (old) or its v1 (new) version, never a mix;
    paths present in both versions never vanish; results are never touched."""
    for name in RESTORED:
        now = without_temp(manifest(ws / PATHS[name]))
        old, new = versions.old[name], versions.new[name]
        for path, entry in now.items():
            assert path in old or path in new, f"{context}: unexpected {name}/{path}"
            candidates = [v for v in (old.get(path), new.get(path)) if v is not None]
            assert entry in candidates, (
                f"{context}: {name}/{path} is neither its old nor its new version "
                f"({entry[0]}, {len(entry[1]) if isinstance(entry[1], bytes) else entry[1]!r})"
            )
        for path in old.keys() & new.keys():
            assert path in now, f"{context}: {name}/{path} vanished mid-restore"
    assert manifest(ws / PATHS["results"]) == versions.old["results"], context


def _check_status_hides_temp_files(ws: Path, context: str) -> None:
    for name, paths in status_changes(ws).items():
        stray = [p for p in paths if ".dws-tmp." in p]
        assert not stray, f"{context}: status of {name} shows temporary files {stray}"


def _check_rerun(ws: Path, versions: Versions, context: str) -> None:
    rerun = run_dws("restore", "v1", cwd=ws)
    assert rerun.code == 0, f"{context}: rerun failed\n{rerun.out}\n{rerun.err}"
    for name in RESTORED:
        assert without_temp(manifest(ws / PATHS[name])) == versions.new[name], (context, name)
    assert manifest(ws / PATHS["results"]) == versions.old["results"], context
    _check_status_hides_temp_files(ws, context)
    changes = status_changes(ws)
    assert all(not changes[name] for name in RESTORED), (context, changes)
    fsck = run_dws("fsck", cwd=ws)
    assert fsck.code == 0, f"{context}: {fsck.err}"
    # whatever temporary files remain are ignored: a snapshot records exactly v1's trees
    assert_ok(run_dws("snapshot", cwd=ws))
    trees = head_trees(ws)
    assert {n: trees[n] for n in RESTORED} == {n: versions.v1_trees[n] for n in RESTORED}, context
    assert store_problems(ws) == [], context


# ---- random kill times ------------------------------------------------------------------


@pytest.fixture(scope="module")
def big_versions(tmp_path_factory: pytest.TempPathFactory) -> Versions:
    return _build(tmp_path_factory.mktemp("kill-restore") / "template", small=2000, seed=11)


@pytest.fixture(scope="module")
def restore_duration(big_versions: Versions, tmp_path_factory: pytest.TempPathFactory) -> float:
    """How long an uninterrupted restore of the template takes (only to pick kill times),
    checking on the way that it gives v1 exactly."""
    ws = copy_workspace(big_versions.root, tmp_path_factory.mktemp("restore-ref") / "ws")
    result, duration = timed_run("restore", "v1", cwd=ws)
    assert_ok(result)
    for name in RESTORED:
        assert manifest(ws / PATHS[name]) == big_versions.new[name]
    return duration


@pytest.mark.slow
def test_restore_killed_at_random_points(
    big_versions: Versions, restore_duration: float, tmp_path: Path
) -> None:
    seed = kill_seed()
    rng = random.Random(seed)
    for round_no in range(kill_rounds(5)):
        ws = copy_workspace(big_versions.root, tmp_path / f"round{round_no}")
        delay = rng.uniform(0.0, 1.05) * restore_duration
        context = (
            f"seed {seed} round {round_no}: killed after {delay:.3f}s of ~{restore_duration:.3f}s"
        )
        kill_after(start_dws("restore", "v1", cwd=ws), delay)
        _check_old_or_new(ws, big_versions, context)
        _check_status_hides_temp_files(ws, context)
        _check_rerun(ws, big_versions, context)
        shutil.rmtree(ws)


# ---- exact crash points -----------------------------------------------------------------

RESTORE_POINTS = {
    # the first file of raw (a_only/x0.bin) is complete under its temporary name
    "first-temp-complete": "dws.store.packed:PackedObjectStore.materialize:after:1",
    "midway-in-raw": "dws.store.packed:PackedObjectStore.materialize:after:150",
    "large-temp-complete": "dws.store.packed:PackedObjectStore.materialize:after:1:features",
    "large-file-copying": "dws.store.streamcopy:_write_chunk:before:1:",
    "removals-midway": "dws.resources.local_files.applying:Restorer._remove:after:2",
    "raw-done-before-sync": "dws.resources.local_files.restoredrows:sync_filesystem:before:1",
    "between-resources": "dws.core.workspace:Workspace.save_head:after:1",
}


@pytest.fixture(scope="module")
def small_versions(tmp_path_factory: pytest.TempPathFactory) -> Versions:
    return _build(tmp_path_factory.mktemp("crash-restore") / "template", small=300, seed=12)


@pytest.mark.parametrize("point", RESTORE_POINTS.values(), ids=RESTORE_POINTS.keys())
def test_restore_killed_at_crash_point(
    point: str, small_versions: Versions, tmp_path: Path
) -> None:
    ws = copy_workspace(small_versions.root, tmp_path / "ws")
    crashed = run_crashing(point, "restore", "v1", cwd=ws)
    assert crashed.code == -9, f"the crash point {point} was never reached: {crashed.err}"
    _check_old_or_new(ws, small_versions, point)
    _check_status_hides_temp_files(ws, point)
    _check_rerun(ws, small_versions, point)


FORKED_ENV = {"DWS_RESTORE_FORK_FROM": "1", "DWS_RESTORE_WORKERS": "3"}
BATCHED_ENV = {"DWS_RESTORE_BATCH": "40", "DWS_RESTORE_FORK_FROM": "1"}
POINTS_WITH_ENV = {
    # with every restore's writes shared out over processes: killed in a worker's share
    "forked-midway": (FORKED_ENV, "dws.store.packed:PackedObjectStore.materialize:after:60"),
    "forked-large-copying": (FORKED_ENV, "dws.store.streamcopy:_write_chunk:before:1:"),
    "forked-before-sync": (
        FORKED_ENV,
        "dws.resources.local_files.restoredrows:sync_filesystem:before:1",
    ),
    # a restore applied 40 changes at a time, each batch's cache rows written as pending
    # rows as it is handed over: killed just after the first batch's rows were written,
    # and in the middle of a later batch's writes
    "batched-first-rows-written": (
        BATCHED_ENV,
        "dws.resources.local_files.restoredrows:RestoredRows.__call__:after:1",
    ),
    "batched-later-batch-writing": (
        BATCHED_ENV,
        "dws.store.packed:PackedObjectStore.materialize:after:130",
    ),
}


@pytest.mark.parametrize(("env", "point"), POINTS_WITH_ENV.values(), ids=POINTS_WITH_ENV.keys())
def test_forked_or_batched_restore_killed_at_crash_point(
    env: dict[str, str], point: str, small_versions: Versions, tmp_path: Path
) -> None:
    ws = copy_workspace(small_versions.root, tmp_path / "ws")
    crashed = run_crashing(point, "restore", "v1", cwd=ws, env=env)
    assert crashed.code == -9, f"the crash point {point} was never reached: {crashed.err}"
    _check_old_or_new(ws, small_versions, point)
    _check_status_hides_temp_files(ws, point)
    _check_rerun(ws, small_versions, point)


def test_temp_files_of_a_killed_restore_do_not_leak_into_later_states(
    small_versions: Versions, tmp_path: Path
) -> None:
    """Killed while a_only/ (only in v1, so built under a temporary name) gets its first
    file; after the rerun, restoring v2 (which has no a_only/) must give v2 exactly and a
    clean status: a leftover temporary file or directory must neither keep a_only/ alive
    nor show up anywhere."""
    ws = copy_workspace(small_versions.root, tmp_path / "ws")
    point = RESTORE_POINTS["first-temp-complete"]
    assert run_crashing(point, "restore", "v1", cwd=ws).code == -9
    assert any(p.startswith("data/raw/") for p in temp_files(ws)), temp_files(ws)
    assert_ok(run_dws("restore", "v1", cwd=ws))
    assert_ok(run_dws("restore", "v2", cwd=ws))
    assert without_temp(manifest(ws / "data/raw")) == small_versions.old["raw"]
    changes = status_changes(ws)
    assert not changes["raw"], changes


@pytest.mark.parametrize("point", ["midway-in-raw", "removals-midway", "between-resources"])
def test_after_a_killed_restore_going_back_needs_no_force(
    point: str, small_versions: Versions, tmp_path: Path
) -> None:
    """Files a killed restore already wrote are the target snapshot's, so restoring the
    snapshot the workspace came from must not call them unsaved work."""
    ws = copy_workspace(small_versions.root, tmp_path / "ws")
    assert run_crashing(RESTORE_POINTS[point], "restore", "v1", cwd=ws).code == -9
    assert_ok(run_dws("restore", "v2", cwd=ws))
    assert without_temp(manifest(ws / "data/raw")) == small_versions.old["raw"]
    assert not status_changes(ws)["raw"]


@pytest.mark.parametrize("forked", [False, True], ids=["one-process", "forked"])
def test_a_missing_resource_directory_appears_whole_or_not_at_all(
    forked: bool, small_versions: Versions, tmp_path: Path
) -> None:
    """A restore into a resource whose directory is gone builds it under a temporary name
    beside it: killed midway, the directory is not there at all (never half there); the
    rerun removes what the killed one left and gives the snapshot's exact bytes."""
    ws = copy_workspace(small_versions.root, tmp_path / "ws")
    shutil.rmtree(ws / "data/raw")
    env = FORKED_ENV if forked else None
    point = POINTS_WITH_ENV["forked-midway"][1] if forked else RESTORE_POINTS["midway-in-raw"]
    crashed = run_crashing(point, "restore", "--force", "v1", cwd=ws, env=env)
    assert crashed.code == -9, crashed.err
    assert not (ws / "data/raw").exists()
    left = [p.name for p in (ws / "data").iterdir() if p.name.startswith(TEMP_PREFIX)]
    assert len(left) == 1 and left[0].startswith(f"{TEMP_PREFIX}root.raw."), left
    assert_ok(run_dws("restore", "--force", "v1", cwd=ws))
    assert manifest(ws / "data/raw") == small_versions.new["raw"]
    assert sorted(p.name for p in (ws / "data").iterdir()) == ["features", "raw"]
    assert not status_changes(ws)["raw"]
