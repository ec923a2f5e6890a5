"""`dws rerun` never runs a command line that came from elsewhere without a person's yes:
records pulled from a shared remote are shown and asked about on a terminal, refused
otherwise unless --approve; approvals are remembered per command line on this machine."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

from helpers.cli import run_dws

from .test_interactive_and_api import run_on_terminal

COPY = "open('data/features/n.txt','w').write(open('data/raw/t.csv').read())"


def ok(result: object) -> None:
    assert result.code == 0, result.err  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def cloned_once(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace that ran one step and pushed it, and a colleague's clone of it, built
    once per module in one directory (origin/, remote/, colleague/)."""
    tmp_path = tmp_path_factory.mktemp("approvals")
    origin = tmp_path / "origin"
    (origin / "data/raw").mkdir(parents=True)
    (origin / "data/features").mkdir(parents=True)
    (origin / "data/raw/t.csv").write_text("1\n")
    ok(run_dws("init", cwd=origin))
    ok(run_dws("add", "local-files", "data/raw", "--role", "source-data", cwd=origin))
    ok(run_dws("add", "local-files", "data/features", "--role", "intermediate-data", cwd=origin))
    ok(run_dws("run", "-n", "copy", "--", sys.executable, "-c", COPY, cwd=origin))
    ok(run_dws("snapshot", "v1", cwd=origin))
    ok(run_dws("remote", "add", "shared", str(tmp_path / "remote"), cwd=origin))
    ok(run_dws("push", cwd=origin))
    colleague = tmp_path / "colleague"
    ok(run_dws("clone", str(tmp_path / "remote"), str(colleague), cwd=tmp_path))
    (colleague / "data/raw/t.csv").write_text("2\n")
    return tmp_path


@pytest.fixture
def cloned(cloned_once: Path, tmp_path: Path) -> tuple[Path, Path]:
    """A copy of ``cloned_once`` of this test's own: (origin, colleague). Both still name
    the template's remote, which no test here reaches."""
    shutil.copytree(cloned_once, tmp_path, symlinks=True, dirs_exist_ok=True)
    return tmp_path / "origin", tmp_path / "colleague"


def runs(root: Path) -> int:
    return len(list((root / ".dataworkspace/lineage/runs").iterdir()))


def test_a_command_recorded_elsewhere_is_refused_without_a_yes(cloned: tuple[Path, Path]) -> None:
    _, colleague = cloned
    before = runs(colleague)
    refused = run_dws("rerun", "data/features/n.txt", cwd=colleague)
    assert refused.code == 3 and "--approve" in refused.err and "approved" in refused.err
    assert (colleague / "data/features/n.txt").read_text() == "1\n" and runs(colleague) == before
    plan = json.loads(
        run_dws("--json", "rerun", "--dry-run", "data/features/n.txt", cwd=colleague).out
    )
    assert [s["approved"] for s in plan["steps"]] == [False]
    ok(run_dws("rerun", "--approve", "data/features/n.txt", cwd=colleague))
    assert (colleague / "data/features/n.txt").read_text() == "2\n"
    # remembered: the same command line runs again without asking
    (colleague / "data/raw/t.csv").write_text("3\n")
    ok(run_dws("--batch", "rerun", "data/features/n.txt", cwd=colleague))
    assert (colleague / "data/features/n.txt").read_text() == "3\n"


def test_the_machine_that_ran_a_command_may_rerun_it(cloned: tuple[Path, Path]) -> None:
    origin, _ = cloned
    (origin / "data/raw/t.csv").write_text("5\n")
    ok(run_dws("--batch", "rerun", "data/features/n.txt", cwd=origin))
    assert (origin / "data/features/n.txt").read_text() == "5\n"


def test_a_person_on_a_terminal_is_asked(cloned: tuple[Path, Path]) -> None:
    _, colleague = cloned
    code, text = run_on_terminal(
        ["rerun", "data/features/n.txt"], colleague, ["n"], prompt=b"remember them"
    )
    assert code == 3 and "came with run records from elsewhere" in text and COPY[:20] in text
    assert (colleague / "data/features/n.txt").read_text() == "1\n"
    code, text = run_on_terminal(
        ["rerun", "data/features/n.txt"], colleague, ["y"], prompt=b"remember them"
    )
    assert code == 0, text
    assert (colleague / "data/features/n.txt").read_text() == "2\n"


def test_an_edited_environment_is_a_different_command(cloned: tuple[Path, Path]) -> None:
    """An approval covers argv, directory and the variables rerun sets: a record that sets
    another value is another command."""
    import msgspec

    from dws.core.lineage.approvals import command_digest
    from dws.core.lineage.catalog import RunCatalog
    from dws.core.workspace import Workspace

    origin, _ = cloned
    (record,) = RunCatalog(Workspace.open(str(origin)).layout).all()
    planted = msgspec.structs.replace(
        record, environment={**record.environment, "env.LD_PRELOAD": "/tmp/x.so"}
    )
    moved = msgspec.structs.replace(record, cwd="data")
    digests = {command_digest(r) for r in (record, planted, moved)}
    assert len(digests) == 3
    assert planted.recorded_env() == {"LD_PRELOAD": "/tmp/x.so"}
