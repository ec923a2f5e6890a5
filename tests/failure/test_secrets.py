"""Secrets: credentials are never written to workspace files, printed, or put in error
messages or `--json` output, and URLs carrying credentials are refused or masked.

Each test plants unique marker strings (as AWS credentials in the environment, as the
password of a URL, ...) and then searches every file below the workspace (including
`.dataworkspace/`) and everything the commands printed for them."""

from __future__ import annotations

import functools
import http.server
import os
import subprocess
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from helpers.failure import assert_ok, manifest, meta, run_dws, write_files

Result = Any


def _marker(kind: str) -> str:
    return f"MARK{kind}{uuid.uuid4().hex[:12].upper()}"


@pytest.fixture
def markers() -> dict[str, str]:
    """AWS_* variables set to unique markers."""
    return {
        "AWS_ACCESS_KEY_ID": _marker("ACCESS"),
        "AWS_SECRET_ACCESS_KEY": _marker("SECRET"),
        "AWS_SESSION_TOKEN": _marker("TOKEN"),
    }


class Recorder:
    """Runs `dws` in one workspace and keeps everything it printed."""

    def __init__(self, root: Path, env: dict[str, str]) -> None:
        self.root = root
        self.env = env
        self.results: list[tuple[tuple[str, ...], Result]] = []

    def __call__(self, *args: str, env: dict[str, str] | None = None) -> Result:
        result = run_dws(*args, cwd=self.root, env={**self.env, **(env or {})})
        self.results.append((args, result))
        return result

    def assert_never_leaked(self, *secrets: str) -> None:
        """No file below the workspace and nothing printed holds any of ``secrets``."""
        for args, result in self.results:
            for secret in secrets:
                assert secret not in result.out, (args, result.out)
                assert secret not in result.err, (args, result.err)
        for rel, (kind, content, _) in manifest(self.root).items():
            data = content if isinstance(content, bytes) else str(content or "").encode()
            for secret in secrets:
                assert secret.encode() not in data, f"{rel} ({kind}) holds a secret"
                assert secret not in rel, f"a file name holds a secret: {rel}"


def _workspace(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    write_files(root / "data/raw", {"a.txt": "alpha\n"})
    write_files(root / "results", {"metrics.json": '{"acc": 0.5}'})
    return root


@pytest.fixture
def ws(tmp_path: Path, markers: dict[str, str]) -> Recorder:
    """A workspace (raw, results) initialized with the markers in the environment."""
    dws = Recorder(_workspace(tmp_path), markers)
    for args in (
        ("init",),
        ("add", "local-files", "data/raw", "--role", "source-data"),
        ("add", "local-files", "results", "--role", "results"),
    ):
        assert_ok(dws(*args))
    return dws


# ---- the AWS chain in the environment -------------------------------------------------------


def test_aws_credentials_in_the_environment_reach_no_file_and_no_output(
    ws: Recorder, markers: dict[str, str], tmp_path: Path
) -> None:
    remote = tmp_path / "remote"
    for args in (
        ("snapshot", "v1", "-m", "first"),
        ("run", "-n", "step", "--", "sh", "-c", "echo done > results/out.txt"),
        ("snapshot", "v2"),
        ("-v", "status"),
        ("--json", "status"),
        ("--json", "history"),
        ("--json", "show", "v2"),
        ("--json", "diff", "v1", "v2"),
        ("--json", "results"),
        ("--json", "resources"),
        ("--json", "lineage", "runs", "--all"),
        ("lineage", "export", "--format", "openlineage", "--all"),
        ("remote", "add", "backup", str(remote)),
        ("push", "backup"),
        ("--json", "remote", "list"),
        ("fsck",),
        ("gc",),
    ):
        assert_ok(ws(*args))
    ws.assert_never_leaked(*markers.values())
    assert not any(secret.encode() in _all_bytes(remote) for secret in markers.values())


def _all_bytes(root: Path) -> bytes:
    chunks = []
    for rel, (_, content, _) in manifest(root).items():
        chunks.append(rel.encode())
        chunks.append(content if isinstance(content, bytes) else str(content or "").encode())
    return b"\n".join(chunks)


@pytest.mark.parametrize(
    "variable",
    [
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_ACCESS_KEY_ID",
        "GITHUB_TOKEN",
        "DB_PASSWORD",
    ],
)
def test_run_refuses_to_record_a_secret_variable(ws: Recorder, variable: str) -> None:
    secret = _marker("ENV")
    flag = ws.root.parent / "ran"
    result = ws("run", "--env", variable, "--", "touch", str(flag), env={variable: secret})
    assert result.code == 2 and result.err.startswith("error: "), result
    assert variable in result.err
    assert not flag.exists(), "the command ran although its run could not be recorded"
    assert not meta(ws.root, "lineage", "runs").exists() or not any(
        meta(ws.root, "lineage", "runs").iterdir()
    )
    ws.assert_never_leaked(secret)


def test_a_secret_passed_through_the_environment_is_not_recorded(ws: Recorder) -> None:
    """The way to give a step a password: an environment variable the command expands
    itself. (The command line is recorded verbatim, as rerun needs it, so a password on it,
    `--password X`, is refused: tests/e2e/lineage/test_pipeline.py.)"""
    secret = _marker("PW")
    script = 'test -n "$DB_PASSWORD" && echo connected > results/db.txt'
    assert_ok(ws("run", "-n", "db", "--", "sh", "-c", script, env={"DB_PASSWORD": secret}))
    assert (ws.root / "results/db.txt").read_text() == "connected\n"
    assert_ok(ws("--json", "lineage", "runs", "--all"))
    assert_ok(ws("snapshot", "v1"))
    ws.assert_never_leaked(secret)


# ---- URLs carrying credentials ------------------------------------------------------------


def test_urls_with_credentials_are_refused_and_never_echoed(ws: Recorder) -> None:
    key, password = _marker("KEY"), _marker("PW")
    before = (
        meta(ws.root, "resources.json").read_bytes(),
        meta(ws.root, "config.json").read_bytes(),
    )
    attempts = [
        ("add", "s3", f"s3://{key}:{password}@bucket/x/", "--role", "source-data"),
        ("add", "s3", f"s3://{key}@bucket/x/", "--role", "source-data"),
        (
            "add",
            "s3",
            "s3://bucket/x/",
            "--role",
            "source-data",
            "--endpoint-url",
            f"http://{key}:{password}@127.0.0.1:9",
        ),
        ("remote", "add", "origin", f"s3://{key}:{password}@bucket/x"),
        ("remote", "add", "origin", "s3://bucket/x", "--endpoint-url", f"https://u:{password}@h"),
        ("remote", "add", "origin", f"https://{key}:{password}@example.com/ws"),
    ]
    for args in attempts:
        for prefix in ((), ("--json",)):
            result = ws(*prefix, *args)
            assert result.code == 2, (args, result)
            assert result.err.startswith("error: "), result.err
    after = (
        meta(ws.root, "resources.json").read_bytes(),
        meta(ws.root, "config.json").read_bytes(),
    )
    assert after == before
    ws.assert_never_leaked(key, password)


def test_a_file_url_with_credentials_is_not_a_directory_remote(ws: Recorder) -> None:
    password = _marker("PW")
    result = ws("remote", "add", "d", f"file://user:{password}@localhost/tmp/x")
    assert result.code == 2
    ws.assert_never_leaked(password)


def test_a_failing_git_clone_does_not_print_the_password(ws: Recorder) -> None:
    user, password = _marker("USER"), _marker("PW")
    for url in (
        f"https://{user}:{password}@127.0.0.1:9/repo.git",
        f"https://{password}@127.0.0.1:9/repo.git",
    ):
        result = ws("add", "git", url, "--role", "code")
        assert result.code == 1 and result.err.startswith("error: "), result
        assert "127.0.0.1:9/repo.git" in result.err
    ws.assert_never_leaked(user, password)


@pytest.fixture
def git_http_server(tmp_path: Path) -> Iterator[str]:
    """A repository served by git's "dumb" HTTP protocol (plain files, so any user name
    and password in the URL are accepted); yields the base URL."""
    source = tmp_path / "served-src"
    source.mkdir()
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q", "-b", "main"], cwd=source, check=True)
    (source / "f.txt").write_text("hello\n")
    subprocess.run([*git, "add", "f.txt"], cwd=source, check=True)
    subprocess.run([*git, "commit", "-qm", "c"], cwd=source, check=True)
    served = tmp_path / "served"
    served.mkdir()
    subprocess.run(
        ["git", "clone", "-q", "--bare", str(source), str(served / "repo.git")], check=True
    )
    subprocess.run(["git", "update-server-info"], cwd=served / "repo.git", check=True)
    handler = functools.partial(_QuietHandler, directory=str(served))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_a_cloned_url_is_recorded_without_its_password(ws: Recorder, git_http_server: str) -> None:
    password = _marker("PW")
    url = f"http://user:{password}@{git_http_server}/repo.git"
    assert_ok(ws("add", "git", url, "--role", "code"))
    assert_ok(ws("snapshot", "v1"))
    assert_ok(ws("--json", "show", "v1"))
    assert_ok(ws("--json", "resources"))
    for args, result in ws.results:
        assert password not in result.out + result.err, args
    for path in meta(ws.root).rglob("*"):
        if path.is_file():
            assert password.encode() not in path.read_bytes(), path


def test_no_file_of_a_cloned_repository_holds_the_password(
    ws: Recorder, git_http_server: str
) -> None:
    password = _marker("PW")
    assert_ok(
        ws("add", "git", f"http://user:{password}@{git_http_server}/repo.git", "--role", "code")
    )
    ws.assert_never_leaked(password)


# ---- S3: error paths with the markers, and the test server's real credentials --------------


def test_an_unreachable_s3_endpoint_error_holds_no_credentials(ws: Recorder) -> None:
    for prefix in ((), ("--json",), ("-v",)):
        result = ws(
            *prefix,
            "add",
            "s3",
            "s3://bucket/x/",
            "--role",
            "source-data",
            "--endpoint-url",
            "http://127.0.0.1:9",
        )
        assert result.code != 0, result
        if prefix != ("-v",):
            assert result.err.startswith("error: ") and "Traceback" not in result.err, result
    ws.assert_never_leaked(*ws.env.values())


def test_s3_errors_and_successes_hold_no_credentials(
    tmp_path: Path, s3_server: Any, markers: dict[str, str]
) -> None:
    """Wrong credentials (the markers), a missing bucket, then a working resource and
    remote with the server's credentials: no credential in any output or file."""
    bucket = s3_server.make_bucket(versioned=True)
    s3_server.client().put_object(Bucket=bucket, Key="ev/a.csv", Body=b"1,2\n")
    env = {**s3_server.env(), **markers}
    dws = Recorder(_workspace(tmp_path), env)
    assert_ok(dws("init"))
    wrong = dws("add", "s3", f"s3://{bucket}/ev/", "--role", "source-data")
    assert wrong.code != 0 and wrong.err.startswith("error: "), wrong
    assert_ok(dws("--json", "resources"))
    real = s3_server.env()
    missing = dws(
        "add", "s3", "s3://no-such-bucket-dws-test/ev/", "--role", "source-data", env=real
    )
    assert missing.code != 0 and missing.err.startswith("error: "), missing
    dws.env = real
    assert_ok(dws("add", "s3", f"s3://{bucket}/ev/", "--role", "source-data"))
    assert_ok(dws("snapshot", "v1"))
    assert_ok(dws("remote", "add", "origin", f"s3://{bucket}/remote"))
    assert_ok(dws("push", "origin"))
    for args in (("--json", "status"), ("--json", "show", "v1"), ("--json", "remote", "list")):
        assert_ok(dws(*args))
    secrets = [*markers.values(), real["AWS_SECRET_ACCESS_KEY"], real["AWS_ACCESS_KEY_ID"]]
    dws.assert_never_leaked(*secrets)


def test_no_credentials_in_the_environment_of_the_test_process() -> None:
    """Guard: the markers are set only for the `dws` subprocesses of these tests."""
    assert not any(value.startswith("MARK") for value in os.environ.values())
