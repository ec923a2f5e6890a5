"""Clone: external resources mapped (and verified), git code cloned from its URL, and a
failed clone leaves nothing."""

from __future__ import annotations

import shutil
from pathlib import Path

from helpers.failure import manifest, run_dws, write_files
from helpers.git import git

from .conftest import RemoteSpot


def _ok(*args: str, cwd: Path) -> None:
    result = run_dws(*args, cwd=cwd)
    assert result.code == 0, (args, result.err)


def _workspace_with_externals(tmp_path: Path, remote: str) -> tuple[Path, Path, Path]:
    ws = tmp_path / "ws"
    external = tmp_path / "ext-content"
    huge = tmp_path / "ext-hashes"
    write_files(external, {"e.txt": "external\n"})
    write_files(huge, {"h/1.bin": b"\x00" * 1000, "h/2.txt": "two\n"})
    write_files(ws, {"data/raw/a.txt": "a\n"})
    _ok("init", cwd=ws)
    _ok("add", "local-files", "data/raw", "--role", "source-data", "--name", "raw", cwd=ws)
    _ok("add", "local-files", str(external), "--role", "source-data", "--name", "ext", cwd=ws)
    _ok("add", "local-files", str(huge), "-r", "source-data", "--keep", "hashes", cwd=ws)
    _ok("snapshot", "v1", cwd=ws)
    _ok("remote", "add", "origin", remote, cwd=ws)
    _ok("push", cwd=ws)
    return ws, external, huge


def test_external_resources_need_a_map(tmp_path: Path, dir_remote: RemoteSpot) -> None:
    ws, external, huge = _workspace_with_externals(tmp_path, dir_remote.url)
    target = tmp_path / "clone"
    refused = run_dws("--batch", "clone", dir_remote.url, str(target), cwd=tmp_path)
    assert refused.code == 2 and "--map" in refused.err
    assert "ext" in refused.err and str(huge) in refused.err
    assert not target.exists() and sorted(p.name for p in tmp_path.iterdir()) == [
        "ext-content",
        "ext-hashes",
        "remote",
        "ws",
    ]

    moved_content = tmp_path / "elsewhere/content"
    moved_hashes = tmp_path / "elsewhere/hashes"
    shutil.copytree(huge, moved_hashes)
    _ok(
        "clone",
        dir_remote.url,
        str(target),
        "--map",
        f"ext={moved_content}",
        "--map",
        f"{_resource_name(ws, huge)}={moved_hashes}",
        cwd=tmp_path,
    )
    assert manifest(moved_content) == manifest(external)
    assert manifest(target / "data/raw") == manifest(ws / "data/raw")
    status = run_dws("status", cwd=target)
    assert status.code == 0 and "unchanged" in status.out


def test_hash_only_resource_that_differs_fails_the_clone(
    tmp_path: Path, dir_remote: RemoteSpot
) -> None:
    ws, _, huge = _workspace_with_externals(tmp_path, dir_remote.url)
    wrong = tmp_path / "wrong"
    shutil.copytree(huge, wrong)
    (wrong / "h/2.txt").write_text("not two\n")
    target = tmp_path / "clone"
    refused = run_dws(
        "clone",
        dir_remote.url,
        str(target),
        "--map",
        f"ext={tmp_path / 'c2'}",
        "--map",
        f"{_resource_name(ws, huge)}={wrong}",
        cwd=tmp_path,
    )
    assert refused.code == 4 and "h/2.txt" in refused.err
    assert not target.exists()


def _resource_name(ws: Path, path: Path) -> str:
    import json

    result = run_dws("resources", "--json", cwd=ws)
    for item in json.loads(result.out):
        if item.get("path") == str(path) or item.get("location") == str(path):
            return str(item["name"])
    raise AssertionError(result.out)


def test_git_code_is_cloned_from_its_url(tmp_path: Path, dir_remote: RemoteSpot) -> None:
    upstream = tmp_path / "upstream.git"
    git(tmp_path, "init", "--bare", "-b", "main", str(upstream))
    seed = tmp_path / "seed"
    git(tmp_path, "clone", str(upstream), str(seed))
    write_files(seed, {"train.py": "print('v1')\n"})
    git(seed, "add", ".")
    git(seed, "commit", "-m", "v1")
    git(seed, "push", "origin", "HEAD:main")

    ws = tmp_path / "ws"
    write_files(ws, {"data/raw/a.txt": "a\n"})
    _ok("init", cwd=ws)
    _ok("add", "local-files", "data/raw", "--role", "source-data", "--name", "raw", cwd=ws)
    _ok("add", "git", f"file://{upstream}", "--role", "code", "--name", "code", cwd=ws)
    (ws / "code/train.py").write_text("print('dirty')\n")
    _ok("snapshot", "v1", cwd=ws)
    _ok("remote", "add", "origin", dir_remote.url, cwd=ws)
    _ok("push", cwd=ws)

    target = tmp_path / "clone"
    _ok("clone", dir_remote.url, str(target), cwd=tmp_path)
    assert (target / "code/train.py").read_text() == "print('dirty')\n"
    commit = git(ws / "code", "rev-parse", "HEAD")
    assert git(target / "code", "rev-parse", "HEAD") == commit


def test_clone_leaves_a_bucket_resource_alone(
    tmp_path: Path, dir_remote: RemoteSpot, s3_server: object
) -> None:
    server = s3_server
    bucket = server.make_bucket(versioned=True)  # type: ignore[attr-defined]
    client = server.client()  # type: ignore[attr-defined]
    client.put_object(Bucket=bucket, Key="events/a.json", Body=b"{}")
    env = dict(server.env())  # type: ignore[attr-defined]
    spot = RemoteSpot("dir", dir_remote.url, env)
    ws = tmp_path / "ws"
    write_files(ws, {"data/raw/a.txt": "a\n"})
    spot.ok("init", cwd=ws)
    spot.ok("add", "local-files", "data/raw", "--role", "source-data", "--name", "raw", cwd=ws)
    spot.ok("add", "s3", f"s3://{bucket}/events/", "--role", "source-data", "--name", "ev", cwd=ws)
    spot.ok("snapshot", "v1", cwd=ws)
    spot.ok("remote", "add", "origin", spot.url, cwd=ws)
    spot.ok("push", cwd=ws)
    client.put_object(Bucket=bucket, Key="events/b.json", Body=b"{}")

    cloned = spot.run("clone", spot.url, str(tmp_path / "clone"), cwd=tmp_path)
    assert cloned.code == 0 and "'ev' not restored" in cloned.err
    keys = [o["Key"] for o in client.list_objects_v2(Bucket=bucket)["Contents"]]
    assert sorted(keys) == ["events/a.json", "events/b.json"]
    assert (tmp_path / "clone/data/raw/a.txt").read_text() == "a\n"
