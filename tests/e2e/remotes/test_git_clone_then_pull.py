"""The other way in: `git clone` of a project that commits .dataworkspace/, then `dws pull`.
The snapshot records came with git, without their trees; pull fetches what they need."""

from __future__ import annotations

from pathlib import Path

from helpers.failure import manifest, write_files

from .conftest import RemoteSpot
from .test_colleague_workflow import _alice_project, git


def test_records_git_brought_get_their_trees_from_pull(
    tmp_path: Path, dir_remote: RemoteSpot
) -> None:
    remote = dir_remote
    alice, bare = _alice_project(tmp_path, remote)
    v1 = manifest(alice / "data")
    write_files(alice / "data", {"raw/a.csv": "id,x\n1,12\n"})
    remote.ok("snapshot", "v2", cwd=alice)
    remote.ok("push", cwd=alice)
    git("add", ".dataworkspace", cwd=alice)
    git("commit", "-q", "-m", "snapshots v1 and v2", cwd=alice)
    git("push", "-q", cwd=alice)

    bob = tmp_path / "bob"
    git("clone", "-q", str(bare), str(bob), cwd=tmp_path)
    remote.ok("pull", cwd=bob)  # the remote is in the committed config.json

    remote.ok("fsck", cwd=bob)  # v1's trees are here; its blobs are named as not fetched
    assert "raw" in remote.ok("diff", "v1", "v2", cwd=bob).out
    remote.ok("pull", "--snapshot", "v1", cwd=bob)
    remote.ok("restore", "v1", cwd=bob)
    assert manifest(bob / "data") == v1
