"""Concurrent `dws` processes on one workspace: the lock keeps mutating commands apart
(exit 5 for the loser, never anything else), nothing is corrupted, and read commands
running alongside see one consistent state or the other."""

from __future__ import annotations

import json
import random
import subprocess
from pathlib import Path

import pytest

from helpers.failure import (
    STANDARD_RESOURCES,
    assert_ok,
    copy_workspace,
    head_id,
    make_workspace,
    records,
    run_dws,
    small_files,
    start_dws,
    status_json,
    store_problems,
    tag_target,
    trees_of,
    write_files,
)

MiB = 1 << 20


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A never-snapshotted workspace big enough for a snapshot to take a while."""
    root = tmp_path_factory.mktemp("concurrency") / "template"
    rng = random.Random(21)
    make_workspace(root, STANDARD_RESOURCES)
    write_files(root / "data/raw", small_files(rng, 2000))
    write_files(root / "data/features", {"big.bin": rng.randbytes(8 * MiB)})
    write_files(root / "results", {"metrics.json": '{"loss": 1.5}'})
    return root


@pytest.fixture(scope="module")
def reference_trees(template: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    ws = copy_workspace(template, tmp_path_factory.mktemp("concurrency-ref") / "ws")
    assert_ok(run_dws("snapshot", cwd=ws))
    return trees_of(records(ws)[0])


def _finish(proc: subprocess.Popen[str]) -> tuple[int, str]:
    _, err = proc.communicate(timeout=300)
    return proc.returncode, err


def _check_lock_outcome(code: int, err: str, what: str) -> None:
    assert code in (0, 5), f"{what} exited {code}: {err}"
    assert "Traceback" not in err and "internal error" not in err, err
    if code == 5:
        assert "locked" in err, err


def _check_store(ws: Path, expected: dict[str, str]) -> None:
    fsck = run_dws("fsck", cwd=ws)
    assert fsck.code == 0, fsck.err
    assert store_problems(ws) == []
    for rec in records(ws):
        assert trees_of(rec) == expected, f"snapshot {rec.id[:12]} records another state"


@pytest.mark.parametrize(
    "lock_timeouts",
    [("1", "1"), ("0", "30"), ("30", "30"), ("1", "1", "1", "1")],
    ids=["short-waits", "one-waits-long", "both-wait-long", "four-processes"],
)
def test_concurrent_snapshots(
    lock_timeouts: tuple[str, ...],
    template: Path,
    reference_trees: dict[str, str],
    tmp_path: Path,
) -> None:
    ws = copy_workspace(template, tmp_path / "ws")
    procs = [
        start_dws("snapshot", f"t{i}", cwd=ws, lock_timeout=timeout)
        for i, timeout in enumerate(lock_timeouts)
    ]
    outcomes = [_finish(proc) for proc in procs]
    for i, (code, err) in enumerate(outcomes):
        _check_lock_outcome(code, err, f"snapshot t{i}")
    assert any(code == 0 for code, _ in outcomes), outcomes
    _check_store(ws, reference_trees)
    ids = {rec.id for rec in records(ws)}
    assert head_id(ws) in ids
    for i, (code, _) in enumerate(outcomes):
        tag = ws / ".dataworkspace/tags" / f"t{i}"
        if code == 0:
            assert tag_target(ws, f"t{i}") in ids
        else:
            assert not tag.exists(), f"a snapshot that failed with exit {code} left tag t{i}"
    # and the workspace is still usable: nothing changed, nothing new recorded
    again = run_dws("snapshot", cwd=ws)
    assert_ok(again)
    assert {rec.id for rec in records(ws)} == ids


def _changes(doc: dict[str, object]) -> dict[str, list[tuple[str, str]]]:
    resources = doc["resources"]
    assert isinstance(resources, list)
    return {
        item["name"]: sorted((c["path"], c["status"]) for c in item["changes"])
        for item in resources
    }


def test_status_while_a_snapshot_runs(template: Path, tmp_path: Path) -> None:
    ws = copy_workspace(template, tmp_path / "ws")
    assert_ok(run_dws("snapshot", "v1", cwd=ws))
    rng = random.Random(22)
    for path in sorted((ws / "data/raw").rglob("*.txt"))[:800]:
        path.write_bytes(b"edited " + rng.randbytes(64))
    write_files(ws / "data/features", {"big.bin": rng.randbytes(8 * MiB)})
    write_files(ws / "results", {"metrics.json": '{"loss": 0.5}'})
    v1 = tag_target(ws, "v1")
    before = _changes(status_json(ws))
    assert sum(len(c) for c in before.values()) == 802
    after: dict[str, list[tuple[str, str]]] = {name: [] for name in before}

    snapshot = start_dws("snapshot", "v2", cwd=ws)
    seen: list[tuple[object, dict[str, list[tuple[str, str]]]]] = []
    while True:
        running = snapshot.poll() is None
        result = run_dws("--json", "status", cwd=ws)
        assert result.code == 0 and "Traceback" not in result.err, result.err
        doc = json.loads(result.out)
        seen.append((doc["head"], _changes(doc)))
        if not running:
            break
    code, err = _finish(snapshot)
    assert code == 0, err
    v2 = tag_target(ws, "v2")
    for head, changes in seen:
        assert (head, changes) in ((v1, before), (v2, after)), (head, changes)
    assert seen[-1] == (v2, after)
