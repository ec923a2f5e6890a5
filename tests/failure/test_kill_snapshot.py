"""`dws snapshot` killed with SIGKILL: the store stays consistent and a rerun completes
with the same recorded trees as an uninterrupted run (docs/format.md: atomic writes, one sync
before the record, the record as commit point)."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

from helpers.failure import (
    STANDARD_RESOURCES,
    assert_ok,
    copy_workspace,
    head_trees,
    kill_after,
    kill_rounds,
    kill_seed,
    make_workspace,
    records,
    run_crashing,
    run_dws,
    small_files,
    start_dws,
    status_changes,
    store_problems,
    tag_target,
    timed_run,
    trees_of,
    write_files,
)

MiB = 1 << 20


def _populate(root: Path, rng: random.Random, *, small: int, big: tuple[int, ...]) -> None:
    write_files(root / "data/raw", small_files(rng, small))
    write_files(root / "data/raw", {"odd names/with space é.txt": "unicode\n"})
    (root / "data/raw/empty dir").mkdir()
    os.symlink("d00/f00000.txt", root / "data/raw/link")
    write_files(
        root / "data/features", {f"big{i}.bin": rng.randbytes(n) for i, n in enumerate(big)}
    )
    write_files(root / "data/features", small_files(rng, 50, prefix="part/", tag="feat"))
    tool = root / "data/features/run.sh"
    tool.write_text("#!/bin/sh\necho hi\n")
    tool.chmod(0o755)
    write_files(root / "results", {"metrics.json": '{"acc": 0.5}'})


def _template(root: Path, *, small: int, big: tuple[int, ...], seed: int) -> Path:
    make_workspace(root, STANDARD_RESOURCES)
    _populate(root, random.Random(seed), small=small, big=big)
    return root


def _check_consistent(ws: Path, context: str) -> None:
    """What must hold after any crash: fsck accepts the store, every record is complete,
    status still works."""
    fsck = run_dws("fsck", cwd=ws)
    assert fsck.code == 0, f"{context}: fsck failed\n{fsck.out}\n{fsck.err}"
    assert store_problems(ws) == [], context
    status = run_dws("status", cwd=ws)
    assert status.code == 0 and "Traceback" not in status.err, (context, status.err)


def _check_rerun(ws: Path, expected: dict[str, str], context: str, *args: str) -> None:
    rerun = run_dws("snapshot", *args, cwd=ws)
    assert rerun.code == 0, f"{context}: rerun failed\n{rerun.out}\n{rerun.err}"
    assert head_trees(ws) == expected, context
    _check_consistent(ws, context + " (after the rerun)")
    assert all(not paths for paths in status_changes(ws).values()), context


# ---- random kill times ------------------------------------------------------------------


@pytest.fixture(scope="module")
def big_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace with a few thousand small files and two multi-MiB files, never
    snapshotted."""
    root = tmp_path_factory.mktemp("kill-snapshot") / "template"
    return _template(root, small=3000, big=(6 * MiB, 10 * MiB), seed=1)


@pytest.fixture(scope="module")
def big_reference(
    big_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[dict[str, str], float]:
    """Trees an uninterrupted snapshot records, and how long it takes."""
    ws = copy_workspace(big_template, tmp_path_factory.mktemp("reference") / "ws")
    result, duration = timed_run("snapshot", cwd=ws)
    assert_ok(result)
    _check_consistent(ws, "uninterrupted run")
    return head_trees(ws), duration


@pytest.mark.slow
def test_snapshot_killed_at_random_points(
    big_template: Path, big_reference: tuple[dict[str, str], float], tmp_path: Path
) -> None:
    expected, duration = big_reference
    seed = kill_seed()
    rng = random.Random(seed)
    for round_no in range(kill_rounds(8)):
        ws = copy_workspace(big_template, tmp_path / f"round{round_no}")
        delay = rng.uniform(0.0, 1.05) * duration
        context = f"seed {seed} round {round_no}: killed after {delay:.3f}s of ~{duration:.3f}s"
        kill_after(start_dws("snapshot", cwd=ws), delay)
        _check_consistent(ws, context)
        _check_rerun(ws, expected, context)


# ---- exact crash points -----------------------------------------------------------------

FIRST_SNAPSHOT_POINTS = {
    "object-packed": "dws.store.packfile:PackWriter.add:after:7",
    "many-objects-packed": "dws.store.packfile:PackWriter.add:after:400",
    "pack-finished": "dws.store.packfile:PackWriter.finish:after:1",
    "large-object-copied": "dws.store.loose:copy_hashing:after:1",
    "before-sync": "dws.store.packed:PackedObjectStore.flush:before:1",
    "record-written": "dws.core.catalog:SnapshotCatalog.put:after:1",
    "tag-written": "dws.core.catalog:SnapshotCatalog.set_tag:after:1",
    "head-written": "dws.core.workspace:Workspace.save_head:after:1",
    "first-cache-written": (
        "dws.resources.local_files.resource:LocalFilesResource.committed:after:1"
    ),
}


@pytest.fixture(scope="module")
def small_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A smaller never-snapshotted workspace (one file above the large-file threshold)."""
    root = tmp_path_factory.mktemp("crash-snapshot") / "template"
    return _template(root, small=300, big=(5 * MiB,), seed=2)


@pytest.fixture(scope="module")
def small_reference(
    small_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, str]:
    ws = copy_workspace(small_template, tmp_path_factory.mktemp("small-reference") / "ws")
    assert_ok(run_dws("snapshot", "v1", cwd=ws))
    return head_trees(ws)


@pytest.mark.parametrize("point", FIRST_SNAPSHOT_POINTS.values(), ids=FIRST_SNAPSHOT_POINTS.keys())
def test_first_snapshot_killed_at_crash_point(
    point: str, small_template: Path, small_reference: dict[str, str], tmp_path: Path
) -> None:
    ws = copy_workspace(small_template, tmp_path / "ws")
    crashed = run_crashing(point, "snapshot", "v1", cwd=ws)
    assert crashed.code == -9, f"the crash point {point} was never reached: {crashed.err}"
    _check_consistent(ws, point)
    _check_rerun(ws, small_reference, point, "v1")
    assert trees_of(next(r for r in records(ws) if r.id == tag_target(ws, "v1"))) == (
        small_reference
    )


def _change_some(root: Path, rng: random.Random) -> None:
    raw = root / "data/raw"
    files = sorted(p for p in raw.rglob("f*.txt"))
    for path in files[:30]:
        path.write_bytes(b"changed:" + rng.randbytes(100))
    for path in files[30:40]:
        path.unlink()
    write_files(raw, small_files(rng, 10, prefix="new/", tag="new"))
    (root / "data/features/big0.bin").write_bytes(rng.randbytes(5 * MiB))
    write_files(root / "results", {"metrics.json": '{"acc": 0.75}'})


@pytest.fixture(scope="module")
def incremental_template(
    small_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, dict[str, str]]:
    """A workspace snapshotted as v1 and then changed, plus the trees an uninterrupted
    second snapshot records."""
    root = copy_workspace(small_template, tmp_path_factory.mktemp("incremental") / "template")
    assert_ok(run_dws("snapshot", "v1", cwd=root))
    _change_some(root, random.Random(3))
    reference = copy_workspace(root, tmp_path_factory.mktemp("incremental-ref") / "ws")
    assert_ok(run_dws("snapshot", "v2", cwd=reference))
    return root, head_trees(reference)


SECOND_SNAPSHOT_POINTS = {
    "object-packed": "dws.store.packfile:PackWriter.add:after:3",
    "large-object-copied": "dws.store.loose:copy_hashing:after:1",
    "record-written": "dws.core.catalog:SnapshotCatalog.put:after:1",
    "tag-written": "dws.core.catalog:SnapshotCatalog.set_tag:after:1",
    "head-written": "dws.core.workspace:Workspace.save_head:after:1",
}


@pytest.mark.parametrize(
    "point", SECOND_SNAPSHOT_POINTS.values(), ids=SECOND_SNAPSHOT_POINTS.keys()
)
def test_second_snapshot_killed_at_crash_point(
    point: str, incremental_template: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    template, expected = incremental_template
    ws = copy_workspace(template, tmp_path / "ws")
    crashed = run_crashing(point, "snapshot", "v2", cwd=ws)
    assert crashed.code == -9, f"the crash point {point} was never reached: {crashed.err}"
    _check_consistent(ws, point)
    _check_rerun(ws, expected, point, "v2")
    assert trees_of(next(r for r in records(ws) if r.id == tag_target(ws, "v2"))) == expected
