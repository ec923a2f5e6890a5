"""A workspace with history, metrics, lineage, tables, an image, symbolic links and hostile
names, served by `dws ui` once per module."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers.cli import dws as run
from helpers.cli import ok
from helpers.common import write_files
from helpers.ui import Served, serving

HOSTILE_NAME = "<img src=x onerror=alert(1)>.csv"
HOSTILE_MESSAGE = "<script>alert('message')</script>"
HOSTILE_CELL = "<script>alert('cell')</script>"
STEP = "import shutil, sys\nshutil.copy(sys.argv[1], sys.argv[2])\n"
# the smallest PNG: one transparent pixel
PIXEL = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082"
)


def build_project(root: Path) -> Path:
    """Two snapshots (v1, v2) of a small project, each after a `dws run` step."""
    write_files(
        root,
        {
            "code/step.py": STEP,
            "data/raw/table.csv": "id,name,score\n1,a,0.5\n2,b,0.7\n",
            f"data/raw/{HOSTILE_NAME}": f"id,text\n1,{HOSTILE_CELL}\n",
            "data/raw/notes.txt": "plain notes\n",
            "data/raw/pixel.png": PIXEL,
            "data/raw/blob.bin": b"\x00\x01binary\x00" * 100,
            "results/.keep": "",
        },
    )
    os.symlink("table.csv", root / "data/raw/inside-link.csv")
    os.symlink("/etc/passwd", root / "data/raw/outside-link")
    os.symlink("../../../../../etc", root / "data/raw/up-link")
    ok(run(root, "init"))
    ok(run(root, "add", "local-files", "code", "--role", "code"))
    ok(run(root, "add", "local-files", "data/raw", "--role", "source-data"))
    ok(run(root, "add", "local-files", "data/out", "--role", "intermediate-data", "--create"))
    ok(run(root, "add", "local-files", "results", "--role", "results"))
    for version, accuracy in ((1, 0.5), (2, 0.75)):
        ok(
            run(
                root, "run", "--", "python3", "code/step.py", "data/raw/table.csv", "data/out/o.csv"
            )
        )
        (root / "results/metrics.json").write_text(json.dumps({"accuracy": accuracy}))
        ok(run(root, "snapshot", f"v{version}", "-m", HOSTILE_MESSAGE))
        with open(root / "data/raw/table.csv", "a") as table:
            table.write("3,c,0.9\n")
    return root


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_project(tmp_path_factory.mktemp("ui") / "proj")


@pytest.fixture(scope="module")
def served(project: Path) -> Iterator[Served]:
    with serving(project) as server:
        yield server
