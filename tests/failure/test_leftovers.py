"""What killed commands leave in .dataworkspace/ (temporary files of atomic writes,
per-process run logs and git indexes) is collected by `dws gc`; files of processes that
still run are kept."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from helpers.failure import STANDARD_RESOURCES, assert_ok, make_workspace, run_dws

META = ".dataworkspace"


def _dead_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def test_gc_collects_what_killed_commands_left(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    make_workspace(ws, STANDARD_RESOURCES)
    assert_ok(run_dws("snapshot", "v1", cwd=ws))
    dead, alive = _dead_pid(), os.getpid()
    left = [
        f"{META}/snapshots/.dws-tmp.abc1.1",
        f"{META}/tags/.dws-tmp.abc2.2",
        f"{META}/lineage/runs/.dws-tmp.abc3.3",
        f"{META}/local/.dws-tmp.abc4.4",
        f"{META}/local/trace-{dead}-x1y2.log",
        f"{META}/local/git-code-{dead}.index",
    ]
    kept = [
        f"{META}/local/trace-{alive}-z9.log",
        f"{META}/local/git-code-{alive}.index",
        f"{META}/local/trace-notes.log",
    ]
    for rel in left + kept:
        (ws / rel).parent.mkdir(parents=True, exist_ok=True)
        (ws / rel).write_text("partial")

    result = run_dws("--json", "gc", cwd=ws)

    assert_ok(result)
    assert json.loads(result.out)["temporary_removed"] >= len(left)
    assert [rel for rel in left if (ws / rel).exists()] == []
    assert [rel for rel in kept if not (ws / rel).exists()] == []
    assert_ok(run_dws("fsck", cwd=ws))
