"""Reading a snapshot straight from a remote, with no workspace: `dws get URL`, `dws ls`/`dws
cat --remote` and `dws.open(remote=...)` give back exactly what was pushed, fetch only what
the paths read need, and refuse what is not there with a one-line error."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

import dws
from helpers.common import manifest, write_files
from helpers.failure import run_dws

from .conftest import SAMPLE, RemoteSpot, pushed_workspace


@pytest.fixture
def elsewhere(tmp_path: Path) -> Path:
    """A directory that is not a workspace, to read from."""
    path = tmp_path / "elsewhere"
    path.mkdir()
    return path


def _cache_bytes(cache: Path) -> int:
    return sum(p.stat().st_size for p in cache.rglob("*") if p.is_file())


def test_get_from_a_remote_needs_no_workspace(
    remote: RemoteSpot, make_workspace: Callable[..., Path], elsewhere: Path, tmp_path: Path
) -> None:
    ws = pushed_workspace(remote, make_workspace)
    expected = manifest(ws / "data/raw")
    cache = tmp_path / "cache"
    env = {**remote.env, "XDG_CACHE_HOME": str(cache)}
    result = run_dws("get", remote.url, "v1:data/raw", "raw", cwd=elsewhere, env=env)
    assert result.code == 0, result.err
    assert manifest(elsewhere / "raw") == expected
    assert not (elsewhere / ".dataworkspace").exists()
    left = [p.name for p in cache.rglob("*") if "tmp" in p.name and p.name != "tmp"]
    assert left == []  # nothing left behind but what the cache keeps
    assert (cache / "dws/reads").is_dir()


def test_ls_and_cat_read_only_what_they_need(
    remote: RemoteSpot, make_workspace: Callable[..., Path], elsewhere: Path, tmp_path: Path
) -> None:
    ws = pushed_workspace(remote, make_workspace)
    write_files(ws, {"data/raw/a.csv": "x,y\n3,4\n"})
    remote.ok("snapshot", "v2", cwd=ws)
    remote.ok("push", cwd=ws)
    cache = tmp_path / "cache"
    env = {**remote.env, "XDG_CACHE_HOME": str(cache)}

    def read(*args: str) -> str:
        result = run_dws(*args, cwd=elsewhere, env=env)
        assert result.code == 0, result.err
        return result.out

    assert read("cat", "--remote", remote.url, "v1:data/raw/a.csv") == SAMPLE["data/raw/a.csv"]
    assert read("cat", "--remote", remote.url, "HEAD:data/raw/a.csv") == "x,y\n3,4\n"
    assert _cache_bytes(cache) < len(SAMPLE["data/raw/big.bin"])  # big.bin was not fetched
    listed = read("ls", "--remote", remote.url, "v1:data/raw", "--json")
    assert '"big.bin"' in listed and '"run.sh"' in listed
    assert _cache_bytes(cache) < len(SAMPLE["data/raw/big.bin"])


@pytest.mark.parametrize(
    ("target", "words"),
    [("v9:data/raw/a.csv", "no snapshot or tag"), ("v1:data/raw/zzz", "not in snapshot")],
)
def test_what_the_remote_lacks_is_a_one_line_error(
    dir_remote: RemoteSpot,
    make_workspace: Callable[..., Path],
    elsewhere: Path,
    target: str,
    words: str,
) -> None:
    pushed_workspace(dir_remote, make_workspace)
    result = run_dws("cat", "--remote", dir_remote.url, target, cwd=elsewhere)
    assert result.code == 2 and words in result.err and "Traceback" not in result.err
    assert len(result.err.strip().splitlines()) == 1


def test_a_directory_that_is_no_remote_is_refused(elsewhere: Path, tmp_path: Path) -> None:
    (tmp_path / "plain").mkdir()
    for url in (str(tmp_path / "plain"), str(tmp_path / "absent")):
        result = run_dws("cat", "--remote", url, "v1:a.csv", cwd=elsewhere)
        assert result.code == 2 and "Traceback" not in result.err, result.err


def test_a_configured_remote_by_name_and_the_python_reader(
    remote: RemoteSpot,
    make_workspace: Callable[..., Path],
    elsewhere: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ws = pushed_workspace(remote, make_workspace)
    result = remote.run("cat", "--remote", "origin", "v1:data/raw/sub/b.txt", cwd=ws)
    assert result.code == 0 and result.out == SAMPLE["data/raw/sub/b.txt"], result.err
    assert (ws / ".dataworkspace/local/read-cache").is_dir()
    for key, value in remote.env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(elsewhere)  # the endpoint comes from AWS_ENDPOINT_URL
    with dws.open("data/raw/sub/deeper/c.bin", snapshot="v1", remote=remote.url) as f:
        f.seek(256)
        assert f.read(256) == bytes(range(256))
    with dws.snapshot_files("v1", remote=remote.url) as files:
        assert [e.entry.name for e in files.ls("data/raw/sub")] == ["b.txt", "deeper"]


def test_git_code_is_not_read_from_a_remote_but_the_data_around_it_is(
    dir_remote: RemoteSpot, tmp_path: Path, elsewhere: Path
) -> None:
    from helpers.git import init_repo

    root = tmp_path / "proj"
    init_repo(root, {"train.py": "print(1)\n", ".gitignore": "data/\n"})
    write_files(root, {"data/raw/a.csv": "a\n"})
    for args in (
        ["init"],
        ["add", "git", ".", "--role", "code", "--name", "code"],
        ["add", "local-files", "data/raw", "--role", "source-data", "--name", "raw"],
        ["snapshot", "v1"],
        ["remote", "add", "origin", dir_remote.url],
        ["push"],
    ):
        dir_remote.ok(*args, cwd=root)
    shown = dir_remote.run("ls", "--remote", dir_remote.url, "v1", "--json", cwd=elsewhere)
    assert [e["name"] for e in json.loads(shown.out)] == ["data"]
    assert "not listed: code resource 'code' is read from its git repository" in shown.err
    result = run_dws("cat", "--remote", dir_remote.url, "v1:data/raw/a.csv", cwd=elsewhere)
    assert result.code == 0 and result.out == "a\n", result.err
    result = run_dws("cat", "--remote", dir_remote.url, "v1:train.py", cwd=elsewhere)
    assert result.code == 1 and "git repository" in result.err, result.err
    assert len(result.err.strip().splitlines()) == 1
