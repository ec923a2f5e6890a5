"""docs/api.md against the `dws` package: every public method of `dws.Workspace` and every
name `dws` exports is mentioned, every Python example parses, and the first example runs.
"""

from __future__ import annotations

import ast
import inspect
import os
import re
import sys
from pathlib import Path

import pytest

import dws

from .docs_support import DOCS, python_blocks

API_MD = DOCS / "api.md"


def _text() -> str:
    return API_MD.read_text(encoding="utf-8")


def _public_members(cls: type) -> list[str]:
    return [name for name, _ in inspect.getmembers(cls) if not name.startswith("_")]


def _mentioned(text: str, name: str) -> bool:
    """``ws.NAME`` / ``Workspace.NAME`` / ``dws.NAME``, or ``NAME`` opening a code span."""
    pattern = rf"[.`]{re.escape(name)}(?!\w)"
    return re.search(pattern, text) is not None


def test_every_public_workspace_method_is_documented() -> None:
    text = _text()
    members = _public_members(dws.Workspace)
    missing = [name for name in members if not _mentioned(text, name)]

    assert len(members) > 40  # the check is not vacuous
    assert not missing, f"docs/api.md does not mention Workspace.{', Workspace.'.join(missing)}"


def test_every_exported_name_is_documented() -> None:
    text = _text()
    missing = [name for name in dws.__all__ if not _mentioned(text, name)]

    assert not missing, f"docs/api.md does not mention dws.{', dws.'.join(missing)}"


def test_every_python_example_parses() -> None:
    blocks = python_blocks(_text())

    assert blocks
    for block in blocks:
        ast.parse(block)


def test_the_first_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """In the project api.md describes: data/raw/a.csv, an empty results/, and
    code/prepare.py copying its first argument to its second."""
    project = tmp_path / "project"
    (project / "data/raw").mkdir(parents=True)
    (project / "results").mkdir()
    (project / "code").mkdir()
    (project / "data/raw/a.csv").write_text("id,value\n1,10\n")
    (project / "code/prepare.py").write_text(
        "import shutil, sys\nshutil.copyfile(sys.argv[1], sys.argv[2])\n"
    )
    monkeypatch.chdir(project)
    # the example runs `python`: this interpreter
    path = os.environ.get("PATH", "")
    monkeypatch.setenv("PATH", os.path.dirname(sys.executable) + os.pathsep + path)

    exec(compile(python_blocks(_text())[0], str(API_MD), "exec"), {"__name__": "api_example"})

    assert (project / "data/raw/a.csv").read_text() == "id,value\n1,10\n"
    assert not (project / "data/features/a.csv").exists()  # restored to v1
    assert (project / "results/model.pkl").read_bytes() == b"weights"  # results untouched
    assert (tmp_path / "v2-results/results/model.pkl").read_bytes() == b"weights"
