"""End-to-end demo of dws on a small, generated machine-learning project.

Run it with `make demo` (or `.venv/bin/python scripts/demo.py`). It builds a sample project
in a temporary directory, then drives the real `dws` command through a typical day:
register the data, snapshot, change the data, snapshot again, compare, restore, and look at
the results of both experiments. Set DWS_DEMO_KEEP=1 to keep the project afterwards.

Exit status: 0 when every command and check succeeded, 1 otherwise.
"""

from __future__ import annotations

import hashlib
import os
import random
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

DWS = Path(sys.executable).with_name("dws")
REPO = Path(__file__).resolve().parents[1]
INDENT = "    "
SEED_V1 = 42
SEED_V2 = 43

TRAIN_PY = '''\
"""Fit a linear model of flat prices; stdlib only.

Usage: train.py RAW_DIR FEATURES_CSV METRICS_JSON MODEL_JSON

Reads every CSV in RAW_DIR, writes standardised features to FEATURES_CSV, the test RMSE
and R^2 to METRICS_JSON and the weights to MODEL_JSON.
"""

import csv
import json
import math
import sys
from pathlib import Path

COLUMNS = ["size_m2", "rooms", "age_years"]


def load_rows(raw: Path) -> list[dict[str, float]]:
    rows = []
    for path in sorted(raw.glob("*.csv")):
        with path.open(newline="") as handle:
            for row in csv.DictReader(handle):
                rows.append({key: float(value) for key, value in row.items()})
    return rows


def solve(matrix: list[list[float]], vector: list[float]) -> list[float]:
    """Gaussian elimination with partial pivoting."""
    n = len(vector)
    a = [row[:] + [vector[i]] for i, row in enumerate(matrix)]
    for col in range(n):
        pivot = max(range(col, n), key=lambda r: abs(a[r][col]))
        a[col], a[pivot] = a[pivot], a[col]
        for r in range(col + 1, n):
            factor = a[r][col] / a[col][col]
            for c in range(col, n + 1):
                a[r][c] -= factor * a[col][c]
    x = [0.0] * n
    for r in reversed(range(n)):
        x[r] = (a[r][n] - sum(a[r][c] * x[c] for c in range(r + 1, n))) / a[r][r]
    return x


def main() -> None:
    raw, features_csv, metrics_json, model_json = sys.argv[1:5]
    rows = load_rows(Path(raw))
    means = {c: sum(r[c] for r in rows) / len(rows) for c in COLUMNS}
    stds = {
        c: math.sqrt(sum((r[c] - means[c]) ** 2 for r in rows) / len(rows)) for c in COLUMNS
    }
    features = [[1.0] + [(r[c] - means[c]) / stds[c] for c in COLUMNS] for r in rows]
    prices = [r["price"] for r in rows]

    with open(features_csv, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["bias", *COLUMNS, "price"])
        for x, y in zip(features, prices):
            writer.writerow([f"{v:.6f}" for v in x] + [f"{y:.2f}"])

    train = [i for i in range(len(rows)) if i % 5 != 0]
    test = [i for i in range(len(rows)) if i % 5 == 0]
    k = len(features[0])
    xtx = [[sum(features[i][a] * features[i][b] for i in train) for b in range(k)]
           for a in range(k)]
    xty = [sum(features[i][a] * prices[i] for i in train) for a in range(k)]
    weights = solve(xtx, xty)

    predictions = [sum(w * v for w, v in zip(weights, features[i])) for i in test]
    actual = [prices[i] for i in test]
    mean_actual = sum(actual) / len(actual)
    sse = sum((p - y) ** 2 for p, y in zip(predictions, actual))
    sst = sum((y - mean_actual) ** 2 for y in actual)
    metrics = {
        "rmse": round(math.sqrt(sse / len(test)), 1),
        "r2": round(1 - sse / sst, 4),
        "rows": {"train": len(train), "test": len(test)},
    }
    Path(metrics_json).write_text(json.dumps(metrics, indent=2) + "\\n")
    model = {"features": COLUMNS, "weights": [round(w, 3) for w in weights]}
    Path(model_json).write_text(json.dumps(model, indent=2) + "\\n")
    print(f"trained on {len(train)} rows: rmse={metrics['rmse']} r2={metrics['r2']}")


if __name__ == "__main__":
    main()
'''


class DemoError(Exception):
    """A command or a check of the demo failed."""


# ---- printing ---------------------------------------------------------------------------


def section(title: str, *explanation: str) -> None:
    """Start a step of the walk-through."""
    print()
    print(f"== {title}")
    for line in explanation:
        print(f"   {line}")


def show_output(text: str) -> None:
    """Print a command's output, indented."""
    for line in text.rstrip("\n").splitlines():
        print(f"{INDENT}{line}" if line else "")


def run(argv: list[str], cwd: Path, shown: str) -> str:
    """Run a command, print it and its output; raise DemoError if it fails."""
    print(f"  $ {shown}")
    env = dict(os.environ, COLUMNS="100", NO_COLOR="1")
    proc = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    show_output(proc.stdout)
    show_output(proc.stderr)
    if proc.returncode != 0:
        raise DemoError(f"`{shown}` exited with status {proc.returncode}")
    return proc.stdout


def dws(project: Path, *args: str) -> str:
    """Run the real `dws` executable inside the project."""
    return run([str(DWS), *args], project, shlex.join(["dws", *args]))


def check(condition: bool, ok: str, failure: str) -> None:
    """Print a passed check, or raise DemoError."""
    if not condition:
        raise DemoError(f"check failed: {failure}")
    print(f"  ok: {ok}")


# ---- the sample project ------------------------------------------------------------------


def flat(rng: random.Random) -> tuple[float, int, int, float]:
    """One synthetic flat: size, rooms, age and a noisy price."""
    size = rng.uniform(30, 150)
    rooms = max(1, round(size / 30 + rng.gauss(0, 0.7)))
    age = rng.randint(0, 60)
    price = 50_000 + 2_500 * size + 8_000 * rooms - 900 * age + rng.gauss(0, 20_000)
    return size, rooms, age, price


def write_csv(path: Path, rows: list[tuple[float, int, int, float]]) -> None:
    """Write rows with a fixed number format, so the bytes depend only on the seed."""
    lines = ["size_m2,rooms,age_years,price"]
    lines += [f"{s:.1f},{r},{a},{p:.2f}" for s, r, a, p in rows]
    path.write_text("\n".join(lines) + "\n")


def make_project(project: Path) -> list[tuple[float, int, int, float]]:
    """Create the sample project; return the rows of the first data file."""
    (project / "data" / "raw").mkdir(parents=True)
    (project / "data" / "features").mkdir()
    (project / "results").mkdir()
    (project / "code").mkdir()
    rng = random.Random(SEED_V1)
    rows = [flat(rng) for _ in range(300)]
    # a data-entry slip: a few prices typed with one zero too many
    for index in (7, 88, 191):
        size, rooms, age, price = rows[index]
        rows[index] = (size, rooms, age, price * 10)
    write_csv(project / "data" / "raw" / "flats-2023.csv", rows)
    (project / "code" / "train.py").write_text(TRAIN_PY)
    (project / "code" / "report.py").write_text(REPORT_PY)
    (project / ".gitignore").write_text("/data/\n/results/\n")
    git(project, "init", "-q")
    git(project, "add", "-A")
    git(project, "commit", "-qm", "training code")
    return rows


def checksums(root: Path) -> dict[str, str]:
    """SHA-256 of every file below ``root``, by relative path."""
    return {
        path.relative_to(root).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


REPORT_PY = """\
\"\"\"Writes results/report.json from the features; it names no path on its command line.\"\"\"
import csv
import json

with open("data/features/features.csv", newline="") as handle:
    rows = list(csv.DictReader(handle))
with open("results/report.json", "w") as out:
    json.dump({"rows": len(rows)}, out)
    out.write("\\n")
"""

TRAIN_ARGS = [
    "code/train.py",
    "data/raw",
    "data/features/features.csv",
    "results/metrics.json",
    "results/model.json",
]
GIT_ENV = {
    "GIT_AUTHOR_NAME": "Demo",
    "GIT_AUTHOR_EMAIL": "demo@example.com",
    "GIT_COMMITTER_NAME": "Demo",
    "GIT_COMMITTER_EMAIL": "demo@example.com",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
}


def git(project: Path, *args: str) -> None:
    """Run git quietly in the project (a fixed identity, no user configuration)."""
    subprocess.run(
        ["git", "-c", "init.defaultBranch=main", *args],
        cwd=project,
        env={**os.environ, **GIT_ENV},
        check=True,
        capture_output=True,
    )


# ---- the walk-through --------------------------------------------------------------------


def fetch_ui_page(project: Path) -> str:
    """Start `dws ui` on a free port, fetch its history page with the printed token, and
    stop it (Ctrl-C): the page's HTML."""
    print("  $ dws ui --port 0 --no-browser   (stopped after one page)")
    server = subprocess.Popen(
        [str(DWS), "ui", "--port", "0", "--no-browser"],
        cwd=project,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert server.stdout is not None
        line = server.stdout.readline()
        if " at http://" not in line:
            raise DemoError(f"dws ui did not start: {line!r}")
        url = line.split(" at ", 1)[1].strip()
        show_output(line.strip())
        with urllib.request.urlopen(url, timeout=60) as response:
            return str(response.read().decode("utf-8"))
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=30)


def walk_through(base: Path) -> None:
    """Drive dws through init, snapshots, diff, restore and results."""
    project = base / "flat-prices"
    project.mkdir()
    rows = make_project(project)

    section(
        "A small ML project",
        f"{project}",
        "  data/raw/flats-2023.csv   300 generated flats (source data, never edited by code)",
        "  code/train.py             fits a linear model of prices (committed to git)",
        "  data/features/            written by train.py (intermediate data)",
        "  results/                  metrics.json and model.json, written by train.py",
    )
    os.environ.update(GIT_ENV)

    section("1. Make the project a workspace", "dws keeps its metadata in .dataworkspace/.")
    dws(project, "init")

    section(
        "2. Register the data directories, each with a role",
        "The role decides what snapshot and restore do with the directory;",
        "the project's git repository is the code resource (its commit is recorded).",
    )
    dws(project, "add", "local-files", "data/raw", "--role", "source-data", "--name", "raw")
    dws(project, "add", "local-files", "data/features", "--role", "intermediate-data")
    dws(project, "add", "local-files", "results", "--role", "results")
    dws(project, "--batch", "add", "git", ".", "--role", "code", "--name", "code")

    section("3. What has changed since the last snapshot? (there is none yet)")
    dws(project, "status")

    section(
        "4. Run the experiment through `dws run`",
        "Each argument is classified by where it points: data/raw is source data, so an",
        "input; code/train.py is code; the missing files in data/features and results are",
        "outputs. Input hashes are taken before the run, output hashes after.",
    )
    dws(project, "run", "--", "python3", *TRAIN_ARGS)

    section(
        "4b. A step whose paths are written in its code, not on its command line",
        "dws watches what the step's Python processes open, so the record still names the",
        "exact file it read and the file it wrote, and the code it ran.",
    )
    dws(project, "run", "--", "python3", "code/report.py")
    text = dws(project, "lineage", "show", "results/report.json")
    check(
        "data/features/features.csv" in text and "code/report.py" in text,
        "the report's lineage names the features file it read and its code",
        "the report's lineage misses what it read",
    )
    v1_data = {name: checksums(project / "data" / name) for name in ("raw", "features")}
    v1_metrics = (project / "results" / "metrics.json").read_bytes()

    section(
        "5. Snapshot the whole project as v1",
        "Every resource is recorded at once; file contents go to a content-addressed store.",
    )
    dws(project, "snapshot", "v1", "-m", "baseline on the 2023 data")

    section(
        "6. New data arrives: the mistyped prices are fixed and a 2024 batch is added",
    )
    for index in (7, 88, 191):
        size, rooms, age, price = rows[index]
        rows[index] = (size, rooms, age, price / 10)
    write_csv(project / "data" / "raw" / "flats-2023.csv", rows)
    rng = random.Random(SEED_V2)
    write_csv(project / "data" / "raw" / "flats-2024.csv", [flat(rng) for _ in range(200)])
    print("  (edited data/raw/flats-2023.csv, added data/raw/flats-2024.csv)")

    section(
        "7. dws status lists what changed, file by file, and the outputs now stale",
        "It warns because source data is meant to be read-only. Staleness comes from",
        "content hashes, not timestamps: the features and metrics were made from other data.",
    )
    dws(project, "status")

    section("8. Bring the results up to date: dws rerun re-runs the stale steps, in order")
    dws(project, "rerun", "results/metrics.json")
    v2_metrics = (project / "results" / "metrics.json").read_bytes()
    check(v2_metrics != v1_metrics, "the new run produced new metrics", "metrics did not change")

    section(
        "9. Where do the metrics come from?",
        "The step, its code commit, its parameters and the exact versions of its inputs.",
    )
    dws(project, "lineage", "show", "results/metrics.json")
    dws(project, "lineage", "graph", "--format", "mermaid")

    section("10. Snapshot again as v2 (it records the runs that explain its state)")
    dws(project, "snapshot", "v2", "-m", "typos fixed, 2024 batch added")

    section("11. What differs between v1 and v2?")
    dws(project, "diff", "v1", "v2")

    section(
        "12. Go back to v1",
        "Source and intermediate data come back exactly. Results are never reverted:",
        "v2's metrics stay where they are, so no experiment is ever lost.",
    )
    dws(project, "restore", "v1")
    for name in ("raw", "features"):
        now = checksums(project / "data" / name)
        check(
            now == v1_data[name],
            f"data/{name} is byte for byte as in v1 ({len(now)} file(s), SHA-256 compared)",
            f"data/{name} differs from v1",
        )
    check(
        (project / "results" / "metrics.json").read_bytes() == v2_metrics,
        "results/metrics.json still holds v2's metrics",
        "results/metrics.json was changed by restore",
    )

    section("13. History (* marks the snapshot the workspace is at)")
    dws(project, "history")

    section(
        "14. Metrics of every snapshot, side by side, without restoring anything",
        "(numeric values of metrics.json files in results resources)",
    )
    dws(project, "results")

    section("15. Copy v1's results out, e.g. to compare with today's")
    dws(project, "results", "export", "v1", "../v1-results")
    exported = base / "v1-results" / "results" / "metrics.json"
    check(
        exported.is_file() and exported.read_bytes() == v1_metrics,
        "../v1-results/results/metrics.json holds v1's metrics:",
        f"{exported} does not hold v1's metrics",
    )
    show_output(exported.read_text())

    section(
        "16. The lineage of v1's metrics, as recorded in snapshot v1",
        "Snapshots record the runs that explain them, so lineage travels with history.",
    )
    text = dws(project, "lineage", "show", "--snapshot", "v1", "results/metrics.json")
    check("step train" in text, "v1's metrics trace back to their train run", "no lineage in v1")

    section(
        "17. See it: one HTML report, and the local web view",
        "The report works offline (attach it to a pull request); `dws ui` serves the same",
        "and more (files of any version, row diffs) on 127.0.0.1 behind a token.",
    )
    report = REPO / "demo-report.html"
    dws(project, "report", "-o", str(report))
    html = report.read_text(encoding="utf-8")
    check(
        'class="point"' in html and 'class="node step' in html,
        f"{report.relative_to(REPO)} holds the metric charts and the lineage graph",
        "the report lacks its chart or graph",
    )
    page = fetch_ui_page(project)
    check(
        "v1" in page and "v2" in page,
        "`dws ui` served the history with v1 and v2 (started and stopped here)",
        "`dws ui` did not serve the history",
    )


def main() -> int:
    """Run the demo in a temporary directory; return the exit status."""
    if not DWS.is_file():
        print(f"demo: {DWS} not found; run `make demo` to set up the venv", file=sys.stderr)
        return 1
    keep = os.environ.get("DWS_DEMO_KEEP", "") not in ("", "0")
    started = time.monotonic()
    base = Path(tempfile.mkdtemp(prefix="dws-demo-"))
    try:
        walk_through(base)
    except DemoError as exc:
        sys.stdout.flush()
        print(f"\ndemo FAILED: {exc}", file=sys.stderr)
        return 1
    finally:
        if keep:
            print(f"\nThe demo project is kept in {base} (DWS_DEMO_KEEP is set).")
        else:
            shutil.rmtree(base, ignore_errors=True)
    elapsed = time.monotonic() - started
    print(f"\nDemo finished in {elapsed:.1f} s. Next: README.md, `dws --help`, docs/.")
    print("Open demo-report.html in a browser. To browse the demo project live, keep it")
    print("(DWS_DEMO_KEEP=1 make demo) and run: .venv/bin/dws -C <the kept directory> ui")
    return 0


if __name__ == "__main__":
    sys.exit(main())
