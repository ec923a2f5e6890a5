"""Fixtures of the lineage tests: a workspace that is its own git repository (the code
resource) with source, intermediate and results directories, and three tiny stdlib-only
pipeline scripts: prepare -> train -> evaluate."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

import dws
from helpers.git import GIT_ENV

PREPARE_RUN = (
    "run", "--", "python3", "code/prepare.py", "data/raw/train.csv", "data/features/train.csv",
)  # fmt: skip
FAIL_RUN = (
    "run",
    "-o",
    "data/features/x.txt",
    "--",
    "python3",
    "code/fail.py",
    "data/features/x.txt",
)

PREPARE = """\
import sys
src, dst = sys.argv[1], sys.argv[2]
rows = [line.strip() for line in open(src) if line.strip()]
with open(dst, "w") as out:
    out.write("\\n".join(r.upper() for r in rows) + "\\n")
"""

TRAIN = """\
import json, os, sys
args = sys.argv[1:]
epochs = int(args[args.index("--epochs") + 1]) if "--epochs" in args else 1
features = "data/features"
total = sum(len(open(os.path.join(features, n)).read()) for n in sorted(os.listdir(features)))
open("results/model.txt", "w").write(f"{total * epochs}\\n")
json.dump({"size": total, "epochs": epochs}, open("results/metrics.json", "w"))
"""

EVALUATE = """\
import json, sys
model = int(open(sys.argv[1]).read())
json.dump({"score": model % 97}, open(sys.argv[2], "w"))
"""

FAIL = """\
import sys
open(sys.argv[1], "w").write("partial")
sys.exit(3)
"""


def git(root: Path, *args: str) -> str:
    """Run git in ``root``."""
    proc = subprocess.run(
        ["git", "-c", "init.defaultBranch=main", *args],
        cwd=root,
        capture_output=True,
        text=True,
        env={**os.environ, **GIT_ENV},
        check=True,
    )
    return proc.stdout


@pytest.fixture(autouse=True)
def _isolated_git(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in GIT_ENV.items():
        monkeypatch.setenv(key, value)


@pytest.fixture
def pipeline(tmp_path: Path) -> Path:
    """The pipeline workspace, nothing run yet."""
    return make_pipeline(tmp_path / "pipe")


def make_pipeline(root: Path) -> Path:
    """The pipeline workspace at ``root`` (git's identity and configuration as in
    GIT_ENV), nothing run yet."""
    for sub in ("code", "data/raw", "data/features", "results"):
        (root / sub).mkdir(parents=True)
    (root / "code/prepare.py").write_text(PREPARE)
    (root / "code/train.py").write_text(TRAIN)
    (root / "code/evaluate.py").write_text(EVALUATE)
    (root / "code/fail.py").write_text(FAIL)
    (root / "data/raw/train.csv").write_text("a,b\n1,2\n3,4\n")
    register_pipeline(root)
    return root


def register_pipeline(root: Path) -> None:
    """Make ``root`` (with code/, data/raw, data/features and results/ in place) its own
    git repository and a workspace with the pipeline's four resources."""
    (root / ".gitignore").write_text("/data/\n/results/\n")
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "code")
    ws = dws.Workspace.init(str(root))
    ws.add_resource("local-files", str(root / "data/raw"), "source-data", name="raw")
    ws.add_resource(
        "local-files", str(root / "data/features"), "intermediate-data", name="features"
    )
    ws.add_resource("local-files", str(root / "results"), "results", name="results")
    ws.add_resource("git", str(root), "code", name="code")


@pytest.fixture
def traceable() -> None:
    """Skip (with the reason) where `dws run --trace` cannot work: no strace, no ptrace."""
    from dws.core.lineage.strace.tracer import strace_unavailable_reason

    reason = strace_unavailable_reason()
    if reason is not None:
        pytest.skip(reason)
