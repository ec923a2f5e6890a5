"""Fixtures of the git tests: real repositories in temp dirs, no network, and a git
configuration isolated from the machine's."""

from __future__ import annotations

from pathlib import Path

import pytest

import dws
from helpers.git import GIT_ENV, init_repo, write


@pytest.fixture(autouse=True)
def _isolated_git(monkeypatch: pytest.MonkeyPatch) -> None:
    """git run by the tests, by dws in process and by `dws` subprocesses sees no user or
    system configuration and a fixed identity."""
    for key, value in GIT_ENV.items():
        monkeypatch.setenv(key, value)


@pytest.fixture
def code_ws(tmp_path: Path) -> Path:
    """A workspace (not itself a repository) holding the repository ``code`` with two
    committed files, registered as the git resource ``code``."""
    root = tmp_path / "ws"
    root.mkdir()
    init_repo(root / "code", {"main.py": "print('v1')\n", "lib/util.py": "X = 1\n"})
    ws = dws.Workspace.init(str(root))
    ws.add_resource("git", str(root / "code"), "code", name="code")
    return root


@pytest.fixture
def own_ws(tmp_path: Path) -> Path:
    """A workspace that is itself a repository (registered at "." as ``project``) with the
    source-data resource ``raw`` at data/raw inside it, which git does not ignore."""
    root = init_repo(tmp_path / "proj", {"train.py": "lr = 0.1\n", "README.md": "# proj\n"})
    write(root, {"data/raw/a.csv": "1,2\n"})
    ws = dws.Workspace.init(str(root))
    ws.add_resource("git", str(root), "code", name="project")
    ws.add_resource("local-files", str(root / "data/raw"), "source-data", name="raw")
    return root
