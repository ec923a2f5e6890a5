"""Keys that cannot be tree paths, and manifests, without a server."""

from __future__ import annotations

import pytest

from dws.errors import FormatError
from dws.resources.s3.listing import Listing, _accepted_paths, key_to_path, normalise_etag
from dws.resources.s3.manifest import KeyRecord, build_manifest, decode_record, encode_record
from dws.store.s3client import S3Location

LOC = S3Location("bucket", "pre/")


@pytest.mark.parametrize(
    "key",
    [
        "pre/",
        "pre//a",
        "pre/a//b",
        "pre/a/",
        "pre/../x",
        "pre/a/./b",
        "pre/a\x00b",
        "other/a",
        "pre/.dataworkspace/x",
        "pre/a/..",
    ],
)
def test_keys_that_cannot_be_paths(key: str) -> None:
    assert key_to_path(LOC, key) is None


@pytest.mark.parametrize(
    ("key", "path"),
    [
        ("pre/a", "a"),
        ("pre/a/b c/日本", "a/b c/日本"),
        ("pre/.hidden", ".hidden"),
        ("pre/a\\b", "a\\b"),
    ],
)
def test_keys_that_are_paths(key: str, path: str) -> None:
    assert key_to_path(LOC, key) == path


def test_a_key_that_is_also_a_prefix_is_left_out() -> None:
    listing = Listing("Enabled")
    accepted = _accepted_paths(LOC, ["pre/a", "pre/a/b", "pre/ab", "pre/x//y"], listing)
    assert accepted == {"pre/a/b": "a/b", "pre/ab": "ab"}
    assert listing.skipped == ["pre/a", "pre/x//y"]
    assert "2 key(s)" in listing.warnings()[0]


def test_etags_lose_their_quotes() -> None:
    assert normalise_etag('"abc"') == normalise_etag("abc") == "abc"


def test_manifest_is_canonical_and_counts() -> None:
    records = {
        "a": KeyRecord("v1", "e1", 3, "t"),
        "d/b": KeyRecord("v2", "e2", 4, "t"),
    }
    one = build_manifest(records)
    two = build_manifest(dict(reversed(list(records.items()))))
    assert one.root == two.root
    assert (one.objects, one.bytes) == (2, 7)
    assert build_manifest({}).objects == 0


@pytest.mark.parametrize(
    "data",
    [
        b"not json",
        b'{"version": "v", "etag": "e", "size": -1, "modified": "t"}',
        b'{"version": "v\\u0000", "etag": "e", "size": 1, "modified": "t"}',
        b'{"version": "", "etag": "e", "size": 1, "modified": "t"}',
        b'{"version": "v", "etag": "e"}',
        b"x" * 5000,
        b'{"version": "v", "etag": "e", "size": 1, "modified": "t"}',  # keys not sorted
        b'{"etag":"e","extra":1,"modified":"t","size":1,"version":"v"}',
    ],
)
def test_hostile_key_records_are_refused(data: bytes) -> None:
    with pytest.raises(FormatError):
        decode_record(data)


def test_key_records_round_trip() -> None:
    record = KeyRecord("null", "d41d8cd98f00b204e9800998ecf8427e", 0, "2026-01-01T00:00:00Z")
    assert decode_record(encode_record(record)) == record
