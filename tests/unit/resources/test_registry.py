"""Resource types are imported on first use: a workspace of local directories never
imports the git or S3 code (start-up time of every command)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from dws.errors import UsageError
from dws.resources.registry import RESOURCE_TYPES, resource_type


def test_every_registered_type_loads_and_names_itself() -> None:
    for name in RESOURCE_TYPES:
        assert resource_type(name).type_name == name
    with pytest.raises(UsageError, match="known types are"):
        resource_type("ftp")


def test_local_workspace_does_not_import_git_or_s3(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    script = f"""
import sys, dws
ws = dws.Workspace.init({str(tmp_path)!r})
ws.add_resource("local-files", {str(tmp_path / "data")!r}, "source-data", name="raw")
ws.snapshot("v1")
ws.status()
heavy = ("dws.resources.git.resource", "dws.resources.s3.resource")
loaded = [m for m in heavy if m in sys.modules]
print(",".join(loaded))
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
