"""Divergent lines through a remote: Alice and Bob both change the same file from v1,
snapshot and push. The second push names Alice's line, each pull names the other's, status
names the newer one, the graph shows both and a fresh clone says which line it took."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from helpers.failure import write_files

from .conftest import RemoteSpot


def as_user(remote: RemoteSpot, name: str) -> RemoteSpot:
    """``remote`` for a dws process whose git identity (a snapshot's author) is ``name``."""
    identity = {
        "GIT_CONFIG_COUNT": "2",
        "GIT_CONFIG_KEY_0": "user.name",
        "GIT_CONFIG_VALUE_0": name,
        "GIT_CONFIG_KEY_1": "user.email",
        "GIT_CONFIG_VALUE_1": f"{name.lower()}@example.org",
    }
    return RemoteSpot(remote.kind, remote.url, {**remote.env, **identity}, remote.server)


def _head(spot: RemoteSpot, root: Path) -> str:
    head = spot.json("status", cwd=root)["head"]
    assert isinstance(head, str)
    return head


def _ids(lines: list[dict[str, object]]) -> list[object]:
    return [line["id"] for line in lines]


def test_two_lines_are_named_everywhere(
    tmp_path: Path, remote: RemoteSpot, make_workspace: Callable[..., Path]
) -> None:
    alice, bob = as_user(remote, "Alice"), as_user(remote, "Bob")
    alice_root = make_workspace("alice")
    alice.ok("remote", "add", "origin", remote.url, cwd=alice_root)
    alice.ok("push", cwd=alice_root)
    bob_root = tmp_path / "bob"
    bob.ok("clone", remote.url, str(bob_root), cwd=tmp_path)
    v1 = _head(alice, alice_root)

    write_files(alice_root, {"data/raw/a.csv": "x,y\n1,alice\n"})
    alice.ok("snapshot", "-m", "alice's edit", cwd=alice_root)
    a1 = _head(alice, alice_root)
    assert alice.json("push", cwd=alice_root)["other_lines"] == []

    write_files(bob_root, {"data/raw/a.csv": "x,y\n1,bob\n"})
    bob.ok("snapshot", "-m", "bob's edit", cwd=bob_root)
    b1 = _head(bob, bob_root)
    pushed = bob.run("push", cwd=bob_root)

    # the second push succeeds and names Alice's line
    assert pushed.code == 0, pushed.err
    assert f"The remote has another line: {a1[:10]} (Alice <alice@example.org> on " in pushed.err
    assert f'"alice\'s edit"), 1 snapshot since {v1[:10]}' in pushed.err
    assert f"`dws diff HEAD {a1[:10]}` compares them" in pushed.err
    (other,) = bob.json("push", cwd=bob_root)["other_lines"]  # again: not pulled yet
    assert other["id"] == a1 and other["fork"] == v1 and other["snapshots"] == 1
    assert other["user"] == "Alice <alice@example.org>" and other["message"] == "alice's edit"

    # Alice's pull names Bob's line, not fetched (not on her line), and how to get there
    pulled = alice.run("pull", cwd=alice_root)
    assert pulled.code == 0, pulled.err
    assert f"Pulled another line, which HEAD is not on: {b1[:10]} (Bob " in pulled.err
    assert (
        f"  `dws pull --snapshot {b1[:10]}`, then `dws restore {b1[:10]}` goes there" in pulled.err
    )
    # her status names it: it is newer than her HEAD
    status = alice.ok("status", cwd=alice_root).out
    assert f"A newer line: {b1[:10]} (Bob <bob@example.org> on " in status
    assert _ids(alice.json("status", cwd=alice_root)["other_lines"]) == [b1]

    # Bob's pull names Alice's line, whose data it did not fetch
    doc = bob.json("pull", cwd=bob_root)
    assert _ids(doc["other_lines"]) == [a1] and doc["fetched"] == []  # its own HEAD is here already
    bob.ok("push", cwd=bob_root)  # the remote's lines are all here now and older: quiet
    assert bob.run("push", cwd=bob_root).err == ""
    assert bob.json("status", cwd=bob_root)["other_lines"] == []  # Alice's is older
    again = bob.run("pull", "--snapshot", a1[:10], cwd=bob_root)
    assert again.code == 0 and "another line" not in again.err  # nothing new was pulled

    # both histories draw both lines
    for spot, root, head in ((alice, alice_root, a1), (bob, bob_root, b1)):
        graph = spot.ok("history", "--graph", cwd=root).out.splitlines()
        marks = ["@" if head == b1 else "*", "| " + ("@" if head == a1 else "*")]
        assert [line[: len(m)] for line, m in zip(graph, marks, strict=False)] == marks
        assert graph[0][2:12] == b1[:10] and graph[1][4:14] == a1[:10]
        assert graph[2:4] == ["|/", f"* {v1[:10]} [v1]  " + graph[3].split("  ", 1)[1]]

    # a fresh clone takes the newest line and names the other
    carol_root = tmp_path / "carol"
    cloned = remote.ok("clone", remote.url, str(carol_root), cwd=tmp_path)
    assert f"at snapshot {b1[:10]} (the newest; 1 other line, below)" in cloned.out
    assert f"  other line: {a1[:10]} (Alice <alice@example.org> on " in cloned.out
    assert f"`dws pull --snapshot {a1[:10]}`, then `dws restore {a1[:10]}`" in cloned.out
    assert (carol_root / "data/raw/a.csv").read_text() == "x,y\n1,bob\n"
    chosen = remote.ok(
        "--json", "clone", remote.url, str(tmp_path / "dave"), "--snapshot", a1[:10], cwd=tmp_path
    )
    doc = json.loads(chosen.out)
    assert doc["snapshot"] == a1 and _ids(doc["other_lines"]) == [b1]


def test_ones_own_experiments_do_not_nag_push(
    dir_remote: RemoteSpot, make_workspace: Callable[..., Path]
) -> None:
    root = make_workspace()
    dir_remote.ok("remote", "add", "origin", dir_remote.url, cwd=root)
    write_files(root, {"data/raw/a.csv": "x,y\n1,v2\n"})
    dir_remote.ok("snapshot", "v2", cwd=root)
    dir_remote.ok("restore", "v1", cwd=root)  # back, and a new line from there
    write_files(root, {"data/raw/a.csv": "x,y\n1,experiment\n"})
    dir_remote.ok("snapshot", "e1", cwd=root)

    pushed = dir_remote.run("--json", "push", cwd=root)

    assert pushed.code == 0 and pushed.err == ""
    assert json.loads(pushed.out)["other_lines"] == []
    # going back to the older line: the newer one is named, as status would
    dir_remote.ok("restore", "v2", cwd=root)
    doc = dir_remote.json("push", cwd=root)
    assert _ids(doc["other_lines"]) == [dir_remote.json("status", cwd=root)["other_lines"][0]["id"]]
