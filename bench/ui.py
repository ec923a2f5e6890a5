#!/usr/bin/env python3
"""Showing a big workspace: how long `dws report` takes and how large its file is.

The workspace (built once, in process, through dws's own API and run-record writer, and
cached under the work directory):

  data/raw       source-data, 50,000 files of about 200 bytes in 500 directories
  code           code, the three step scripts (prepare.py, train.py, evaluate.py)
  data/features  intermediate-data, 8 feature shards written by the prepare steps
  results        results: the model and two metrics files (8 metrics in all)

and 1,000 snapshots, one per cycle of a pipeline. Each cycle has 10 runs: 8 `prepare`
runs (one per shard, each reading 10 raw files and prepare.py), one `train` (the 8 shards
and train.py in; the model and results/train/metrics.json out) and one `evaluate` (the
model and evaluate.py in; results/eval/metrics.json out): 10,000 run records in all, with
the inputs, outputs and content ids a recorded run has, written by `RunCatalog.put` as
`dws run` writes them. The outputs are really written in each cycle and the cycle's
snapshot records them (only features and results; every 100th cycle also 50 raw files
changed and raw and code snapshotted; code changes every 250th). The run records go in
after the 999th snapshot; the 1,000th snapshot (HEAD) then records the runs that explain
it, as any snapshot taken after runs does. Every 50th snapshot is tagged.

Each command is a whole process (interpreter start included): one untimed round, then
--rounds timed ones (default 3); the table gives the median and the figure the goals are
about. Goals: the report at most 5 MB, written in at most 5 s; each page of `dws ui` sends
its first byte within 300 ms (one server for all pages, each page requested once untimed,
then --rounds times).

Rows are made by the functions in MEASURES, each given the built workspace; a new front
end adds its function there (see `measure_report`).

Usage: python bench/ui.py [--rounds N] [--work-dir DIR] [--json FILE] [--smoke] [--rebuild]
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import http.client
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from scale import dws_command  # scripts beside this one
from storage import describe_tree, dws_source, render, run_facts

HERE = Path(__file__).resolve().parent
DEFAULT_WORK = HERE / ".work" / "ui"
MB = 1_000_000

GOAL_REPORT_BYTES = 5 * MB
GOAL_REPORT_S = 5.0


@dataclasses.dataclass(frozen=True)
class Scale:
    """The size of the workspace."""

    snapshots: int = 1_000
    runs_per_cycle: int = 10  # 8 prepare, train, evaluate: runs = snapshots * 10
    files: int = 50_000
    dirs: int = 500
    raw_change_every: int = 100  # cycles
    raw_changed_files: int = 50
    code_change_every: int = 250
    tag_every: int = 50

    @property
    def runs(self) -> int:
        return self.snapshots * self.runs_per_cycle


FULL = Scale()
SMOKE = Scale(
    snapshots=12, files=500, dirs=10, raw_change_every=5, code_change_every=6, tag_every=4
)

SHARDS = 8  # prepare runs per cycle (runs_per_cycle - 2)
INPUTS_PER_SHARD = 10
CODE = {
    "prepare.py": "import sys\n# prepare a shard of features from raw files\n",
    "train.py": "import sys\n# train the model on every shard\n",
    "evaluate.py": "import sys\n# evaluate the model\n",
}


# --------------------------------------------------------------------------- the workspace


def raw_content(d: int, f: int, version: int) -> bytes:
    """A raw file: a few CSV lines, a function of its name and version."""
    rows = "".join(
        f"{d * 1000 + f},{(d * 7919 + f * 31 + version) % 1000},{version}\n" for _ in range(8)
    )
    return f"id,value,version\n{rows}".encode()


def raw_path(d: int, f: int) -> str:
    return f"d{d:03d}/f{f:03d}.csv"


def _now(clock: list[datetime.datetime]) -> str:
    """A UTC timestamp later than the previous one (as dws writes them)."""
    now = max(datetime.datetime.now(datetime.UTC), clock[0] + datetime.timedelta(microseconds=1))
    clock[0] = now
    return now.isoformat(timespec="microseconds").replace("+00:00", "Z")


def build_workspace(
    path: Path, scale: Scale = FULL, log: Callable[[str], None] = print
) -> dict[str, Any]:
    """Make the workspace described in this module's docstring at `path` (which must not
    exist), in process; return the set-up figures (seconds per phase, counts)."""
    import blake3

    import dws
    from dws.core.lineage.catalog import RunCatalog
    from dws.core.lineage.recording import environment_summary
    from dws.core.workspace import Workspace as CoreWorkspace
    from dws.model.runs import PathVersion, RunRecord

    def oid(data: bytes) -> str:
        return blake3.blake3(data).hexdigest()

    figures: dict[str, Any] = {}
    started = time.perf_counter()
    per_dir = scale.files // scale.dirs
    raw_version: dict[tuple[int, int], int] = {}
    raw = path / "data" / "raw"
    for d in range(scale.dirs):
        (raw / f"d{d:03d}").mkdir(parents=True)
        for f in range(per_dir):
            (raw / raw_path(d, f)).write_bytes(raw_content(d, f, 0))
    code_dir = path / "code"
    code_dir.mkdir()
    code_ids: dict[str, str] = {}
    for name, text in CODE.items():
        (code_dir / name).write_text(text)
        code_ids[name] = oid(text.encode())
    (path / "data" / "features").mkdir()
    (path / "results").mkdir()
    figures["files_s"] = round(time.perf_counter() - started, 1)
    log(f"  {scale.files:,} raw files written in {figures['files_s']:.1f} s")

    ws = dws.Workspace.init(str(path), "bench-ui")
    ws.add_resource("local-files", "data/raw", "source-data", name="raw")
    ws.add_resource("local-files", "code", "code", name="code")
    ws.add_resource("local-files", "data/features", "intermediate-data", name="features")
    ws.add_resource("local-files", "results", "results", name="results")
    time.sleep(1)  # files older than the racy-timestamp window, as in real use

    host, user = platform.node(), os.environ.get("USER", "bench")
    env = environment_summary([])
    clock = [datetime.datetime.now(datetime.UTC)]
    records: list[RunRecord] = []

    def record(
        step: str,
        argv: list[str],
        params: dict[str, Any],
        inputs: list[PathVersion],
        outputs: list[PathVersion],
        metrics: dict[str, float] | None = None,
    ) -> None:
        begun = _now(clock)
        records.append(
            RunRecord(
                step=step,
                via="command",
                argv=argv,
                cwd=".",
                started=begun,
                ended=_now(clock),
                exit_code=0,
                status="succeeded",
                hostname=host,
                user=user,
                environment=env,
                code=[],
                inputs=inputs,
                outputs=outputs,
                params=params,
                metrics=metrics or {},
                observer="python",
            ).with_id()
        )

    def write(rel: str, data: bytes) -> PathVersion:
        resource, _, inner = rel.partition("/")
        target = path / ("data/features" if resource == "features" else resource) / inner
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        return PathVersion(resource, inner, oid(data), "file")

    snap_s = 0.0
    for cycle in range(scale.snapshots):
        full = cycle == 0
        if cycle and cycle % scale.raw_change_every == 0:
            for k in range(scale.raw_changed_files):
                d, f = (cycle * 13 + k * 7) % scale.dirs, (cycle + k) % per_dir
                raw_version[(d, f)] = cycle
                (raw / raw_path(d, f)).write_bytes(raw_content(d, f, cycle))
            full = True
        if cycle and cycle % scale.code_change_every == 0:
            text = CODE["train.py"] + f"# revision {cycle}\n"
            (code_dir / "train.py").write_text(text)
            code_ids["train.py"] = oid(text.encode())
            full = True
        code = {n: PathVersion("code", n, i, "file") for n, i in code_ids.items()}
        shards = []
        for shard in range(SHARDS):
            d = (cycle * SHARDS + shard) % scale.dirs
            inputs = [
                PathVersion(
                    "raw",
                    raw_path(d, f),
                    oid(raw_content(d, f, raw_version.get((d, f), 0))),
                    "file",
                )
                for f in range(min(INPUTS_PER_SHARD, per_dir))
            ]
            out = write(f"features/shard-{shard}.csv", f"shard,{shard},{cycle},{d}\n".encode() * 20)
            shards.append(out)
            record(
                "prepare",
                ["python3", "code/prepare.py", "--shard", str(shard), f"data/raw/d{d:03d}"],
                {"shard": str(shard)},
                [*inputs, code["prepare.py"]],
                [out],
            )
        lr = 0.1 / (1 + cycle % 10)
        train_metrics = {
            "accuracy": round(0.5 + 0.45 * cycle / scale.snapshots + 0.01 * (cycle % 7), 4),
            "loss": round(2.0 / (1 + cycle / 50) + 0.02 * (cycle % 5), 4),
            "precision": round(0.6 + 0.3 * cycle / scale.snapshots, 4),
            "recall": round(0.55 + 0.35 * cycle / scale.snapshots, 4),
            "f1": round(0.57 + 0.33 * cycle / scale.snapshots, 4),
            "auc": round(0.7 + 0.25 * cycle / scale.snapshots, 4),
        }
        model = write("results/model.bin", f"weights {cycle} {lr}\n".encode() * 50)
        train_file = write("results/train/metrics.json", json.dumps(train_metrics).encode())
        record(
            "train",
            ["python3", "code/train.py", "--lr", f"{lr:.4f}", "--epochs", "10"],
            {"lr": f"{lr:.4f}", "epochs": "10"},
            [*shards, code["train.py"]],
            [model, train_file],
            train_metrics,
        )
        eval_metrics = {
            "accuracy": round(train_metrics["accuracy"] - 0.03, 4),
            "loss": round(train_metrics["loss"] + 0.1, 4),
        }
        eval_file = write("results/eval/metrics.json", json.dumps(eval_metrics).encode())
        record(
            "evaluate",
            ["python3", "code/evaluate.py", "results/model.bin"],
            {},
            [model, code["evaluate.py"]],
            [eval_file],
            eval_metrics,
        )
        if cycle == scale.snapshots - 1:  # HEAD: taken after the runs are recorded
            t = time.perf_counter()
            catalog = RunCatalog(CoreWorkspace.open(str(path)).layout)
            for item in records:
                catalog.put(item)
            figures["runs_s"] = round(time.perf_counter() - t, 1)
            log(f"  {len(records):,} run records written in {figures['runs_s']:.1f} s")
        tag = f"v{cycle // scale.tag_every + 1}" if (cycle + 1) % scale.tag_every == 0 else None
        t = time.perf_counter()
        ws.snapshot(
            tag,
            f"cycle {cycle}: lr={lr:.4f}",
            only=None if full or cycle == scale.snapshots - 1 else ["features", "results"],
        )
        snap_s += time.perf_counter() - t
        if (cycle + 1) % 100 == 0 or cycle == scale.snapshots - 1:
            log(f"  {cycle + 1:,} snapshots ({snap_s:.0f} s in snapshots)")
    figures.update(
        snapshots_s=round(snap_s, 1),
        total_s=round(time.perf_counter() - started, 1),
        snapshots=scale.snapshots,
        runs=len(records),
        files=scale.files,
    )
    return figures


def ensure_workspace(work: Path, scale: Scale, rebuild: bool) -> tuple[Path, dict[str, Any], bool]:
    """The workspace for `scale` under `work` (built when missing, partial, made with other
    parameters, or with `rebuild`); its set-up figures; whether it was built now."""
    base = work / f"ws-{scale.snapshots}-{scale.runs}-{scale.files}"
    stamp = base / "ready.json"
    params = dataclasses.asdict(scale) | {"builder": 1}
    if not rebuild:
        try:
            ready = json.loads(stamp.read_text())
            if ready["params"] == params:
                return base / "ws", ready["figures"], False
        except (OSError, ValueError, KeyError):
            pass
    shutil.rmtree(base, ignore_errors=True)
    base.mkdir(parents=True)
    print(f"building the workspace in {base / 'ws'} ...", flush=True)
    figures = build_workspace(base / "ws", scale)
    stamp.write_text(json.dumps({"params": params, "figures": figures}))
    return base / "ws", figures, True


# --------------------------------------------------------------------------- measuring


class StepFailed(Exception):
    """A measured command failed."""


@dataclasses.dataclass
class Timing:
    """Wall seconds of one command over the rounds (the untimed round not included)."""

    argv: list[str]
    walls: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.walls)


def time_command(
    argv: list[str],
    cwd: Path,
    env: dict[str, str],
    rounds: int,
    check: Callable[[], None] = lambda: None,
) -> Timing:
    """Run `argv` once untimed (page cache, bytecode cache), then `rounds` times, each a
    whole process timed around it (`sync` untimed before each); `check` runs after every
    round. StepFailed if the command fails."""
    walls = []
    for number in range(rounds + 1):
        os.sync()
        start = time.perf_counter()
        proc = subprocess.run(
            argv, cwd=cwd, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL
        )
        wall = time.perf_counter() - start
        if proc.returncode != 0:
            tail = proc.stderr.strip().splitlines()[-3:]
            raise StepFailed(f"{' '.join(argv)}: exit {proc.returncode}: {' / '.join(tail)}")
        check()
        if number:
            walls.append(wall)
    return Timing(argv, walls)


@dataclasses.dataclass
class Row:
    """One line of the table: what was measured, its time, its figure, and its goals."""

    label: str
    timing: Timing | None
    figure: str = ""
    goals: list[tuple[str, bool]] = dataclasses.field(default_factory=list)  # (goal, met)
    error: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "command": self.timing.argv if self.timing else None,
            "wall_s": [round(w, 4) for w in self.timing.walls] if self.timing else [],
            "median_s": round(self.timing.median, 4) if self.timing else None,
            "figure": self.figure,
            "goals": [{"goal": g, "met": m} for g, m in self.goals],
            "error": self.error,
        }


@dataclasses.dataclass
class Context:
    """What a measuring function gets: the built workspace, a scratch directory (emptied
    at the end), the timed rounds, the commands' environment and the `dws` executable."""

    ws: Path
    scratch: Path
    rounds: int
    env: dict[str, str]
    exe: str


def measure_report(ctx: Context) -> list[Row]:
    """`dws report -o FILE` of every snapshot: its time and the file's size."""
    out = ctx.scratch / "report.html"
    argv = [ctx.exe, "-q", "report", "-o", str(out)]

    def check() -> None:
        if not out.exists() or b"</html>" not in out.read_bytes()[-200:]:
            raise StepFailed("the report was not written whole")

    try:
        timing = time_command(argv, ctx.ws, ctx.env, ctx.rounds, check)
    except StepFailed as exc:
        return [Row("dws report -o FILE", None, error=str(exc))]
    size = out.stat().st_size
    out.unlink()
    return [
        Row(
            "dws report -o FILE",
            timing,
            f"{size / MB:.2f} MB",
            [
                (f"report at most {GOAL_REPORT_BYTES / MB:.0f} MB", size <= GOAL_REPORT_BYTES),
                (f"written in at most {GOAL_REPORT_S:.0f} s", timing.median <= GOAL_REPORT_S),
            ],
        )
    ]


GOAL_FIRST_BYTE_S = 0.3
# The pages of `dws ui` measured, as (label, route and query); TOKEN is replaced by the
# server's token, RUN by a run id found on the lineage page.
UI_PAGES = [
    ("history", "/?token=TOKEN"),
    ("history, 6th page", "/?token=TOKEN&from=500"),
    ("history filtered", "/?token=TOKEN&q=cycle%2099"),
    ("snapshot HEAD", "/snapshot?token=TOKEN&id=HEAD"),
    ("listing of data/raw", "/snapshot?token=TOKEN&id=HEAD&path=data/raw"),
    ("listing of one directory", "/snapshot?token=TOKEN&id=HEAD&path=data/raw/d000"),
    ("CSV preview", "/snapshot?token=TOKEN&id=v1&path=data/raw/d000/f000.csv"),
    ("raw bytes", "/raw?token=TOKEN&snapshot=HEAD&path=data/raw/d000/f000.csv"),
    ("diff of two snapshots", "/diff?token=TOKEN&a=v1&b=v2"),
    ("row diff", "/rows?token=TOKEN&a=v1&b=v2&path=data/features/shard-0.csv"),
    ("results", "/results?token=TOKEN"),
    ("lineage of HEAD", "/lineage?token=TOKEN"),
    ("run", "/run?token=TOKEN&id=RUN"),
    ("lineage of the working files", "/lineage?token=TOKEN&state=now"),
]


def _first_byte(port: int, target: str) -> tuple[float, int, int]:
    """Seconds from sending the request to the response's status line and headers, the
    status, and the body's size."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    try:
        start = time.perf_counter()
        conn.request("GET", target)
        response = conn.getresponse()
        first = time.perf_counter() - start
        body = response.read()
        return first, response.status, len(body)
    finally:
        conn.close()


def measure_ui(ctx: Context) -> list[Row]:
    """Each page of `dws ui` on the built workspace: the time to its first byte (one
    untimed request, then the median of the rounds) and its size."""
    server = subprocess.Popen(
        [ctx.exe, "ui", "--port", "0", "--no-browser"],
        cwd=ctx.ws,
        env=ctx.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    rows = []
    try:
        assert server.stdout is not None
        url = server.stdout.readline().split(" at ", 1)[-1].strip()
        parts = urllib.parse.urlsplit(url)
        if not parts.port:
            return [Row("dws ui", None, error=f"dws ui did not start: {url!r}")]
        token = parts.query.removeprefix("token=")
        conn = http.client.HTTPConnection("127.0.0.1", parts.port, timeout=300)
        conn.request("GET", f"/lineage?token={token}")
        lineage_page = conn.getresponse().read().decode()
        conn.close()
        found = re.search(r"/run\?token=[^&\"]+&amp;id=([0-9a-f]{64})", lineage_page)
        run_id = found.group(1) if found else "none"
        for label, pattern in UI_PAGES:
            target = pattern.replace("TOKEN", token).replace("RUN", run_id)
            walls, status, size = [], 0, 0
            for number in range(ctx.rounds + 1):
                wall, status, size = _first_byte(parts.port, target)
                if status != 200:
                    break
                if number:
                    walls.append(wall)
            if status != 200:
                rows.append(Row(f"ui: {label}", None, error=f"{target}: HTTP {status}"))
                continue
            timing = Timing(["GET", target.split("?")[0]], walls)
            met = timing.median <= GOAL_FIRST_BYTE_S
            goal = f"first byte in at most {GOAL_FIRST_BYTE_S * 1000:.0f} ms"
            rows.append(Row(f"ui: {label}", timing, f"{size / 1000:.0f} kB", [(goal, met)]))
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=60)
    return rows


# What is measured, in table order: each function gets the built workspace (`ctx.ws`) and
# returns its rows.
MEASURES: list[Callable[[Context], list[Row]]] = [measure_report, measure_ui]


def table(rows: list[Row]) -> str:
    body = []
    for row in rows:
        timing = row.timing
        body.append(
            [
                row.label,
                f"{timing.median:.3f} s" if timing else "FAILED",
                f"{min(timing.walls):.3f} s" if timing else "-",
                row.figure or "-",
            ]
        )
    return render(["command", "median", "min", "figure"], body)


# --------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=None, help="timed rounds (3; smoke 1)")
    parser.add_argument("--work-dir", type=Path, default=DEFAULT_WORK)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument(
        "--smoke", action="store_true", help="a tiny workspace, one round: checks that it runs"
    )
    parser.add_argument("--rebuild", action="store_true", help="build the workspace again")
    args = parser.parse_args(argv)
    args.rounds = args.rounds or (1 if args.smoke else 3)
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    if args.json is None:
        args.json = args.work_dir / ("results-smoke.json" if args.smoke else "results.json")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    work: Path = args.work_dir.resolve()
    scale = SMOKE if args.smoke else FULL
    scratch = work / "scratch"
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    exe = dws_command()
    source = dws_source(exe, env)
    version = subprocess.run([exe, "--version"], capture_output=True, text=True).stdout.strip()
    print(f"dws {version} from {source} ({describe_tree(source)})", flush=True)
    ws, setup, built = ensure_workspace(work, scale, args.rebuild)
    how = "built now" if built else f"reused from {ws.parent}"
    print(
        f"workspace: {scale.snapshots:,} snapshots, {scale.runs:,} runs, {scale.files:,} files"
        f" ({how}; building it took {setup['total_s']:.0f} s)",
        flush=True,
    )
    ctx = Context(ws=ws, scratch=scratch, rounds=args.rounds, env=env, exe=exe)
    rows: list[Row] = []
    try:
        for measure in MEASURES:
            rows += measure(ctx)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    result = {
        **run_facts(version, source),
        "scale": dataclasses.asdict(scale),
        "setup": setup,
        "built": built,
        "rounds": args.rounds,
        "rows": [r.to_json() for r in rows],
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=1) + "\n")
    print()
    print(table(rows))
    print("\ngoals:")
    for row in rows:
        if row.error:
            print(f"  {row.label}: FAILED: {row.error}")
        for goal, met in row.goals:
            print(f"  {row.label}: {goal} ({'met' if met else 'MISSED'})")
    print(f"results: {args.json}")
    return 1 if any(r.error for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
