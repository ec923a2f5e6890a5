"""An s3 resource that cannot be reached (endpoint down, wrong credentials, bucket gone)
next to a local directory with changes: status reports both, snapshot refuses before
storing anything, and `snapshot --exclude` records the rest with the bucket's state from
HEAD."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import dws
from helpers.cli import (
    META,
    assert_error,
    disk_state,
    head,
    ok,
    resources_json,
    run_dws,
    snapshot_ids,
    tag_target,
)

from .s3_support import PREFIX, contents, new_workspace, put

V1 = {"a.txt": b"alpha", "d/b.csv": b"1,2\n"}
# every command runs with this bound: a hang fails the test instead of stalling the suite
BOUND = 90


@dataclass
class Setup:
    """A workspace with `data` (local-files, changed since v1) and `events` (s3)."""

    root: Path
    server: Any
    client: Any
    bucket: str
    env: dict[str, str]  # what the commands under test run with

    def dws(self, *args: str, env: dict[str, str] | None = None) -> Any:
        merged = {**self.server.env(), **self.env, **(env or {})}
        return run_dws(*args, cwd=self.root, env=merged, timeout=BOUND)

    def record(self, snapshot_id: str) -> dict[str, Any]:
        path = self.root / META / "snapshots" / f"{snapshot_id}.json"
        return dict(json.loads(path.read_text()))

    def set_endpoint(self, endpoint: str) -> None:
        specs = resources_json(self.root)
        for spec in specs:
            if spec["name"] == "events":
                spec["endpoint_url"] = endpoint
        (self.root / META / "resources.json").write_text(json.dumps(specs) + "\n")


def free_port() -> int:
    """A port on 127.0.0.1 nothing listens on (bound once, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def setup(tmp_path: Path, s3_server: Any) -> Setup:
    root = new_workspace(tmp_path, s3_server)
    client = s3_server.client()
    bucket = s3_server.make_bucket(versioned=True)
    put(client, bucket, V1)
    s = Setup(root, s3_server, client, bucket, {})
    (root / "data").mkdir()
    (root / "data" / "a.txt").write_text("one")
    (root / "data" / "b.txt").write_text("two")
    url = f"s3://{bucket}/{PREFIX}"
    with pytest.MonkeyPatch.context() as env:  # set-up through the Python API, in process
        for key, value in s3_server.env().items():
            env.setenv(key, value)
        ws = dws.Workspace.open(str(root))
        ws.add_resource("local-files", "data", "source-data", relative_to=str(root))
        ws.add_resource(
            "s3", url, "source-data", name="events", endpoint_url=s3_server.endpoint_url
        )
        ws.snapshot("v1")
    (root / "data" / "a.txt").write_text("one, changed")
    (root / "data" / "c.txt").write_text("three")
    return s


@pytest.fixture
def silent_server() -> Iterator[str]:
    """An endpoint that accepts connections and never answers."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


def break_events(s: Setup, how: str) -> str:
    """Make `events` unreachable; the words its reason must contain."""
    if how == "closed port":
        endpoint = f"http://127.0.0.1:{free_port()}"
        s.set_endpoint(endpoint)
        return f"cannot reach the S3 endpoint {endpoint}"
    assert how == "wrong secret"
    s.env["AWS_SECRET_ACCESS_KEY"] = "not-the-secret-key"
    return "was denied"


HOW = ["closed port", "wrong secret"]


# ---- status -------------------------------------------------------------------------------


@pytest.mark.parametrize("how", HOW)
def test_status_reports_the_unreachable_bucket_and_the_local_changes(
    setup: Setup, how: str
) -> None:
    reason = break_events(setup, how)
    result = setup.dws("status")
    assert result.code == 1, result.err
    assert "Traceback" not in result.err
    lines = result.out.splitlines()
    events = [line for line in lines if line.startswith("events ")]
    assert len(events) == 1 and "unreachable: " in events[0] and reason in events[0]
    assert "data (source-data): 2 change(s)" in result.out
    assert "a.txt" in result.out and "c.txt" in result.out
    errors = [line for line in result.err.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1
    assert "status is incomplete" in errors[0] and "--exclude events" in errors[0]
    assert "not-the-secret-key" not in result.out + result.err

    as_json = setup.dws("status", "--json")
    assert as_json.code == 1
    doc = {item["name"]: item for item in json.loads(as_json.out)["resources"]}
    assert reason in doc["events"]["unreachable"]
    assert doc["events"]["changes"] == []
    assert doc["data"]["unreachable"] is None
    assert {c["path"]: c["status"] for c in doc["data"]["changes"]} == {
        "a.txt": "modified",
        "c.txt": "added",
    }


def test_status_is_complete_and_exits_0_when_everything_is_reached(setup: Setup) -> None:
    doc = json.loads(ok(setup.dws("status", "--json")).out)
    assert [item["unreachable"] for item in doc["resources"]] == [None, None]


def test_an_endpoint_that_never_answers_is_unreachable_not_a_hang(
    setup: Setup, silent_server: str
) -> None:
    setup.set_endpoint(silent_server)
    result = setup.dws("status")  # within BOUND: the probe gives up after seconds
    assert result.code == 1
    events = next(line for line in result.out.splitlines() if line.startswith("events "))
    assert "unreachable: the S3 endpoint" in events and "did not answer in time" in events
    assert "data (source-data): 2 change(s)" in result.out


def test_a_bucket_that_is_gone_is_unreachable(tmp_path: Path, s3_server: Any) -> None:
    root = new_workspace(tmp_path, s3_server)
    client = s3_server.client()
    bucket = s3_server.make_bucket(versioned=False)
    s = Setup(root, s3_server, client, bucket, {})
    (root / "data").mkdir()
    ok(s.dws("add", "local-files", "data", "--role", "source-data"))
    ok(s.dws("add", "s3", f"s3://{bucket}/x/", "--role", "s", "--keep", "hashes"))
    ok(s.dws("snapshot", "v1"))
    client.delete_bucket(Bucket=bucket)
    result = s.dws("status")
    assert result.code == 1
    assert f"x (source-data): unreachable: S3 bucket '{bucket}' does not exist" in result.out
    assert "data (source-data): unchanged" in result.out
    before = disk_state(root)
    refused = s.dws("snapshot")
    assert_error(refused, 3, contains="does not exist")
    assert disk_state(root) == before


# ---- snapshot -----------------------------------------------------------------------------


@pytest.mark.parametrize("how", HOW)
def test_snapshot_refuses_and_changes_nothing(setup: Setup, how: str) -> None:
    reason = break_events(setup, how)
    before = disk_state(setup.root)
    for args in (["snapshot"], ["snapshot", "v2", "-m", "m"], ["snapshot", "--only", "events"]):
        result = setup.dws(*args)
        assert_error(result, 3, max_lines=1, contains=reason)
        assert "resource 'events' cannot be reached" in result.err
        assert "--exclude events" in result.err and "keeps its state in HEAD" in result.err
        assert disk_state(setup.root) == before
    assert len(snapshot_ids(setup.root)) == 1
    assert tag_target(setup.root, "v2") is None


@pytest.mark.parametrize("how", HOW)
def test_snapshot_exclude_records_the_local_change_and_the_bucket_from_head(
    setup: Setup, how: str
) -> None:
    v1 = tag_target(setup.root, "v1")
    assert v1 is not None
    break_events(setup, how)
    result = ok(setup.dws("snapshot", "v2", "--exclude", "events"))
    assert "events (source-data)" in result.out and "kept from HEAD" in result.out
    v2 = tag_target(setup.root, "v2")
    assert v2 is not None and v2 != v1
    old, new = setup.record(v1), setup.record(v2)
    assert new["parent"] == v1
    assert new["resources"]["events"] == old["resources"]["events"]
    assert new["definitions"]["events"] == old["definitions"]["events"]
    assert new["resources"]["data"] != old["resources"]["data"]
    assert head(setup.root)["bases"] == {"data": v2, "events": v1}
    # the local change is recorded: status shows only the bucket (still unreachable)
    status = json.loads(setup.dws("status", "--json").out)
    assert {i["name"]: i["changes"] for i in status["resources"]}["data"] == []


def test_a_snapshot_that_kept_the_bucket_from_head_restores_it(setup: Setup) -> None:
    setup.set_endpoint(f"http://127.0.0.1:{free_port()}")
    ok(setup.dws("snapshot", "v2", "--exclude", "events"))
    # meanwhile the bucket changes, and the endpoint comes back
    put(setup.client, setup.bucket, {"a.txt": b"alpha, changed", "e.txt": b"new"})
    setup.set_endpoint(setup.server.endpoint_url)
    status = json.loads(ok(setup.dws("status", "--json")).out)
    events = {i["name"]: i for i in status["resources"]}["events"]
    assert {c["path"] for c in events["changes"]} == {"a.txt", "e.txt"}
    (setup.root / "data" / "c.txt").unlink()
    ok(setup.dws("restore", "v2"))
    assert contents(setup.client, setup.bucket) == V1
    assert (setup.root / "data" / "c.txt").read_text() == "three"
    assert (setup.root / "data" / "a.txt").read_text() == "one, changed"
    assert "unchanged" in ok(setup.dws("status")).out
    assert "Nothing changed" in ok(setup.dws("snapshot")).out


def test_snapshot_only_snapshots_the_named_resource(setup: Setup) -> None:
    break_events(setup, "closed port")
    doc = json.loads(ok(setup.dws("snapshot", "--only", "data", "--json")).out)
    assert doc["created_new"] is True
    assert doc["kept_from_head"] == ["events"] and doc["left_out"] == []
    v1 = tag_target(setup.root, "v1")
    assert (
        setup.record(doc["id"])["resources"]["events"]
        == setup.record(str(v1))["resources"]["events"]
    )


def test_unknown_names_are_a_usage_error_that_changes_nothing(setup: Setup) -> None:
    before = disk_state(setup.root)
    result = setup.dws("snapshot", "--exclude", "event")
    assert_error(result, 2, contains="no resource named 'event'")
    assert "did you mean" in result.err.lower() and "events" in result.err
    assert_error(setup.dws("snapshot", "--only", "nope"), 2, contains="no resource named 'nope'")
    both = setup.dws("snapshot", "--only", "data", "--exclude", "data")
    assert_error(both, 2, contains="leave no resource")
    assert disk_state(setup.root) == before


def test_the_probe_client_gives_up_within_seconds_and_the_working_one_waits() -> None:
    from dws.store.s3client import make_client

    probe = make_client("http://127.0.0.1:9", probe=True).meta.config
    assert probe.retries["total_max_attempts"] == 2
    assert (probe.connect_timeout, probe.read_timeout) == (3, 5)
    working = make_client("http://127.0.0.1:9").meta.config
    assert working.retries["total_max_attempts"] == 5
    assert (working.connect_timeout, working.read_timeout) == (10, 120)
