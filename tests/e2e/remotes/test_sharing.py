"""Several workspaces, one remote: nobody loses snapshots; moved tags need --force."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from helpers.failure import write_files

from .conftest import RemoteSpot


def test_two_workspaces_pushing_keep_both_snapshots(
    remote: RemoteSpot, make_workspace: Callable[..., Path], tmp_path: Path
) -> None:
    alice = make_workspace("alice")
    remote.ok("remote", "add", "origin", remote.url, cwd=alice)
    remote.ok("push", cwd=alice)
    bob = tmp_path / "bob"
    remote.ok("clone", remote.url, str(bob), cwd=tmp_path)

    write_files(alice, {"data/raw/alice.txt": "from alice\n"})
    remote.ok("snapshot", "release", "-m", "alice", cwd=alice)
    write_files(bob, {"data/raw/bob.txt": "from bob\n"})
    remote.ok("snapshot", "release", "-m", "bob", cwd=bob)
    remote.ok("push", cwd=alice)
    refused = remote.run("push", cwd=bob)
    assert refused.code == 3 and "release" in refused.err and "--force" in refused.err
    # bob's snapshot itself went up: records are write-once and never collide
    remote.ok("pull", "--all", cwd=alice)
    messages = {entry["message"] for entry in remote.json("history", cwd=alice)}
    assert {"alice", "bob", "first"} <= messages
    assert remote.json("fsck", "--remote", "origin", cwd=alice)["problems"] == []

    remote.ok("push", "--force", cwd=bob)
    remote.ok("pull", "--force", cwd=alice)
    tagged = [e for e in remote.json("history", cwd=alice) if "release" in e["tags"]]
    assert [e["message"] for e in tagged] == ["bob"]


def test_push_refuses_a_remote_holding_another_workspace(
    dir_remote: RemoteSpot, make_workspace: Callable[..., Path]
) -> None:
    first = make_workspace("first")
    second = make_workspace("second")
    for root in (first, second):
        dir_remote.ok("remote", "add", "origin", dir_remote.url, cwd=root)
    dir_remote.ok("push", cwd=first)
    refused = dir_remote.run("push", cwd=second)
    assert refused.code == 2 and "holds workspace" in refused.err


def test_push_into_a_non_empty_directory_is_refused(
    make_workspace: Callable[..., Path], tmp_path: Path
) -> None:
    ws = make_workspace()
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "precious.txt").write_text("keep me\n")
    spot = RemoteSpot("dir", str(busy))
    assert spot.run("remote", "add", "nas", str(busy), cwd=ws).code == 2  # checked at once
    spot.ok("remote", "add", "nas", str(busy), "--no-check", cwd=ws)
    refused = spot.run("push", "nas", cwd=ws)
    assert refused.code == 2 and "neither empty nor a dws remote" in refused.err
    assert sorted(p.name for p in busy.iterdir()) == ["precious.txt"]


def test_snapshot_pulled_without_its_objects_is_not_pushed_elsewhere(
    dir_remote: RemoteSpot, make_workspace: Callable[..., Path], tmp_path: Path
) -> None:
    source = make_workspace()
    write_files(source, {"data/raw/only-v2.txt": "v2\n"})
    dir_remote.ok("snapshot", "v2", cwd=source)
    dir_remote.ok("remote", "add", "origin", dir_remote.url, cwd=source)
    dir_remote.ok("push", cwd=source)
    partial = tmp_path / "partial"
    dir_remote.ok("clone", dir_remote.url, str(partial), "--snapshot", "v1", cwd=tmp_path)
    v1, v2 = (dir_remote.json("show", ref, cwd=partial)["id"] for ref in ("v1", "v2"))

    other = RemoteSpot("dir", str(tmp_path / "other-remote"))
    other.ok("remote", "add", "other", other.url, cwd=partial)
    result = other.run("push", "other", "--json", cwd=partial)
    assert result.code == 0 and "not pushed" in result.err
    pushed = json.loads(result.out)
    assert pushed["snapshots"] == [v1] and list(pushed["skipped"]) == [v2]
    assert pushed["tags"] == ["v1"]
    assert other.json("fsck", "--remote", "other", cwd=partial)["problems"] == []
