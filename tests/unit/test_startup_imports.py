"""What `dws snapshot` and `dws status` import: only what they use. Start-up is most of a
command's time on an unchanged workspace, and the suite starts `dws` thousands of times."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from dws.api import Workspace

# modules a snapshot or status of local files never needs (each costs milliseconds)
NOT_NEEDED = (
    "filelock",  # the workspace lock is an fcntl.flock
    "concurrent.futures",  # imported with the first thread pool
    "logging",
    "ctypes",  # imported to sync the store or before a fork
    "socket",
    "dws.core.restore",
    "dws.core.results",
    "dws.core.maintenance",
    "dws.core.recovery",
    "dws.core.reading",
    "dws.core.lineage.queries",
    "dws.pictures.notebook",
    "dws.resources.git.resource",
    "dws.resources.s3.resource",
)

RUN_CLI = """
import atexit, sys
from dws.cli.main import main
heavy = {heavy!r}
loaded = lambda: "loaded:" + ",".join(m for m in heavy if m in sys.modules)
atexit.register(lambda: print(loaded(), file=sys.stderr))
sys.argv = ["dws", *{argv!r}]
main()
"""


def _loaded_by(cwd: Path, *argv: str) -> list[str]:
    code = RUN_CLI.format(heavy=NOT_NEEDED, argv=list(argv))
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, check=True
    )
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("loaded:"), done.stderr
    return [name for name in last.removeprefix("loaded:").split(",") if name]


@pytest.fixture
def unchanged(tmp_path: Path) -> Path:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "a.csv").write_text("x\n1\n")
    ws = Workspace.init(str(tmp_path))
    ws.add_resource("local-files", "data", "source-data")
    ws.snapshot()
    return tmp_path


@pytest.mark.parametrize("argv", [["snapshot"], ["status"], ["-q", "snapshot", "v1"]])
def test_a_command_on_an_unchanged_workspace_imports_only_what_it_uses(
    unchanged: Path, argv: list[str]
) -> None:
    assert _loaded_by(unchanged, *argv) == []


def test_a_snapshot_of_a_change_loads_lineage_but_not_restore(unchanged: Path) -> None:
    (unchanged / "data" / "a.csv").write_text("x\n2\n")
    loaded = _loaded_by(unchanged, "snapshot")
    assert "dws.core.lineage.queries" in loaded  # it decides which runs the record names
    assert "dws.core.restore" not in loaded and "filelock" not in loaded
