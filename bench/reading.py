#!/usr/bin/env python3
"""Reading snapshots without restoring them: dws's three read-access goals, measured.

  random  Random access from an S3 remote. A parquet file of about 1 GiB (24 int64 columns
          of small random values, uncompressed, so dws stores it chunked) is snapshotted and
          pushed to a local SeaweedFS. A fresh process with an empty read cache and no
          workspace reads ONE column with pyarrow through `dws.open(PATH, snapshot="v1",
          remote=URL)`: the bytes it fetched from the remote, as a share of the file (goal:
          at most 10%), and its wall time; beside it the same column read from the local file
          (the floor) and `dws get URL v1:PATH DEST` of the whole file. (DVC has no random
          access: `dvc get` and `dvc pull` fetch whole files.)
  cat     `dws cat v1:PATH` of one small file in a snapshot of 1,000,000 files (goal: at most
          0.3 s, whole process), beside `cat PATH` (the floor) and, with --with-peers,
          `git show HEAD:PATH` and `restic dump latest /PATH` of the same tree.
  stream  `dws cat v1:BIG > out` of a 1 GiB file from the local store, once loose (random
          bytes) and once chunked (compressible bytes), beside `cat BIG > out` (goal: within
          1.5x of cat) and `restic dump latest /BIG > out` when restic is installed.

Every figure is a whole process (interpreter start included), timed over several rounds
after one untimed round that warms the page cache and checks every command's output; the
table gives the median and the minimum. Inputs and their snapshots are cached under the work
directory; scratch outputs are removed as they are measured. See bench/README.md.

Usage: python bench/reading.py [--parts random,cat,stream] [--rounds N] [--files N]
                               [--parquet-mib N] [--stream-mib N] [--with-peers|--no-peers]
                               [--smoke] [--work-dir DIR] [--json FILE] [--clean]
"""

from __future__ import annotations

import argparse
import dataclasses
import filecmp
import json
import math
import os
import random
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from scale import build_tree, dws_command, file_path, tree_dirs  # scripts beside this one
from storage import describe_tree, dws_source, render, run_facts

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DEFAULT_WORK = HERE / ".work" / "reading"
MiB = 1 << 20
GiB = 1 << 30
ALL_PARTS = ("random", "cat", "stream")
SEED = 42

COLUMNS = 24  # int64 columns c0 .. c23 of the parquet file
COLUMN = "c7"  # the one read
ROW_GROUP = 1 << 20  # rows per row group (pyarrow's default)
PEERS_UP_TO = 100_000
TIME_BIN = (
    "/usr/bin/time"  # GNU time: peak RSS  # --with-peers is the default up to this many files
)

GOAL_FETCHED = 0.10  # random: at most 10% of the file fetched
GOAL_CAT_S = 0.3  # cat: at most 0.3 s
GOAL_STREAM = 1.5  # stream: within 1.5x of cat

GIT_ENV = {
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@localhost",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@localhost",
    "GIT_CONFIG_GLOBAL": os.devnull,  # git as it comes: no user or system configuration
    "GIT_CONFIG_NOSYSTEM": "1",
}

# The process that reads one column: pyarrow through dws.open from the remote ("local":
# pyarrow's own reader on the local file). It counts what the S3 client fetched by wrapping
# botocore's one entry point for requests, and prints its figures as one JSON line.
CHILD = r"""
import json, sys, time
started = time.perf_counter()
import pyarrow.compute as pc
import pyarrow.parquet as pq
source, path, column = sys.argv[1:4]
requests, got = {}, {}

def kind(key):
    if "/packs/" in key:
        return "pack indexes" if key.endswith(".idx") else "pack ranges"
    if "/objects/lists/" in key:
        return "chunk lists"
    return "loose objects" if "/objects/" in key else "records"

if source != "local":
    import botocore.client
    real = botocore.client.BaseClient._make_api_call

    def counting(self, operation, params):
        response = real(self, operation, params)
        requests[operation] = requests.get(operation, 0) + 1
        if operation == "GetObject":
            k = kind(params.get("Key", ""))
            got[k] = got.get(k, 0) + int(response.get("ContentLength", 0))
        return response

    botocore.client.BaseClient._make_api_call = counting
    import dws
imported = time.perf_counter()
handle = dws.open(path, snapshot="v1", remote=source) if source != "local" else None
opened = time.perf_counter()
try:
    table = pq.ParquetFile(handle if handle is not None else path).read(columns=[column])
finally:
    if handle is not None:
        handle.close()
done = time.perf_counter()
print(json.dumps({
    "rows": table.num_rows,
    "sum": pc.sum(table.column(0)).as_py(),
    "import_s": imported - started,
    "open_s": opened - imported,
    "read_s": done - opened,
    "requests": requests,
    "fetched": got,
}))
"""


# --------------------------------------------------------------------------- measuring


class StepFailed(Exception):
    """A command failed or gave the wrong output."""


@dataclasses.dataclass
class Row:
    """One command measured over the rounds."""

    part: str
    key: str  # dws, floor, get, git, restic
    label: str
    argv: list[str]
    cwd: Path
    env: dict[str, str]
    check: Callable[[Path, bool], dict[str, Any]]  # (stdout file, warm-up) -> figures
    prepare: Callable[[], None] = lambda: None  # untimed, before each run
    walls: list[float] = dataclasses.field(default_factory=list)
    rss: float | None = None  # MiB, from the untimed round
    figures: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    errors: list[str] = dataclasses.field(default_factory=list)

    @property
    def median(self) -> float | None:
        return statistics.median(self.walls) if self.walls else None

    def to_json(self) -> dict[str, Any]:
        return {
            "part": self.part,
            "key": self.key,
            "label": self.label,
            "command": self.argv,
            "cwd": str(self.cwd),
            "wall_s": [round(w, 4) for w in self.walls],
            "median_s": round(self.median, 4) if self.walls else None,
            "min_s": round(min(self.walls), 4) if self.walls else None,
            "peak_rss_mib": round(self.rss, 1) if self.rss is not None else None,
            "figures": self.figures,
            "errors": self.errors,
        }


def timed(argv: list[str], cwd: Path, env: dict[str, str], stdout: Path) -> float:
    """Wall seconds of one child process, its stdout written to `stdout`."""
    with open(stdout, "wb") as out:
        start = time.perf_counter()
        proc = subprocess.run(
            argv, cwd=cwd, env=env, stdout=out, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL
        )
        wall = time.perf_counter() - start
    if proc.returncode != 0:
        tail = proc.stderr.decode(errors="replace").strip().splitlines()[-3:]
        raise StepFailed(f"exit {proc.returncode}: {' / '.join(tail)}")
    return wall


def peak_rss(argv: list[str], cwd: Path, env: dict[str, str], stdout: Path) -> float | None:
    """Run the command once under GNU time; its peak RSS in MiB (None without GNU time).
    Untimed: GNU time adds a process of its own, and the child's own rusage would also count
    this script's resident set at the moment it starts the child."""
    if not os.access(TIME_BIN, os.X_OK):
        return None
    report = stdout.with_name("rss")
    timed([TIME_BIN, "-f", "%M", "-o", str(report), *argv], cwd, env, stdout)
    kib = report.read_text().strip().splitlines()[-1]
    report.unlink()
    return int(kib) / 1024


def measure(rows: list[Row], rounds: int, out: Path) -> None:
    """One untimed round (page cache warmed, outputs checked, peak RSS taken), then
    `rounds` timed ones, the order of the rows rotating from round to round."""
    for number in range(rounds + 1):
        warm = number == 0
        shift = number % len(rows)
        for row in rows[shift:] + rows[:shift]:
            try:
                row.prepare()
                os.sync()
                if warm:
                    row.rss = peak_rss(row.argv, row.cwd, row.env, out)
                    wall = 0.0
                else:
                    wall = timed(row.argv, row.cwd, row.env, out)
                figures = row.check(out, warm)
            except (StepFailed, OSError, ValueError) as exc:
                row.errors.append(f"round {number}: {exc}")
                print(f"  {row.part:<14} {row.label:<30} FAILED: {exc}", flush=True)
                continue
            finally:
                out.unlink(missing_ok=True)
            if warm:
                continue
            row.walls.append(wall)
            row.figures.append(figures)
            extra = f"  {figures['note']}" if figures.get("note") else ""
            print(f"  {row.part:<14} {row.label:<30} {wall:8.3f} s{extra}", flush=True)


def run_setup(argv: list[str], cwd: Path, env: dict[str, str] | None = None) -> float:
    """Run an untimed set-up command (it must succeed); return its wall time."""
    start = time.perf_counter()
    proc = subprocess.run(
        argv, cwd=cwd, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL
    )
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed (exit {proc.returncode}):\n{proc.stderr}")
    return time.perf_counter() - start


def tree_bytes(path: Path) -> int:
    """Apparent size of every file below `path` (0 when it does not exist)."""
    return sum(os.lstat(os.path.join(d, n)).st_size for d, _, names in os.walk(path) for n in names)


def expect_bytes(expected: bytes) -> Callable[[Path, bool], dict[str, Any]]:
    """A check: the command printed exactly `expected`."""

    def check(out: Path, warm: bool) -> dict[str, Any]:
        got = out.read_bytes()
        if got != expected:
            raise StepFailed(f"printed {got[:40]!r}, not {expected[:40]!r}")
        return {}

    return check


def expect_copy(source: Path) -> Callable[[Path, bool], dict[str, Any]]:
    """A check: the output has `source`'s size (and, in the warm-up round, its bytes)."""

    def check(out: Path, warm: bool) -> dict[str, Any]:
        size = out.stat().st_size
        if size != source.stat().st_size:
            raise StepFailed(f"wrote {size:,} bytes, not {source.stat().st_size:,}")
        if warm and not filecmp.cmp(out, source, shallow=False):
            raise StepFailed(f"the output differs from {source.name}")
        return {}

    return check


def dws_store_kind(ws: Path, rel: str) -> str:
    """How the workspace's store keeps file `rel` of snapshot v1: chunked, loose or packed."""
    proc = subprocess.run(
        [dws_command(), "ls", "--json", f"v1:{rel}"], cwd=ws, capture_output=True, text=True
    )
    if proc.returncode != 0:
        raise SystemExit(f"dws ls v1:{rel} failed:\n{proc.stderr}")
    oid = json.loads(proc.stdout)[0]["id"]
    objects = ws / ".dataworkspace" / "objects"
    if (objects / "lists" / oid[:2] / oid[2:]).exists():
        return "chunked"
    return "loose" if (objects / oid[:2] / oid[2:]).exists() else "packed"


def snapshot_workspace(ws: Path, env: dict[str, str]) -> float:
    """`dws init`, `dws add local-files data`, `dws snapshot v1` in `ws`; the snapshot's
    wall time."""
    dws = dws_command()
    run_setup([dws, "-q", "init"], ws, env)
    run_setup([dws, "-q", "add", "local-files", "data", "--role", "source-data"], ws, env)
    time.sleep(1)  # files older than the racy-timestamp window, as in real use
    return run_setup([dws, "-q", "snapshot", "v1"], ws, env)


def restic_env(repo: Path, env: dict[str, str]) -> dict[str, str] | None:
    """`env` for restic with its repository at `repo` (None: no restic)."""
    if shutil.which("restic") is None:
        return None
    return {
        **env,
        "RESTIC_REPOSITORY": str(repo),
        "RESTIC_PASSWORD": "bench",
        "RESTIC_CACHE_DIR": str(repo.parent / "restic-cache"),
    }


def restic_backup(data: Path, repo: Path, env: dict[str, str]) -> float:
    """`restic init` and `restic backup .` of `data` (paths in the snapshot: /NAME)."""
    shutil.rmtree(repo, ignore_errors=True)
    shutil.rmtree(repo.parent / "restic-cache", ignore_errors=True)
    run_setup(["restic", "init", "-q"], data, env)
    return run_setup(["restic", "backup", "-q", "."], data, env)


# --------------------------------------------------------------------------- the context


@dataclasses.dataclass
class Context:
    work: Path
    scratch: Path
    rounds: int
    files: int
    parquet_bytes: int
    stream_bytes: int
    peers: bool
    env: dict[str, str]
    setup: dict[str, Any] = dataclasses.field(default_factory=dict)
    notes: list[str] = dataclasses.field(default_factory=list)
    goals: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    rows: list[Row] = dataclasses.field(default_factory=list)

    def measure(self, rows: list[Row]) -> None:
        """Measure `rows` (see `measure`), keeping them for the report."""
        self.rows += rows
        measure(rows, self.rounds, self.scratch / "out")

    def note(self, text: str) -> None:
        self.notes.append(text)
        print(text, flush=True)


def cached(directory: Path, params: dict[str, Any]) -> bool:
    """True when `directory` was fully made with `params`; otherwise it is removed (a
    partial or different build) and False."""
    stamp = directory / "ready.json"
    try:
        if json.loads(stamp.read_text()) == params:
            return True
    except (OSError, ValueError):
        pass
    shutil.rmtree(directory, ignore_errors=True)
    return False


def mark_ready(directory: Path, params: dict[str, Any]) -> None:
    (directory / "ready.json").write_text(json.dumps(params))


# --------------------------------------------------------------------------- 1. random


def pyarrow_missing() -> str | None:
    """Why part 1 cannot run (pyarrow or numpy missing), or None. Asked of a child, so this
    process stays small (a child started by a large process shows a larger peak RSS)."""
    code = "import numpy, pyarrow.parquet"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if proc.returncode == 0:
        return None
    missing = proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "import failed"
    return f"pyarrow is not installed ({missing}): skipping part 1 (random access)"


# A parquet file of about SIZE bytes: COLUMNS int64 columns of small random values,
# plain-encoded and uncompressed (so its bytes compress and dws stores it chunked), row
# groups of ROW_GROUP rows. Written by a child, so this process never holds pyarrow.
WRITER = r"""
import sys
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
path = sys.argv[1]
size, columns, row_group, seed = map(int, sys.argv[2:6])
rows = max(1, size // (columns * 8))
rng = np.random.default_rng(seed)
schema = pa.schema([(f"c{i}", pa.int64()) for i in range(columns)])
with pq.ParquetWriter(path, schema, compression="none", use_dictionary=False) as writer:
    for start in range(0, rows, row_group):
        count = min(row_group, rows - start)
        arrays = [pa.array(rng.integers(0, 1000 * (i + 1), count)) for i in range(columns)]
        writer.write_table(pa.table(arrays, schema=schema), row_group_size=row_group)
print(rows)
"""


def write_parquet(path: Path, size: int) -> int:
    """The parquet file of part 1 (see WRITER); return its row count."""
    args = [str(path), str(size), str(COLUMNS), str(ROW_GROUP), str(SEED)]
    proc = subprocess.run([sys.executable, "-c", WRITER, *args], capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"writing the parquet file failed:\n{proc.stderr}")
    return int(proc.stdout)


def parquet_workspace(ctx: Context) -> Path:
    """The workspace holding data/table.parquet, snapshotted as v1 (cached)."""
    base = ctx.work / f"random-{ctx.parquet_bytes // MiB}mib"
    params = {"bytes": ctx.parquet_bytes, "columns": COLUMNS, "seed": SEED}
    ws = base / "ws"
    if not cached(base, params):
        (ws / "data").mkdir(parents=True)
        started = time.perf_counter()
        rows = write_parquet(ws / "data" / "table.parquet", ctx.parquet_bytes)
        ctx.setup["random_generate_s"] = round(time.perf_counter() - started, 2)
        ctx.setup["random_snapshot_s"] = round(snapshot_workspace(ws, ctx.env), 2)
        kind = dws_store_kind(ws, "data/table.parquet")
        if kind != "chunked":
            raise SystemExit(f"dws stored the parquet file {kind}, not chunked")
        print(f"made {rows:,}-row parquet file and its snapshot", flush=True)
        mark_ready(base, params)
    return ws


def part_random(ctx: Context) -> None:
    why = pyarrow_missing()
    if why is not None:
        ctx.note(why)
        return
    ws = parquet_workspace(ctx)
    local = ws / "data" / "table.parquet"
    size = local.stat().st_size
    ctx.setup["parquet_bytes"] = size
    try:
        sys.path.insert(0, str(ROOT / "tests"))
        from s3_server import start_s3_server

        (ctx.scratch / "s3server").mkdir()
        server = start_s3_server(ctx.scratch / "s3server")
    except Exception as exc:  # no weed binary, no boto3, no start
        ctx.note(f"the S3 server cannot start, skipping part 1: {str(exc).splitlines()[0]}")
        return
    try:
        ctx.measure(_random_rows(ctx, ws, local, size, server))
    finally:
        server.stop()


def _random_rows(ctx: Context, ws: Path, local: Path, size: int, server: Any) -> list[Row]:
    env = {**ctx.env, **server.env()}
    url = f"s3://{server.make_bucket()}/reading"
    dws = dws_command()
    remote = f"bench{time.time_ns()}"
    run_setup([dws, "-q", "remote", "add", remote, url], ws, env)
    try:
        ctx.setup["random_push_s"] = round(run_setup([dws, "-q", "push", remote], ws, env), 2)
    finally:
        run_setup([dws, "-q", "remote", "remove", remote], ws, env)
    print(f"pushed to {url} in {ctx.setup['random_push_s']:.1f} s", flush=True)

    nowhere = ctx.scratch / "nowhere"  # the current directory: no workspace around it
    nowhere.mkdir()
    cache = ctx.scratch / "xdg-cache"
    env = {**env, "XDG_CACHE_HOME": str(cache), "TMPDIR": str(ctx.scratch / "tmp")}
    (ctx.scratch / "tmp").mkdir(exist_ok=True)
    path = "data/table.parquet"
    expected: dict[str, Any] = {}

    def fresh_cache() -> None:
        shutil.rmtree(cache, ignore_errors=True)
        cache.mkdir()

    def column(out: Path, warm: bool, remote: bool) -> dict[str, Any]:
        got = json.loads(out.read_text())
        if not remote:
            expected.update(rows=got["rows"], sum=got["sum"])
        elif expected and (got["rows"], got["sum"]) != (expected["rows"], expected["sum"]):
            raise StepFailed(
                f"column {COLUMN}: {got['rows']} rows, sum {got['sum']}, not {expected}"
            )
        figures = {k: round(got[k], 4) for k in ("import_s", "open_s", "read_s")}
        figures["note"] = (
            f"import {got['import_s']:.2f} s, open {got['open_s']:.2f} s,"
            f" read {got['read_s']:.2f} s"
        )
        if remote:
            fetched = sum(got["fetched"].values())
            cached_bytes = tree_bytes(cache)
            figures |= {
                "fetched_bytes": fetched,
                "fetched_by_kind": got["fetched"],
                "requests": got["requests"],
                "cache_bytes": cached_bytes,
                "fetched_share": round(fetched / size, 5),
                "cache_share": round(cached_bytes / size, 5),
            }
            figures["note"] += (
                f", fetched {fetched / MiB:.1f} MiB ({fetched / size:.1%}),"
                f" cache {cached_bytes / MiB:.1f} MiB ({cached_bytes / size:.1%}),"
                f" {got['requests'].get('GetObject', 0)} GETs"
            )
            shutil.rmtree(cache, ignore_errors=True)
        return figures

    dest = ctx.scratch / "got.parquet"

    def got_whole(out: Path, warm: bool) -> dict[str, Any]:
        try:
            if dest.stat().st_size != size:
                raise StepFailed(f"dws get wrote {dest.stat().st_size:,} bytes, not {size:,}")
            if warm and not filecmp.cmp(dest, local, shallow=False):
                raise StepFailed("dws get's copy differs from the file")
            cached_bytes = tree_bytes(cache)
            return {"cache_bytes": cached_bytes, "note": f"cache {cached_bytes / MiB:.0f} MiB"}
        finally:
            dest.unlink(missing_ok=True)
            shutil.rmtree(cache, ignore_errors=True)

    py = sys.executable
    floor = Row(
        "random",
        "floor",
        "pyarrow, local file (floor)",
        [py, "-c", CHILD, "local", str(local), COLUMN],
        nowhere,
        env,
        lambda out, warm: column(out, warm, False),
    )
    return [
        floor,
        Row(
            "random",
            "dws",
            "dws.open + pyarrow, from S3",
            [py, "-c", CHILD, url, path, COLUMN],
            nowhere,
            env,
            lambda out, warm: column(out, warm, True),
            fresh_cache,
        ),
        Row(
            "random",
            "get",
            "dws get (whole file), from S3",
            [dws, "get", url, f"v1:{path}", str(dest)],
            nowhere,
            env,
            got_whole,
            fresh_cache,
        ),
    ]


# --------------------------------------------------------------------------- 2. cat


def picked_file(files: int) -> tuple[str, bytes]:
    """The file `cat` reads (the middle of the middle directory) and its content."""
    dirs = tree_dirs(files)
    per_dir = math.ceil(files / dirs)
    index = min(files - 1, (dirs // 2) * per_dir + per_dir // 2)
    path, content = file_path(Path(), "tree", files, index)
    return path.as_posix(), content


def part_cat(ctx: Context) -> None:
    ctx.measure(_cat_rows(ctx))


def _cat_rows(ctx: Context) -> list[Row]:
    base = ctx.work / f"cat-{ctx.files}"
    ws, data = base / "ws", base / "ws" / "data"
    params = {"files": ctx.files, "layout": "tree"}
    if not cached(base, params):
        ws.mkdir(parents=True)
        started = time.perf_counter()
        build_tree(data, "tree", ctx.files)
        ctx.setup["cat_build_s"] = round(time.perf_counter() - started, 2)
        print(f"built {ctx.files:,} files in {ctx.setup['cat_build_s']:.1f} s", flush=True)
        ctx.setup["cat_snapshot_s"] = round(snapshot_workspace(ws, ctx.env), 2)
        print(f"snapshot of {ctx.files:,} files: {ctx.setup['cat_snapshot_s']:.1f} s", flush=True)
        mark_ready(base, params)
    rel, content = picked_file(ctx.files)
    print(f"reading data/{rel} ({ctx.files:,} files in {tree_dirs(ctx.files):,} directories)")
    rows = [
        Row(
            "cat",
            "floor",
            "cat (floor)",
            ["cat", f"data/{rel}"],
            ws,
            ctx.env,
            expect_bytes(content),
        ),
        Row(
            "cat",
            "dws",
            "dws cat",
            [dws_command(), "cat", f"v1:data/{rel}"],
            ws,
            ctx.env,
            expect_bytes(content),
        ),
    ]
    if not ctx.peers:
        ctx.note(f"cat: git and restic left out at {ctx.files:,} files (add --with-peers)")
        return rows
    git_dir = base / "git"
    if shutil.which("git") is None:
        ctx.note("git is not installed: its cat row is left out")
    else:
        git_env = {**ctx.env, **GIT_ENV}
        if not (base / "git-ready").exists():
            shutil.rmtree(git_dir, ignore_errors=True)
            git = ["git", f"--git-dir={git_dir}", f"--work-tree={data}"]
            started = time.perf_counter()
            run_setup([*git, "init", "-q"], base, git_env)
            run_setup([*git, "config", "gc.auto", "0"], base, git_env)
            run_setup([*git, "add", "-A"], base, git_env)
            run_setup([*git, "commit", "-q", "-m", "v1"], base, git_env)
            run_setup([*git, "repack", "-a", "-d", "-q"], base, git_env)  # as after `git gc`
            run_setup([*git, "prune-packed"], base, git_env)
            ctx.setup["cat_git_s"] = round(time.perf_counter() - started, 2)
            print(f"git add + commit + repack: {ctx.setup['cat_git_s']:.1f} s", flush=True)
            (base / "git-ready").touch()
        rows.append(
            Row(
                "cat",
                "git",
                "git show",
                ["git", f"--git-dir={git_dir}", "show", f"HEAD:{rel}"],
                ws,
                git_env,
                expect_bytes(content),
            )
        )
    repo = base / "restic"
    renv = restic_env(repo, ctx.env)
    if renv is None:
        ctx.note("restic is not installed (apt-get install -y restic): its cat row is left out")
    else:
        if not (base / "restic-ready").exists():
            ctx.setup["cat_restic_s"] = round(restic_backup(data, repo, renv), 2)
            print(f"restic backup: {ctx.setup['cat_restic_s']:.1f} s", flush=True)
            (base / "restic-ready").touch()
        rows.append(
            Row(
                "cat",
                "restic",
                "restic dump",
                ["restic", "dump", "latest", f"/{rel}"],
                ws,
                renv,
                expect_bytes(content),
            )
        )
    return rows


# --------------------------------------------------------------------------- 3. stream

HEX = bytes(b"0123456789abcdef"[i & 15] for i in range(256))


def write_stream_file(path: Path, size: int, seed: int, compressible: bool) -> None:
    """`size` seeded random bytes; `compressible`: hex digits (4 bits of entropy a byte, so
    they compress to about half and dws chunks them)."""
    rng = random.Random(seed)
    with open(path, "wb") as out:
        left = size
        while left:
            block = rng.randbytes(min(left, 64 * MiB))
            out.write(block.translate(HEX) if compressible else block)
            left -= len(block)


STREAMS = (("loose", "random.bin", False), ("chunked", "text.bin", True))


def part_stream(ctx: Context) -> None:
    base = ctx.work / f"stream-{ctx.stream_bytes // MiB}mib"
    ws, data = base / "ws", base / "ws" / "data"
    params = {"bytes": ctx.stream_bytes, "seed": SEED}
    if not cached(base, params):
        data.mkdir(parents=True)
        for i, (_, name, compressible) in enumerate(STREAMS):
            write_stream_file(data / name, ctx.stream_bytes, SEED + i, compressible)
        ctx.setup["stream_snapshot_s"] = round(snapshot_workspace(ws, ctx.env), 2)
        for kind, name, _ in STREAMS:
            stored = dws_store_kind(ws, f"data/{name}")
            if stored != kind:
                raise SystemExit(f"dws stored data/{name} {stored}, not {kind}")
        mark_ready(base, params)
    repo = base / "restic"
    renv = restic_env(repo, ctx.env)
    if renv is None:
        ctx.note(
            "restic is not installed (apt-get install -y restic): its stream rows are left out"
        )
    elif not (base / "restic-ready").exists():
        ctx.setup["stream_restic_s"] = round(restic_backup(data, repo, renv), 2)
        (base / "restic-ready").touch()
    for kind, name, _ in STREAMS:
        part = f"stream-{kind}"
        check = expect_copy(data / name)
        rows = [
            Row(part, "floor", "cat > out (floor)", ["cat", f"data/{name}"], ws, ctx.env, check),
            Row(
                part,
                "dws",
                "dws cat > out",
                [dws_command(), "cat", f"v1:data/{name}"],
                ws,
                ctx.env,
                check,
            ),
        ]
        if renv is not None:
            rows.append(
                Row(
                    part,
                    "restic",
                    "restic dump > out",
                    ["restic", "dump", "latest", f"/{name}"],
                    ws,
                    renv,
                    check,
                )
            )
        ctx.measure(rows)


# --------------------------------------------------------------------------- report


def _ratio(a: float | None, b: float | None) -> str:
    return f"{a / b:.2f}x" if a is not None and b else "-"


def goals(ctx: Context) -> list[dict[str, Any]]:
    """Each goal: what it asks, the figure, met or not."""
    by = {(r.part, r.key): r for r in ctx.rows}
    out: list[dict[str, Any]] = []
    dws = by.get(("random", "dws"))
    if dws is not None and dws.figures:
        share = statistics.median(f["fetched_share"] for f in dws.figures)
        touched = statistics.median(f["cache_share"] for f in dws.figures)
        out.append(
            {
                "goal": "random access from S3: one column fetches at most 10% of the file",
                "figure": f"{share:.1%} transferred ({touched:.1%} in the read cache)",
                "met": share <= GOAL_FETCHED,
            }
        )
    dws = by.get(("cat", "dws"))
    if dws is not None and dws.median is not None:
        out.append(
            {
                "goal": f"dws cat of one file in {ctx.files:,} files: at most {GOAL_CAT_S} s",
                "figure": f"{dws.median:.3f} s median",
                "met": dws.median <= GOAL_CAT_S,
            }
        )
    for kind, _, _ in STREAMS:
        part = f"stream-{kind}"
        dws, floor = by.get((part, "dws")), by.get((part, "floor"))
        if dws is None or floor is None or dws.median is None or not floor.median:
            continue
        ratio = dws.median / floor.median
        out.append(
            {
                "goal": f"streaming a {kind} file: dws cat within {GOAL_STREAM}x of cat",
                "figure": f"{ratio:.2f}x",
                "met": ratio <= GOAL_STREAM,
            }
        )
    return out


def report(ctx: Context) -> str:
    by = {(r.part, r.key): r for r in ctx.rows}
    table: list[list[str]] = []
    for row in ctx.rows:
        floor = by.get((row.part, "floor"))
        dws = by.get((row.part, "dws"))
        med = row.median
        cells = [
            row.part,
            row.label,
            f"{med:.3f} s" if med is not None else "FAILED",
            f"{min(row.walls):.3f} s" if row.walls else "-",
            f"{row.rss:.0f} MiB" if row.rss is not None else "-",
            _ratio(med, floor.median if floor else None) if row.key != "floor" else "",
            _ratio(dws.median if dws else None, med) if row.key in ("git", "restic") else "",
        ]
        if row.errors and row.walls:
            cells[2] += " *"
        table.append(cells)
    head = ["part", "command", "median", "min", "peak RSS", "÷ floor", "dws ÷ this"]
    lines = [render(head, table, left=2)]
    by_part = {(r.part, r.key): r for r in ctx.rows}
    dws = by_part.get(("random", "dws"))
    if dws is not None and dws.figures:
        last = dws.figures[-1]
        kinds = ", ".join(
            f"{k} {v / 1024:,.0f} KiB" for k, v in sorted(last["fetched_by_kind"].items())
        )
        requests = ", ".join(f"{k} {v}" for k, v in sorted(last["requests"].items()))
        size = ctx.setup["parquet_bytes"]
        lines += [
            f"\nrandom: one column of a {size / MiB:.0f} MiB parquet file; transferred"
            f" {statistics.median(f['fetched_bytes'] for f in dws.figures) / MiB:.1f} MiB"
            f" ({kinds}), read cache after it (uncompressed)"
            f" {statistics.median(f['cache_bytes'] for f in dws.figures) / MiB:.1f} MiB;",
            f"requests: {requests}.",
            "DVC has no random access (`dvc get` and `dvc pull` fetch whole files).",
        ]
    lines.append("\ngoals:")
    for goal in ctx.goals:
        lines.append(f"  {goal['goal']}: {goal['figure']} ({'met' if goal['met'] else 'MISSED'})")
    if not ctx.goals:
        lines.append("  (none measured)")
    return "\n".join(lines)


# --------------------------------------------------------------------------- main


def _parts(text: str) -> list[str]:
    items = [x.strip() for x in text.split(",") if x.strip()]
    for item in items:
        if item not in ALL_PARTS:
            raise argparse.ArgumentTypeError(
                f"unknown part {item!r} (choose from random,cat,stream)"
            )
    return items


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--parts", type=_parts, default=list(ALL_PARTS), help="comma list")
    parser.add_argument("--rounds", type=int, default=None, help="timed rounds (5; smoke 1)")
    parser.add_argument("--files", type=int, default=None, help="cat: files (1000000)")
    parser.add_argument("--parquet-mib", type=int, default=None, help="random: MiB (1024)")
    parser.add_argument("--stream-mib", type=int, default=None, help="stream: MiB (1024)")
    parser.add_argument(
        "--with-peers",
        action=argparse.BooleanOptionalAction,
        default=None,
        help=f"cat: git and restic too (default: up to {PEERS_UP_TO:,} files)",
    )
    parser.add_argument(
        "--smoke", action="store_true", help="tiny inputs, one round: checks that it runs"
    )
    parser.add_argument("--work-dir", type=Path, default=DEFAULT_WORK)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument(
        "--clean", action="store_true", help="remove the cached inputs of the parts run at the end"
    )
    args = parser.parse_args(argv)
    small = args.smoke
    args.rounds = args.rounds or (1 if small else 5)
    args.files = args.files or (2_000 if small else 1_000_000)
    args.parquet_mib = args.parquet_mib or (8 if small else 1024)
    args.stream_mib = args.stream_mib or (8 if small else 1024)
    if min(args.rounds, args.files, args.parquet_mib, args.stream_mib) < 1:
        parser.error("--rounds, --files, --parquet-mib and --stream-mib must be at least 1")
    if args.parquet_mib < 5 or args.stream_mib < 5:
        parser.error("--parquet-mib and --stream-mib must be at least 5 (chunked: over 4 MiB)")
    if args.with_peers is None:
        args.with_peers = args.files <= PEERS_UP_TO
    if args.json is None:
        args.json = args.work_dir / ("results-smoke.json" if small else "results.json")
    return args


def disk_needed(args: argparse.Namespace) -> float:
    """Rough GiB the parts need at their peak (inputs, stores, remote, scratch)."""
    need = 0.0
    if "random" in args.parts:  # file, store, remote, the copy and the cache of `dws get`
        need += 3.7 * args.parquet_mib / 1024
    if "cat" in args.parts:  # a 4 KiB block and an inode per file, and the stores
        need += args.files * 4.4e-6
    if "stream" in args.parts:  # two files, their store, restic's repository, the output
        need += 6.2 * args.stream_mib / 1024
    return need


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    work: Path = args.work_dir.resolve()
    scratch = work / "scratch"
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    # Python's bytecode cache as in normal use: without it every dws process compiles its
    # modules again (about 0.1 s more per process); the untimed round writes it
    no_pyc = "PYTHONDONTWRITEBYTECODE" in os.environ
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["DWS_LOCK_TIMEOUT"] = "30"
    exe = dws_command()
    source = dws_source(exe, env)
    version = subprocess.run([exe, "--version"], capture_output=True, text=True).stdout.strip()
    need, free = disk_needed(args), shutil.disk_usage(work).free / GiB
    print(f"dws {version} from {source} ({describe_tree(source)})")
    print(f"needs about {need:.1f} GiB under {work} ({free:.0f} GiB free)", flush=True)
    if need > free:
        print("warning: probably not enough free disk", flush=True)
    ctx = Context(
        work=work,
        scratch=scratch,
        rounds=args.rounds,
        files=args.files,
        parquet_bytes=args.parquet_mib * MiB,
        stream_bytes=args.stream_mib * MiB,
        peers=args.with_peers,
        env=env,
    )
    if no_pyc:
        ctx.note("PYTHONDONTWRITEBYTECODE is set here: unset for the measured commands")
    result: dict[str, Any] = {
        **run_facts(version, source),
        "options": {
            "parts": args.parts,
            "rounds": args.rounds,
            "files": args.files,
            "parquet_mib": args.parquet_mib,
            "stream_mib": args.stream_mib,
            "with_peers": args.with_peers,
            "smoke": args.smoke,
        },
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)

    def save() -> None:
        ctx.goals = goals(ctx)
        result.update(
            setup=ctx.setup,
            rows=[r.to_json() for r in ctx.rows],
            goals=ctx.goals,
            notes=ctx.notes,
        )
        args.json.write_text(json.dumps(result, indent=1) + "\n")

    parts = {"random": part_random, "cat": part_cat, "stream": part_stream}
    try:
        for part in args.parts:
            print(f"\n== {part}", flush=True)
            started = time.perf_counter()
            parts[part](ctx)
            ctx.setup[f"{part}_part_s"] = round(time.perf_counter() - started, 1)
            print(f"({part}: {ctx.setup[f'{part}_part_s']:.0f} s in all)", flush=True)
            save()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print()
    print(report(ctx))
    for note in ctx.notes:
        print(f"note: {note}")
    print(f"results: {args.json}")
    if args.clean:
        for part in args.parts:
            for cached_dir in work.glob(f"{part}-*"):
                shutil.rmtree(cached_dir, ignore_errors=True)
    return 1 if any(r.errors for r in ctx.rows) else 0


if __name__ == "__main__":
    sys.exit(main())
