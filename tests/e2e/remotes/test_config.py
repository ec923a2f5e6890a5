"""dws remote add/remove/list, and credentials kept out of files and output."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from helpers.failure import run_dws

from .conftest import RemoteSpot


def test_add_list_remove(make_workspace: Callable[..., Path], tmp_path: Path) -> None:
    ws = make_workspace()
    spot = RemoteSpot("dir", "")
    # places that do not exist: configured without asking them (test_remote_add_check.py)
    spot.ok("remote", "add", "backup", "../nas/ws", "--no-check", cwd=ws)
    endpoint = ("--endpoint-url", "http://h:9000")
    spot.ok("remote", "add", "s3", "s3://bucket-a/x/y", *endpoint, "--no-check", cwd=ws)
    listed = spot.json("remote", "list", cwd=ws)
    assert listed == [
        {"name": "backup", "url": str(tmp_path / "nas/ws")},
        {"name": "s3", "url": "s3://bucket-a/x/y", "endpoint_url": "http://h:9000"},
    ]
    assert json.loads((ws / ".dataworkspace/config.json").read_text())["remotes"]["backup"] == {
        "url": str(tmp_path / "nas/ws")
    }
    duplicate = spot.run("remote", "add", "backup", "/elsewhere", cwd=ws)
    assert duplicate.code == 3
    spot.ok("remote", "remove", "backup", cwd=ws)
    assert [r["name"] for r in spot.json("remote", "list", cwd=ws)] == ["s3"]
    assert spot.run("remote", "remove", "backup", cwd=ws).code == 2


def test_bad_urls_are_refused_without_echoing_secrets(
    make_workspace: Callable[..., Path],
) -> None:
    ws = make_workspace()
    spot = RemoteSpot("dir", "")
    before = (ws / ".dataworkspace/config.json").read_bytes()
    for args in (
        ["remote", "add", "o", "s3://AKIAXXXX:topsecret@bucket/p"],
        ["remote", "add", "o", "s3://bucket/p", "--endpoint-url", "http://u:topsecret@h:9000"],
        ["remote", "add", "o", "https://user:topsecret@host/x"],
        ["remote", "add", "bad/name", "/tmp/x"],
        ["remote", "add", "o", "/tmp/x", "--endpoint-url", "http://h:9000"],
    ):
        result = spot.run(*args, cwd=ws)
        assert result.code == 2, args
        assert "topsecret" not in result.out + result.err
    assert (ws / ".dataworkspace/config.json").read_bytes() == before


def test_credentials_never_reach_config_or_output(
    s3_remote: RemoteSpot, make_workspace: Callable[..., Path], tmp_path: Path
) -> None:
    ws = make_workspace()
    secret = s3_remote.env["AWS_SECRET_ACCESS_KEY"]
    key_id = s3_remote.env["AWS_ACCESS_KEY_ID"]
    outputs = [
        s3_remote.ok("remote", "add", "origin", s3_remote.url, cwd=ws),
        s3_remote.ok("-v", "push", cwd=ws),
        s3_remote.ok("clone", s3_remote.url, str(tmp_path / "c"), cwd=tmp_path),
        s3_remote.ok("fsck", "--remote", "origin", cwd=ws),
    ]
    wrong = {**s3_remote.env, "AWS_SECRET_ACCESS_KEY": "wrong-" + secret}
    denied = run_dws("-v", "pull", cwd=ws, env=wrong)
    assert denied.code != 0
    outputs.append(denied)
    for result in outputs:
        assert secret not in result.out + result.err
    for root in (ws, tmp_path / "c"):
        for path in (root / ".dataworkspace").rglob("*"):
            if path.is_file():
                data = path.read_bytes()
                assert secret.encode() not in data and key_id.encode() not in data, path


def test_clear_errors_without_a_usable_remote(
    make_workspace: Callable[..., Path], tmp_path: Path
) -> None:
    ws = make_workspace()
    spot = RemoteSpot("dir", "")
    nothing = spot.run("push", cwd=ws)
    assert nothing.code == 2 and "dws remote add" in nothing.err
    assert spot.run("pull", "nowhere", cwd=ws).code == 2
    (tmp_path / "empty").mkdir()
    spot.ok("remote", "add", "empty", str(tmp_path / "empty"), cwd=ws)
    not_remote = spot.run("pull", "empty", cwd=ws)
    assert not_remote.code == 2 and "not a dws remote" in not_remote.err
    missing = spot.run("clone", str(tmp_path / "absent"), str(tmp_path / "c"), cwd=tmp_path)
    assert missing.code == 2 and not (tmp_path / "c").exists()
    spot.ok("remote", "add", "two", str(tmp_path / "two"), cwd=ws)
    several = spot.run("push", cwd=ws)
    assert several.code == 2 and "name one of" in several.err
