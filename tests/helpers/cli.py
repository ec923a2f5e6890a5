"""Helpers shared by the CLI tests: running `dws`, and recording what is on disk so a test
can assert that a refused or failed command changed nothing.

Set-up steps (init, add, the snapshots a test starts from) may go through the Python API,
in process, to keep the suite fast; the command under test always runs as a subprocess.

"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from blake3 import blake3

import dws as dws_api
from helpers import common

DWS = common.DWS
run_dws = common.run_dws
write_files = common.write_files
manifest = common.manifest
Result = common.Result

META = ".dataworkspace"

# What the ``ws_v1`` fixture snapshots as v1.
V1_FILES: dict[str, str | bytes] = {
    "data/raw/a.csv": "id,value\n1,10\n2,20\n",
    "data/raw/b.csv": "id,value\n3,30\n",
    "data/features/f.npy": b"\x00\x01\x02features",
    "results/metrics.json": '{"accuracy": 0.5}',
}

# Machine-local files that read commands legitimately refresh (stat cache, lock file).
# head.json is local too, but it is what a command changes when it restores or snapshots,
# so it stays in the comparison.
_VOLATILE_LOCAL = (f"{META}/local/",)
_KEPT_LOCAL = (f"{META}/local/head.json",)


def dws(root: Path, *args: str, env: dict[str, str] | None = None) -> Any:
    """Run ``dws ARGS`` with ``root`` as the working directory."""
    return run_dws(*args, cwd=root, env=env)


def api(root: Path) -> dws_api.Workspace:
    """The workspace at ``root`` through the Python API, for fast set-up steps."""
    return dws_api.Workspace.open(str(root))


def api_snapshot(root: Path, tag: str | None = None, message: str = "") -> str:
    """Take a snapshot through the API (set-up, not the command under test); its id."""
    return api(root).snapshot(tag, message).record.id


def ok(result: Any) -> Any:
    """Assert that a command succeeded (showing its stderr if not) and return it."""
    assert result.code == 0, f"exit {result.code}\nstdout: {result.out}\nstderr: {result.err}"
    assert "Traceback" not in result.err
    return result


def as_json(result: Any) -> Any:
    """The --json document a successful command printed on stdout."""
    ok(result)
    return json.loads(result.out)


def assert_error(result: Any, code: int, *, max_lines: int = 2, contains: str = "") -> None:
    """A dws error: the exit code, one or two lines on stderr, never a traceback."""
    assert result.code == code, (
        f"expected exit {code}, got {result.code}\nstdout: {result.out}\nstderr: {result.err}"
    )
    assert "Traceback" not in result.err
    lines = [line for line in result.err.splitlines() if line.strip()]
    assert 1 <= len(lines) <= max_lines, f"expected 1..{max_lines} lines: {result.err!r}"
    assert lines[0].startswith("error: "), result.err
    if contains:
        assert contains.lower() in result.err.lower(), result.err


def assert_usage_error(result: Any) -> None:
    """A usage error reported by the argument parser: exit 2, no traceback."""
    assert result.code == 2, f"exit {result.code}: {result.err}"
    assert "Traceback" not in result.err
    assert "Error" in result.err or "error" in result.err


def disk_state(root: Path) -> dict[str, Any]:
    """Everything below ``root`` (files, bytes, links, exec bits, empty dirs) except
    machine-local caches, plus the snapshot and tag listings spelled out."""
    files = {
        path: entry
        for path, entry in manifest(root).items()
        if not path.startswith(_VOLATILE_LOCAL) or path in _KEPT_LOCAL
    }
    return {"files": files, **refs(root)}


def assert_unchanged(root: Path, before: dict[str, Any]) -> None:
    """Assert that ``disk_state(root)`` still equals ``before``, naming what differs."""
    after = disk_state(root)
    if after == before:
        return
    old, new = before["files"], after["files"]
    differing = sorted(
        [f"added {p}" for p in new.keys() - old.keys()]
        + [f"removed {p}" for p in old.keys() - new.keys()]
        + [f"changed {p}" for p in old.keys() & new.keys() if old[p] != new[p]]
    )
    for key in ("snapshots", "tags"):
        if before[key] != after[key]:
            differing.append(f"{key}: {before[key]} -> {after[key]}")
    raise AssertionError("something changed on disk:\n  " + "\n  ".join(differing[:30]))


def refs(root: Path) -> dict[str, Any]:
    """The snapshot records and tags of the workspace at ``root``."""
    meta = root / META
    if not meta.is_dir():
        return {"snapshots": None, "tags": None}
    tags = {p.name: p.read_text().strip() for p in sorted((meta / "tags").iterdir())}
    return {"snapshots": snapshot_ids(root), "tags": tags}


def snapshot_ids(root: Path) -> list[str]:
    """Ids of the snapshot records present."""
    return sorted(p.name[: -len(".json")] for p in (root / META / "snapshots").glob("*.json"))


def tag_target(root: Path, tag: str) -> str | None:
    """The snapshot id a tag file holds, or None."""
    path = root / META / "tags" / tag
    return path.read_text().strip() if path.exists() else None


def head(root: Path) -> dict[str, Any]:
    """local/head.json (the snapshot last taken or restored)."""
    path = root / META / "local" / "head.json"
    return json.loads(path.read_text()) if path.exists() else {}


def object_path(root: Path, data: bytes) -> Any:
    """The stored blob holding ``data`` (loose or packed), as a Path-like handle."""
    return common.StoredObject(root, blake3(data).hexdigest())


def resources_json(root: Path) -> list[dict[str, Any]]:
    """The registered resources as stored on disk."""
    return list(json.loads((root / META / "resources.json").read_text()))


def set_exec(path: Path, executable: bool) -> None:
    """Set or clear the executable bits of a file."""
    mode = path.stat().st_mode
    path.chmod(mode | 0o111 if executable else mode & ~0o111)


def symlink(path: Path, target: str) -> None:
    """Create (parents included) a symlink ``path`` -> ``target``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(target, path)
