#!/usr/bin/env python3
"""Storage benchmark: what a snapshot costs on disk and on the wire, dws beside DVC and restic.

Four scenarios, each run for every tool in turn on the same bytes:

  csv         a 128 MiB CSV (about 4M rows like `123,30.472,0.42069,17596,alpha`) snapshotted,
              then three edits, each followed by a snapshot: (a) append 100,000 lines,
              (b) overwrite 64 KiB in the middle, (c) insert a header line at the front
  checkpoint  a 256 MiB float32 array, then version 2 with 10% of its 1 MiB blocks rewritten
  sparse      a 2 GiB sparse file (`truncate -s 2G`) holding 8 MiB of data at four offsets:
              snapshot, delete, restore; is the restored file still sparse?
  push        the CSV pushed, 100,000 lines appended, snapshotted and pushed again: what the
              remote received the second time; then a clone/pull of it into a fresh place

A snapshot is `dws snapshot TAG` | `dvc add data` then `dvc commit -f` | `restic backup .`.
The store is `.dataworkspace/objects` | `.dvc/cache` | the restic repository, all on the
same disk; its size is the space allocated to its files (st_blocks * 512). Remotes: dws
pushes to a directory and to a local SeaweedFS (S3, the server the tests use); DVC pushes
to a directory; for restic the repository's growth is its push.

Data: all generated, seeded, deterministic. numpy is not a dependency of dws, so the
"N(0,1) float32" checkpoint is made with `random.Random(seed).randbytes` and no numpy: the
upper 16 bits of each float (sign, exponent, top of the mantissa) come from a table of
the normal distribution's 65,536 quantiles, indexed by 16 random bits, the lower 16 bits are
random; values and compressibility are those of normal float32 data.

Everything it makes lives under --work-dir (bench/.work/storage) and is removed at the end,
except results.json (the raw figures) and, when a step failed, storage.log. See
bench/README.md, "Storage".

Usage: storage.py [--scenarios csv,checkpoint,sparse,push] [--tools dws,dvc,restic]
                  [--work-dir DIR] [--small] [--dvc-venv DIR]
"""

from __future__ import annotations

import argparse
import array
import dataclasses
import datetime
import filecmp
import functools
import json
import os
import platform
import random
import re
import shutil
import statistics
import struct
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import run  # bench/run.py: this script's directory is first on sys.path
from remotes import dws_command

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
DEFAULT_WORK = BENCH_DIR / ".work" / "storage"
DEFAULT_DVC_VENV = run.DEFAULT_WORK / "dvc-venv"  # shared with run.py
MiB = run.MiB
KiB = 1 << 10

ALL_SCENARIOS = ("csv", "checkpoint", "sparse", "push")
ALL_TOOLS = ("dws", "dvc", "restic")

APPEND_LINES = 100_000
OVERWRITE_BYTES = 64 * KiB
HEADER = b"id,value,ratio,count,label\n"
SPARSE_EXTENTS = 4
SEED_CSV, SEED_APPEND, SEED_OVERWRITE = 1, 2, 3
SEED_CHECKPOINT, SEED_CHECKPOINT_V2, SEED_SPARSE = 4, 5, 6

Cmd = run.Cmd


@dataclasses.dataclass(frozen=True)
class Scale:
    """The sizes of one run: the full benchmark or --small."""

    csv: int
    checkpoint: int
    sparse: int
    sparse_data: int = 8 * MiB


FULL = Scale(csv=128 * MiB, checkpoint=256 * MiB, sparse=2048 * MiB)
SMALL = Scale(csv=16 * MiB, checkpoint=32 * MiB, sparse=256 * MiB)


# --------------------------------------------------------------------------- sizes


@dataclasses.dataclass(frozen=True)
class Sizes:
    """Bytes of the regular files under a path: apparent (st_size) and allocated."""

    apparent: int = 0
    allocated: int = 0  # st_blocks * 512: what the files take on disk
    files: int = 0

    def __sub__(self, other: Sizes) -> Sizes:
        return Sizes(
            self.apparent - other.apparent,
            self.allocated - other.allocated,
            self.files - other.files,
        )

    def as_json(self) -> dict[str, int]:
        return dataclasses.asdict(self)


def tree_size(path: Path) -> Sizes:
    """Sum the apparent and allocated sizes of the files under `path` (or of `path` itself).

    Directories and symbolic links are not counted (an empty store counts as 0)."""
    if not path.exists():
        return Sizes()
    if path.is_file():
        st = path.lstat()
        return Sizes(st.st_size, st.st_blocks * 512, 1)
    apparent = allocated = files = 0
    for top, _dirs, names in os.walk(path):
        for name in names:
            st = os.lstat(os.path.join(top, name))
            if not os.path.islink(os.path.join(top, name)):
                apparent += st.st_size
                allocated += st.st_blocks * 512
                files += 1
    return Sizes(apparent, allocated, files)


# --------------------------------------------------------------------------- data

LABELS = ("alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta")


def csv_rows(rng: random.Random, count: int) -> bytes:
    """`count` CSV rows of numbers and a label, e.g. `123,30.472,0.42069,17596,alpha`."""
    labels = LABELS
    rows = []
    for _ in range(count):
        r = rng.getrandbits(64)
        rows.append(
            f"{r & 0x3FF},{((r >> 10) & 0xFFFFF) / 1000:.3f},{((r >> 30) % 100000) / 100000:.5f},"
            f"{(r >> 47) & 0x3FFF},{labels[r >> 61]}\n"
        )
    return "".join(rows).encode()


def write_csv(path: Path, size: int, seed: int) -> int:
    """Write whole rows up to `size` bytes; return the number of rows."""
    rng = random.Random(seed)
    written = rows = 0
    with open(path, "wb") as f:
        while True:
            block = csv_rows(rng, 65536)
            if written + len(block) > size:
                block = block[: block.rfind(b"\n", 0, size - written) + 1]
                f.write(block)
                return rows + block.count(b"\n")
            f.write(block)
            written += len(block)
            rows += 65536


def append_lines(path: Path) -> None:
    """Edit (a): append APPEND_LINES new rows."""
    with open(path, "ab") as f:
        f.write(csv_rows(random.Random(SEED_APPEND), APPEND_LINES))


def overwrite_middle(path: Path) -> None:
    """Edit (b): overwrite OVERWRITE_BYTES from the first row starting past the middle with
    new rows (cut to that length, ending in a newline); the file keeps its size."""
    size = path.stat().st_size
    data = csv_rows(random.Random(SEED_OVERWRITE), OVERWRITE_BYTES // 16)[:OVERWRITE_BYTES]
    data = data[:-1] + b"\n"
    with open(path, "r+b") as f:
        f.seek(size // 2)
        start = size // 2 + f.read(4096).index(b"\n") + 1
        f.seek(start)
        f.write(data)


def insert_header(path: Path) -> None:
    """Edit (c): a header line at the front; the file is rewritten (as an editor does)."""
    tmp = path.with_name(path.name + ".new")
    with open(path, "rb") as src, open(tmp, "wb") as dst:
        dst.write(HEADER)
        shutil.copyfileobj(src, dst, MiB)
    os.replace(tmp, path)


@functools.cache
def _normal_high_halves() -> list[bytes]:
    """The upper two bytes of float32 (little-endian) of the 65,536 normal quantiles."""
    normal = statistics.NormalDist()
    return [struct.pack("<f", normal.inv_cdf((i + 0.5) / 65536))[2:] for i in range(65536)]


def normal_float32(rng: random.Random, count: int) -> bytes:
    """`count` little-endian float32 values distributed as N(0,1) (see the module doc)."""
    table = _normal_high_halves()
    high = b"".join(map(table.__getitem__, memoryview(rng.randbytes(2 * count)).cast("H")))
    out = array.array("H", bytes(4 * count))
    out[0::2] = array.array("H", rng.randbytes(2 * count))
    out[1::2] = array.array("H", high)
    return out.tobytes()


def write_checkpoint(path: Path, size: int, seed: int) -> None:
    rng = random.Random(seed)
    with open(path, "wb") as f:
        for _ in range(size // MiB):
            f.write(normal_float32(rng, MiB // 4))


def rewrite_blocks(path: Path) -> None:
    """Version 2 of the checkpoint: a tenth of its 1 MiB blocks get new values."""
    blocks = path.stat().st_size // MiB
    rng = random.Random(SEED_CHECKPOINT_V2)
    with open(path, "r+b") as f:
        for b in sorted(rng.sample(range(blocks), max(1, blocks // 10))):
            f.seek(b * MiB)
            f.write(normal_float32(rng, MiB // 4))


def write_sparse(path: Path, size: int, data_bytes: int) -> list[tuple[int, bytes]]:
    """A file of `size` bytes, all a hole (`truncate -s`) except SPARSE_EXTENTS runs of
    random bytes (`data_bytes` in all) spread evenly; returns them as (offset, bytes)."""
    rng = random.Random(SEED_SPARSE)
    each = data_bytes // SPARSE_EXTENTS
    extents = [
        ((size * (2 * i + 1) // (2 * SPARSE_EXTENTS)) // MiB * MiB, rng.randbytes(each))
        for i in range(SPARSE_EXTENTS)
    ]
    with open(path, "wb") as f:
        os.truncate(f.fileno(), size)
        for offset, data in extents:
            f.seek(offset)
            f.write(data)
    return extents


def sparse_intact(path: Path, size: int, extents: list[tuple[int, bytes]]) -> bool:
    """True when `path` holds exactly what write_sparse wrote (holes may be zeros)."""
    if not path.is_file() or path.stat().st_size != size:
        return False
    with open(path, "rb") as f:
        for offset, data in extents:
            f.seek(offset)
            if f.read(len(data)) != data:
                return False
        fd, pos = f.fileno(), 0
        while pos < size:
            try:
                start = os.lseek(fd, pos, os.SEEK_DATA)
            except OSError:  # ENXIO: only a hole is left
                return True
            end = os.lseek(fd, start, os.SEEK_HOLE)
            f.seek(start)
            for at in range(start, end, 8 * MiB):
                n = min(8 * MiB, end - at)
                expected = bytearray(n)
                for offset, data in extents:
                    lo, hi = max(at, offset), min(at + n, offset + len(data))
                    if lo < hi:
                        expected[lo - at : hi - at] = data[lo - offset : hi - offset]
                if f.read(n) != expected:
                    return False
            pos = end
    return True


# --------------------------------------------------------------------------- tools


class Tool:
    """One tool under test, in a directory `ws` whose `data/` holds the file."""

    name = ""

    def __init__(self) -> None:
        self.version = ""

    def prepare(self) -> str | None:
        """Make the tool usable; returns why it is skipped, or None."""
        return None

    def env(self, ws: Path) -> dict[str, str]:
        return dict(os.environ)

    def setup(self, ws: Path) -> list[Cmd]:
        return []

    def snapshot(self, ws: Path, first: bool, tag: str) -> list[Cmd]:
        raise NotImplementedError

    def store(self, ws: Path) -> Path:
        raise NotImplementedError

    def restore(self, ws: Path, tag: str) -> list[Cmd]:
        raise NotImplementedError

    # push: a remote of each kind, the push to it, and a clone from it
    def remote_kinds(self, s3: bool) -> list[str]:
        return ["dir"]

    def add_remote(self, ws: Path, kind: str, url: str) -> list[Cmd]:
        return []

    def push(self, ws: Path, kind: str) -> list[Cmd]:
        raise NotImplementedError

    def clone(self, ws: Path, url: str, target: Path) -> list[Cmd]:
        """Untimed preparation done, the timed commands that fetch `url` into `target`."""
        raise NotImplementedError

    def clone_store(self, target: Path) -> Path:
        return self.store(target)


def dws_source(exe: str, env: dict[str, str]) -> Path | None:
    """The directory the `dws` package is imported from by `exe` run with `env` (seen in the
    interpreter's verbose import log, so what the subprocesses really use)."""
    proc = subprocess.run(
        [exe, "--version"],
        env={**env, "PYTHONVERBOSE": "1"},
        capture_output=True,
        text=True,
        check=False,
    )
    found = re.findall(r"(\S+)/dws/__init__\.py$", proc.stderr, re.MULTILINE)
    return Path(found[-1]) / "dws" if found else None


def describe_tree(package: Path | None) -> str:
    """`git describe --always --dirty` of the checkout holding `package` (src/dws)."""
    if package is None:
        return "unknown (the dws package was not found in the import log)"
    proc = subprocess.run(
        ["git", "-C", str(package.parent), "describe", "--always", "--dirty"],
        capture_output=True,
        text=True,
        check=False,
    )
    return proc.stdout.strip() if proc.returncode == 0 else "not a git checkout"


class Dws(Tool):
    name = "dws"

    def __init__(self) -> None:
        super().__init__()
        self.exe = ""
        self.extra_env: dict[str, str] = {}
        self.source: Path | None = None
        self.commit = ""

    def prepare(self) -> str | None:
        try:
            self.exe = dws_command()
        except SystemExit as exc:
            return str(exc)
        self.version = run._version([self.exe, "--version"])
        self.source = dws_source(self.exe, self.env(Path.cwd()))
        self.commit = describe_tree(self.source)
        return None

    def env(self, ws: Path) -> dict[str, str]:
        return {**os.environ, "DWS_LOCK_TIMEOUT": "30", **self.extra_env}

    def setup(self, ws: Path) -> list[Cmd]:
        return [
            ([self.exe, "init"], ws),
            ([self.exe, "add", "local-files", "data", "--role", "source-data"], ws),
        ]

    def snapshot(self, ws: Path, first: bool, tag: str) -> list[Cmd]:
        return [([self.exe, "snapshot", tag], ws)]

    def store(self, ws: Path) -> Path:
        return ws / ".dataworkspace" / "objects"

    def restore(self, ws: Path, tag: str) -> list[Cmd]:
        return [([self.exe, "restore", "--force", tag], ws)]

    def remote_kinds(self, s3: bool) -> list[str]:
        return ["dir", "s3"] if s3 else ["dir"]

    def add_remote(self, ws: Path, kind: str, url: str) -> list[Cmd]:
        return [([self.exe, "remote", "add", kind, url], ws)]

    def push(self, ws: Path, kind: str) -> list[Cmd]:
        return [([self.exe, "push", kind], ws)]

    def clone(self, ws: Path, url: str, target: Path) -> list[Cmd]:
        return [([self.exe, "clone", url, str(target)], target.parent)]


class Dvc(Tool):
    name = "dvc"

    def __init__(self, venv: Path) -> None:
        super().__init__()
        self.inner = run.Dvc(venv.parent)  # installs into <venv.parent>/dvc-venv ...
        self.inner.venv = venv  # ... unless told otherwise
        self.inner.exe = str(venv / "bin" / "dvc")
        self.exe = self.inner.exe

    def prepare(self) -> str | None:
        why = self.inner.prepare()
        self.version = self.inner.version
        return why

    def env(self, ws: Path) -> dict[str, str]:
        return self.inner.env(ws)

    def setup(self, ws: Path) -> list[Cmd]:
        return self.inner.setup(ws)

    def snapshot(self, ws: Path, first: bool, tag: str) -> list[Cmd]:
        if first:
            return [([self.exe, "add", "data"], ws)]
        return [([self.exe, "commit", "-f"], ws)]

    def store(self, ws: Path) -> Path:
        return ws / ".dvc" / "cache"

    def restore(self, ws: Path, tag: str) -> list[Cmd]:
        return [([self.exe, "checkout"], ws)]

    def add_remote(self, ws: Path, kind: str, url: str) -> list[Cmd]:
        return [([self.exe, "remote", "add", "-d", kind, url], ws)]

    def push(self, ws: Path, kind: str) -> list[Cmd]:
        return [([self.exe, "push", "-r", kind], ws)]

    def clone(self, ws: Path, url: str, target: Path) -> list[Cmd]:
        # what a git clone of a DVC project brings: its .dvc files and .dvc/config
        target.mkdir()
        init = subprocess.run(
            [self.exe, "init", "--no-scm", "-q"],
            cwd=target,
            env=self.env(target),
            capture_output=True,
            check=False,
        )
        if init.returncode != 0:
            raise StepFailed(f"dvc init in {target} exited {init.returncode}")
        shutil.copyfile(ws / "data.dvc", target / "data.dvc")
        shutil.copyfile(ws / ".dvc" / "config", target / ".dvc" / "config")
        return [([self.exe, "pull"], target)]


class Restic(Tool):
    name = "restic"

    def __init__(self) -> None:
        super().__init__()
        self.inner = run.Restic(run.DEFAULT_WORK)
        self.exe = ""

    def prepare(self) -> str | None:
        why = self.inner.prepare()
        self.exe = getattr(self.inner, "exe", "")
        self.version = self.inner.version
        return why

    def env(self, ws: Path) -> dict[str, str]:
        return self.inner.env(ws)  # repository ws/repo, fixed password, cache in ws

    def setup(self, ws: Path) -> list[Cmd]:
        return self.inner.setup(ws)

    def snapshot(self, ws: Path, first: bool, tag: str) -> list[Cmd]:
        return [([self.exe, "backup", "--tag", tag, "."], ws / "data")]

    def store(self, ws: Path) -> Path:
        return ws / "repo"

    def restore(self, ws: Path, tag: str) -> list[Cmd]:
        return [([self.exe, "restore", "latest", "--target", "."], ws / "data")]

    def remote_kinds(self, s3: bool) -> list[str]:
        return ["repo"]  # the repository is the remote: a backup is the push

    def push(self, ws: Path, kind: str) -> list[Cmd]:
        return []


# --------------------------------------------------------------------------- running


class StepFailed(Exception):
    pass


@dataclasses.dataclass
class Context:
    tmp: Path  # everything made lives here; removed at the end
    scale: Scale
    tools: list[Tool]
    runner: run.Runner
    inputs: dict[str, Path] = dataclasses.field(default_factory=dict)
    csv_rows: int = 0
    s3: Any = None  # (server, bucket) once SeaweedFS runs
    notes: list[str] = dataclasses.field(default_factory=list)

    def do(self, step: list[Cmd], env: dict[str, str]) -> run.Measurement:
        """Run a step after a sync; it must succeed."""
        os.sync()
        m = self.runner.measure(step, env)
        if m.rc != 0:
            raise StepFailed(
                f"`{' ; '.join(m.commands)}` exited {m.rc} (see {self.runner.log.name})"
            )
        return m

    def workspace(self, scenario: str, tool: Tool) -> Path:
        ws = self.tmp / scenario / tool.name
        run._rmtree(ws)
        (ws / "data").mkdir(parents=True)
        return ws

    def csv_master(self) -> Path:
        """The first version of the CSV, generated once per run."""
        if "csv" not in self.inputs:
            path = self.tmp / "inputs" / "table.csv"
            path.parent.mkdir(parents=True, exist_ok=True)
            print(f"generating the CSV ({self.scale.csv // MiB} MiB) ...", flush=True)
            rows = write_csv(path, self.scale.csv, SEED_CSV)
            self.inputs["csv"] = path
            self.csv_rows = rows
        return self.inputs["csv"]

    def checkpoint_master(self) -> Path:
        if "checkpoint" not in self.inputs:
            path = self.tmp / "inputs" / "weights.f32"
            path.parent.mkdir(parents=True, exist_ok=True)
            print(f"generating the checkpoint ({self.scale.checkpoint // MiB} MiB) ...")
            write_checkpoint(path, self.scale.checkpoint, SEED_CHECKPOINT)
            self.inputs["checkpoint"] = path
        return self.inputs["checkpoint"]


def run_facts(version: str, source: Path) -> dict[str, Any]:
    """What every results.json starts with: when, where, and which dws ran."""
    return {
        "started": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "host": platform.node(),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "dws": version,
        "dws_source": str(source),
        "dws_commit": describe_tree(source),
    }


def _mib(n: float) -> str:
    return f"{n / MiB:.1f}"


def _progress(scenario: str, tool: str, label: str, wall: float, extra: str) -> None:
    print(f"  {scenario:<10} {tool:<6} {label:<40} {wall:7.2f} s  {extra}", flush=True)


def versions(
    ctx: Context,
    scenario: str,
    master: Path,
    steps: list[tuple[str, str, Callable[[Path], None] | None]],
) -> dict[str, Any]:
    """Snapshot a copy of `master`, then after each edit, for every tool: store size, time."""
    file_size = master.stat().st_size
    rec: dict[str, Any] = {
        "file": master.name,
        "file_bytes": file_size,
        "steps": [[key, label] for key, label, _ in steps],
        "tools": {},
    }
    for tool in ctx.tools:
        ws = ctx.workspace(scenario, tool)
        path = ws / "data" / master.name
        shutil.copyfile(master, path)
        env = tool.env(ws)
        out: dict[str, Any] = {"rows": [], "error": None}
        rec["tools"][tool.name] = out
        try:
            if tool.setup(ws):
                ctx.do(tool.setup(ws), env)
            out["empty_store"] = tree_size(tool.store(ws)).as_json()
            for i, (key, label, edit) in enumerate(steps):
                if edit is not None:
                    edit(path)
                m = ctx.do(tool.snapshot(ws, i == 0, key), env)
                store = tree_size(tool.store(ws))
                out["rows"].append(
                    {
                        "step": key,
                        "store": store.as_json(),
                        "file": tree_size(path).as_json(),
                        **m.as_json(),
                    }
                )
                _progress(scenario, tool.name, label, m.wall, f"store {_mib(store.allocated)} MiB")
        except StepFailed as exc:
            out["error"] = str(exc)
            print(f"  !! {scenario} {tool.name}: {exc}", flush=True)
        finally:
            run._rmtree(ws)
    return rec


def scenario_csv(ctx: Context) -> dict[str, Any]:
    rec = versions(
        ctx,
        "csv",
        ctx.csv_master(),
        [
            ("v1", "first snapshot", None),
            ("append", f"(a) append {APPEND_LINES:,} lines", append_lines),
            (
                "overwrite",
                f"(b) overwrite {OVERWRITE_BYTES // KiB} KiB in the middle",
                overwrite_middle,
            ),
            ("header", "(c) insert a header line at the front", insert_header),
        ],
    )
    rec["rows_in_file"] = ctx.csv_rows
    return rec


def scenario_checkpoint(ctx: Context) -> dict[str, Any]:
    blocks = ctx.scale.checkpoint // MiB
    return versions(
        ctx,
        "checkpoint",
        ctx.checkpoint_master(),
        [
            ("v1", "version 1", None),
            (
                "v2",
                f"version 2 ({max(1, blocks // 10)} of {blocks} 1 MiB blocks new)",
                rewrite_blocks,
            ),
        ],
    )


def scenario_sparse(ctx: Context) -> dict[str, Any]:
    size = ctx.scale.sparse
    rec: dict[str, Any] = {"file_bytes": size, "data_bytes": ctx.scale.sparse_data, "tools": {}}
    for tool in ctx.tools:
        ws = ctx.workspace("sparse", tool)
        path = ws / "data" / "sparse.bin"
        extents = write_sparse(path, size, ctx.scale.sparse_data)
        env = tool.env(ws)
        out: dict[str, Any] = {"error": None, "source": tree_size(path).as_json()}
        rec["tools"][tool.name] = out
        try:
            if tool.setup(ws):
                ctx.do(tool.setup(ws), env)
            m = ctx.do(tool.snapshot(ws, True, "sparse"), env)
            store = tree_size(tool.store(ws))
            out["snapshot"] = m.as_json()
            out["store"] = store.as_json()
            _progress("sparse", tool.name, "snapshot", m.wall, f"store {_mib(store.allocated)} MiB")
            path.unlink()
            m = ctx.do(tool.restore(ws, "sparse"), env)
            restored = tree_size(path)
            out["restore"] = m.as_json()
            out["restored"] = restored.as_json()
            out["identical"] = sparse_intact(path, size, extents)
            _progress(
                "sparse",
                tool.name,
                "delete, restore",
                m.wall,
                f"allocated {_mib(restored.allocated)} MiB"
                + ("" if out["identical"] else "  RESTORED FILE DIFFERS"),
            )
        except StepFailed as exc:
            out["error"] = str(exc)
            print(f"  !! sparse {tool.name}: {exc}", flush=True)
        finally:
            run._rmtree(ws)
    return rec


def start_s3(ctx: Context) -> None:
    """SeaweedFS as the tests start it (tests/s3_server.py); a note when it cannot run."""
    try:
        sys.path.insert(0, str(ROOT / "tests"))
        from s3_server import start_s3_server

        root = ctx.tmp / "s3server"
        root.mkdir(parents=True)
        server = start_s3_server(root)
    except Exception as exc:  # no weed binary, no boto3, no start
        ctx.notes.append(f"S3 remote skipped: {str(exc).splitlines()[0]}")
        print(f"skipping the S3 remote: {exc}", flush=True)
        return
    ctx.s3 = (server, server.make_bucket())


def remote_size(ctx: Context, tool: Tool, ws: Path, kind: str, url: str) -> Sizes:
    """What the remote holds: files under a directory, objects under an S3 prefix, or the
    restic repository."""
    if kind == "repo":
        return tree_size(tool.store(ws))
    if kind == "dir":
        return tree_size(Path(url))
    server, bucket = ctx.s3
    prefix = url.removeprefix(f"s3://{bucket}/").rstrip("/") + "/"
    total = count = 0
    pages = server.client().get_paginator("list_objects_v2")
    for page in pages.paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            total += obj["Size"]
            count += 1
    return Sizes(total, total, count)  # allocation on the server is not ours to see


def scenario_push(ctx: Context) -> dict[str, Any]:
    master = ctx.csv_master()
    file_size = master.stat().st_size
    rec: dict[str, Any] = {"file_bytes": file_size, "rows": []}
    if any(t.name == "dws" for t in ctx.tools) and ctx.s3 is None:
        start_s3(ctx)
    for tool in ctx.tools:
        ws = ctx.workspace("push", tool)
        path = ws / "data" / master.name
        shutil.copyfile(master, path)
        if isinstance(tool, Dws) and ctx.s3 is not None:
            tool.extra_env = ctx.s3[0].env()
        env = tool.env(ws)
        kinds = tool.remote_kinds(ctx.s3 is not None)
        urls = {
            k: (
                f"s3://{ctx.s3[1]}/{tool.name}"
                if k == "s3"
                else str(ctx.tmp / "push" / f"{tool.name}-remote-{k}")
            )
            for k in kinds
        }
        rows = {k: {"tool": tool.name, "remote": k, "url": urls[k], "error": None} for k in kinds}
        rec["rows"].extend(rows.values())
        try:
            if tool.setup(ws):
                ctx.do(tool.setup(ws), env)
            for k in kinds:
                if tool.add_remote(ws, k, urls[k]):
                    ctx.do(tool.add_remote(ws, k, urls[k]), env)
            ctx.do(tool.snapshot(ws, True, "v1"), env)
            before: dict[str, Sizes] = {}
            for k in kinds:
                if tool.push(ws, k):
                    rows[k]["push1"] = ctx.do(tool.push(ws, k), env).as_json()
                before[k] = remote_size(ctx, tool, ws, k, urls[k])
                rows[k]["remote_after_push1"] = before[k].as_json()
            append_lines(path)
            m = ctx.do(tool.snapshot(ws, False, "v2"), env)
            for k in kinds:
                rows[k]["snapshot2"] = m.as_json()
                push = tool.push(ws, k)
                m2 = ctx.do(push, env) if push else m  # restic: the backup is the push
                after = remote_size(ctx, tool, ws, k, urls[k])
                rows[k]["push2"] = m2.as_json()
                rows[k]["remote_after_push2"] = after.as_json()
                rows[k]["received"] = (after - before[k]).as_json()
                _progress(
                    "push",
                    tool.name,
                    f"2nd push to {k}",
                    m2.wall,
                    f"received {_mib((after - before[k]).apparent)} MiB",
                )
            for k in kinds:
                if k == "repo":
                    continue
                target = ctx.tmp / "push" / f"{tool.name}-clone-{k}"
                run._rmtree(target)
                m3 = ctx.do(tool.clone(ws, urls[k], target), tool.env(target))
                fetched = tree_size(tool.clone_store(target))
                same = filecmp.cmp(path, target / "data" / master.name, shallow=False)
                rows[k]["clone"] = m3.as_json()
                rows[k]["fetched"] = fetched.as_json()
                rows[k]["clone_identical"] = same
                run._rmtree(target)
                _progress(
                    "push",
                    tool.name,
                    f"clone from {k}",
                    m3.wall,
                    f"fetched {_mib(fetched.apparent)} MiB" + ("" if same else "  CLONE DIFFERS"),
                )
        except StepFailed as exc:
            for r in rows.values():
                r["error"] = r["error"] or str(exc)
            print(f"  !! push {tool.name}: {exc}", flush=True)
        finally:
            run._rmtree(ws)
            for k in kinds:
                if k == "dir":
                    run._rmtree(Path(urls[k]))
    return rec


SCENARIOS: dict[str, tuple[str, Callable[[Context], dict[str, Any]]]] = {
    "csv": ("CSV with edits", scenario_csv),
    "checkpoint": ("Checkpoint", scenario_checkpoint),
    "sparse": ("Sparse file", scenario_sparse),
    "push": ("Push after append", scenario_push),
}


# --------------------------------------------------------------------------- report


def render(head: list[str], rows: list[list[str]], left: int = 1) -> str:
    """A Markdown table; the first `left` columns left-aligned, the others right-aligned."""
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]

    def line(cells: list[str]) -> str:
        parts = [
            c.ljust(widths[i]) if i < left else c.rjust(widths[i]) for i, c in enumerate(cells)
        ]
        return "| " + " | ".join(parts) + " |"

    sep = "|" + "|".join(("-" * (w + 2)) for w in widths) + "|"
    return "\n".join([line(head), sep, *(line(r) for r in rows)])


def _pct(part: float, whole: float) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "-"


def table_versions(rec: dict[str, Any], tools: list[str]) -> str:
    size = rec["file_bytes"]
    head = ["step"]
    for t in tools:
        head += [f"{t} MiB", "+%", "time"]
    rows = []
    for i, (key, label) in enumerate(rec["steps"]):
        row = [label]
        for t in tools:
            out = rec["tools"][t]
            got = [r for r in out["rows"] if r["step"] == key]
            if not got:
                row += ["FAILED" if out["error"] else "-", "-", "-"]
                continue
            alloc = got[0]["store"]["allocated"]
            base = (
                out["empty_store"]["allocated"] if i == 0 else out["rows"][0]["store"]["allocated"]
            )
            row += [_mib(alloc), _pct(alloc - base, size), run._fmt_time(got[0]["wall_s"])]
        rows.append(row)
    return render(head, rows)


def table_sparse(rec: dict[str, Any], tools: list[str]) -> str:
    def cell(t: str, fn: Callable[[dict[str, Any]], str]) -> str:
        out = rec["tools"][t]
        try:
            return fn(out)
        except KeyError:
            return "FAILED" if out["error"] else "-"

    measures: list[tuple[str, Callable[[dict[str, Any]], str]]] = [
        ("store after snapshot, MiB allocated", lambda o: _mib(o["store"]["allocated"])),
        ("snapshot time", lambda o: run._fmt_time(o["snapshot"]["wall_s"])),
        ("restore time (file deleted first)", lambda o: run._fmt_time(o["restore"]["wall_s"])),
        ("restored file, MiB apparent", lambda o: _mib(o["restored"]["apparent"])),
        ("restored file, MiB allocated", lambda o: _mib(o["restored"]["allocated"])),
        ("restored file identical", lambda o: "yes" if o["identical"] else "NO"),
    ]
    rows = [[label, *(cell(t, fn) for t in tools)] for label, fn in measures]
    return render(["", *tools], rows)


def table_push(rec: dict[str, Any]) -> str:
    size = rec["file_bytes"]
    head = [
        "tool",
        "remote",
        "1st push",
        "remote MiB",
        "2nd push",
        "received MiB",
        "% of file",
        "clone/pull",
        "fetched MiB",
    ]
    rows = []
    for r in rec["rows"]:
        if "received" not in r:
            rows.append([r["tool"], r["remote"], "FAILED", *(["-"] * 6)])
            continue
        push1 = run._fmt_time(r["push1"]["wall_s"]) if "push1" in r else "(backup)"
        push2 = run._fmt_time(r["push2"]["wall_s"]) + ("" if "push1" in r else " (backup)")
        received = r["received"]["apparent"]
        if "fetched" in r:
            clone = run._fmt_time(r["clone"]["wall_s"]) + (
                "" if r["clone_identical"] else " DIFFERS"
            )
            fetched = _mib(r["fetched"]["apparent"])
        else:
            clone, fetched = ("FAILED", "-") if r["error"] else ("-", "-")
        rows.append(
            [
                r["tool"],
                r["remote"],
                push1,
                _mib(r["remote_after_push1"]["apparent"]),
                push2,
                _mib(received),
                _pct(received, size),
                clone,
                fetched,
            ]
        )
    return render(head, rows, left=2)


def report(results: dict[str, Any], tools: list[str]) -> str:
    out: list[str] = []
    sc = results["scenarios"]
    if "csv" in sc:
        r = sc["csv"]
        out += [
            f"CSV with edits: {r['file']}, {_mib(r['file_bytes'])} MiB, {r['rows_in_file']:,} rows."
            " Store: MiB allocated on disk (st_blocks*512) of .dataworkspace/objects | .dvc/cache"
            " | restic repo.",
            table_versions(r, tools),
            "+%: first row, the store as % of the file's size; later rows, the store's growth"
            " since the first snapshot as % of the file's (first) size. time: the snapshot"
            " command.",
            "",
        ]
    if "checkpoint" in sc:
        r = sc["checkpoint"]
        out += [
            f"Checkpoint: {_mib(r['file_bytes'])} MiB of float32 N(0,1). Store: MiB allocated"
            " on disk; +% as above.",
            table_versions(r, tools),
            "",
        ]
    if "sparse" in sc:
        r = sc["sparse"]
        out += [
            f"Sparse file: {_mib(r['file_bytes'])} MiB apparent, {_mib(r['data_bytes'])} MiB"
            " of data in 4 runs, the rest a hole. Sizes: MiB; allocated = st_blocks*512.",
            table_sparse(r, tools),
            "",
        ]
    if "push" in sc:
        r = sc["push"]
        out += [
            f"Push after append: the CSV ({_mib(r['file_bytes'])} MiB) pushed, {APPEND_LINES:,}"
            " lines appended and snapshotted, pushed again.",
            table_push(r),
            "remote MiB: what the remote held after the 1st push; received: what it gained"
            " in the 2nd (apparent bytes: files of a directory, objects listed in the bucket,"
            " the restic repository's growth by the 2nd backup); % of the first version's"
            " size. clone/pull: `dws clone` | `dvc pull` in a fresh project; fetched: apparent"
            " bytes of its store.",
            "",
        ]
    return "\n".join(out)


# --------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--scenarios", default=",".join(ALL_SCENARIOS), help="comma-separated (default: all)"
    )
    ap.add_argument("--tools", default=",".join(ALL_TOOLS), help="comma-separated (default: all)")
    ap.add_argument(
        "--work-dir",
        type=Path,
        default=DEFAULT_WORK,
        help="scratch space, emptied at the end; results.json stays (bench/.work/storage)",
    )
    ap.add_argument(
        "--small",
        action="store_true",
        help="quick variant: 16 MiB CSV, 32 MiB checkpoint, 256 MiB sparse file",
    )
    ap.add_argument(
        "--dvc-venv",
        type=Path,
        default=DEFAULT_DVC_VENV,
        help="DVC's own venv, made when missing (bench/.work/dvc-venv, as run.py)",
    )
    a = ap.parse_args(argv)
    a.scenario_names = [x.strip() for x in a.scenarios.split(",") if x.strip()]
    for x in a.scenario_names:
        if x not in ALL_SCENARIOS:
            ap.error(f"unknown scenario {x!r} (choose from {','.join(ALL_SCENARIOS)})")
    a.tool_names = [x.strip() for x in a.tools.split(",") if x.strip()]
    for x in a.tool_names:
        if x not in ALL_TOOLS:
            ap.error(f"unknown tool {x!r} (choose from {','.join(ALL_TOOLS)})")
    if not a.scenario_names or not a.tool_names:
        ap.error("no scenario or no tool to run")
    return a


def make_tool(name: str, dvc_venv: Path) -> Tool:
    if name == "dws":
        return Dws()
    if name == "dvc":
        return Dvc(dvc_venv.resolve())
    return Restic()


def main(argv: list[str] | None = None) -> int:
    a = parse_args(argv)
    work: Path = a.work_dir.resolve()
    work.mkdir(parents=True, exist_ok=True)
    scale = SMALL if a.small else FULL

    prepared = run.prepare_tools(a.tool_names, lambda name: make_tool(name, a.dvc_venv))
    if prepared is None:
        return 2
    tools, skipped = prepared
    tools.sort(key=lambda t: ALL_TOOLS.index(t.name))
    names = [t.name for t in tools]
    for t in tools:
        if isinstance(t, Dws):
            print(f"dws measured: {t.version}, from {t.source} (git describe: {t.commit})")

    tmp = work / "tmp"
    run._rmtree(tmp)  # what a killed run left
    tmp.mkdir()
    log_path = work / "storage.log"
    started = datetime.datetime.now(datetime.UTC)
    results: dict[str, Any] = {"scenarios": {}}
    with open(log_path, "w") as log:
        ctx = Context(tmp=tmp, scale=scale, tools=tools, runner=run.Runner(log))
        print(
            f"tools: {'; '.join(t.version or t.name for t in tools)};"
            f" {'small' if a.small else 'full'} sizes; work dir {work}",
            flush=True,
        )
        try:
            for key in a.scenario_names:
                title, fn = SCENARIOS[key]
                print(f"{title} ...", flush=True)
                results["scenarios"][key] = fn(ctx)
        finally:
            if ctx.s3 is not None:
                ctx.s3[0].stop()
            run._rmtree(tmp)

    dws = next((t for t in tools if isinstance(t, Dws)), None)
    results = {
        "started": started.isoformat(timespec="seconds"),
        "host": platform.node(),
        "machine": run.machine_info(),
        "small": a.small,
        "scale": dataclasses.asdict(scale),
        "tools": {t.name: t.version for t in tools},
        "dws": {
            "source": str(dws.source) if dws else None,
            "commit": dws.commit if dws else None,
        },
        "skipped": skipped,
        "notes": ctx.notes,
        **results,
    }
    failed = _any_error(results["scenarios"])
    (work / "results.json").write_text(json.dumps(results, indent=1) + "\n")
    print()
    if dws is not None:
        print(f"dws measured: {dws.version}, from {dws.source} (git describe: {dws.commit})")
    print(f"tools: {'; '.join(t.version or t.name for t in tools)}")
    print()
    print(report(results, names))
    for name, why in skipped.items():
        print(f"skipped {name}: {why}")
    for note in ctx.notes:
        print(note)
    print(f"raw figures: {work / 'results.json'}")
    if failed:
        print(f"some steps failed: the commands and their output are in {log_path}")
        return 1
    log_path.unlink()
    return 0


def _any_error(scenarios: dict[str, Any]) -> bool:
    for rec in scenarios.values():
        for out in [*rec.get("tools", {}).values(), *rec.get("rows", [])]:
            if out.get("error") or out.get("identical") is False:
                return True
            if out.get("clone_identical") is False:
                return True
    return False


if __name__ == "__main__":
    sys.exit(main())
