"""A full disk (ENOSPC) and unreadable files, injected at the system calls: a clear
one-line error naming the file, nothing half-done recorded, and the workspace usable
afterwards (the same command succeeds once the fault is gone)."""

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
    head_id,
    make_workspace,
    manifest,
    records,
    run_crashing,
    run_dws,
    small_files,
    write_files,
)

MiB = 1 << 20


def assert_named_error(result: object, *needles: str) -> None:
    code, err = result.code, result.err  # type: ignore[attr-defined]
    assert code == 1, f"exit {code}\n{err}"
    first = err.strip().splitlines()[0]
    assert first.startswith("error: ") and "Traceback" not in err and "internal" not in err, err
    for needle in needles:
        assert needle in first, (needle, err)


def check_usable(ws: Path, context: str) -> None:
    assert_store_ok(ws, context)
    assert run_dws("status", cwd=ws).code == 0, context


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """v1 recorded; then new small and large files not yet snapshotted."""
    root = tmp_path_factory.mktemp("full") / "ws"
    make_workspace(root, STANDARD_RESOURCES)
    rng = random.Random(3)
    write_files(root / "data/raw", small_files(rng, 120, tag="v1"))
    write_files(root / "data/features", {"big.bin": rng.randbytes(5 * MiB)})
    assert_ok(run_dws("snapshot", "v1", cwd=root))
    write_files(root / "data/raw", small_files(rng, 120, tag="v2"))
    write_files(root / "data/features", {"big.bin": rng.randbytes(5 * MiB)})
    return root


SNAPSHOT_FAULTS = {
    "pack-write": ("dws.store.packfile:PackWriter.add:ENOSPC:5", "objects"),
    "large-copy": ("dws.store.streamcopy:_write_chunk:ENOSPC:1", "objects"),  # above 4 MiB
    "record-write": ("dws.store.fileio:_write_atomic:ENOSPC:1:snapshots", "snapshots"),
}


@pytest.mark.parametrize("fault", SNAPSHOT_FAULTS.values(), ids=SNAPSHOT_FAULTS.keys())
def test_snapshot_on_a_full_disk(template: Path, tmp_path: Path, fault: tuple[str, str]) -> None:
    ws = copy_workspace(template, tmp_path / "ws")
    point, where = fault
    before_records, before_head = len(records(ws)), head_id(ws)
    result = run_crashing(point, "snapshot", "v2", cwd=ws)
    assert_named_error(result, "No space left on device", where)
    assert "free some space" in result.err
    assert len(records(ws)) == before_records and head_id(ws) == before_head
    assert not (ws / ".dataworkspace/tags/v2").exists()
    check_usable(ws, point)
    assert_ok(run_dws("snapshot", "v2", cwd=ws))
    check_usable(ws, point + " (after the rerun)")


def test_restore_on_a_full_disk_leaves_old_or_new_and_converges(
    template: Path, tmp_path: Path
) -> None:
    ws = copy_workspace(template, tmp_path / "ws")
    assert_ok(run_dws("snapshot", "v2", cwd=ws))
    v2 = manifest(ws / "data/raw")
    assert_ok(run_dws("restore", "v1", cwd=ws))
    v1 = manifest(ws / "data/raw")
    result = run_crashing("dws.store.fileio:write_new_file:ENOSPC:10", "restore", "v2", cwd=ws)
    assert_named_error(result, "No space left on device", "data/raw")
    now = manifest(ws / "data/raw")
    for path, entry in now.items():
        assert entry in (v1.get(path), v2.get(path)), path  # wholly old or wholly new
    assert not [p for p in (ws / "data/raw").rglob(".dws-tmp.*")]
    check_usable(ws, "restore")
    assert_ok(run_dws("restore", "v2", cwd=ws))  # no --force needed to finish
    assert manifest(ws / "data/raw") == v2


def test_run_record_on_a_full_disk(template: Path, tmp_path: Path) -> None:
    ws = copy_workspace(template, tmp_path / "ws")
    write = "open('data/features/n.txt', 'w').write('x')"
    step = ("run", "-o", "data/features/n.txt", "--", "python3", "-c", write)
    result = run_crashing("dws.store.fileio:_write_atomic:ENOSPC:1:runs", *step, cwd=ws)
    assert_named_error(result, "No space left on device", "lineage")
    runs = ws / ".dataworkspace/lineage/runs"
    assert not runs.exists() or not list(runs.iterdir())
    check_usable(ws, "run")
    assert_ok(run_dws(*step, cwd=ws))
    listed = json.loads(run_dws("--json", "lineage", "runs", "--all", cwd=ws).out)
    assert [r["status"] for r in listed] == ["succeeded"]


def test_unreadable_file_is_named_and_nothing_recorded(template: Path, tmp_path: Path) -> None:
    ws = copy_workspace(template, tmp_path / "ws")
    victim = next(iter(sorted((ws / "data/raw").rglob("*.txt"))))
    before = len(records(ws))
    # as root, file modes deny nothing: the refusal is injected at open()
    result = run_crashing(f"builtins:open:EACCES:1:{victim.name}", "snapshot", cwd=ws)
    assert result.code == 1 and "Traceback" not in result.err, result.err
    assert victim.name in result.err and "permission denied" in result.err
    assert len(records(ws)) == before
    check_usable(ws, "unreadable")


def test_unwritable_resource_directory_on_restore(template: Path, tmp_path: Path) -> None:
    ws = copy_workspace(template, tmp_path / "ws")
    assert_ok(run_dws("snapshot", "v2", cwd=ws))
    shutil.rmtree(ws / "data/features")
    (ws / "data/features").mkdir()
    result = run_crashing("dws.store.fileio:temp_name:EACCES:1:features", "restore", "v1", cwd=ws)
    assert result.code == 1 and "Traceback" not in result.err, result.err
    assert "Permission denied" in result.err or "permission denied" in result.err
    check_usable(ws, "unwritable")
    assert_ok(run_dws("restore", "v1", cwd=ws))
