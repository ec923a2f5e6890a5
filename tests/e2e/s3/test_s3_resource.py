"""The s3 resource through the `dws` command, against a local SeaweedFS server."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from helpers.cli import ok

from .s3_support import PREFIX, all_entries, contents, dws, new_workspace, put, versions

V1 = {"a.txt": b"alpha", "d/b.csv": b"1,2\n", "c.bin": bytes(range(256)), "empty": b""}


@pytest.fixture
def client(s3_server: Any) -> Any:
    return s3_server.client()


@pytest.fixture
def ws(tmp_path: Path, s3_server: Any) -> Path:
    return new_workspace(tmp_path, s3_server)


def add_versioned(ws: Path, server: Any, client: Any, files: dict[str, bytes] = V1) -> str:
    bucket = server.make_bucket(versioned=True)
    put(client, bucket, files)
    ok(dws(ws, server, "add", "s3", f"s3://{bucket}/{PREFIX}", "--role", "source-data"))
    return bucket


def change_bucket(client: Any, bucket: str) -> None:
    put(client, bucket, {"a.txt": b"alpha, changed", "new/e.txt": b"new"})
    client.delete_object(Bucket=bucket, Key=PREFIX + "c.bin")


# ---- add ----------------------------------------------------------------------------------


def test_add_records_url_and_keep_only(ws: Path, s3_server: Any, client: Any) -> None:
    bucket = s3_server.make_bucket(versioned=True)
    result = ok(dws(ws, s3_server, "add", "s3", f"s3://{bucket}/events", "--role", "s", "--json"))
    spec = json.loads(result.out)
    assert spec == {
        "name": "events",
        "type": "s3",
        "role": "source-data",
        "url": f"s3://{bucket}/events/",
        "keep": "versions",
    }
    recorded = json.loads((ws / ".dataworkspace/resources.json").read_text())
    assert recorded == [spec]
    assert f"s3://{bucket}/events/" in ok(dws(ws, s3_server, "resources")).out


def test_add_records_an_explicit_endpoint(ws: Path, s3_server: Any) -> None:
    bucket = s3_server.make_bucket(versioned=True)
    args = ["add", "s3", f"s3://{bucket}", "--role", "r", "--name", "out"]
    ok(dws(ws, s3_server, *args, "--endpoint-url", s3_server.endpoint_url))
    recorded = json.loads((ws / ".dataworkspace/resources.json").read_text())
    assert recorded[0]["endpoint_url"] == s3_server.endpoint_url
    assert recorded[0]["url"] == f"s3://{bucket}/"


def test_add_without_versioning_is_refused_unless_keeping_hashes(ws: Path, s3_server: Any) -> None:
    bucket = s3_server.make_bucket(versioned=False)
    refused = dws(ws, s3_server, "add", "s3", f"s3://{bucket}/ev/", "--role", "s")
    assert refused.code == 2
    assert "versioning" in refused.err and "--keep hashes" in refused.err
    assert json.loads((ws / ".dataworkspace/resources.json").read_text()) == []
    ok(dws(ws, s3_server, "add", "s3", f"s3://{bucket}/ev/", "--role", "s", "--keep", "hashes"))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["s3://no-such-bucket-here/x", "--role", "s"], "does not exist"),
        (["s3://key:SECRETMARK@bucket/x", "--role", "s"], "credentials"),
        (["s3://Bad_Bucket/x", "--role", "s"], "invalid S3 bucket name"),
        (["s3://bucket/a/../b", "--role", "s"], "invalid prefix"),
        (["s3://bucket/x", "--role", "code"], "cannot have role code"),
        (["s3://bucket/x", "--role", "s", "--keep", "content"], "'versions' or 'hashes'"),
        (["s3://bucket/x", "--role", "s", "--create"], "--create"),
        (["s3://bucket/x", "--role", "s", "--endpoint-url", "ftp://h"], "endpoint"),
    ],
)
def test_add_refuses_bad_input(ws: Path, s3_server: Any, args: list[str], message: str) -> None:
    result = dws(ws, s3_server, "add", "s3", *args)
    assert result.code == 2, result.err
    assert message in result.err
    assert "SECRETMARK" not in result.out + result.err
    assert json.loads((ws / ".dataworkspace/resources.json").read_text()) == []


def test_endpoint_url_is_for_s3_only(ws: Path, s3_server: Any) -> None:
    (ws / "data").mkdir()
    args = ["add", "local-files", "data", "--role", "s", "--endpoint-url", "http://x"]
    assert dws(ws, s3_server, *args).code == 2


def test_unreachable_endpoint_is_one_line_naming_it(ws: Path, s3_server: Any) -> None:
    env = {"AWS_ENDPOINT_URL": "http://127.0.0.1:9"}
    result = dws(ws, s3_server, "add", "s3", "s3://some-bucket/x", "--role", "s", env=env)
    assert result.code == 1
    assert "cannot reach the S3 endpoint http://127.0.0.1:9" in result.err
    assert len(result.err.strip().splitlines()) == 1


# ---- snapshot, status, diff, restore --------------------------------------------------------


def test_snapshot_change_restore_round_trip(ws: Path, s3_server: Any, client: Any) -> None:
    bucket = add_versioned(ws, s3_server, client)
    ok(dws(ws, s3_server, "snapshot", "v1"))
    change_bucket(client, bucket)
    status = json.loads(ok(dws(ws, s3_server, "status", "--json")).out)
    changes = {c["path"]: c["status"] for c in status["resources"][0]["changes"]}
    assert changes == {"a.txt": "modified", "c.bin": "deleted", "new/e.txt": "added"}
    ok(dws(ws, s3_server, "snapshot", "v2"))
    diff = ok(dws(ws, s3_server, "diff", "v1", "v2")).out
    assert "a.txt" in diff and "c.bin" in diff and "new/e.txt" in diff

    versions_before = versions(client, bucket)
    ok(dws(ws, s3_server, "restore", "v1"))
    assert contents(client, bucket) == V1
    assert versions(client, bucket) > versions_before  # copies added, none destroyed
    assert "unchanged" in ok(dws(ws, s3_server, "status")).out
    again = ok(dws(ws, s3_server, "snapshot"))
    assert "Nothing changed" in again.out

    ok(dws(ws, s3_server, "restore", "v2"))
    expected_v2 = {k: v for k, v in V1.items() if k != "c.bin"}
    expected_v2.update({"a.txt": b"alpha, changed", "new/e.txt": b"new"})
    assert contents(client, bucket) == expected_v2
    assert "unchanged" in ok(dws(ws, s3_server, "status")).out


def test_restore_only_writes_keys_that_differ(ws: Path, s3_server: Any, client: Any) -> None:
    bucket = add_versioned(ws, s3_server, client)
    ok(dws(ws, s3_server, "snapshot", "v1"))
    put(client, bucket, {"a.txt": b"other"})
    before = all_entries(client, bucket)
    ok(dws(ws, s3_server, "restore", "v1"))
    added = {(k, v) for k, v, _ in all_entries(client, bucket)} - {(k, v) for k, v, _ in before}
    assert [key for key, _ in added] == [PREFIX + "a.txt"]


def test_dry_run_changes_nothing(ws: Path, s3_server: Any, client: Any) -> None:
    bucket = add_versioned(ws, s3_server, client)
    ok(dws(ws, s3_server, "snapshot", "v1"))
    change_bucket(client, bucket)
    before = all_entries(client, bucket)
    head = (ws / ".dataworkspace/local/head.json").read_bytes()
    result = ok(dws(ws, s3_server, "restore", "v1", "--dry-run"))
    assert "a.txt" in result.out and "new/e.txt" in result.out
    assert all_entries(client, bucket) == before
    assert (ws / ".dataworkspace/local/head.json").read_bytes() == head


def test_a_removed_version_refuses_restore_and_changes_nothing(
    ws: Path, s3_server: Any, client: Any
) -> None:
    bucket = add_versioned(ws, s3_server, client)
    ok(dws(ws, s3_server, "snapshot", "v1"))
    old = client.head_object(Bucket=bucket, Key=PREFIX + "a.txt")["VersionId"]
    put(client, bucket, {"a.txt": b"newer", "d/b.csv": b"changed"})
    client.delete_object(Bucket=bucket, Key=PREFIX + "a.txt", VersionId=old)  # behind dws
    before = all_entries(client, bucket)
    result = dws(ws, s3_server, "restore", "v1")
    assert result.code == 4, result.err
    assert "no longer exist" in result.err and "a.txt" in result.err
    assert all_entries(client, bucket) == before


def test_restore_refused_once_versioning_is_suspended(
    ws: Path, s3_server: Any, client: Any
) -> None:
    bucket = add_versioned(ws, s3_server, client)
    ok(dws(ws, s3_server, "snapshot", "v1"))
    change_bucket(client, bucket)
    client.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Suspended"})
    before = all_entries(client, bucket)
    result = dws(ws, s3_server, "restore", "v1")
    assert result.code == 3 and "versioning" in result.err
    assert all_entries(client, bucket) == before
    snapshot = ok(dws(ws, s3_server, "snapshot", "v2"))
    assert "does not have versioning enabled" in snapshot.out + snapshot.err


def test_keep_hashes_verifies_only(ws: Path, s3_server: Any, client: Any) -> None:
    bucket = s3_server.make_bucket(versioned=False)
    put(client, bucket, V1)
    url = f"s3://{bucket}/{PREFIX}"
    ok(dws(ws, s3_server, "add", "s3", url, "--role", "s", "--keep", "hashes"))
    ok(dws(ws, s3_server, "snapshot", "v1"))
    put(client, bucket, {"a.txt": b"alpha"})  # same bytes uploaded again: still matches
    ok(dws(ws, s3_server, "restore", "v1"))
    put(client, bucket, {"a.txt": b"different"})
    client.delete_object(Bucket=bucket, Key=PREFIX + "c.bin")
    result = dws(ws, s3_server, "restore", "v1")
    assert result.code == 4
    assert "a.txt" in result.err and "c.bin" in result.err
    assert contents(client, bucket)["a.txt"] == b"different"


def test_results_in_a_bucket_give_metrics(ws: Path, s3_server: Any, client: Any) -> None:
    bucket = s3_server.make_bucket(versioned=True)
    put(client, bucket, {"metrics.json": b'{"accuracy": 0.75}'}, prefix="run/")
    ok(dws(ws, s3_server, "add", "s3", f"s3://{bucket}/run/", "--role", "results"))
    ok(dws(ws, s3_server, "snapshot", "r1"))
    assert "0.75" in ok(dws(ws, s3_server, "results")).out


def test_hostile_keys_are_left_out_with_a_warning(ws: Path, s3_server: Any, client: Any) -> None:
    # SeaweedFS itself refuses keys with '.' or '..' segments and folds '//' (tests/e2e/s3 unit
    # tests cover those); these it stores as given
    bucket = add_versioned(ws, s3_server, client, {"ok.txt": b"fine", "clash/inner": b"in"})
    hostile = {"dir/": b"", "clash": b"h", ".dataworkspace/h": b"h"}  # "dir/": a folder marker
    put(client, bucket, hostile)
    result = ok(dws(ws, s3_server, "snapshot", "v1"))
    assert "3 key(s) cannot be recorded" in result.out + result.err
    show = json.loads(ok(dws(ws, s3_server, "status", "--json")).out)
    assert show["resources"][0]["changes"] == []
    for key in ("ok.txt", "clash/inner"):
        client.delete_object(Bucket=bucket, Key=PREFIX + key)
    ok(dws(ws, s3_server, "restore", "v1"))
    assert contents(client, bucket) == {
        "ok.txt": b"fine",
        "clash/inner": b"in",
        **hostile,  # never touched
    }


def test_gc_and_fsck_keep_the_manifest(ws: Path, s3_server: Any, client: Any) -> None:
    bucket = add_versioned(ws, s3_server, client)
    ok(dws(ws, s3_server, "snapshot", "v1"))
    change_bucket(client, bucket)
    ok(dws(ws, s3_server, "snapshot", "v2"))
    ok(dws(ws, s3_server, "gc"))
    ok(dws(ws, s3_server, "fsck"))
    ok(dws(ws, s3_server, "restore", "v1"))
    assert contents(client, bucket) == V1


# ---- credentials ----------------------------------------------------------------------------


def test_credentials_never_appear_anywhere(ws: Path, s3_server: Any, client: Any) -> None:
    secret, access = s3_server.secret_key, s3_server.access_key
    bucket = add_versioned(ws, s3_server, client)
    outputs = []
    for args in (
        ["status", "--json"],
        ["snapshot", "v1", "--json"],
        ["status"],
        ["restore", "v1", "--dry-run", "--json"],
        ["show", "v1", "--json"],
        ["history", "--json"],
    ):
        result = ok(dws(ws, s3_server, *args))
        outputs += [result.out, result.err]
    wrong = dws(ws, s3_server, "status", env={"AWS_SECRET_ACCESS_KEY": "WRONG-SECRET-MARKER"})
    assert wrong.code == 1 and "unreachable: access to" in wrong.out and "denied" in wrong.out
    outputs += [wrong.out, wrong.err]
    for path in (ws / ".dataworkspace").rglob("*"):
        if path.is_file():
            outputs.append(path.read_bytes().decode("latin-1"))
    for text in outputs:
        assert secret not in text and access not in text and "WRONG-SECRET-MARKER" not in text
    assert bucket in "".join(outputs)


def test_many_keys_page_through_listing_and_batched_deletes(
    ws: Path, s3_server: Any, client: Any
) -> None:
    """More keys than one listing page (1000) and one DeleteObjects request (1000)."""
    from concurrent.futures import ThreadPoolExecutor

    bucket = add_versioned(ws, s3_server, client, {"keep.txt": b"kept"})
    ok(dws(ws, s3_server, "snapshot", "v1"))
    extra = {f"bulk/{i:04d}": b"%d" % i for i in range(1001)}
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda item: put(client, bucket, dict([item])), extra.items()))
    status = json.loads(ok(dws(ws, s3_server, "status", "--json")).out)
    assert len(status["resources"][0]["changes"]) == 1001
    ok(dws(ws, s3_server, "snapshot", "v2"))
    ok(dws(ws, s3_server, "restore", "v1"))
    assert contents(client, bucket) == {"keep.txt": b"kept"}
    ok(dws(ws, s3_server, "restore", "v2"))
    listed = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=PREFIX)
    assert sum(len(page.get("Contents", [])) for page in listed) == 1002


def test_keep_hashes_works_with_read_only_credentials(
    ws: Path, s3_server: Any, client: Any
) -> None:
    """External data one may read but not write (someone else's bucket)."""
    bucket = s3_server.make_bucket(versioned=False)
    put(client, bucket, V1)
    readonly = s3_server.env(readonly=True)
    url = f"s3://{bucket}/{PREFIX}"
    refused = dws(ws, s3_server, "add", "s3", url, "--role", "s", env=readonly)
    assert refused.code == 2  # keep=versions: no versioning
    ok(dws(ws, s3_server, "add", "s3", url, "--role", "s", "--keep", "hashes", env=readonly))
    ok(dws(ws, s3_server, "snapshot", "v1", env=readonly))
    ok(dws(ws, s3_server, "restore", "v1", env=readonly))
    put(client, bucket, {"a.txt": b"changed by its owner"})
    assert dws(ws, s3_server, "restore", "v1", env=readonly).code == 4


def test_a_changed_url_refuses_restore_but_not_diff(ws: Path, s3_server: Any, client: Any) -> None:
    bucket = add_versioned(ws, s3_server, client)
    ok(dws(ws, s3_server, "snapshot", "v1"))
    change_bucket(client, bucket)
    ok(dws(ws, s3_server, "snapshot", "v2"))
    specs_path = ws / ".dataworkspace/resources.json"
    specs = json.loads(specs_path.read_text())
    specs[0]["url"] = f"s3://{bucket}/elsewhere/"
    specs_path.write_text(json.dumps(specs))
    before = all_entries(client, bucket)
    result = dws(ws, s3_server, "restore", "v1")
    assert result.code == 2 and "now points at" in result.err
    assert all_entries(client, bucket) == before
    assert "new/e.txt" in ok(dws(ws, s3_server, "diff", "v1", "v2")).out


@pytest.mark.parametrize(
    "params",
    [
        {"url": "s3://key:secret@bucket/x/"},
        {"url": "s3://bucket/../x/"},
        {"url": 42},
        {"url": "s3://bucket/x/", "keep": "everything"},
        {"url": "s3://bucket/x/", "endpoint_url": "file:///etc"},
    ],
)
def test_hostile_resources_json_is_a_format_error(
    ws: Path, s3_server: Any, params: dict[str, Any]
) -> None:
    spec = {"name": "evil", "type": "s3", "role": "source-data", "keep": "versions", **params}
    (ws / ".dataworkspace/resources.json").write_text(json.dumps([spec]))
    result = dws(ws, s3_server, "status")
    assert result.code == 4, result.err
    assert "secret" not in result.err


# ---- reading without restoring ------------------------------------------------------------


def test_ls_and_cat_read_the_recorded_versions(ws: Path, s3_server: Any, client: Any) -> None:
    bucket = add_versioned(ws, s3_server, client)
    name = json.loads(ok(dws(ws, s3_server, "resources", "--json")).out)[0]["name"]
    ok(dws(ws, s3_server, "snapshot", "v1"))
    change_bucket(client, bucket)
    listed = json.loads(ok(dws(ws, s3_server, "ls", f"v1:@{name}", "--json")).out)
    assert {e["name"]: e["type"] for e in listed} == {
        "a.txt": "file",
        "c.bin": "file",
        "d": "dir",
        "empty": "file",
    }
    top = json.loads(ok(dws(ws, s3_server, "ls", "v1", "--json")).out)
    assert [e["name"] for e in top] == [f"@{name}"]
    assert ok(dws(ws, s3_server, "cat", f"v1:@{name}/a.txt")).out == "alpha"
    assert ok(dws(ws, s3_server, "cat", f"v1:@{name}/d/b.csv")).out == "1,2\n"
    result = dws(ws, s3_server, "cat", f"v1:@{name}/new/e.txt")
    assert result.code == 2 and "not in snapshot" in result.err
