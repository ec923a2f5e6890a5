"""The S3 client helpers: URL parsing, endpoint checks, error mapping, against SeaweedFS."""

from __future__ import annotations

import subprocess
import sys

import pytest

from dws.errors import DwsError, NotFoundError, UsageError
from dws.store import s3client
from dws.store.s3client import S3Location, parse_s3_url


@pytest.mark.parametrize(
    ("url", "bucket", "prefix"),
    [
        ("s3://my-bucket", "my-bucket", ""),
        ("s3://my-bucket/", "my-bucket", ""),
        ("s3://my.bucket/events", "my.bucket", "events/"),
        ("s3://abc/a/b/c/", "abc", "a/b/c/"),
    ],
)
def test_parse_valid_urls(url: str, bucket: str, prefix: str) -> None:
    assert parse_s3_url(url) == S3Location(bucket, prefix)


@pytest.mark.parametrize(
    "url",
    [
        "http://bucket/x",
        "s3://",
        "s3://ab",
        "s3://Upper",
        "s3://-bucket",
        "s3://bu..cket",
        "s3://192.168.1.1",
        "s3://bucket/a//b",
        "s3://bucket/a/../b",
        "s3://bucket/./b",
        "s3://bucket/a\x00b",
        "s3://bucket/a?x=1",
        "s3://bucket:9000/a",
    ],
)
def test_parse_refuses_bad_urls(url: str) -> None:
    with pytest.raises(UsageError):
        parse_s3_url(url)


def test_credentials_in_url_refused_without_echo() -> None:
    with pytest.raises(UsageError) as info:
        parse_s3_url("s3://AKIAEXAMPLE:SUPERSECRET@bucket/prefix")
    assert "SUPERSECRET" not in str(info.value) and "AKIAEXAMPLE" not in str(info.value)


def test_location_keys() -> None:
    loc = parse_s3_url("s3://bucket/pre")
    assert loc.url == "s3://bucket/pre/"
    assert loc.key("a/b.txt") == "pre/a/b.txt"
    assert loc.relative("pre/a/b.txt") == "a/b.txt"


def test_endpoint_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    assert s3client.resolve_endpoint(None) is None
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
    assert s3client.resolve_endpoint(None) == "http://127.0.0.1:1"
    assert s3client.resolve_endpoint("https://s3.example.com") == "https://s3.example.com"
    for bad in ("ftp://x", "http://user:pw@host", "nohost"):
        with pytest.raises(UsageError):
            s3client.resolve_endpoint(bad)


def test_errors_map_to_dws_errors(s3_server, monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in s3_server.env().items():
        monkeypatch.setenv(key, value)
    client = s3client.make_client()
    bucket = s3_server.make_bucket()
    with pytest.raises(NotFoundError, match="does not exist"), s3client.s3_errors("nope-bucket"):
        client.list_objects_v2(Bucket="nope-bucket")
    with pytest.raises(NotFoundError), s3client.s3_errors(bucket, "k"):
        client.head_object(Bucket=bucket, Key="k")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "WRONG-SECRET-MARKER")
    bad = s3client.make_client()
    with pytest.raises(DwsError) as info, s3client.s3_errors(bucket):
        bad.list_objects_v2(Bucket=bucket)
    assert "denied" in str(info.value) and "MARKER" not in str(info.value)


def test_unreachable_endpoint_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "y")
    conn = s3client.connect("http://127.0.0.1:9")
    expected = r"cannot reach the S3 endpoint http://127\.0\.0\.1:9"
    with pytest.raises(DwsError, match=expected), conn.errors("bucket"):
        conn.client.list_objects_v2(Bucket="bucket")


def test_versioning_supported(s3_server) -> None:
    """The S3 resource relies on these SeaweedFS behaviours."""
    client = s3_server.client()
    bucket = s3_server.make_bucket(versioned=True)
    assert client.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    first = client.put_object(Bucket=bucket, Key="p/a", Body=b"one")["VersionId"]
    client.put_object(Bucket=bucket, Key="p/a", Body=b"two")
    client.copy_object(
        Bucket=bucket, Key="p/a", CopySource={"Bucket": bucket, "Key": "p/a", "VersionId": first}
    )
    assert client.get_object(Bucket=bucket, Key="p/a")["Body"].read() == b"one"
    assert client.delete_object(Bucket=bucket, Key="p/a")["DeleteMarker"]
    listing = client.list_object_versions(Bucket=bucket, Prefix="p/")
    assert len(listing["Versions"]) == 3 and len(listing["DeleteMarkers"]) == 1


def test_missing_boto3_gives_an_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "boto3", None)  # makes `import boto3` fail
    with pytest.raises(UsageError, match=r"pip install 'dws-workspaces\[s3\]'"):
        s3client.make_client("http://127.0.0.1:9")


def test_the_cli_and_resource_registry_do_not_load_boto3() -> None:
    code = (
        "import sys, dws.cli.main, dws.resources.registry; "
        "sys.exit('boto3' in sys.modules or 'botocore' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


class _DeniedClient:
    def get_bucket_versioning(self, Bucket: str) -> None:
        from botocore.exceptions import ClientError

        raise ClientError({"Error": {"Code": "AccessDenied"}}, "GetBucketVersioning")


def test_versioning_unreadable_counts_as_off_only_when_allowed() -> None:
    from dws.resources.s3.listing import bucket_versioning

    conn = s3client.S3Connection(_DeniedClient(), None)
    where = S3Location("bucket", "")
    assert bucket_versioning(conn, where, denied_ok=True) == ""
    with pytest.raises(DwsError, match="denied"):
        bucket_versioning(conn, where)


# ---- the requests S3Connection shares between the remote and the resource -------------------


@pytest.fixture
def conn(s3_server, monkeypatch: pytest.MonkeyPatch) -> s3client.S3Connection:
    for key, value in s3_server.env().items():
        monkeypatch.setenv(key, value)
    return s3client.connect()


def test_head_and_get_answer_none_for_what_is_not_there(s3_server, conn) -> None:
    bucket = s3_server.make_bucket(versioned=True)
    version = conn.client.put_object(Bucket=bucket, Key="k", Body=b"v1")["VersionId"]
    assert conn.head(bucket, "absent") is None
    assert conn.get(bucket, "absent") is None
    assert conn.get(bucket, "k", VersionId=version)["Body"].read() == b"v1"
    assert conn.get(bucket, "k", IfMatch='"0123456789abcdef0123456789abcdef"') is None
    assert conn.head(bucket, "k")["ContentLength"] == 2


def test_other_errors_are_dws_errors(s3_server, conn, monkeypatch: pytest.MonkeyPatch) -> None:
    bucket = s3_server.make_bucket()
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "WRONG-SECRET-MARKER")
    wrong = s3client.connect()
    for request in (wrong.head, wrong.get, wrong.delete):
        with pytest.raises(DwsError, match="denied") as info:
            request(bucket, "k")
        assert "MARKER" not in str(info.value)
    with pytest.raises(DwsError, match="denied"):
        list(wrong.list_objects(bucket, "p/"))


def test_conditional_puts_say_when_the_condition_fails(s3_server, conn) -> None:
    bucket = s3_server.make_bucket()
    assert conn.put(bucket, "k", b"first", IfNoneMatch="*")
    assert not conn.put(bucket, "k", b"second", IfNoneMatch="*")
    assert conn.put(bucket, "k", b"third")
    assert conn.get(bucket, "k")["Body"].read() == b"third"


def test_listings_and_deletes(s3_server, conn) -> None:
    bucket = s3_server.make_bucket(versioned=True)
    for key in ("p/a", "p/b", "p/sub/c", "q/d"):
        conn.put(bucket, key, b"x")
    conn.put(bucket, "p/a", b"again")
    assert sorted(i["Key"] for i in conn.list_objects(bucket, "p/")) == ["p/a", "p/b", "p/sub/c"]
    assert sorted(i["Key"] for i in conn.list_objects(bucket, "p/", "/")) == ["p/a", "p/b"]
    conn.delete(bucket, "p/b")
    conn.delete(bucket, "p/absent")
    assert conn.delete_batch(bucket, ["p/sub/c", "p/absent"], "p/") == []
    assert [i["Key"] for i in conn.list_objects(bucket, "p/")] == ["p/a"]
    versions = sorted(i["Key"] for i in conn.list_versions(bucket, "p/"))
    assert versions == ["p/a", "p/a", "p/b", "p/sub/c"]  # delete markers left out
    with pytest.raises(ValueError):
        conn.delete_batch(bucket, ["k"] * (s3client.DELETE_BATCH + 1), None)
