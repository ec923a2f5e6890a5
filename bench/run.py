#!/usr/bin/env python3
"""Side-by-side snapshot/restore benchmark: dws against DVC, restic and git.

For each workload (see gen.py) and each tool, starting from a fresh copy of the same tree,
it times these operations as whole processes (wall time and peak RSS):

  first snapshot            dws snapshot | dvc add    | restic backup | git add -A && git commit
  no-op snapshot            dws snapshot | dvc status | restic backup | git status
  snapshot after 1% change  the same as the first, after `gen.py mutate`
  restore into empty dir    dws restore --force | dvc checkout | restic restore | git checkout
  restore, hard links       dws restore --force --link hardlink (dws only)
  restore, cold page cache  (--cold, root only) each tool's restore again, after `sync` and
                            dropping the page cache

Workloads: many (50,000 x 2 KiB), large (8 x 128 MiB), flat (100,000 files of 200-3,000
bytes in one directory; DVC runs on it only when --tools names dvc). Tools alternate within
each round; the table shows medians over the rounds, the ratio peer time / dws time (5.0x =
dws is five times faster) and peak RSS. Raw figures go to <work dir>/results.json. A last
section runs bench/run_overhead.py (what `dws run` adds to a Python step; with --smoke, its
--quick form) unless --no-run-overhead. See bench/README.md.

Usage: run.py [--workloads many,large,flat] [--tools dws,dvc,restic,git] [--rounds N]
              [--smoke] [--cold] [--no-run-overhead]
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime
import hashlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TextIO

import gen  # bench/gen.py: this script's directory is first on sys.path

BENCH_DIR = Path(__file__).resolve().parent
DEFAULT_WORK = BENCH_DIR / ".work"
DVC_VERSION = "3.67.1"
TIME_BIN = "/usr/bin/time"
SEED = 42  # the tree
MUTATE_SEED = 1  # the 1% change: the same for every tool and round
MiB = 1 << 20

Cmd = tuple[list[str], Path]  # argv, working directory

ALL_TOOLS = ("dws", "dvc", "restic", "git")
OPERATIONS: tuple[tuple[str, str], ...] = (
    ("first", "first snapshot"),
    ("noop", "no-op snapshot"),
    ("change", "snapshot after 1% change"),
    ("restore", "restore into empty dir"),
    # dws alone: the same restore with --link hardlink; peers are shown with their restore
    ("restore_link", "restore, dws --link hardlink"),
    # --cold only: each tool's restore after dropping the page cache
    ("restore_cold", "restore, cold page cache"),
)
RESTORES = ("restore", "restore_link", "restore_cold")
DROP_CACHES = "/proc/sys/vm/drop_caches"


@dataclasses.dataclass(frozen=True)
class Workload:
    """One generated tree: `gen.py MODE --count COUNT --size SIZE` (no --size when size is
    0: the mode picks each file's size). Tools in `opt_in` run on it only when --tools
    names them."""

    name: str
    mode: str
    count: int
    size: int
    opt_in: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        return f"{self.mode}-{self.count}" + (f"x{self.size}" if self.size else "")

    def gen_args(self) -> list[str]:
        """gen.py's arguments after `MODE DIR --seed N`."""
        return ["--count", str(self.count), *(["--size", str(self.size)] if self.size else [])]

    def describe(self) -> str:
        if not self.size:
            return f"{self.name}: {self.count} files of {gen.FLAT_MIN}-{gen.FLAT_MAX} bytes"
        size = f"{self.size // MiB} MiB" if self.size >= MiB else f"{self.size // 1024} KiB"
        return f"{self.name}: {self.count} files x {size}"


WORKLOADS = {
    "many": Workload("many", "many", gen.MANY_COUNT, gen.MANY_SIZE),
    "large": Workload("large", "large", gen.LARGE_COUNT, gen.LARGE_SIZE),
    # DVC needs minutes on 100,000 files: only when asked for
    "flat": Workload("flat", "flat", gen.FLAT_COUNT, 0, opt_in=("dvc",)),
}
SMOKE_WORKLOADS = {
    "many": Workload("many", "many", 500, gen.MANY_SIZE),
    "large": Workload("large", "large", 2, 4 * MiB),
    "flat": Workload("flat", "flat", 2000, 0, opt_in=("dvc",)),
}


# --------------------------------------------------------------------------- measuring


@dataclasses.dataclass
class Measurement:
    """One timed step: one or more processes run one after the other."""

    wall: float  # seconds, summed over the step's processes
    rss_kib: int  # peak RSS, the largest of the step's processes (their children included)
    rc: int  # exit code of the first process that failed, else 0
    commands: list[str]

    def as_json(self) -> dict[str, Any]:
        return {
            "wall_s": round(self.wall, 4),
            "rss_kib": self.rss_kib,
            "rc": self.rc,
            "commands": self.commands,
        }


class Runner:
    """Runs a command as a child process and measures its wall time and peak RSS.

    Wall time is taken here around the child. Peak RSS comes from GNU time (`%M`) when
    /usr/bin/time exists, else from the child's own rusage returned by `os.wait4`.
    """

    def __init__(self, log: TextIO) -> None:
        self.log = log
        self.use_time = os.access(TIME_BIN, os.X_OK)
        self.method = "/usr/bin/time -f %M" if self.use_time else "os.wait4 rusage"

    def _one(self, argv: Sequence[str], cwd: Path, env: dict[str, str]) -> tuple[float, int, int]:
        self.log.write(f"$ (cd {cwd} && {' '.join(argv)})\n")
        self.log.flush()
        if self.use_time:
            fd, rss_file = tempfile.mkstemp(prefix="bench-rss-")
            os.close(fd)
            try:
                t0 = time.perf_counter()
                proc = subprocess.run(
                    [TIME_BIN, "-f", "%M", "-o", rss_file, *argv],
                    cwd=cwd,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=self.log,
                    stderr=subprocess.STDOUT,
                    check=False,
                )
                wall = time.perf_counter() - t0
                with open(rss_file) as f:
                    lines = [ln.strip() for ln in f.read().splitlines() if ln.strip()]
            finally:
                os.unlink(rss_file)
            rss = int(lines[-1]) if lines and lines[-1].isdigit() else 0
            rc = proc.returncode
        else:
            t0 = time.perf_counter()
            child = subprocess.Popen(
                list(argv),
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=self.log,
                stderr=subprocess.STDOUT,
            )
            _, status, usage = os.wait4(child.pid, 0)
            wall = time.perf_counter() - t0
            rc = os.waitstatus_to_exitcode(status)
            child.returncode = rc  # already reaped: keep Popen from waiting again
            rss = int(usage.ru_maxrss)  # KiB on Linux
        self.log.write(f"# rc={rc} wall={wall:.3f}s rss={rss}KiB\n")
        self.log.flush()
        return wall, rss, rc

    def measure(self, step: Sequence[Cmd], env: dict[str, str]) -> Measurement:
        wall, rss, rc, shown = 0.0, 0, 0, []
        for argv, cwd in step:
            shown.append(" ".join(argv))
            w, r, c = self._one(argv, cwd, env)
            wall += w
            rss = max(rss, r)
            if c != 0:
                rc = c
                break
        return Measurement(wall, rss, rc, shown)


# --------------------------------------------------------------------------- tools


class Tool:
    """One tool under test. `ws` is a fresh directory holding `data/`, the tree."""

    name = ""

    def __init__(self, work: Path) -> None:
        self.work = work
        self.version = ""

    def prepare(self) -> str | None:
        """Make the tool usable; returns why it is skipped, or None."""
        return None

    def env(self, ws: Path) -> dict[str, str]:
        return dict(os.environ)

    def setup(self, ws: Path) -> list[Cmd]:
        return []

    def first(self, ws: Path) -> list[Cmd]:
        raise NotImplementedError

    def noop(self, ws: Path) -> list[Cmd]:
        raise NotImplementedError

    def change(self, ws: Path) -> list[Cmd]:
        return self.first(ws)

    def restore(self, ws: Path) -> list[Cmd]:
        raise NotImplementedError

    def restore_link(self, ws: Path) -> list[Cmd]:
        """Restore by hard links (dws only); peers have no such row."""
        return []

    def restore_cold(self, ws: Path) -> list[Cmd]:
        """The restore row's command again, timed from a cold page cache (--cold)."""
        return self.restore(ws)

    def warm(self) -> list[str]:
        """A cheap command run once, untimed, so the tool's own files are in the page cache."""
        return []


def _version(argv: list[str], env: dict[str, str] | None = None) -> str:
    try:
        out = subprocess.run(
            argv, capture_output=True, text=True, check=False, timeout=120, env=env
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return ""
    return out.strip().splitlines()[0] if out.strip() else ""


def _package_dirs(python: str, package: str) -> list[str]:
    code = f"import {package}, os; print(os.path.dirname({package}.__file__))"
    out = subprocess.run([python, "-c", code], capture_output=True, text=True, check=False)
    return [out.stdout.strip()] if out.returncode == 0 and out.stdout.strip() else []


def compile_dws(exe: str) -> None:
    """Compile the bytecode of the dws package that ``exe`` runs. An editable install has
    none until a run writes it, and none is ever written under PYTHONDONTWRITEBYTECODE:
    every run would compile dws afresh (about 0.15 s), while pip compiled the peers'
    installs. Compiled once here, as pip would."""
    python = Path(exe).parent / "python"
    if python.exists():
        subprocess.run(
            [str(python), "-m", "compileall", "-q", *_package_dirs(str(python), "dws")],
            check=False,
            stdout=subprocess.DEVNULL,
        )


class Dws(Tool):
    name = "dws"

    def prepare(self) -> str | None:
        here = Path(sys.executable).parent / "dws"
        exe = str(here) if here.exists() else shutil.which("dws")
        if not exe:
            return "the dws command is not installed (run `make bench`, which installs it)"
        self.exe = exe
        self.version = _version([exe, "--version"])
        compile_dws(exe)
        return None

    def warm(self) -> list[str]:
        return [self.exe, "--help"]

    def setup(self, ws: Path) -> list[Cmd]:
        return [
            ([self.exe, "init"], ws),
            ([self.exe, "add", "local-files", "data", "--role", "source-data"], ws),
        ]

    def first(self, ws: Path) -> list[Cmd]:
        return [([self.exe, "snapshot"], ws)]

    def noop(self, ws: Path) -> list[Cmd]:
        return [([self.exe, "snapshot"], ws)]

    def change(self, ws: Path) -> list[Cmd]:
        return [([self.exe, "snapshot", "changed"], ws)]

    def restore(self, ws: Path) -> list[Cmd]:
        return [([self.exe, "restore", "--force", "changed"], ws)]

    def restore_link(self, ws: Path) -> list[Cmd]:
        return [([self.exe, "restore", "--force", "--link", "hardlink", "changed"], ws)]


class Dvc(Tool):
    name = "dvc"

    def __init__(self, work: Path, install: bool = True) -> None:
        super().__init__(work)
        self.install = install
        self.venv = work / "dvc-venv"
        self.exe = str(self.venv / "bin" / "dvc")

    def _installed(self) -> bool:
        if not os.access(self.exe, os.X_OK):
            return False
        return _version([self.exe, "--version"], self.env(self.work)) == DVC_VERSION

    def prepare(self) -> str | None:
        if not self._installed():
            if not self.install:
                return f"DVC is not installed in {self.venv}"
            print(f"installing DVC {DVC_VERSION} into {self.venv} ...", flush=True)
            shutil.rmtree(self.venv, ignore_errors=True)
            pip = [str(self.venv / "bin" / "python"), "-m", "pip", "install", "-q"]
            for argv in (
                [sys.executable, "-m", "venv", str(self.venv)],
                [*pip, "--upgrade", "pip"],
                [*pip, f"dvc=={DVC_VERSION}"],
            ):
                proc = subprocess.run(argv, capture_output=True, text=True, check=False)
                if proc.returncode != 0:
                    tail = " | ".join((proc.stdout + proc.stderr).strip().splitlines()[-3:])
                    return f"installing DVC failed: {' '.join(argv)}: {tail}"
            if not self._installed():
                return f"installing DVC {DVC_VERSION} did not give a working `dvc`"
        self.version = "DVC " + DVC_VERSION
        return None

    def env(self, ws: Path) -> dict[str, str]:
        return {
            **os.environ,
            "DVC_NO_ANALYTICS": "1",
            # DVC keeps an index keyed by the repo's path under /var/tmp/dvc by default: keep
            # it inside the fresh workspace so no run reuses what an earlier round left there;
            # and no user or system configuration
            "DVC_SITE_CACHE_DIR": str(ws / ".dvc-site"),
            "DVC_GLOBAL_CONFIG_DIR": str(ws / ".dvc-global"),
            "DVC_SYSTEM_CONFIG_DIR": str(ws / ".dvc-system"),
        }

    def warm(self) -> list[str]:
        return [self.exe, "--version"]

    def setup(self, ws: Path) -> list[Cmd]:
        return [([self.exe, "init", "--no-scm", "-q"], ws)]

    def first(self, ws: Path) -> list[Cmd]:
        return [([self.exe, "add", "data"], ws)]

    def noop(self, ws: Path) -> list[Cmd]:
        return [([self.exe, "status"], ws)]

    def restore(self, ws: Path) -> list[Cmd]:
        return [([self.exe, "checkout"], ws)]


class Restic(Tool):
    name = "restic"

    def prepare(self) -> str | None:
        exe = shutil.which("restic")
        if not exe:
            return (
                "restic is not installed; to include it: sudo apt-get install -y restic "
                "(Debian/Ubuntu package `restic`)"
            )
        self.exe = exe
        self.version = _version([exe, "version"]).split(" compiled")[0]
        return None

    def env(self, ws: Path) -> dict[str, str]:
        return {
            **os.environ,
            "RESTIC_REPOSITORY": str(ws / "repo"),
            "RESTIC_PASSWORD": "bench",
            "RESTIC_CACHE_DIR": str(ws / "restic-cache"),
        }

    def warm(self) -> list[str]:
        return [self.exe, "version"]

    def setup(self, ws: Path) -> list[Cmd]:
        return [([self.exe, "init"], ws)]

    def first(self, ws: Path) -> list[Cmd]:
        return [([self.exe, "backup", "."], ws / "data")]

    def noop(self, ws: Path) -> list[Cmd]:
        return self.first(ws)

    def restore(self, ws: Path) -> list[Cmd]:
        return [([self.exe, "restore", "latest", "--target", "."], ws / "data")]


class Git(Tool):
    name = "git"

    def prepare(self) -> str | None:
        exe = shutil.which("git")
        if not exe:
            return "git is not installed"
        self.exe = exe
        self.version = _version([exe, "--version"])
        return None

    def env(self, ws: Path) -> dict[str, str]:
        return {
            **os.environ,
            "GIT_AUTHOR_NAME": "bench",
            "GIT_AUTHOR_EMAIL": "bench@localhost",
            "GIT_COMMITTER_NAME": "bench",
            "GIT_COMMITTER_EMAIL": "bench@localhost",
            # git as it comes: no user or system configuration (fsmonitor, hooks, ...)
            "GIT_CONFIG_GLOBAL": os.devnull,
            "GIT_CONFIG_NOSYSTEM": "1",
        }

    def warm(self) -> list[str]:
        return [self.exe, "--version"]

    def setup(self, ws: Path) -> list[Cmd]:
        return [
            ([self.exe, "init", "-q"], ws),
            # no automatic housekeeping: a detached `git gc --auto` would run on after the
            # commit that started it, uncounted and overlapping the next measurement
            ([self.exe, "config", "gc.auto", "0"], ws),
            ([self.exe, "config", "commit.gpgsign", "false"], ws),
        ]

    def first(self, ws: Path) -> list[Cmd]:
        return [
            ([self.exe, "add", "-A"], ws),
            ([self.exe, "commit", "-q", "-m", "snapshot"], ws),
        ]

    def noop(self, ws: Path) -> list[Cmd]:
        return [([self.exe, "status"], ws)]

    def restore(self, ws: Path) -> list[Cmd]:
        return [([self.exe, "checkout", "-f", "HEAD"], ws)]


# --------------------------------------------------------------------------- trees


def _rmtree(path: Path) -> None:
    def retry(func: Callable[..., Any], p: str, _exc: Any) -> None:
        os.chmod(os.path.dirname(p), 0o755)
        if os.path.isdir(p) and not os.path.islink(p):
            os.chmod(p, 0o755)
        func(p)

    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.exists():
        shutil.rmtree(path, onerror=retry)


class Trash:
    """Trees of many files set aside while a run goes on, deleted when it ends. ext4 passes
    over inodes freed in the last seconds when it allocates new ones, so a restore right
    after deleting 50,000 files swung by a factor of two for every tool, depending on what
    the round before had deleted; with nothing deleted during the run the restore rows
    compare the tools, not the deletions. A workload of fewer than `FROM_FILES` files, or
    a disk with less than `KEEP_FREE` bytes free, is deleted at once as before."""

    FROM_FILES = 10_000
    KEEP_FREE = 20 * 1024**3

    def __init__(self, work: Path) -> None:
        self.root = work / "trash"
        self._count = 0
        self.empty()  # left by a run that was interrupted

    def discard(self, path: Path, files: int) -> None:
        """Remove `path` now, or set it aside when its workload has many files."""
        if not path.exists() and not path.is_symlink():
            return
        if files < self.FROM_FILES or shutil.disk_usage(self.root.parent).free < self.KEEP_FREE:
            _rmtree(path)
            return
        self.root.mkdir(exist_ok=True)
        self._count += 1
        path.rename(self.root / str(self._count))

    def empty_dir(self, path: Path, files: int) -> None:
        """Everything inside `path` discarded, `path` itself kept."""
        with os.scandir(path) as it:
            for entry in it:
                self.discard(Path(entry.path), files)

    def empty(self) -> None:
        """Delete everything set aside."""
        _rmtree(self.root)


def copy_tree(src: Path, dst: Path) -> None:
    if shutil.which("cp"):
        subprocess.run(["cp", "-a", str(src), str(dst)], check=True)
    else:
        shutil.copytree(src, dst, symlinks=True)


def ensure_workload(w: Workload, work: Path) -> Path:
    """The generated tree for `w`, made once and cached under <work>/data/."""
    base = work / "data" / w.key
    marker = work / "data" / (w.key + ".json")
    gen_hash = hashlib.sha256((BENCH_DIR / "gen.py").read_bytes()).hexdigest()
    spec = {"mode": w.mode, "count": w.count, "size": w.size, "seed": SEED, "gen": gen_hash}
    if marker.exists() and base.is_dir():
        try:
            if json.loads(marker.read_text()) == spec:
                return base
        except ValueError:
            pass
    marker.unlink(missing_ok=True)
    _rmtree(base)
    print(f"generating {w.describe()} in {base} ...", flush=True)
    base.mkdir(parents=True)
    # gen.py runs as its own process here and for `mutate`, so that this script never holds
    # the random buffers: with os.wait4 the child's peak RSS would include this process's
    _gen(w.mode, str(base), "--seed", str(SEED), *w.gen_args())
    os.sync()
    marker.write_text(json.dumps(spec) + "\n")
    return base


def _gen(*args: str, log: TextIO | None = None) -> None:
    argv = [sys.executable, str(BENCH_DIR / "gen.py"), *args]
    if log is not None:
        log.write(f"# (untimed) {' '.join(argv)}\n")
        log.flush()
    subprocess.run(argv, check=True, stdout=log, stderr=log)


def cold_unavailable() -> str | None:
    """Why --cold cannot drop the page cache here, or None when it can."""
    if os.geteuid() != 0:
        return (
            f"--cold needs root (it writes 3 to {DROP_CACHES}); run as root to get the"
            " row; skipping 'restore, cold page cache'"
        )
    if not os.access(DROP_CACHES, os.W_OK):
        return f"--cold: {DROP_CACHES} is not writable here; skipping 'restore, cold page cache'"
    return None


def drop_caches() -> None:
    """`sync`, then drop the page cache, dentries and inodes of the whole machine (root)."""
    os.sync()
    with open(DROP_CACHES, "w") as f:
        f.write("3\n")


def warm_cache(base: Path) -> None:
    """Read the whole tree once so the copies start from a warm page cache."""
    for rel in gen.list_files(str(base)):
        with open(base / rel, "rb") as f:
            while f.read(MiB):
                pass


# --------------------------------------------------------------------------- one run


def run_tool(
    tool: Tool,
    w: Workload,
    base: Path,
    work: Path,
    rnd: int,
    runner: Runner,
    ops: Sequence[str],
    trash: Trash,
) -> dict[str, Any]:
    """The operations `ops` (keys of OPERATIONS, in its order) of one tool on a fresh copy
    of the tree. `planned` in the record lists those the tool has a command for; when the
    page cache cannot be dropped, the cold restore leaves it and `cold_error` says why."""
    ws = work / "runs" / f"{w.key}-{tool.name}"
    trash.discard(ws, w.count)
    ws.mkdir(parents=True)
    data = ws / "data"
    copy_tree(base, data)
    env = tool.env(ws)
    rec: dict[str, Any] = {
        "workload": w.name,
        "tool": tool.name,
        "round": rnd + 1,
        "planned": [op for op, _ in OPERATIONS if op in ops and getattr(tool, op)(ws)],
        "ops": {},
        "error": None,
        "verified": None,
    }
    try:
        os.sync()
        setup = tool.setup(ws)
        if setup:
            m = runner.measure(setup, env)
            rec["setup"] = m.as_json()
            if m.rc != 0:
                rec["error"] = f"setup failed (exit {m.rc}): {' ; '.join(m.commands)}"
                return rec
        expected: list[str] = []
        for op, label in OPERATIONS:
            if op not in rec["planned"]:
                continue
            step = getattr(tool, op)(ws)
            if op == "change":
                _gen("mutate", str(data), "--seed", str(MUTATE_SEED), log=runner.log)
                expected = gen.manifest_lines(str(data))
            elif op in RESTORES:
                trash.empty_dir(data, w.count)
            if op == "restore_cold":
                try:
                    drop_caches()  # includes the sync
                except OSError as e:
                    rec["planned"].remove(op)
                    rec["cold_error"] = f"cannot drop the page cache: {DROP_CACHES}: {e}"
                    print(f"  skipping '{label}': {rec['cold_error']}", flush=True)
                    continue
            else:
                os.sync()
            m = runner.measure(step, env)
            rec["ops"][op] = m.as_json()
            failed = "" if m.rc == 0 else f"  FAILED (exit {m.rc})"
            print(
                f"  {w.name:<6} {tool.name:<6} round {rnd + 1}  {label:<25}"
                f" {m.wall:8.2f} s {m.rss_kib / 1024:6.0f} MiB{failed}",
                flush=True,
            )
            if m.rc != 0:
                rec["error"] = f"{op} failed (exit {m.rc}): {' ; '.join(m.commands)}"
                return rec
            if op in RESTORES:
                _verify(rec, expected, gen.manifest_lines(str(data)), op)
        return rec
    finally:
        trash.discard(ws, w.count)


def _verify(rec: dict[str, Any], expected: list[str], got: list[str], op: str) -> None:
    """Mark the run verified only while every restore gave back the snapshotted tree."""
    same = got == expected
    rec["verified"] = same and rec["verified"] is not False
    if not same and rec["error"] is None:
        missing = sorted(set(expected) - set(got))
        extra = sorted(set(got) - set(expected))
        rec["error"] = (
            f"{op}: restored tree differs from the snapshotted one: {len(missing)} manifest"
            f" lines missing (first: {missing[:3]}), {len(extra)} unexpected (first:"
            f" {extra[:3]})"
        )


# --------------------------------------------------------------------------- report


def _fmt_time(s: float) -> str:
    if s < 1:
        return f"{s:.3f} s"
    return f"{s:.2f} s" if s < 100 else f"{s:.0f} s"


def _fmt_ratio(r: float) -> str:
    if r >= 1:
        return f"{r:.1f}x"
    return f"{r:.2f}x" if r >= 0.1 else f"{r:.3f}x"


def summarise(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Median wall time and peak RSS per (workload, operation, tool)."""
    out: list[dict[str, Any]] = []
    keys: list[tuple[str, str, str]] = []
    for r in runs:
        for op, _ in OPERATIONS:
            if op not in r["planned"]:
                continue
            k = (r["workload"], op, r["tool"])
            if k not in keys:
                keys.append(k)
    for wname, op, tname in keys:
        walls, rss, failed = [], [], 0
        for r in runs:
            if (r["workload"], r["tool"]) != (wname, tname) or op not in r["planned"]:
                continue
            m = r["ops"].get(op)
            ok = m is not None and m["rc"] == 0 and not (op in RESTORES and not r["verified"])
            if ok:
                walls.append(m["wall_s"])
                rss.append(m["rss_kib"])
            else:
                failed += 1
        out.append(
            {
                "workload": wname,
                "operation": op,
                "tool": tname,
                "median_s": statistics.median(walls) if walls else None,
                "peak_rss_mib": round(max(rss) / 1024, 1) if rss else None,
                "runs": len(walls),
                "failed": failed,
            }
        )
    return out


def render_table(summary: list[dict[str, Any]], workloads: list[str], tools: list[str]) -> str:
    """One row per (workload, operation) measured for any tool; "-" where a tool did not run
    on that workload."""
    cell = {(s["workload"], s["operation"], s["tool"]): s for s in summary}
    measured = {(s["workload"], s["operation"]) for s in summary}
    peers = [t for t in tools if t != "dws"]
    head = ["workload", "operation"]
    for t in tools:
        head.append(t + " time (peak RSS)")
        if t != "dws" and "dws" in tools:
            head.append(t + "/dws")
    rows: list[list[str]] = []
    for wname in workloads:
        for op, label in OPERATIONS:
            if (wname, op) not in measured:
                continue
            row = [wname, label]
            dws_s = cell.get((wname, op, "dws"), {}).get("median_s")
            for t in tools:
                # peers have no hard-link restore: that row compares dws with their restore
                s = cell.get((wname, "restore" if t != "dws" and op == "restore_link" else op, t))
                if s is None or s["median_s"] is None:
                    row.append("FAILED" if s else "-")
                else:
                    mark = " *" if s["failed"] else ""
                    time_s = _fmt_time(s["median_s"])
                    row.append(f"{time_s} ({s['peak_rss_mib']:.0f} MiB){mark}")
                if t in peers and "dws" in tools:
                    if s is not None and s["median_s"] is not None and dws_s:
                        row.append(_fmt_ratio(s["median_s"] / dws_s))
                    else:
                        row.append("-")
            rows.append(row)
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]

    def line(cells: list[str]) -> str:
        parts = [c.ljust(widths[i]) if i < 2 else c.rjust(widths[i]) for i, c in enumerate(cells)]
        return "| " + " | ".join(parts) + " |"

    sep = "|" + "|".join(("-" * (w + 2)) for w in widths) + "|"
    return "\n".join([line(head), sep, *(line(r) for r in rows)])


# --------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--workloads", default="many,large,flat", help="comma-separated: many,large,flat"
    )
    ap.add_argument(
        "--tools", default=None, help="comma-separated: dws,dvc,restic,git (default: all)"
    )
    ap.add_argument("--rounds", type=int, default=None, help="rounds per tool (default 3)")
    ap.add_argument(
        "--smoke",
        action="store_true",
        help="tiny workloads (500 files; 2 x 4 MiB; 2,000 flat files), 1 round, dws plus "
        "only the peers that are already installed",
    )
    ap.add_argument(
        "--cold",
        action="store_true",
        help="add the row 'restore, cold page cache' for every tool: sync and drop the page "
        f"cache ({DROP_CACHES}, root only) before a second restore",
    )
    ap.add_argument(
        "--work-dir", type=Path, default=DEFAULT_WORK, help="cache and scratch (bench/.work)"
    )
    ap.add_argument("--json", type=Path, default=None, help="where to write the raw figures")
    ap.add_argument(
        "--no-run-overhead",
        action="store_true",
        help="skip the last section, the `dws run` overhead (bench/run_overhead.py)",
    )
    a = ap.parse_args(argv)
    a.rounds = a.rounds if a.rounds is not None else (1 if a.smoke else 3)
    if a.rounds < 1:
        ap.error("--rounds must be at least 1")
    a.workload_names = [x.strip() for x in a.workloads.split(",") if x.strip()]
    for x in a.workload_names:
        if x not in WORKLOADS:
            ap.error(f"unknown workload {x!r} (choose from {','.join(WORKLOADS)})")
    if a.tools is None:
        a.tool_names = list(ALL_TOOLS)
        a.explicit_tools = False
    else:
        a.tool_names = [x.strip() for x in a.tools.split(",") if x.strip()]
        a.explicit_tools = True
        for x in a.tool_names:
            if x not in ALL_TOOLS:
                ap.error(f"unknown tool {x!r} (choose from {','.join(ALL_TOOLS)})")
    if a.json is None:
        a.json = a.work_dir / ("results-smoke.json" if a.smoke else "results.json")
    return a


def make_tool(name: str, work: Path, smoke: bool) -> Tool:
    if name == "dws":
        return Dws(work)
    if name == "dvc":
        # the smoke run never installs DVC; it uses it only when an earlier run did
        return Dvc(work, install=not smoke)
    if name == "restic":
        return Restic(work)
    return Git(work)


def prepare_tools(
    names: list[str], make: Callable[[str], Tool]
) -> tuple[list[Tool], dict[str, str]] | None:
    """(the tools ready to run, why the others are skipped), each skip printed; None (after
    an error line) when dws itself, or every tool, cannot run."""
    tools: list[Tool] = []
    skipped: dict[str, str] = {}
    for name in names:
        tool = make(name)
        why = tool.prepare()
        if why is None:
            tools.append(tool)
        else:
            skipped[name] = why
            print(f"skipping {name}: {why}", flush=True)
    if "dws" in skipped:
        print(f"error: {skipped['dws']}", file=sys.stderr)
        return None
    if not tools:
        print("error: no tool to run", file=sys.stderr)
        return None
    return tools, skipped


def machine_info() -> dict[str, Any]:
    """The machine the figures were taken on, for results.json."""
    return {
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
    }


def main(argv: list[str] | None = None) -> int:
    a = parse_args(argv)
    work: Path = a.work_dir.resolve()
    work.mkdir(parents=True, exist_ok=True)
    catalogue = SMOKE_WORKLOADS if a.smoke else WORKLOADS
    workloads = [catalogue[n] for n in a.workload_names]

    prepared = prepare_tools(a.tool_names, lambda name: make_tool(name, work, a.smoke))
    if prepared is None:
        return 2
    tools, skipped = prepared
    # the order of --tools, dws first so the ratios read left to right
    tools.sort(key=lambda t: (t.name != "dws", a.tool_names.index(t.name)))

    logs = work / "logs"
    logs.mkdir(exist_ok=True)
    log_path = logs / ("run-smoke.log" if a.smoke else "run.log")
    ops = [op for op, _ in OPERATIONS if op != "restore_cold"]
    cold_skipped = cold_unavailable() if a.cold else None
    if cold_skipped:
        print(cold_skipped, flush=True)
    elif a.cold:
        ops.append("restore_cold")
    left_out: dict[str, list[str]] = {}
    runs: list[dict[str, Any]] = []
    started = datetime.datetime.now(datetime.UTC)
    trash = Trash(work)
    with open(log_path, "w") as log, contextlib.ExitStack() as cleanup:
        cleanup.callback(trash.empty)
        runner = Runner(log)
        print(
            f"tools: {'; '.join(t.version or t.name for t in tools)}; rounds: {a.rounds};"
            f" peak RSS via {runner.method}; log: {log_path}",
            flush=True,
        )
        for tool in tools:
            if tool.warm():
                subprocess.run(tool.warm(), capture_output=True, check=False, env=tool.env(work))
        for w in workloads:
            # a tool in w.opt_in runs on w only when --tools names it
            wtools = [t for t in tools if a.explicit_tools or t.name not in w.opt_in]
            if len(wtools) < len(tools):
                left_out[w.name] = [t.name for t in tools if t not in wtools]
                print(
                    f"{w.name}: without {', '.join(left_out[w.name])} (name it in --tools to"
                    " include it)",
                    flush=True,
                )
            base = ensure_workload(w, work)
            warm_cache(base)
            print(f"{w.describe()} ({base})", flush=True)
            for rnd in range(a.rounds):
                k = rnd % len(wtools)
                for tool in wtools[k:] + wtools[:k]:  # alternate who goes first
                    rec = run_tool(tool, w, base, work, rnd, runner, ops, trash)
                    runs.append(rec)
                    if rec["error"]:
                        print(f"  !! {w.name} {tool.name}: {rec['error']} (see {log_path})")
                    if rec.get("cold_error"):
                        # the same failure every time: no more cold rows in this run
                        cold_skipped = rec["cold_error"]
                        ops.remove("restore_cold")
                    if "restore_cold" in rec["ops"]:
                        # the next tool starts with its own files in the page cache again
                        for t in tools:
                            if t.warm():
                                subprocess.run(
                                    t.warm(), capture_output=True, check=False, env=t.env(work)
                                )

    summary = summarise(runs)
    names = [t.name for t in tools]
    table = render_table(summary, [w.name for w in workloads], names)
    print()
    print(table)
    print()
    cold_note = " (except the cold row)" if "restore_cold" in ops else ""
    print(
        f"Median wall time of {a.rounds} round(s), whole process, warm page cache{cold_note};"
        " peak RSS is the largest over the rounds."
    )
    if len(names) > 1 and "dws" in names:
        print("PEER/dws = peer time / dws time: 5.0x means dws is 5 times faster.")
    if any(s["failed"] for s in summary):
        print("* some rounds failed; the median is over the others (see results JSON).")
    for name, why in skipped.items():
        print(f"skipped {name}: {why}")
    for wname, names_out in left_out.items():
        print(f"{wname}: {', '.join(names_out)} not run (opt-in: name it in --tools)")
    if cold_skipped:
        print(f"cold restore row skipped: {cold_skipped}")

    result = {
        "started": started.isoformat(timespec="seconds"),
        "host": platform.node(),
        "machine": machine_info(),
        "rounds": a.rounds,
        "smoke": a.smoke,
        "rss_method": runner.method,
        "tools": {t.name: t.version for t in tools},
        "skipped": skipped,
        "left_out": left_out,
        "cold": {"requested": a.cold, "skipped": cold_skipped},
        "workloads": {w.name: dataclasses.asdict(w) for w in workloads},
        "operations": dict(OPERATIONS),
        "runs": runs,
        "summary": summary,
    }
    a.json.parent.mkdir(parents=True, exist_ok=True)
    a.json.write_text(json.dumps(result, indent=1) + "\n")
    print(f"raw figures: {a.json}")
    failures = [r for r in runs if r["error"]]
    overhead_rc = 0 if a.no_run_overhead else run_overhead(work, a.rounds, a.smoke)
    return 1 if failures or overhead_rc != 0 else 0


def run_overhead(work: Path, rounds: int, smoke: bool) -> int:
    """The `dws run` overhead section: bench/run_overhead.py, its table on our stdout."""
    name = "run-overhead-smoke.json" if smoke else "run-overhead.json"
    argv = [sys.executable, str(BENCH_DIR / "run_overhead.py"), "--rounds", str(rounds)]
    argv += ["--work-dir", str(work), "--json", str(work / name)]
    print(flush=True)
    return subprocess.run([*argv, *(["--quick"] if smoke else [])], check=False).returncode


if __name__ == "__main__":
    sys.exit(main())
