"""End to end, as two colleagues work: Alice's workspace is her project's own git
repository (the code resource) with data directories inside; Bob clones it with one
command, pulls her next snapshot, restores over data he never snapshotted with --force,
and gets that data back."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from helpers.failure import manifest, write_files

from .conftest import RemoteSpot

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Alice",
    "GIT_AUTHOR_EMAIL": "alice@example.org",
    "GIT_COMMITTER_NAME": "Alice",
    "GIT_COMMITTER_EMAIL": "alice@example.org",
}


def git(*args: str, cwd: Path) -> str:
    return subprocess.run(
        ["git", "-c", "init.defaultBranch=main", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, **GIT_ENV},
    ).stdout.strip()


def _alice_project(tmp_path: Path, remote: RemoteSpot) -> tuple[Path, Path]:
    """A git repository holding code and .dataworkspace/, data ignored by git; v1 pushed
    to the data remote, the repository pushed to a bare one."""
    bare = tmp_path / "origin.git"
    git("init", "--bare", "-q", str(bare), cwd=tmp_path)
    alice = tmp_path / "alice"
    write_files(
        alice,
        {
            "train.py": "print('v1')\n",
            ".gitignore": "/data/\n",
            "data/raw/a.csv": "id,x\n1,10\n",
            "data/raw/b.csv": "id,x\n2,20\n",
            "data/features/f.csv": "id,f\n1,0.1\n",
        },
    )
    git("init", "-q", cwd=alice)
    git("add", "train.py", ".gitignore", cwd=alice)
    git("commit", "-q", "-m", "code v1", cwd=alice)
    git("remote", "add", "origin", str(bare), cwd=alice)
    remote.ok("init", cwd=alice)
    remote.ok("add", "git", ".", "--role", "code", "--name", "project", cwd=alice)
    remote.ok("add", "local-files", "data/raw", "--role", "source-data", cwd=alice)
    remote.ok("add", "local-files", "data/features", "--role", "intermediate-data", cwd=alice)
    git("add", ".dataworkspace", cwd=alice)
    git("commit", "-q", "-m", "workspace", cwd=alice)
    git("push", "-q", "-u", "origin", "main", cwd=alice)
    remote.ok("snapshot", "v1", cwd=alice)
    remote.ok("remote", "add", "origin", remote.url, cwd=alice)
    remote.ok("push", cwd=alice)
    return alice, bare


def test_a_colleague_clones_pulls_and_loses_nothing(tmp_path: Path, remote: RemoteSpot) -> None:
    alice, _ = _alice_project(tmp_path, remote)
    v1_data = manifest(alice / "data")
    v1_commit = git("rev-parse", "HEAD", cwd=alice)

    bob = tmp_path / "bob"
    remote.ok("clone", remote.url, str(bob), cwd=tmp_path)  # one command: code and data

    assert git("rev-parse", "HEAD", cwd=bob) == v1_commit
    assert (bob / "train.py").read_text() == "print('v1')\n"
    assert manifest(bob / "data") == v1_data
    assert "unchanged" in remote.ok("status", cwd=bob).out

    # Alice moves on: new code (committed and pushed) and new data, snapshotted and pushed
    (alice / "train.py").write_text("print('v2')\n")
    git("commit", "-q", "-am", "code v2", cwd=alice)
    git("push", "-q", cwd=alice)
    write_files(alice / "data", {"raw/a.csv": "id,x\n1,11\n", "features/g.csv": "id,g\n1,2\n"})
    remote.ok("snapshot", "v2", cwd=alice)
    remote.ok("push", cwd=alice)
    v2_data = manifest(alice / "data")

    # Bob has work of his own that no snapshot holds
    write_files(bob / "data", {"features/scratch.txt": "bob's notes\n", "raw/b.csv": "mine\n"})
    bobs = manifest(bob / "data")

    remote.ok("pull", cwd=bob)
    refused = remote.run("restore", "v2", cwd=bob)
    assert refused.code == 3 and "--force" in refused.err
    assert manifest(bob / "data") == bobs

    forced = remote.ok("restore", "v2", "--force", cwd=bob)

    assert manifest(bob / "data") == v2_data
    assert git("rev-parse", "HEAD", cwd=bob) == git("rev-parse", "HEAD", cwd=alice)
    assert (bob / "train.py").read_text() == "print('v2')\n"
    records = json.loads(remote.ok("--json", "recover", cwd=bob).out)["records"]
    [record] = records
    short = record["id"][:10]
    assert f"dws recover {short}" in forced.err

    remote.ok("recover", short, "--to", str(tmp_path / "bobs-work"), cwd=bob)
    back = tmp_path / "bobs-work"
    assert (back / "features/scratch.txt").read_text() == "bob's notes\n"
    assert (back / "raw/b.csv").read_text() == "mine\n"

    # and in place: the scratch file was deleted by the restore, so it simply comes back
    (bob / "data/raw/b.csv").unlink()
    remote.ok("recover", short, cwd=bob)
    assert (bob / "data/features/scratch.txt").read_text() == "bob's notes\n"
    assert (bob / "data/raw/b.csv").read_text() == "mine\n"
