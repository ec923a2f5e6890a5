"""The Python API: remotes, push, pull and clone without the CLI."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

import dws
from dws.errors import UsageError
from helpers.failure import manifest, write_files


def test_push_pull_clone_from_python(make_workspace: Callable[..., Path], tmp_path: Path) -> None:
    ws = dws.Workspace.open(str(make_workspace()))
    remote_dir = tmp_path / "remote"
    config = ws.add_remote("nas", str(remote_dir))
    assert [r.name for r in ws.remotes()] == ["nas"] and config.url == str(remote_dir)
    seen: list[tuple[str, int, int | None]] = []
    ws.set_progress(lambda phase, done, total: seen.append((phase, done, total)))
    report = ws.push("nas")
    assert report.snapshots and report.tags == ["v1"]
    assert ("pushing objects", report.objects, report.objects) in seen

    clone, cloned = dws.Workspace.clone(str(remote_dir), str(tmp_path / "copy"))
    assert cloned.snapshot == ws.resolve("v1")
    assert manifest(Path(clone.path("raw"))) == manifest(Path(ws.path("raw")))
    assert [r.name for r in clone.remotes()] == ["origin"]

    write_files(Path(ws.root), {"data/raw/extra.txt": "extra\n"})
    ws.snapshot("v2")
    ws.push()
    pulled = clone.pull()
    assert len(pulled.snapshots) == 1 and pulled.tags == ["v2"]
    assert clone.fsck_remote().problems == []
    assert clone.gc_remote(dry_run=True).removed == 0
    ws.remove_remote("nas")
    assert ws.remotes() == []
    with pytest.raises(UsageError):
        dws.Workspace.clone(str(remote_dir), str(tmp_path / "copy"))
