"""Clone of a workspace whose own directory is its git code resource (`dws add git .`):
the repository is cloned first, the workspace made inside it, and the code comes back at
the snapshot's commit with its recorded uncommitted changes; --repo gives other URLs."""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from helpers.failure import manifest, run_dws, write_files
from helpers.git import git

from .conftest import RemoteSpot

DATA = {"data/raw/a.csv": "1,2\n", "data/raw/sub/b.bin": bytes(range(256))}


@pytest.fixture(autouse=True)
def _isolated_git(monkeypatch: pytest.MonkeyPatch) -> None:
    """git, here and in the dws processes, without the machine's configuration."""
    for key, value in {
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@e",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@e",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
    }.items():
        monkeypatch.setenv(key, value)


def _ok(*args: str, cwd: Path) -> str:
    result = run_dws(*args, cwd=cwd)
    assert result.code == 0, (args, result.out, result.err)
    return result.out + result.err


@dataclass
class Project:
    """A workspace that is its own repository, pushed to a bare repository and a remote."""

    root: Path
    upstream: Path
    commit: str  # HEAD when snapshot v1 was taken
    tip: str  # the branch after it moved on
    porcelain: str  # `git status --porcelain` when v1 was taken


def _own_project(
    tmp_path: Path, remote: str, *, commit_workspace: bool, track_data: bool = False
) -> Project:
    """`project` (git, at ".") and `raw` (data/raw, ignored by git unless ``track_data``:
    then committed, and changed before v1); v1 records a modified, a staged and an
    untracked file; then the branch moves on, and everything is pushed.
    ``commit_workspace``: .dataworkspace/ is committed with the code, as the README says."""
    upstream = tmp_path / "upstream.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(upstream))
    root = tmp_path / "ws"
    ignore = "" if track_data else "/data/\n"
    write_files(root, {"train.py": "lr = 0.1\n", ".gitignore": ignore, **DATA})
    git(root, "init", "-q", "-b", "main")
    _ok("init", cwd=root)
    _ok("add", "git", ".", "--role", "code", "--name", "project", cwd=root)
    _ok("add", "local-files", "data/raw", "--role", "source-data", "--name", "raw", cwd=root)
    _ok("remote", "add", "origin", remote, cwd=root)
    meta = [".dataworkspace"] if commit_workspace else []
    git(root, "add", "train.py", ".gitignore", *meta, *(["data"] if track_data else []))
    git(root, "commit", "-q", "-m", "first")
    git(root, "remote", "add", "origin", str(upstream))
    git(root, "push", "-q", "-u", "origin", "main")
    write_files(root, {"train.py": "lr = 0.3  # trying\n", "staged.py": "S = 1\n"})
    write_files(root, {"notes.txt": "untracked\n"})
    if track_data:
        write_files(root, {"data/raw/a.csv": "9,9\n"})
    git(root, "add", "staged.py")
    _ok("snapshot", "v1", cwd=root)
    commit = git(root, "rev-parse", "HEAD").strip()
    porcelain = git(root, "status", "--porcelain")
    write_files(root, {"train.py": "lr = 0.2\n"})
    (root / "notes.txt").unlink()
    git(root, "add", "train.py", "staged.py", *meta)
    git(root, "commit", "-q", "-m", "second")
    git(root, "push", "-q")
    _ok("push", cwd=root)
    tip = git(root, "rev-parse", "HEAD").strip()
    return Project(root, upstream, commit, tip, porcelain)


def _left_in(tmp_path: Path) -> list[str]:
    return sorted(p.name for p in tmp_path.iterdir())


@pytest.mark.parametrize(
    ("commit_workspace", "track_data"),
    [(True, False), (False, False), (True, True)],
    ids=["committed", "not-committed", "data-tracked-by-git"],
)
def test_own_repository_comes_back_at_the_snapshots_commit(
    tmp_path: Path, dir_remote: RemoteSpot, commit_workspace: bool, track_data: bool
) -> None:
    """With data tracked by git, the data still come from the snapshot (not from the
    checkout of the branch, which holds older ones) and git shows them as it did at v1."""
    project = _own_project(
        tmp_path, dir_remote.url, commit_workspace=commit_workspace, track_data=track_data
    )
    target = tmp_path / "clone"
    said = _ok("clone", dir_remote.url, str(target), cwd=tmp_path)
    assert "HEAD detached at" in said and "has moved on" in said

    assert git(target, "rev-parse", "HEAD").strip() == project.commit
    assert git(target, "rev-parse", "main").strip() == project.tip
    assert git(target, "remote", "get-url", "origin").strip() == str(project.upstream)
    assert (target / "train.py").read_text() == "lr = 0.3  # trying\n"
    assert (target / "notes.txt").read_text() == "untracked\n"
    assert git(target, "diff", "--cached", "--name-only") == "staged.py\n"
    assert manifest(target / "data/raw") == manifest(project.root / "data/raw")
    # what git shows is what it showed when v1 was taken: the recorded changes ( M train.py,
    # A  staged.py, ?? notes.txt), the data where git tracks them ( M data/raw/a.csv) and
    # dws's own files that commit does not hold (v1's record and tag, committed only later;
    # all of .dataworkspace/ when it is never committed)
    assert git(target, "status", "--porcelain") == project.porcelain
    status = run_dws("status", cwd=target)
    assert status.code == 0 and "change(s)" not in status.out, status.out
    assert (
        "project (code): unchanged" in status.out and "raw (source-data): unchanged" in status.out
    )
    config = json.loads((target / ".dataworkspace/config.json").read_text())
    assert config["remotes"] == {"origin": {"url": dir_remote.url}}
    assert run_dws("fsck", cwd=target).code == 0
    assert _left_in(tmp_path) == ["clone", "remote", "upstream.git", "ws"]


def test_committed_origin_elsewhere_is_pointed_at_the_clones_source(
    tmp_path: Path, dir_remote: RemoteSpot
) -> None:
    """config.json came from git naming another origin: origin becomes where the clone came
    from (as in git), other remotes stay."""
    project = _own_project(tmp_path, dir_remote.url, commit_workspace=True)
    moved = tmp_path / "moved-remote"
    shutil.copytree(dir_remote.url, moved)
    _ok("remote", "add", "backup", str(tmp_path / "backup"), cwd=project.root)
    git(project.root, "add", ".dataworkspace/config.json")
    git(project.root, "commit", "-q", "-m", "backup remote")
    git(project.root, "push", "-q")
    target = tmp_path / "clone"
    _ok("clone", str(moved), str(target), cwd=tmp_path)
    config = json.loads((target / ".dataworkspace/config.json").read_text())
    assert config["remotes"] == {
        "origin": {"url": str(moved)},
        "backup": {"url": str(tmp_path / "backup")},
    }
    assert git(target, "rev-parse", "HEAD").strip() == project.commit


def test_repo_option_overrides_the_recorded_url(tmp_path: Path, dir_remote: RemoteSpot) -> None:
    project = _own_project(tmp_path, dir_remote.url, commit_workspace=True)
    mirror = tmp_path / "mirror.git"
    project.upstream.rename(mirror)  # the recorded URL leads nowhere now
    target = tmp_path / "clone"
    said = _ok("clone", dir_remote.url, str(target), "--repo", "mirror.git", cwd=tmp_path)
    assert "not restored" not in said
    assert git(target, "remote", "get-url", "origin").strip() == str(mirror)
    assert git(target, "rev-parse", "HEAD").strip() == project.commit
    assert (target / "train.py").read_text() == "lr = 0.3  # trying\n"

    again = tmp_path / "again"
    _ok("clone", dir_remote.url, str(again), "--repo", f"project=file://{mirror}", cwd=tmp_path)
    assert git(again, "rev-parse", "HEAD").strip() == project.commit


def test_unreachable_repository_leaves_nothing(tmp_path: Path, dir_remote: RemoteSpot) -> None:
    project = _own_project(tmp_path, dir_remote.url, commit_workspace=True)
    shutil.rmtree(project.upstream)
    target = tmp_path / "clone"
    failed = run_dws("clone", dir_remote.url, str(target), cwd=tmp_path)
    assert failed.code != 0 and f"cloning {project.upstream} failed" in failed.err, failed.err
    assert len(failed.err.strip().splitlines()) == 1
    assert _left_in(tmp_path) == ["remote", "ws"]

    secret = "https://user:s3cret@127.0.0.1:9/team/ws.git"
    no_proxy = {"NO_PROXY": "*", "no_proxy": "*", "GIT_HTTP_LOW_SPEED_TIME": "5"}
    failed = run_dws(
        "clone", dir_remote.url, str(target), "--repo", secret, cwd=tmp_path, env=no_proxy
    )
    assert failed.code != 0 and "cloning https://127.0.0.1:9/team/ws.git failed" in failed.err
    assert "s3cret" not in failed.err + failed.out
    assert _left_in(tmp_path) == ["remote", "ws"]


def test_repository_of_another_workspace_is_refused(tmp_path: Path, dir_remote: RemoteSpot) -> None:
    _own_project(tmp_path, dir_remote.url, commit_workspace=True)
    other = tmp_path / "other"
    write_files(other, {"x.py": "x\n"})
    git(other, "init", "-q", "-b", "main")
    _ok("init", cwd=other)
    git(other, "add", "-A")
    git(other, "commit", "-q", "-m", "other")
    target = tmp_path / "clone"
    refused = run_dws("clone", dir_remote.url, str(target), "--repo", str(other), cwd=tmp_path)
    assert refused.code == 2 and "holds workspace 'other'" in refused.err, refused.err
    assert len(refused.err.strip().splitlines()) == 1
    assert _left_in(tmp_path) == ["other", "remote", "upstream.git", "ws"]


def _workspace_with_local_repo(tmp_path: Path, remote: str) -> tuple[Path, str]:
    """A workspace holding the repository `code`, made with `git init` (no URL to record),
    snapshotted with an uncommitted change, and pushed."""
    root = tmp_path / "ws"
    write_files(root / "code", {"main.py": "print(1)\n"})
    git(root / "code", "init", "-q", "-b", "main")
    git(root / "code", "add", "-A")
    git(root / "code", "commit", "-q", "-m", "one")
    write_files(root, {"code/main.py": "print(2)\n", **DATA})
    _ok("init", cwd=root)
    _ok("add", "git", "code", "--role", "code", "--name", "code", cwd=root)
    _ok("add", "local-files", "data/raw", "--role", "source-data", "--name", "raw", cwd=root)
    _ok("snapshot", "v1", cwd=root)
    _ok("remote", "add", "origin", remote, cwd=root)
    _ok("push", cwd=root)
    return root, git(root / "code", "rev-parse", "HEAD").strip()


def test_repo_name_url_clones_a_repository_with_no_recorded_url(
    tmp_path: Path, dir_remote: RemoteSpot
) -> None:
    root, commit = _workspace_with_local_repo(tmp_path, dir_remote.url)
    without = tmp_path / "without"
    said = _ok("clone", dir_remote.url, str(without), cwd=tmp_path)
    assert "'code' not restored: no repository URL recorded" in said
    assert "--repo code=URL" in said
    assert not (without / "code").exists() and (without / "data/raw/a.csv").exists()

    target = tmp_path / "clone"
    _ok("clone", dir_remote.url, str(target), "--repo", f"code={root / 'code'}", cwd=tmp_path)
    assert git(target / "code", "rev-parse", "HEAD").strip() == commit
    assert (target / "code/main.py").read_text() == "print(2)\n"
    assert git(target / "code", "status", "--porcelain") == " M main.py\n"
    status = run_dws("status", cwd=target)
    assert status.code == 0 and "change(s)" not in status.out, status.out


def test_repo_naming_no_git_resource_is_a_usage_error(
    tmp_path: Path, dir_remote: RemoteSpot
) -> None:
    _workspace_with_local_repo(tmp_path, dir_remote.url)
    target = tmp_path / "clone"
    before = _left_in(tmp_path)
    for args, says in (
        (["--repo", "cod=/srv/code.git"], "did you mean code?"),
        (["--repo", "raw=/srv/raw.git"], "no repository resource of the remote: 'raw'"),
        (["--repo", "/srv/ws.git"], "no repository resource at its top directory"),
        (["--repo", "code=/a.git", "--repo", "code=/b.git"], "twice"),
    ):
        refused = run_dws("clone", dir_remote.url, str(target), *args, cwd=tmp_path)
        assert refused.code == 2 and says in refused.err, (args, refused.err)
        assert _left_in(tmp_path) == before


def test_snapshots_git_brought_are_pulled_with_their_trees(
    tmp_path: Path, dir_remote: RemoteSpot
) -> None:
    """Records committed in git are read from the remote again, so every snapshot's tree is
    here (diff, fsck) as in any clone; --snapshot picks the commit to check out."""
    project = _own_project(tmp_path, dir_remote.url, commit_workspace=True)
    write_files(project.root, {"data/raw/c.csv": "3\n"})
    _ok("snapshot", "v2", cwd=project.root)
    git(project.root, "add", ".dataworkspace")
    git(project.root, "commit", "-q", "-m", "v2")
    git(project.root, "push", "-q")
    _ok("push", cwd=project.root)
    target = tmp_path / "clone"
    _ok("clone", dir_remote.url, str(target), "--snapshot", "v1", cwd=tmp_path)
    assert git(target, "rev-parse", "HEAD").strip() == project.commit
    assert not (target / "data/raw/c.csv").exists()
    diff = run_dws("diff", "v1", "v2", cwd=target)
    assert diff.code == 0 and "c.csv" in diff.out, diff.err
    fsck = run_dws("fsck", cwd=target)
    assert fsck.code == 0, fsck.out + fsck.err
    assert git(target, "status", "--porcelain") == project.porcelain
