"""dws delete-snapshot REF --remote NAME: a tombstone on the remote, then the record (and,
with --force, the remote tags naming it); the workspace keeps its copy; teammates' pushes
do not bring it back, their pulls name it, and gc --remote then frees its objects."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import dws
import dws.core.remote.deletion as deletion
from dws.store.remote_backend import RemoteBackend
from helpers import remote_files
from helpers.cli import assert_error, disk_state
from helpers.failure import write_files

from .conftest import RemoteSpot, clone_of, push_to_origin

ONLY_IN_V2 = {f"data/raw/gone/{i}.txt": f"only in v2 {i}\n" for i in range(12)}


@pytest.fixture
def shared(
    remote: RemoteSpot, make_workspace: Callable[..., Path], tmp_path: Path
) -> Iterator[tuple[Path, Path, str]]:
    """Alice's workspace with v1 and v2 pushed, Bob's clone of it, and v2's id."""
    alice = make_workspace("alice")
    write_files(alice, ONLY_IN_V2)
    v2 = dws.Workspace.open(str(alice)).snapshot("v2").record.id
    push_to_origin(remote, alice)
    yield alice, clone_of(remote, tmp_path / "bob"), v2


def _listing(remote: RemoteSpot) -> dict[str, list[str]]:
    return {d: remote_files.list_names(remote, d) for d in ("snapshots", "tags", "deleted")}


def test_delete_on_the_remote_keeps_teammates_from_bringing_it_back(
    remote: RemoteSpot, shared: tuple[Path, Path, str], tmp_path: Path
) -> None:
    alice, bob, v2 = shared
    before_remote, before_alice = _listing(remote), disk_state(alice)

    refused = remote.run("delete-snapshot", "v2", "--remote", "origin", cwd=alice)
    assert_error(refused, 3, max_lines=1, contains="remote tag(s) v2 on origin name snapshot")
    dry = remote.json("delete-snapshot", "v2", "--remote", "origin", "--force", "-n", cwd=alice)
    assert dry["deleted"] == v2 and dry["tags"] == ["v2"] and dry["dry_run"]
    assert _listing(remote) == before_remote

    done = remote.run("delete-snapshot", "v2", "--remote", "origin", "--force", cwd=alice)
    assert done.code == 0, done.err
    assert f"Deleted snapshot {v2[:10]} and tag(s) v2 on origin" in done.out
    assert "`dws gc --remote origin`" in done.out
    assert f"`dws delete-snapshot {v2[:10]}` deletes it here too" in done.err
    after = _listing(remote)
    assert f"{v2}.json" not in after["snapshots"] and "v2" not in after["tags"]
    assert after["deleted"] == [f"{v2}.json"]
    tombstone = json.loads(remote_files.read(remote, f"deleted/{v2}.json") or b"")
    assert tombstone["id"] == v2 and tombstone["tags"] == ["v2"]
    assert "@" in tombstone["deleted_by"] and tombstone["deleted_at"].endswith("Z")
    assert disk_state(alice) == before_alice  # the workspace keeps v2

    pulled = remote.run("pull", "--json", cwd=bob)
    assert json.loads(pulled.out)["deleted_on_remote"] == [v2]
    assert f"snapshot {v2[:10]} was deleted on the remote by {tombstone['deleted_by']}" in (
        pulled.err
    )
    assert v2 in [entry["id"] for entry in remote.json("history", cwd=bob)]  # not dropped

    write_files(bob, {"data/raw/bob.txt": "bob's\n"})
    shutil.rmtree(bob / "data/raw/gone")  # v3 keeps none of v2's own files
    remote.ok("snapshot", "v3", cwd=bob)
    pushed = remote.run("push", "--json", cwd=bob)
    assert pushed.code == 0, pushed.err
    report = json.loads(pushed.out)
    assert report["tags"] == ["v3"] and v2 in report["skipped"]
    assert f"`dws delete-snapshot {v2[:12]}` drops it here" in pushed.err
    listing = _listing(remote)
    assert f"{v2}.json" not in listing["snapshots"] and "v2" not in listing["tags"]
    assert len(listing["snapshots"]) == 2  # v1 and v3

    carol = tmp_path / "carol"
    remote.ok("clone", remote.url, str(carol), cwd=tmp_path)
    assert v2 not in [entry["id"] for entry in remote.json("history", cwd=carol)]
    assert not (carol / "data/raw/gone").exists()

    freed = remote.json("gc", "--remote", "origin", cwd=alice)
    assert freed["removed"] >= len(ONLY_IN_V2) + 1  # its blobs and the tree of gone/
    assert remote.json("fsck", "--remote", "origin", cwd=alice)["problems"] == []
    assert remote.json("gc", "--remote", "origin", "--dry-run", cwd=alice)["removed"] == 0

    remote.ok("delete-snapshot", v2[:12], cwd=bob)  # as the notes said
    quiet = remote.run("push", cwd=bob)
    assert quiet.code == 0 and "not pushed" not in quiet.err


def test_delete_on_the_remote_resolves_there_and_says_what_is_wrong(
    remote: RemoteSpot, shared: tuple[Path, Path, str]
) -> None:
    alice, _bob, v2 = shared
    v1 = remote.json("show", "v1", cwd=alice)["id"]
    unknown = remote.run("delete-snapshot", "v9", "--remote", "origin", cwd=alice)
    assert_error(unknown, 2, max_lines=1, contains="the remote has no snapshot or tag named")
    no_remote = remote.run("delete-snapshot", "v1", "--remote", "nowhere", cwd=alice)
    assert no_remote.code == 2 and "Traceback" not in no_remote.err
    local_dry = remote.run("delete-snapshot", "v1", "--dry-run", cwd=alice)
    assert_error(local_dry, 2, max_lines=1, contains="--dry-run goes with --remote")

    remote_files.delete(remote, "tags/v1")  # an untagged snapshot: no --force needed
    gone = remote.json("delete-snapshot", v1[:8], "--remote", "origin", cwd=alice)
    assert gone["deleted"] == v1 and gone["tags"] == [] and gone["local"]
    again = remote.run("delete-snapshot", v1[:8], "--remote", "origin", cwd=alice)
    assert_error(again, 2, max_lines=1, contains=f"snapshot {v1[:12]} was already deleted on")
    assert [e["id"] for e in remote.json("history", cwd=alice)] == [v2, v1]


def test_a_tag_moved_meanwhile_is_not_deleted(
    remote: RemoteSpot,
    shared: tuple[Path, Path, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """--force deletes a tag only while it still names the snapshot: one moved between
    the listing and the deletion (here, while the tombstone is written) stays."""
    alice, _bob, v2 = shared
    v1 = remote.json("show", "v1", cwd=alice)["id"]
    for name, value in remote.env.items():
        monkeypatch.setenv(name, value)
    write_tombstone = deletion.write_tombstone

    def racing(backend: RemoteBackend, snapshot_id: str, tags: list[str]) -> bool:
        remote_files.write(remote, "tags/v2", f"{v1}\n".encode())  # someone moves it
        return write_tombstone(backend, snapshot_id, tags)

    monkeypatch.setattr(deletion, "write_tombstone", racing)
    report = dws.Workspace.open(str(alice)).delete_remote_snapshot("v2", "origin", force=True)
    assert report.snapshot == v2 and report.tags == [] and report.kept_tags == ["v2"]
    assert remote_files.read(remote, "tags/v2") == f"{v1}\n".encode()
    assert f"{v2}.json" not in remote_files.list_names(remote, "snapshots")


def test_a_tombstoned_snapshot_still_listed_is_not_pulled(
    remote: RemoteSpot, shared: tuple[Path, Path, str], tmp_path: Path
) -> None:
    """A record that is back beside its tombstone (a push that raced the deletion), with a
    tag naming it: pulls and clones leave both out."""
    alice, _bob, v2 = shared
    tombstone = {
        "format": 1,
        "id": v2,
        "deleted_by": "eve@lab",
        "deleted_at": "2030-01-01T00:00:00Z",
    }
    remote_files.write(remote, f"deleted/{v2}.json", json.dumps(tombstone).encode())
    dave = tmp_path / "dave"
    remote.ok("clone", remote.url, str(dave), cwd=tmp_path)
    assert v2 not in [entry["id"] for entry in remote.json("history", cwd=dave)]
    assert sorted(remote.json("tag", cwd=dave)) == ["v1"]  # the tag naming it left out
    pulled = remote.run("pull", "--json", cwd=alice)
    assert json.loads(pulled.out)["deleted_on_remote"] == [v2]
    assert "deleted on the remote by eve@lab at 2030-01-01T00:00:00Z" in pulled.err


def test_s3_deletes_a_file_only_while_its_etag_holds(
    s3_remote: RemoteSpot, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server's If-Match on DeleteObject, not only the read before it: a file that
    changes between the two is kept."""
    from dws.core.remote import layout
    from dws.store.remote_urls import open_backend
    from dws.store.s3_store import S3Files

    for name, value in s3_remote.env.items():
        monkeypatch.setenv(name, value)
    backend = open_backend(s3_remote.url, None, layout.PLACES, create=True, temporary_dir=None)
    try:
        files = backend.files
        assert isinstance(files, S3Files)
        files.write("tags/t", b"old\n")
        seen = files._read("tags/t")
        assert seen is not None
        files.write("tags/t", b"new\n")  # changed after it was read
        files._read = lambda key: seen  # type: ignore[method-assign]
        assert files.delete_if("tags/t", b"old\n") is False
        del files._read
        assert files.read("tags/t") == b"new\n"
        assert files.delete_if("tags/t", b"new\n") is True and files.read("tags/t") is None
    finally:
        backend.close()


def test_head_names_the_remote_snapshot_it_shares(
    dir_remote: RemoteSpot, make_workspace: Callable[..., Path]
) -> None:
    ws = make_workspace()
    dir_remote.ok("remote", "add", "origin", dir_remote.url, cwd=ws)
    write_files(ws, {"data/raw/extra.txt": "extra\n"})
    dir_remote.ok("snapshot", "-m", "second", cwd=ws)
    dir_remote.ok("push", cwd=ws)
    head = dir_remote.json("status", cwd=ws)["head"]
    deleted = dir_remote.json("delete-snapshot", "HEAD", "--remote", "origin", cwd=ws)
    assert deleted["deleted"] == head
