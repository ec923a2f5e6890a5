"""A forced restore saves unsaved files before touching any: a full disk while saving
stops it with nothing overwritten, and a kill right after the recovery record is written
leaves the files untouched and every byte recoverable."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

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
    write_files,
)

MiB = 1 << 20
RECOVERY = ".dataworkspace/local/recovery"


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """v1 recorded; then small and large files changed and added, never snapshotted."""
    root = tmp_path_factory.mktemp("unsaved") / "ws"
    make_workspace(root, STANDARD_RESOURCES)
    rng = random.Random(5)
    write_files(root / "data/raw", small_files(rng, 60, tag="v1"))
    write_files(root / "data/features", {"big.bin": rng.randbytes(5 * MiB)})
    assert_ok(run_dws("snapshot", "v1", cwd=root))
    write_files(root / "data/raw", small_files(rng, 60, tag="v1"))  # same names, new bytes
    write_files(root / "data/features", {"big.bin": rng.randbytes(5 * MiB), "new.txt": "n"})
    return root


def _data(ws: Path) -> dict[str, object]:
    return {name: manifest(ws / "data" / name) for name in ("raw", "features")}


def _recover_all(ws: Path, dump: Path) -> dict[str, object]:
    listed = run_dws("--json", "recover", cwd=ws)
    assert_ok(listed)
    listing = json.loads(listed.out)
    [record] = listing["records"]
    assert_ok(run_dws("recover", record["id"][:10], "--to", str(dump), cwd=ws))
    return {name: manifest(dump / name) for name in ("raw", "features")}


@pytest.mark.parametrize(
    "point",
    ["dws.store.streamcopy:_write_chunk:ENOSPC:1", "dws.store.packfile:PackWriter.add:ENOSPC:3"],
    ids=["large-file", "small-files"],
)
def test_full_disk_while_saving_overwrites_nothing(
    template: Path, tmp_path: Path, point: str
) -> None:
    ws = copy_workspace(template, tmp_path / "ws")
    unsaved = _data(ws)

    result = run_crashing(point, "restore", "v1", "--force", cwd=ws)

    assert result.code == 1 and "No space left on device" in result.err, result.err
    assert "Traceback" not in result.err
    assert _data(ws) == unsaved
    assert not (ws / RECOVERY).exists() or not list((ws / RECOVERY).iterdir())
    assert_store_ok(ws, point)
    assert_ok(run_dws("restore", "v1", "--force", cwd=ws))
    assert _recover_all(ws, tmp_path / "dump") == unsaved


def test_kill_after_the_record_leaves_files_untouched_and_recoverable(
    template: Path, tmp_path: Path
) -> None:
    ws = copy_workspace(template, tmp_path / "ws")
    unsaved = _data(ws)

    result = run_crashing(
        "dws.core.recovery:write_atomic:after:1", "restore", "v1", "--force", cwd=ws
    )

    assert result.code == -9, result.err
    assert _data(ws) == unsaved
    assert _recover_all(ws, tmp_path / "dump") == unsaved
    assert_ok(run_dws("restore", "v1", "--force", cwd=ws))
    assert_store_ok(ws, "after the rerun")
