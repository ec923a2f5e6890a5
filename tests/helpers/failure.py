"""Helpers of the failure tests: building workspaces, killing `dws`, checking the store
independently of `dws fsck`."""

from __future__ import annotations

import itertools
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import dws
from dws.model.digest import hash_bytes
from dws.model.records import SnapshotRecord, decode_head, decode_snapshot
from dws.model.tree import decode_tree
from helpers import common

CRASHPOINT = Path(__file__).resolve().parents[1] / "failure" / "crashpoint.py"
TEMP_PREFIX = ".dws-tmp."
META = ".dataworkspace"


Result = common.Result
run_dws: Callable[..., Any] = common.run_dws
write_files: Callable[[Path, Mapping[str, str | bytes]], None] = common.write_files
manifest: Callable[[Path], dict[str, tuple[str, object, bool]]] = common.manifest
DWS: str = common.DWS or ""

Manifest = dict[str, tuple[str, object, bool]]


# ---- running dws ----------------------------------------------------------------------


def dws_env(lock_timeout: str = "1") -> dict[str, str]:
    """Environment for a `dws` subprocess (never a terminal, short lock wait)."""
    return {**os.environ, "DWS_LOCK_TIMEOUT": lock_timeout}


def start_dws(*args: str, cwd: Path, lock_timeout: str = "1") -> subprocess.Popen[str]:
    """Start the installed `dws` without waiting for it."""
    assert DWS, "the dws command is not installed in this environment"
    return subprocess.Popen(
        [DWS, *args],
        cwd=cwd,
        env=dws_env(lock_timeout),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def run_crashing(
    point: str, *args: str, cwd: Path, timeout: float = 120, env: dict[str, str] | None = None
) -> Any:
    """Run `dws ARGS` with a crash point (see crashpoint.py); return the Result."""
    proc = subprocess.run(
        [sys.executable, str(CRASHPOINT), point, "--", *args],
        cwd=cwd,
        env={**dws_env(), **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


def kill_after(proc: subprocess.Popen[str], delay: float) -> int:
    """Sleep ``delay`` seconds, SIGKILL ``proc`` (if still running), reap it; return its
    exit status (negative when killed by a signal)."""
    time.sleep(delay)
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=60)
    return proc.returncode


def timed_run(*args: str, cwd: Path) -> tuple[Any, float]:
    """Run `dws ARGS` to completion; return the Result and its wall-clock duration (used
    only to choose kill times, never asserted on)."""
    started = time.monotonic()
    result = run_dws(*args, cwd=cwd)
    return result, time.monotonic() - started


def assert_clean_error(result: Any, code: int, *needles: str) -> None:
    """The command failed with ``code`` and a short message, never a traceback."""
    text = f"exit {result.code}\nstdout:\n{result.out}\nstderr:\n{result.err}"
    assert result.code == code, text
    assert "Traceback" not in result.err, text
    assert "internal error" not in result.err, text
    assert result.err.startswith("error: "), text
    lowered = result.err.lower()
    for needle in needles:
        assert needle.lower() in lowered, text


def assert_ok(result: Any) -> None:
    """The command succeeded."""
    assert result.code == 0, f"exit {result.code}\nstdout:\n{result.out}\nstderr:\n{result.err}"


def kill_rounds(default: int) -> int:
    """How many kill rounds to run (DWS_KILL_ROUNDS overrides the default)."""
    return max(1, int(os.environ.get("DWS_KILL_ROUNDS", default)))


def kill_seed() -> int:
    """Seed of the kill-time generator (DWS_KILL_SEED overrides it)."""
    return int(os.environ.get("DWS_KILL_SEED", "20250101"))


# ---- building workspaces --------------------------------------------------------------


def make_workspace(root: Path, resources: Iterable[tuple[str, str, str]]) -> None:
    """Init a workspace at ``root`` and add local-files resources (path, role, name)."""
    root.mkdir(parents=True, exist_ok=True)
    ws = dws.Workspace.init(str(root))
    for path, role, name in resources:
        (root / path).mkdir(parents=True, exist_ok=True)
        ws.add_resource("local-files", str(root / path), role, name=name)


STANDARD_RESOURCES = (
    ("data/raw", "source-data", "raw"),
    ("data/features", "intermediate-data", "features"),
    ("results", "results", "results"),
)


def small_files(
    rng: random.Random, count: int, *, prefix: str = "", tag: str = "a"
) -> dict[str, str | bytes]:
    """``count`` small files spread over subdirectories, content depending on ``tag``."""
    files: dict[str, str | bytes] = {}
    for i in range(count):
        size = rng.randrange(16, 600)
        files[f"{prefix}d{i % 40:02d}/f{i:05d}.txt"] = f"{tag}:{i}:".encode() + rng.randbytes(size)
    return files


def copy_workspace(src: Path, dst: Path) -> Path:
    """A full copy of a workspace directory (symlinks copied as links)."""
    shutil.copytree(src, dst, symlinks=True)
    return dst


# ---- reading and checking the store independently of `dws fsck` -----------------------


def meta(root: Path, *parts: str) -> Path:
    """A path inside .dataworkspace/."""
    return root.joinpath(META, *parts)


def object_path(root: Path, oid: str) -> Any:
    """Object ``oid`` of the store (loose or packed), as a Path-like handle."""
    return common.StoredObject(root, oid)


def records(root: Path) -> list[SnapshotRecord]:
    """Every snapshot record, decoded and checksum-verified."""
    out = []
    for path in sorted(meta(root, "snapshots").iterdir()):
        if path.name.startswith(TEMP_PREFIX):
            continue
        assert path.name.endswith(".json"), f"unexpected file in snapshots/: {path.name}"
        out.append(decode_snapshot(path.read_bytes(), path.name[:-5]))
    return out


def record(root: Path, snapshot_id: str) -> SnapshotRecord:
    """One snapshot record."""
    return decode_snapshot(meta(root, "snapshots", snapshot_id + ".json").read_bytes())


def head_id(root: Path) -> str | None:
    """The snapshot local/head.json names."""
    path = meta(root, "local", "head.json")
    return decode_head(path.read_bytes()).snapshot if path.exists() else None


def head_bases(root: Path) -> dict[str, str]:
    """resource -> the snapshot local/head.json says its files match."""
    path = meta(root, "local", "head.json")
    return dict(decode_head(path.read_bytes()).bases) if path.exists() else {}


def tag_target(root: Path, tag: str) -> str:
    """The snapshot id a tag file holds."""
    return meta(root, "tags", tag).read_text().strip()


def trees_of(rec: SnapshotRecord) -> dict[str, str]:
    """resource name -> recorded tree id."""
    return {name: str(r.state["tree"]) for name, r in rec.resources.items()}


def head_trees(root: Path) -> dict[str, str]:
    """Tree ids recorded by the snapshot HEAD names."""
    ident = head_id(root)
    assert ident is not None, "no HEAD after a completed snapshot"
    return trees_of(record(root, ident))


def _read_object(root: Path, oid: str, problems: list[str], what: str) -> bytes | None:
    path = object_path(root, oid)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        problems.append(f"{what}: object {oid} is missing")
        return None
    if hash_bytes(data) != oid:
        problems.append(f"{what}: object {oid} does not hash to its name")
        return None
    return data


def store_problems(root: Path) -> list[str]:
    """Every problem with what the snapshot records reference: missing or corrupt trees
    and blobs (blobs only for resources that keep content, of snapshots not pulled without
    them). Empty list = all complete."""
    problems: list[str] = []
    unfetched_file = root / META / "local" / "unfetched-snapshots"
    # snapshots pulled without their blobs on purpose (their trees must still be whole)
    unfetched = set(unfetched_file.read_text().split()) if unfetched_file.exists() else set()
    for rec in records(root):
        for name, res in rec.resources.items():
            what = f"snapshot {rec.id[:12]} resource {name}"
            with_blobs = res.state.get("keep", "content") == "content" and rec.id not in unfetched
            stack = [str(res.state["tree"])]
            while stack:
                data = _read_object(root, stack.pop(), problems, what)
                if data is None:
                    continue
                for entry in decode_tree(data).entries:
                    if entry.kind == "dir":
                        stack.append(entry.id)
                    elif entry.kind == "file" and with_blobs:
                        _read_object(root, entry.id, problems, f"{what} file {entry.name}")
    return problems


def assert_store_ok(root: Path, context: str) -> None:
    """`dws fsck` passes and the independent store check finds nothing."""
    fsck = run_dws("fsck", cwd=root)
    assert fsck.code == 0, f"{context}: fsck failed\n{fsck.out}\n{fsck.err}"
    assert store_problems(root) == [], context


def _temporary(rel: str) -> bool:
    return any(part.startswith(TEMP_PREFIX) for part in Path(rel).parts)


def without_temp(files: Manifest) -> Manifest:
    """A manifest without the temporary files and directories (and what they hold) dws
    leaves when killed."""
    return {p: v for p, v in files.items() if not _temporary(p)}


def temp_files(root: Path) -> list[str]:
    """Temporary files (``.dws-tmp.*``, or inside such a directory) anywhere below ``root``."""
    return sorted(p for p in manifest(root) if _temporary(p))


def _machine_local(rel: str) -> bool:
    parts = Path(rel).parts
    return any(a == META and b == "local" for a, b in itertools.pairwise(parts))


def disk_state(root: Path) -> Manifest:
    """Everything below ``root`` except machine-local state (.dataworkspace/local, where
    even a refused command may take the lock and refresh the stat cache)."""
    return {p: v for p, v in manifest(root).items() if not _machine_local(p)}


def status_json(root: Path) -> dict[str, Any]:
    """`dws --json status`, which must succeed."""
    result = run_dws("--json", "status", cwd=root)
    assert_ok(result)
    assert "Traceback" not in result.err
    value: dict[str, Any] = json.loads(result.out)
    return value


def status_changes(root: Path) -> dict[str, list[str]]:
    """resource -> changed paths, from `dws --json status`."""
    return {
        item["name"]: [c["path"] for c in item["changes"]]
        for item in status_json(root)["resources"]
    }
