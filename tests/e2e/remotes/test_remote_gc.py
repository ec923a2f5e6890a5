"""gc --remote deletes only what no snapshot on the remote reaches."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from helpers.failure import write_files

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
    done = remote.json("gc", "--remote", "origin", cwd=ws)
    assert done["removed"] == dry["removed"]
    assert remote.json("gc", "--remote", "origin", "--dry-run", cwd=ws)["removed"] == 0

    remote.ok("push", cwd=ws)
    kept = remote.json("gc", "--remote", "origin", cwd=ws)
    assert kept["removed"] == 0 and kept["kept"] > 5
    remote.ok("fsck", "--remote", "origin", cwd=ws)
    remote.ok("clone", remote.url, str(tmp_path / "clone"), cwd=tmp_path)


def test_gc_remote_rewrites_packs_around_a_deleted_snapshot(
    remote: RemoteSpot, make_workspace: Callable[..., Path], tmp_path: Path
) -> None:
    ws = make_workspace()
    write_files(ws, {f"data/raw/gone/{i}.txt": f"only in v2 {i}\n" for i in range(20)})
    remote.ok("snapshot", "v2", cwd=ws)
    remote.ok("remote", "add", "origin", remote.url, cwd=ws)
    remote.ok("push", cwd=ws)
    v2 = remote.json("history", cwd=ws)[0]["id"]
    _delete_remote(remote, "tags/v2")
    _delete_remote(remote, f"snapshots/{v2}.json")

    dry = remote.json("gc", "--remote", "origin", "--dry-run", cwd=ws)
    assert dry["removed"] >= 21  # 20 blobs, the tree of gone/, the root tree of v2
    done = remote.json("gc", "--remote", "origin", cwd=ws)
    assert done["removed"] == dry["removed"]
    assert remote.json("fsck", "--remote", "origin", cwd=ws)["problems"] == []
    clone = tmp_path / "clone"
    remote.ok("clone", remote.url, str(clone), cwd=tmp_path)
    assert not (clone / "data/raw/gone").exists()
    assert (clone / "data/raw/a.csv").read_text() == "x,y\n1,2\n"


def _delete_remote(spot: RemoteSpot, key: str) -> None:
    if spot.kind == "dir":
        (Path(spot.url) / key).unlink()
        return
    bucket, prefix = spot.url[len("s3://") :].split("/", 1)
    spot.server.client().delete_object(Bucket=bucket, Key=f"{prefix}/{key}")
