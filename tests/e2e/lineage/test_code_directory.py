"""A plain directory as a code resource (`dws add local-files DIR --role code`): recorded
and restored as content, its files are the code of the runs that use them, and a code
directory inside a git code resource is refused."""

from __future__ import annotations

import json
from pathlib import Path

from blake3 import blake3

import dws
from helpers.cli import as_json, assert_error, assert_unchanged, disk_state, ok
from helpers.cli import dws as run
from helpers.common import write_files

from .conftest import git

STEP = """\
import sys
rows = open(sys.argv[1]).read().split()
open(sys.argv[2], "w").write(",".join(r.upper() for r in rows) + "\\n")
"""


def _workspace(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    write_files(
        root,
        {"notebooks/step.py": STEP, "data/raw/in.txt": "a b\n", "data/out/.keep": ""},
    )
    dws.Workspace.init(str(root))
    ok(run(root, "add", "local-files", "notebooks", "--role", "code", "--name", "scripts"))
    ok(run(root, "add", "local-files", "data/raw", "--role", "source-data", "--name", "raw"))
    ok(run(root, "add", "local-files", "data/out", "--role", "intermediate-data", "--name", "out"))
    return root


def _runs(root: Path) -> list[dict]:
    folder = root / ".dataworkspace/lineage/runs"
    return [json.loads(p.read_text()) for p in sorted(folder.iterdir())]


def test_code_directory_is_snapshotted_and_restored_as_content(tmp_path: Path) -> None:
    root = _workspace(tmp_path)
    listed = as_json(run(root, "--json", "status"))
    assert any(r["name"] == "scripts" and r["role"] == "code" for r in listed["resources"])
    ok(run(root, "snapshot", "v1"))
    (root / "notebooks/step.py").write_text("print('edited')\n")
    (root / "notebooks/new.py").write_text("x = 1\n")
    changed = as_json(run(root, "--json", "status"))
    scripts = next(r for r in changed["resources"] if r["name"] == "scripts")
    assert {c["path"] for c in scripts["changes"]} == {"step.py", "new.py"}
    ok(run(root, "restore", "v1", "--force"))
    assert (root / "notebooks/step.py").read_text() == STEP
    assert not (root / "notebooks/new.py").exists()


def test_files_of_a_code_directory_are_the_code_of_a_run(tmp_path: Path) -> None:
    root = _workspace(tmp_path)
    argv = ["run", "--", "python3", "notebooks/step.py", "data/raw/in.txt", "data/out/o.txt"]
    ok(run(root, *argv))
    (record,) = _runs(root)
    code_inputs = [i for i in record["inputs"] if i["resource"] == "scripts"]
    assert code_inputs == [
        {
            "id": blake3(STEP.encode()).hexdigest(),
            "kind": "file",
            "path": "step.py",
            "resource": "scripts",
        }
    ]
    assert (root / "data/out/o.txt").read_text() == "A,B\n"
    assert as_json(run(root, "--json", "status"))["stale"] == []
    (root / "notebooks/step.py").write_text(STEP + "# tuned\n")
    stale = as_json(run(root, "--json", "status"))["stale"]
    assert [s["path"] for s in stale] == ["data/out/o.txt"]
    assert any("notebooks/step.py changed" in reason for reason in stale[0]["reasons"])
    (root / "notebooks/step.py").write_text(STEP)  # the same bytes again: current
    assert as_json(run(root, "--json", "status"))["stale"] == []


def test_code_directory_inside_a_git_code_resource_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    write_files(root, {"train.py": "pass\n", "notebooks/a.py": "pass\n"})
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "first")
    dws.Workspace.init(str(root))
    ok(run(root, "add", "git", ".", "--role", "code", "--name", "project"))
    before = disk_state(root)
    result = run(root, "add", "local-files", "notebooks", "--role", "code")
    assert_error(result, 2, contains="inside the git code resource 'project'")
    assert_unchanged(root, before)
    # a data directory there stays allowed (git.md, "Overlaps")
    ok(run(root, "add", "local-files", "notebooks", "--role", "intermediate-data"))


def test_git_code_resource_around_a_code_directory_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    write_files(root, {"train.py": "pass\n", "notebooks/a.py": "pass\n"})
    git(root, "init", "-q")
    dws.Workspace.init(str(root))
    ok(run(root, "add", "local-files", "notebooks", "--role", "code", "--name", "nb"))
    result = run(root, "add", "git", ".", "--role", "code", "--name", "project")
    assert_error(result, 2, contains="notebooks lies inside the git code resource 'project'")


def test_a_code_directory_git_ignores_may_be_added_inside_it(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    write_files(root, {"train.py": "pass\n", ".gitignore": "notebooks/\n", "notebooks/a.py": "1\n"})
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "first")
    dws.Workspace.init(str(root))
    ok(run(root, "add", "git", ".", "--role", "code", "--name", "project"))
    ok(run(root, "add", "local-files", "notebooks", "--role", "code", "--name", "nb"))
    ok(run(root, "snapshot", "v1"))
    (root / "notebooks/a.py").write_text("2\n")
    assert ok(run(root, "cat", "v1:notebooks/a.py")).out == "1\n"  # recorded by nb, not git
    listed = as_json(run(root, "ls", "v1:notebooks", "--json"))
    assert [(e["name"], e["resource"]) for e in listed] == [("a.py", "nb")]
