"""Status, snapshot and restore with the directory rows checked ahead of the walk on forked
processes (as for a large resource): every change is still seen, nothing else is."""

from __future__ import annotations

import os
import time
from pathlib import Path

from helpers.cli import as_json, dws, ok, write_files
from helpers.common import manifest

FORKED = {"DWS_SCAN_FORK_FROM": "1", "DWS_RESTORE_WORKERS": "2"}
FILES = {f"data/raw/d{d}/f{i}.csv": f"{d},{i}\n" for d in range(8) for i in range(20)}


def _raw_changes(ws: Path) -> dict[str, str]:
    doc = as_json(dws(ws, "--json", "status", env=FORKED))
    (raw,) = [r for r in doc["resources"] if r["name"] == "raw"]
    return {c["path"]: c["status"] for c in raw["changes"]}


def test_changes_are_seen_when_unchanged_directories_are_checked_by_other_processes(
    ws: Path,
) -> None:
    write_files(ws, FILES)
    time.sleep(0.3)  # older than the stat cache's racy window, as files usually are
    ok(dws(ws, "snapshot", "v1", env=FORKED))
    assert _raw_changes(ws) == {}
    v1 = manifest(ws / "data/raw")

    stat = (ws / "data/raw/d3/f1.csv").stat()
    (ws / "data/raw/d3/f1.csv").write_text("3,X\n")  # same size, same mtime
    os.utime(ws / "data/raw/d3/f1.csv", ns=(stat.st_atime_ns, stat.st_mtime_ns))
    (ws / "data/raw/d5/new.csv").write_text("new\n")
    (ws / "data/raw/d1/f0.csv").unlink()
    expected = {"d3/f1.csv": "modified", "d5/new.csv": "added", "d1/f0.csv": "deleted"}
    assert _raw_changes(ws) == expected
    time.sleep(0.3)
    ok(dws(ws, "snapshot", "v2", env=FORKED))
    assert _raw_changes(ws) == {}
    v2 = manifest(ws / "data/raw")

    ok(dws(ws, "restore", "v1", env=FORKED))
    assert manifest(ws / "data/raw") == v1
    assert _raw_changes(ws) == {}
    ok(dws(ws, "restore", "v2", env=FORKED))
    assert manifest(ws / "data/raw") == v2
    assert _raw_changes(ws) == {}
