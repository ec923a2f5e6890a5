"""A pull or a clone killed (SIGKILL) at named crash points: the workspace stays
consistent (fsck passes), a clone leaves nothing at its destination, and running the
command again converges to what an uninterrupted run gives (a clone also removes the
staging directory the killed one left, never one of a clone that still runs). Directory
remote: the crash points are in code both remote kinds share."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from helpers.failure import Result, manifest, run_crashing, write_files

from .conftest import RemoteSpot


def _crashing(spot: RemoteSpot, point: str, cwd: Path, *args: str) -> Result:
    return run_crashing(point, *args, cwd=cwd, env=spot.env)


def _staging(parent: Path) -> list[Path]:
    """The hidden staging directories of clones in ``parent``."""
    return sorted(p for p in parent.iterdir() if ".dws-clone-" in p.name)


PULL_POINTS = {
    "objects-fetched": "dws.store.packed:PackedObjectStore.flush:after:1",
    "first-record": "dws.core.catalog:SnapshotCatalog.put:after:1",
    "before-tags": "dws.core.catalog:SnapshotCatalog.set_tag:before:1",
}


@pytest.fixture
def pulled_pair(
    dir_remote: RemoteSpot, make_workspace: Callable[..., Path], tmp_path: Path
) -> tuple[Path, Path]:
    """``origin`` pushed v1 then v2 and v3 (v3 without v2's new files); ``other`` was
    cloned at v1."""
    origin = make_workspace()
    dir_remote.ok("remote", "add", "origin", dir_remote.url, cwd=origin)
    dir_remote.ok("push", cwd=origin)
    other = tmp_path / "other"
    dir_remote.ok("clone", dir_remote.url, str(other), cwd=tmp_path)
    for tag, n in (("v2", 40), ("v3", 60)):
        # v3 drops v2's files: a pull of the latest only leaves v2's blobs behind
        shutil.rmtree(origin / "data/raw/newv2", ignore_errors=True)
        write_files(origin, {f"data/raw/new{tag}/f{i}.txt": f"{tag} {i}\n" for i in range(n)})
        dir_remote.ok("snapshot", tag, cwd=origin)
    dir_remote.ok("push", cwd=origin)
    return origin, other


@pytest.mark.parametrize("point", PULL_POINTS.values(), ids=PULL_POINTS.keys())
def test_killed_pull_converges(
    dir_remote: RemoteSpot, pulled_pair: tuple[Path, Path], point: str
) -> None:
    origin, other = pulled_pair
    killed = _crashing(dir_remote, point, other, "pull", "--all")
    assert killed.code == -9, f"{point} was never reached: {killed.err}"
    fsck = dir_remote.run("fsck", cwd=other)
    assert fsck.code == 0, (point, fsck.out, fsck.err)
    dir_remote.ok("pull", "--all", cwd=other)
    assert dir_remote.ok("fsck", cwd=other).code == 0
    history = [(s["id"], s["tags"]) for s in dir_remote.json("history", cwd=other)]
    expected = [(s["id"], s["tags"]) for s in dir_remote.json("history", cwd=origin)]
    assert sorted(history) == sorted(expected), point
    dir_remote.ok("restore", "v3", cwd=other)
    assert manifest(other / "data/raw") == manifest(origin / "data/raw")


CLONE_POINTS = {
    "record-written": "dws.core.catalog:SnapshotCatalog.put:after:1",
    "mid-restore": "dws.store.packed:PackedObjectStore.materialize:after:3",
}


@pytest.mark.parametrize("point", CLONE_POINTS.values(), ids=CLONE_POINTS.keys())
def test_killed_clone_leaves_nothing_and_converges(
    dir_remote: RemoteSpot, make_workspace: Callable[..., Path], tmp_path: Path, point: str
) -> None:
    origin = make_workspace()
    dir_remote.ok("remote", "add", "origin", dir_remote.url, cwd=origin)
    dir_remote.ok("push", cwd=origin)
    dest = tmp_path / "clone"
    killed = _crashing(dir_remote, point, tmp_path, "clone", dir_remote.url, str(dest))
    assert killed.code == -9, f"{point} was never reached: {killed.err}"
    assert not dest.exists()  # the staging directory never became the clone
    (leftover,) = _staging(tmp_path)
    # the same name, but of a process that runs (this one): a concurrent clone's, kept
    pid = leftover.name.split(".dws-clone-")[1].split("-")[0]
    alive = tmp_path / leftover.name.replace(f".dws-clone-{pid}-", f".dws-clone-{os.getpid()}-")
    alive.mkdir()
    (alive / "busy").write_text("a clone at work\n")

    again = dir_remote.ok("clone", dir_remote.url, str(dest), "--json", cwd=tmp_path)
    assert json.loads(again.out)["leftovers_removed"] == [str(leftover)]
    assert f"no longer run: {leftover.name}" in again.err
    assert _staging(tmp_path) == [alive] and (alive / "busy").exists()
    assert dir_remote.ok("fsck", cwd=dest).code == 0
    assert manifest(dest / "data/raw") == manifest(origin / "data/raw")
    shown = json.loads(dir_remote.ok("--json", "history", cwd=dest).out)
    assert [s["tags"] for s in shown] == [["v1"]]


def test_killed_default_pull_after_its_records_keeps_fsck_honest(
    dir_remote: RemoteSpot, pulled_pair: tuple[Path, Path]
) -> None:
    """A pull of the latest snapshot only also writes the records of the snapshots whose
    blobs it did not fetch; stopped right after them, fsck must not call them damaged."""
    _, other = pulled_pair
    point = "dws.core.catalog:SnapshotCatalog.put:after:2"
    assert _crashing(dir_remote, point, other, "pull").code == -9
    fsck = dir_remote.run("fsck", cwd=other)
    assert fsck.code == 0, (fsck.out, fsck.err)
    dir_remote.ok("pull", cwd=other)
    assert dir_remote.ok("fsck", cwd=other).code == 0
