"""`dws remote add` checks the remote before configuring it: an S3 bucket that exists and
the credentials may list, a directory that is a remote, empty, or new in an existing
directory, and never another workspace's remote. Refused: one line naming the URL,
config.json unchanged. `--no-check` configures it without asking anything."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from helpers.cli import assert_error

from .conftest import RemoteSpot


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A local port nothing listens on (bound, so no one else takes it meanwhile)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


def _config(ws: Path) -> bytes:
    return (ws / ".dataworkspace/config.json").read_bytes()


def _remotes(ws: Path) -> dict[str, object]:
    remotes: dict[str, object] = json.loads(_config(ws)).get("remotes", {})
    return remotes


def _refused(spot: RemoteSpot, ws: Path, url: str, code: int, contains: str, *extra: str) -> None:
    """`remote add` of ``url`` fails with one line naming it; config.json is unchanged;
    the same with --no-check is configured."""
    before = _config(ws)
    result = spot.run("remote", "add", "origin", url, *extra, cwd=ws)
    assert_error(result, code, max_lines=1, contains=contains)
    assert url in result.err
    secret = spot.env.get("AWS_SECRET_ACCESS_KEY")
    assert not secret or secret not in result.out + result.err
    assert _config(ws) == before
    spot.ok("remote", "add", "origin", url, *extra, "--no-check", cwd=ws)
    assert _remotes(ws)["origin"] == {"url": url, **({"endpoint_url": extra[1]} if extra else {})}
    spot.ok("remote", "remove", "origin", cwd=ws)


def test_s3_bucket_that_does_not_exist(
    s3_remote: RemoteSpot, make_workspace: Callable[..., Path]
) -> None:
    ws = make_workspace()
    url = "s3://dws-no-such-bucket-here/team/ws"
    _refused(s3_remote, ws, url, 2, "does not exist")


def test_s3_wrong_credentials(s3_remote: RemoteSpot, make_workspace: Callable[..., Path]) -> None:
    ws = make_workspace()
    wrong = RemoteSpot(
        "s3", s3_remote.url, {**s3_remote.env, "AWS_SECRET_ACCESS_KEY": "wrong-secret-marker"}
    )
    _refused(wrong, ws, s3_remote.url, 1, "denied")
    assert "wrong-secret-marker" not in _config(ws).decode()


def test_s3_endpoint_nothing_listens_on(
    s3_remote: RemoteSpot, make_workspace: Callable[..., Path], closed_port: int
) -> None:
    """A closed port is refused at once: the check tries its one request once (with
    retries a run took several seconds); the subprocess timeout guards against a hang."""
    ws = make_workspace()
    endpoint = f"http://127.0.0.1:{closed_port}"
    _refused(s3_remote, ws, s3_remote.url, 1, "cannot reach", "--endpoint-url", endpoint)


def test_s3_read_only_credentials_may_add(
    s3_remote: RemoteSpot, make_workspace: Callable[..., Path]
) -> None:
    ws = make_workspace()
    reader = RemoteSpot("s3", s3_remote.url, s3_remote.server.env(readonly=True))
    reader.ok("remote", "add", "origin", s3_remote.url, cwd=ws)
    assert _remotes(ws) == {"origin": {"url": s3_remote.url}}


def test_remote_of_another_workspace_is_refused(
    remote: RemoteSpot, make_workspace: Callable[..., Path]
) -> None:
    first = make_workspace("first")
    remote.ok("remote", "add", "origin", remote.url, cwd=first)
    remote.ok("push", cwd=first)
    remote.ok("remote", "add", "again", remote.url, cwd=first)  # its own remote: fine
    second = make_workspace("second")
    before = _config(second)
    refused = remote.run("remote", "add", "origin", remote.url, cwd=second)
    assert_error(refused, 2, max_lines=1, contains="holds workspace 'first'")
    assert remote.url in refused.err and "dws clone" in refused.err
    assert _config(second) == before
    remote.ok("remote", "add", "origin", remote.url, "--no-check", cwd=second)
    assert "holds workspace" in remote.run("push", cwd=second).err  # push still refuses


def test_directory_places(make_workspace: Callable[..., Path], tmp_path: Path) -> None:
    ws = make_workspace()
    spot = RemoteSpot("dir", "")
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "precious.txt").write_text("keep me\n")
    _refused(spot, ws, str(tmp_path / "no-parent/ws"), 2, "create it first")
    _refused(spot, ws, str(busy), 2, "neither empty nor a dws remote")
    _refused(spot, ws, str(busy / "precious.txt"), 2, "not a directory")
    assert sorted(p.name for p in busy.iterdir()) == ["precious.txt"]
    assert not (tmp_path / "no-parent").exists()
    (tmp_path / "empty").mkdir()
    spot.ok("remote", "add", "empty", str(tmp_path / "empty"), cwd=ws)
    spot.ok("remote", "add", "new", str(tmp_path / "new"), cwd=ws)
    assert not (tmp_path / "new").exists() and not any((tmp_path / "empty").iterdir())
    assert sorted(_remotes(ws)) == ["empty", "new"]
