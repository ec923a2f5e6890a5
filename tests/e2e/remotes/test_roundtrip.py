"""Push, then clone elsewhere: the same files, history and lineage, through both kinds."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import msgspec

from dws.model.records import decode_snapshot, encode_record
from dws.model.runs import RunRecord, StepMemory
from helpers.failure import manifest, write_files

from .conftest import RemoteSpot


def _history(spot: RemoteSpot, root: Path) -> object:
    return spot.json("history", cwd=root)


def _add_lineage(root: Path) -> str:
    """A run record, a snapshot record naming it, and a step file, as lineage writes them."""
    run = RunRecord(
        step="train",
        via="command",
        argv=["python", "train.py"],
        cwd=".",
        started="2026-11-25T10:00:00.000000Z",
        ended="2026-11-25T10:00:01.000000Z",
        exit_code=0,
        status="succeeded",
        hostname="lab",
        user="ana",
        environment={},
        code=[],
        inputs=[],
        outputs=[],
        params={"lr": 0.1},
    ).with_id()
    meta = root / ".dataworkspace"
    (meta / "lineage/runs" / f"{run.id}.json").write_bytes(encode_record(run) + b"\n")
    step = StepMemory(step="train", answers={"data/raw/a.csv": "input"})
    (meta / "lineage/steps/train.json").write_bytes(msgspec.json.encode(step) + b"\n")
    head = json.loads((meta / "local/head.json").read_bytes())["snapshot"]
    base = decode_snapshot((meta / "snapshots" / f"{head}.json").read_bytes(), head)
    record = msgspec.structs.replace(
        base, runs=[run.id], created="2030-01-01T00:00:00.000000Z", parent=head
    ).with_id()
    (meta / "snapshots" / f"{record.id}.json").write_bytes(encode_record(record) + b"\n")
    return record.id


def _tree_bytes(root: Path, sub: str) -> dict[str, bytes]:
    base = root / ".dataworkspace" / sub
    return {str(p.relative_to(base)): p.read_bytes() for p in sorted(base.rglob("*.json"))}


def test_push_then_clone_gives_identical_workspace(
    remote: RemoteSpot, make_workspace: Callable[..., Path], tmp_path: Path
) -> None:
    source = make_workspace()
    write_files(source, {"data/raw/sub/b.txt": "changed\n", "results/metrics.json": '{"acc": 1}'})
    remote.ok("snapshot", "v2", cwd=source)
    lineage_snapshot = _add_lineage(source)
    remote.ok("remote", "add", "origin", remote.url, cwd=source)
    pushed = remote.json("push", cwd=source)
    assert len(pushed["snapshots"]) == 3 and pushed["runs"] == 1 and pushed["steps"] == 1
    assert sorted(pushed["tags"]) == ["v1", "v2"]

    clone = tmp_path / "clone"
    cloned = remote.json("clone", remote.url, str(clone), cwd=tmp_path)
    assert cloned["snapshot"] == lineage_snapshot  # the latest by creation time
    for sub in ("data/raw", "data/features", "results"):
        assert manifest(clone / sub) == manifest(source / sub), sub
    assert _history(remote, clone) == _history(remote, source)
    assert _tree_bytes(clone, "lineage") == _tree_bytes(source, "lineage")
    assert remote.json("status", cwd=clone)  # opens and compares cleanly
    remote.ok("fsck", "--remote", "origin", cwd=clone)
    partial = remote.ok("fsck", cwd=clone)  # a clone holds the blobs of its snapshot only
    assert "pulled without their data" in partial.err
    remote.ok("pull", "--all", cwd=clone)
    assert "pulled without" not in remote.ok("fsck", cwd=clone).err

    older = tmp_path / "older"
    remote.ok("clone", remote.url, str(older), "--snapshot", "v1", cwd=tmp_path)
    assert (older / "data/raw/sub/b.txt").read_text() == "bee\n"
    assert (older / "results/metrics.json").read_text() == '{"acc": 0.5}'


def test_pull_brings_new_snapshots_and_tags(
    remote: RemoteSpot, make_workspace: Callable[..., Path], tmp_path: Path
) -> None:
    source = make_workspace()
    remote.ok("remote", "add", "origin", remote.url, cwd=source)
    remote.ok("push", cwd=source)
    other = tmp_path / "other"
    remote.ok("clone", remote.url, str(other), cwd=tmp_path)

    write_files(source, {"data/raw/new.txt": "new\n"})
    remote.ok("snapshot", "v2", cwd=source)
    remote.ok("push", cwd=source)
    pulled = remote.json("pull", cwd=other)
    assert len(pulled["snapshots"]) == 1 and pulled["tags"] == ["v2"]
    assert remote.json("pull", cwd=other)["snapshots"] == []
    remote.ok("restore", "v2", cwd=other)
    assert (other / "data/raw/new.txt").read_text() == "new\n"
    assert _history(remote, other) == _history(remote, source)


def test_pull_keeps_a_local_tag_moved_on_both_sides_unless_forced(
    dir_remote: RemoteSpot, make_workspace: Callable[..., Path], tmp_path: Path
) -> None:
    spot = dir_remote
    source = make_workspace()
    spot.ok("remote", "add", "origin", spot.url, cwd=source)
    spot.ok("push", cwd=source)
    other = tmp_path / "other"
    spot.ok("clone", spot.url, str(other), cwd=tmp_path)
    write_files(source, {"data/raw/new.txt": "new\n"})
    spot.ok("snapshot", "-m", "second", cwd=source)
    spot.ok("tag", "HEAD", "v1", "--force", cwd=source)
    spot.ok("push", "--force", cwd=source)
    write_files(other, {"data/raw/mine.txt": "mine\n"})
    spot.ok("snapshot", "-m", "other's", cwd=other)
    spot.ok("tag", "HEAD", "v1", "--force", cwd=other)  # moved here too: a conflict

    pulled = spot.run("pull", cwd=other)  # everything else pulled, the tag kept: exit 3
    assert pulled.code == 3 and "Pulled 1 new snapshot(s)" in pulled.out
    assert "v1: here" in pulled.err and "dws pull --force" in pulled.err
    before = spot.json("history", cwd=other)
    assert "v1" in before[0]["tags"] and before[0]["message"] == "other's"
    assert len(before) == 3  # the new snapshot did arrive
    assert spot.json("pull", "--force", cwd=other)["tags"] == ["v1"]
    after = spot.json("history", cwd=other)
    assert next(h for h in after if h["message"] == "second")["tags"] == ["v1"]


def test_pull_all_and_pull_one_snapshot(
    dir_remote: RemoteSpot, make_workspace: Callable[..., Path], tmp_path: Path
) -> None:
    spot = dir_remote
    source = make_workspace()
    write_files(source, {"data/raw/v2.bin": b"\x01" * 200_000})
    spot.ok("snapshot", "v2", cwd=source)
    spot.ok("remote", "add", "origin", spot.url, cwd=source)
    spot.ok("push", cwd=source)
    target = tmp_path / "t"
    spot.ok("clone", spot.url, str(target), "--snapshot", "v1", cwd=tmp_path)
    assert not (target / "data/raw/v2.bin").exists()
    assert spot.json("pull", "--snapshot", "v2", cwd=target)["objects"] >= 1
    spot.ok("restore", "v2", cwd=target)
    assert (target / "data/raw/v2.bin").read_bytes() == b"\x01" * 200_000
    assert spot.json("pull", "--all", cwd=target)["objects"] == 0
    spot.ok("fsck", cwd=target)


def test_push_and_pull_report_the_same_objects_and_bytes(
    remote: RemoteSpot, make_workspace: Callable[..., Path], tmp_path: Path
) -> None:
    """Both count the objects moved and their content bytes, trees included: small ones
    (packed), a large one (its own file or key), whichever kind of remote."""
    source = make_workspace()  # v1: small files and one of 300 kB
    remote.ok("remote", "add", "origin", remote.url, cwd=source)
    pushed = remote.json("push", cwd=source)
    copy = tmp_path / "copy"
    cloned = remote.json("clone", remote.url, str(copy), cwd=tmp_path)
    assert (cloned["objects"], cloned["bytes"]) == (pushed["objects"], pushed["bytes"])
    assert pushed["bytes"] > 300_000

    big = bytes(range(256)) * 1000
    write_files(source, {"data/raw/new/big2.bin": big, "data/raw/new/s.txt": "small\n"})
    remote.ok("snapshot", "v2", cwd=source)
    pushed = remote.json("push", cwd=source)
    pulled = remote.json("pull", cwd=copy)
    assert pushed["objects"] == 4  # two blobs, the trees of new/ and of the resource
    assert (pulled["objects"], pulled["bytes"]) == (pushed["objects"], pushed["bytes"])
    assert pulled["bytes"] > len(big)
