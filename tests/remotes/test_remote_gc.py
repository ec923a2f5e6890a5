"""gc --remote deletes only what no snapshot on the remote reaches."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from .conftest import RemoteSpot
from .test_interrupted import POINTS, _crashing_push


def test_gc_remote_removes_leftovers_of_a_killed_push_only(
    remote: RemoteSpot, make_workspace: Callable[..., Path], tmp_path: Path
) -> None:
    ws = make_workspace()
    remote.ok("remote", "add", "origin", remote.url, cwd=ws)
    point = POINTS["objects"]
    assert isinstance(point, str)
    assert _crashing_push(remote, point, ws).code == -9
    dry = remote.json("gc", "--remote", "origin", "--dry-run", cwd=ws)
    assert dry["kept"] == 0 and dry["dry_run"]
    if remote.kind == "s3":
        assert dry["removed"] >= 3  # every object sent before the kill is unreferenced
    done = remote.json("gc", "--remote", "origin", cwd=ws)
    assert done["removed"] == dry["removed"]
    assert remote.json("gc", "--remote", "origin", "--dry-run", cwd=ws)["removed"] == 0

    remote.ok("push", cwd=ws)
    kept = remote.json("gc", "--remote", "origin", cwd=ws)
    assert kept["removed"] == 0 and kept["kept"] > 5
    remote.ok("fsck", "--remote", "origin", cwd=ws)
    remote.ok("clone", remote.url, str(tmp_path / "clone"), cwd=tmp_path)
