#!/usr/bin/env python3
"""Cost per file: dws's snapshot and restore times against the number of files.

For each file count (`--files`, default 10,000 30,000 100,000 300,000 1,000,000) and each
layout (`--layouts`, default both):

  tree  the files spread over min(1000, ceil(N / 100)) directories: 100 files per
        directory up to 100,000 files, then 1,000 directories of N / 1,000 files (a
        million files: 1,000 x 1,000, the tree this script has always timed)
  flat  all N files in one directory

it times, as whole processes (wall time and peak RSS), the operations in `--ops`:

  first    the first snapshot (`dws snapshot v1`; always run, shown only when asked for)
  noop     a snapshot with nothing changed
  change   a snapshot after rewriting 1% of the files (`dws snapshot v2`)
  restore  everything in data/ deleted, then `dws restore --force v2` (v1 without
           `change`); the restored file count is checked

Files are tiny (a few bytes, a function of the name), so the figures are dws's cost per
file, not bandwidth. Trees are built once and cached under the work directory; each
(layout, count) gets a fresh copy with its own workspace. Results go to a JSON file
(`--json`) and a plot, a self-contained SVG (`--svg`): microseconds per file against the
file count on a log axis, one line per (layout, operation). `--plot-only JSON` redraws the
plot (and prints the table) from a saved JSON without running anything. Not part of the
test suite: the largest trees take minutes to build and to snapshot.

Usage: python bench/scale.py [--files 10000,100000] [--layouts tree,flat]
                             [--ops first,noop,change,restore] [--work-dir DIR] [--keep]
                             [--json FILE] [--svg FILE] [--plot-only JSON]
"""

from __future__ import annotations

import argparse
import datetime
import functools
import json
import math
import os
import platform
import random
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from run import compile_dws  # a script beside this one

HERE = Path(__file__).resolve().parent
DEFAULT_FILES = (10_000, 30_000, 100_000, 300_000, 1_000_000)
LAYOUTS = ("tree", "flat")
OPS = {
    "first": "first snapshot",
    "noop": "no-op snapshot",
    "change": "snapshot after 1% change",
    "restore": "restore into empty dir",
}
MAX_DIRS = 1000
FILES_PER_DIR = 100  # tree layout, up to MAX_DIRS directories


# --------------------------------------------------------------------------- trees


def tree_dirs(files: int) -> int:
    """Directories of the tree layout for `files` files: min(1000, ceil(files / 100))."""
    return max(1, min(MAX_DIRS, math.ceil(files / FILES_PER_DIR)))


def file_path(root: Path, layout: str, files: int, i: int) -> tuple[Path, bytes]:
    """Where file number `i` of a (layout, files) tree lives, and its content."""
    if layout == "flat":
        return root / f"f{i:07d}", f"{i}\n".encode()
    per_dir = math.ceil(files / tree_dirs(files))
    d, j = divmod(i, per_dir)
    return root / f"d{d:04d}" / f"f{j:05d}", f"{d}-{j}\n".encode()


def build_tree(root: Path, layout: str, files: int) -> None:
    """`files` tiny files in `layout`; each file's content is a function of its name."""
    root.mkdir(parents=True)
    made: set[Path] = set()
    for i in range(files):
        path, content = file_path(root, layout, files, i)
        if path.parent not in made:
            path.parent.mkdir(exist_ok=True)
            made.add(path.parent)
        path.write_bytes(content)


def cached_tree(work: Path, layout: str, files: int) -> Path:
    """The (layout, files) tree under `work`, built on first use."""
    tree = work / f"tree-{layout}-{files}"
    if not tree.exists():
        partial = tree.with_suffix(".partial")
        shutil.rmtree(partial, ignore_errors=True)  # an interrupted build
        started = time.perf_counter()
        build_tree(partial, layout, files)
        partial.rename(tree)
        print(f"built {layout} {files:,} files in {time.perf_counter() - started:.1f} s")
    return tree


def change_one_percent(root: Path, layout: str, files: int, seed: int = 1) -> int:
    """Rewrite 1% of the files (at least one, each once) with new content, same names."""
    rng = random.Random(seed)
    count = max(1, files // 100)
    for i in rng.sample(range(files), count):
        path, _ = file_path(root, layout, files, i)
        path.write_bytes(f"changed {rng.random()}\n".encode())
    return count


def empty_dir(path: Path) -> None:
    """Remove everything inside `path`, keeping `path` itself (`rm -rf path/*`)."""
    with os.scandir(path) as it:
        for entry in it:
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path)
            else:
                os.unlink(entry.path)


def count_files(root: Path) -> int:
    """Regular files under `root`."""
    return sum(len(names) for _, _, names in os.walk(root))


# --------------------------------------------------------------------------- measuring


@functools.cache
def dws_command() -> str:
    """The dws executable next to this interpreter, else the one on PATH, its bytecode
    compiled."""
    local = Path(sys.executable).parent / "dws"
    found = str(local) if local.exists() else shutil.which("dws")
    if found is None:
        raise SystemExit("dws is not installed (run `make demo` or `pip install -e .` first)")
    compile_dws(found)
    return found


def timed(argv: list[str], cwd: Path) -> tuple[float, float]:
    """(wall seconds, peak RSS MiB) of one child process."""
    start = time.perf_counter()
    process = subprocess.Popen(argv, cwd=cwd)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)  # reaped: Popen must not wait
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed (exit {process.returncode})")
    return wall, usage.ru_maxrss / 1024


def measure(
    dws: str, work: Path, layout: str, files: int, ops: list[str], keep: bool
) -> list[dict[str, Any]]:
    """The operations `ops` on a fresh copy of the (layout, files) tree, one row each."""
    tree = cached_tree(work, layout, files)
    ws = work / f"ws-{layout}-{files}"
    shutil.rmtree(ws, ignore_errors=True)
    ws.mkdir(parents=True)
    data = ws / "data"
    subprocess.run(["cp", "-a", str(tree), str(data)], check=True)
    subprocess.run([dws, "-q", "init"], cwd=ws, check=True)
    subprocess.run([dws, "-q", "add", "local-files", "data", "--role", "s"], cwd=ws, check=True)
    rows: list[dict[str, Any]] = []

    def row(op: str, wall: float, rss: float, note: str = "") -> None:
        rows.append(
            {
                "layout": layout,
                "files": files,
                "dirs": 1 if layout == "flat" else tree_dirs(files),
                "op": op,
                "wall_s": round(wall, 4),
                "rss_mib": round(rss, 1),
                "us_per_file": round(wall / files * 1e6, 3),
                "note": note,
            }
        )
        print(
            f"  {layout:<4} {files:>9,}  {OPS[op]:<25} {wall:8.2f} s {rss:6.0f} MiB"
            f" {wall / files * 1e6:8.1f} µs/file {note}",
            flush=True,
        )

    try:
        time.sleep(1)  # files older than the racy-timestamp window, as in real use
        os.sync()
        wall, rss = timed([dws, "-q", "snapshot", "v1"], ws)
        if "first" in ops:
            row("first", wall, rss)
        tag = "v1"
        if "noop" in ops:
            os.sync()
            row("noop", *timed([dws, "-q", "snapshot"], ws))
        if "change" in ops:
            changed = change_one_percent(data, layout, files)
            time.sleep(1)
            os.sync()
            row("change", *timed([dws, "-q", "snapshot", "v2"], ws), f"{changed:,} changed")
            tag = "v2"
        if "restore" in ops:
            empty_dir(data)
            os.sync()
            wall, rss = timed([dws, "-q", "restore", "--force", tag], ws)
            restored = count_files(data)
            if restored != files:
                raise SystemExit(f"restore of {tag} gave {restored:,} files, not {files:,}")
            row("restore", wall, rss, f"{restored:,} files back")
    finally:
        if not keep:
            shutil.rmtree(ws, ignore_errors=True)
    return rows


# --------------------------------------------------------------------------- report


def render_table(rows: list[dict[str, Any]]) -> str:
    """The results as a fixed-width table, grouped by layout and file count."""
    out = [
        f"{'layout':<6} {'files':>9} {'dirs':>5}  {'operation':<25} {'wall':>9} "
        f"{'peak RSS':>9} {'µs/file':>9}"
    ]
    for r in sorted(
        rows, key=lambda r: (LAYOUTS.index(r["layout"]), r["files"], list(OPS).index(r["op"]))
    ):
        out.append(
            f"{r['layout']:<6} {r['files']:>9,} {r['dirs']:>5}  {OPS[r['op']]:<25}"
            f" {r['wall_s']:>8.2f}s {r['rss_mib']:>5.0f} MiB {r['us_per_file']:>9.1f}"
            + (f"  {r['note']}" if r.get("note") else "")
        )
    return "\n".join(out)


def _nice_step(span: float, target: int = 6) -> float:
    """A 1-2-5 step giving about `target` ticks over `span`."""
    raw = span / target if span > 0 else 1.0
    mag = 10.0 ** math.floor(math.log10(raw))
    return next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw)


def _fmt_count(n: float) -> str:
    if n >= 1e6 and n % 1e5 == 0:
        return f"{n / 1e6:g}M"
    if n >= 1e3 and n % 100 == 0:
        return f"{n / 1e3:g}k"
    return f"{n:g}"


COLOURS = {"first": "#1f77b4", "noop": "#2ca02c", "change": "#ff7f0e", "restore": "#d62728"}
DASHES = {"tree": "", "flat": "7 4"}


def render_svg(result: dict[str, Any]) -> str:
    """A self-contained SVG line plot: µs per file against files (log axis), one line per
    (layout, operation), with axes, labels and a legend."""
    rows: list[dict[str, Any]] = result["rows"]
    width, height = 900, 480
    left, right, top, bottom = 80, 300, 56, 64
    pw, ph = width - left - right, height - top - bottom
    counts = sorted({r["files"] for r in rows}) or [1]
    lo, hi = math.log10(counts[0]), math.log10(counts[-1])
    if hi - lo < 1e-9:
        lo, hi = lo - 0.3, hi + 0.3
    pad = (hi - lo) * 0.04
    lo, hi = lo - pad, hi + pad
    top_value = max((r["us_per_file"] for r in rows), default=1.0) or 1.0
    step = _nice_step(top_value)
    ymax = step * math.ceil(top_value / step)

    def x(n: float) -> float:
        return left + (math.log10(n) - lo) / (hi - lo) * pw

    def y(v: float) -> float:
        return top + ph - v / ymax * ph

    font = 'font-family="Helvetica, Arial, sans-serif"'
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" {font} font-size="13">',
        f'<rect width="{width}" height="{height}" fill="#ffffff"/>',
        f'<text x="{left}" y="24" font-size="16" font-weight="bold" fill="#222">'
        "dws: wall time per file against the number of files</text>",
    ]
    sub = f"{result.get('started', '')[:10]}, {result.get('host', '')}, {result.get('dws', '')}"
    out.append(f'<text x="{left}" y="42" font-size="12" fill="#555">{escape(sub)}</text>')
    # grid and y ticks
    v = 0.0
    while v <= ymax + 1e-9:
        yy = y(v)
        out.append(
            f'<line x1="{left}" y1="{yy:.1f}" x2="{left + pw}" y2="{yy:.1f}" '
            'stroke="#e4e4e4" stroke-width="1"/>'
        )
        out.append(
            f'<text x="{left - 8}" y="{yy + 4:.1f}" text-anchor="end" fill="#333">{v:g}</text>'
        )
        v += step
    # x ticks: the measured counts
    for n in counts:
        xx = x(n)
        out.append(
            f'<line x1="{xx:.1f}" y1="{top}" x2="{xx:.1f}" y2="{top + ph}" '
            'stroke="#f0f0f0" stroke-width="1"/>'
        )
        out.append(
            f'<text x="{xx:.1f}" y="{top + ph + 18}" text-anchor="middle" fill="#333">'
            f"{_fmt_count(n)}</text>"
        )
    out.append(f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" stroke="#888"/>')
    out.append(
        f'<text x="{left + pw / 2:.1f}" y="{height - 18}" text-anchor="middle" fill="#222">'
        "files in the workspace (log scale)</text>"
    )
    cy = top + ph / 2
    out.append(
        f'<text x="20" y="{cy:.1f}" text-anchor="middle" fill="#222" '
        f'transform="rotate(-90 20 {cy:.1f})">µs per file (wall time, whole process)</text>'
    )
    # one line per (layout, operation)
    series = [
        (layout, op)
        for layout in LAYOUTS
        for op in OPS
        if any(r["layout"] == layout and r["op"] == op for r in rows)
    ]
    ly = top + 6
    for layout, op in series:
        points = sorted(
            (r["files"], r["us_per_file"]) for r in rows if (r["layout"], r["op"]) == (layout, op)
        )
        colour, dash = COLOURS[op], DASHES[layout]
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        path = " ".join(f"{x(n):.1f},{y(u):.1f}" for n, u in points)
        out.append(
            f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"{dash_attr}/>'
        )
        for n, u in points:
            # a circle (tree) or a hollow square (flat); hovering shows the figure
            if layout == "tree":
                tag, shape = "circle", f'cx="{x(n):.1f}" cy="{y(u):.1f}" r="3.5" fill="{colour}"'
            else:
                tag = "rect"
                shape = (
                    f'x="{x(n) - 3.5:.1f}" y="{y(u) - 3.5:.1f}" width="7" height="7" '
                    f'fill="#ffffff" stroke="{colour}" stroke-width="2"'
                )
            title = escape(f"{layout}, {OPS[op]}: {n:,} files, {u:.1f} µs per file")
            out.append(f"<{tag} {shape}><title>{title}</title></{tag}>")
        lx = left + pw + 18
        out.append(
            f'<line x1="{lx}" y1="{ly:.1f}" x2="{lx + 30}" y2="{ly:.1f}" stroke="{colour}" '
            f'stroke-width="2"{dash_attr}/>'
        )
        out.append(f'<text x="{lx + 38}" y="{ly + 4:.1f}" fill="#222">{layout}: {OPS[op]}</text>')
        ly += 20
    notes = (
        "tree: solid, circles; min(1000, N/100) dirs",
        "flat: dashed, squares; one directory",
        "files of a few bytes each",
    )
    for note in notes:
        out.append(
            f'<text x="{left + pw + 18}" y="{ly + 8:.1f}" font-size="11" fill="#555">'
            f"{escape(note)}</text>"
        )
        ly += 15
    out.append("</svg>")
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------- main


def _comma_list(text: str, allowed: tuple[str, ...] | None, what: str) -> list[str]:
    items = [x.strip() for x in text.split(",") if x.strip()]
    if not items:
        raise argparse.ArgumentTypeError(f"no {what} given")
    if allowed is not None:
        for item in items:
            if item not in allowed:
                raise argparse.ArgumentTypeError(
                    f"unknown {what} {item!r} (choose from {','.join(allowed)})"
                )
    return items


def _files(text: str) -> list[int]:
    try:
        counts = [int(x) for x in _comma_list(text, None, "file count")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a comma list of numbers: {text!r}") from None
    if any(n < 1 for n in counts):
        raise argparse.ArgumentTypeError("file counts must be at least 1")
    return sorted(set(counts))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--files",
        type=_files,
        default=list(DEFAULT_FILES),
        help="comma list of file counts (default 10000,30000,100000,300000,1000000)",
    )
    parser.add_argument(
        "--layouts",
        type=lambda t: _comma_list(t, LAYOUTS, "layout"),
        default=list(LAYOUTS),
        help="comma list: tree,flat (default both)",
    )
    parser.add_argument(
        "--ops",
        type=lambda t: _comma_list(t, tuple(OPS), "operation"),
        default=list(OPS),
        help="comma list: first,noop,change,restore (default all)",
    )
    parser.add_argument("--work-dir", type=Path, default=HERE / ".work" / "scale")
    parser.add_argument("--keep", action="store_true", help="keep the workspaces afterwards")
    parser.add_argument("--json", type=Path, default=None, help="(default <work-dir>/scale.json)")
    parser.add_argument(
        "--svg", type=Path, default=HERE.parent / "docs" / "scale.svg", help="the plot"
    )
    parser.add_argument(
        "--plot-only", type=Path, metavar="JSON", help="redraw the plot from a saved JSON"
    )
    args = parser.parse_args(argv)
    if args.json is None:
        args.json = args.work_dir / "scale.json"
    return args


def write_svg(result: dict[str, Any], svg: Path) -> None:
    svg.parent.mkdir(parents=True, exist_ok=True)
    svg.write_text(render_svg(result), encoding="utf-8")
    print(f"plot: {svg}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.plot_only is not None:
        try:
            saved = json.loads(args.plot_only.read_text())
            table, svg = render_table(saved["rows"]), render_svg(saved)
        except (OSError, ValueError, KeyError, TypeError) as e:
            print(f"error: cannot read results from {args.plot_only}: {e!r}", file=sys.stderr)
            return 2
        print(table)
        args.svg.parent.mkdir(parents=True, exist_ok=True)
        args.svg.write_text(svg, encoding="utf-8")
        print(f"plot: {args.svg}")
        return 0

    dws = dws_command()
    work: Path = args.work_dir.resolve()
    work.mkdir(parents=True, exist_ok=True)
    version = subprocess.run([dws, "--version"], capture_output=True, text=True).stdout.strip()
    result: dict[str, Any] = {
        "started": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "host": platform.node(),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "dws": version,
        "layouts": args.layouts,
        "files": args.files,
        "ops": {op: OPS[op] for op in args.ops},
        "rows": [],
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    for files in args.files:
        for layout in args.layouts:
            result["rows"] += measure(dws, work, layout, files, args.ops, args.keep)
            # after each tree, so a long run that stops keeps what it measured
            args.json.write_text(json.dumps(result, indent=1) + "\n")
    print()
    print(render_table(result["rows"]))
    print(f"(this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB)")
    print(f"results: {args.json}")
    write_svg(result, args.svg)
    return 0


if __name__ == "__main__":
    sys.exit(main())
