"""A push killed (SIGKILL) part-way is finished by pushing again; the remote then passes
fsck and clones."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from helpers.failure import Result, manifest, run_crashing

from .conftest import RemoteSpot

POINTS = {
    "objects": "dws.store.transfer:send_object:after:3",
    "records": {
        "dir": "dws.store.remote_dir:DirectoryFiles.create:after:2",
        "s3": "dws.store.s3_store:S3Files.create:after:2",
    },
}


def _crashing_push(spot: RemoteSpot, point: str, cwd: Path) -> Result:
    return run_crashing(point, "push", cwd=cwd, env=spot.env)


@pytest.mark.parametrize("phase", ["objects", "records"])
def test_killed_push_is_finished_by_the_next(
    remote: RemoteSpot, make_workspace: Callable[..., Path], tmp_path: Path, phase: str
) -> None:
    ws = make_workspace()
    remote.ok("remote", "add", "origin", remote.url, cwd=ws)
    chosen = POINTS[phase]
    point = chosen if isinstance(chosen, str) else chosen[remote.kind]
    killed = _crashing_push(remote, point, ws)
    assert killed.code == -9, killed.err
    half = remote.json("fsck", "--remote", "origin", cwd=ws)
    assert half["problems"] == []  # nothing half-visible: no record names a missing object

    finished = remote.json("push", cwd=ws)
    assert finished["tags"] == ["v1"]
    assert remote.json("fsck", "--remote", "origin", cwd=ws)["snapshots"] == 1
    clone = tmp_path / "clone"
    remote.ok("clone", remote.url, str(clone), cwd=tmp_path)
    assert manifest(clone / "data/raw") == manifest(ws / "data/raw")
