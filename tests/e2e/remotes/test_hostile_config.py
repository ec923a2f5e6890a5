"""A shared config.json is input like any other: a remote whose name would become a path
outside local/, or whose URL is relative or carries credentials, is refused before dws
writes anything for it."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from helpers.failure import run_dws


def _set_remotes(ws: Path, remotes: dict[str, dict[str, str]]) -> None:
    config_path = ws / ".dataworkspace/config.json"
    config = json.loads(config_path.read_text())
    config["remotes"] = remotes
    config_path.write_text(json.dumps(config))


@pytest.mark.parametrize(
    "remotes",
    [
        {"../../../../evilcache": {"url": "/tmp/somewhere"}},
        {"origin": {"url": "../../outside"}},
        {"origin": {"url": "s3://user:secret@bucket/x"}},
        {"origin": {"url": "file:///tmp/x"}},
    ],
    ids=["name-escapes", "relative-url", "s3-credentials", "scheme"],
)
def test_hostile_remote_config_is_refused(
    make_workspace: Callable[..., Path], tmp_path: Path, remotes: dict[str, dict[str, str]]
) -> None:
    ws = make_workspace()
    _set_remotes(ws, remotes)
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    for args in (("push", next(iter(remotes))), ("remote", "list")):
        result = run_dws(*args, cwd=ws)
        assert result.code == 4, (args, result.err)
        assert "config.json" in result.err and "Traceback" not in result.err
        assert "secret" not in result.err
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before


def test_file_url_with_credentials_or_host_is_refused(make_workspace: Callable[..., Path]) -> None:
    ws = make_workspace()
    for url in ("file://user:pw@localhost/tmp/x", "file://otherhost/tmp/x"):
        result = run_dws("remote", "add", "d", url, cwd=ws)
        assert result.code == 2 and "pw" not in result.err, result.err
    ok = run_dws("remote", "add", "d", f"file://{ws.parent / 'remote-dir'}", cwd=ws)
    assert ok.code == 0, ok.err
    config = json.loads((ws / ".dataworkspace/config.json").read_text())
    assert config["remotes"]["d"]["url"] == str(ws.parent / "remote-dir")
