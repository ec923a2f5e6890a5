"""Object ids, snapshot-id prefixes and tag names."""

from __future__ import annotations

import pytest

from dws.errors import FormatError, UsageError
from dws.model.digest import hash_bytes
from dws.model.ids import (
    ID_LENGTH,
    MIN_PREFIX,
    RESERVED_TAGS,
    check_object_id,
    check_tag_name,
    is_object_id,
    is_valid_tag_file_name,
    looks_like_id_prefix,
    shortest_unique_prefixes,
)

GOOD_ID = hash_bytes(b"hello")


def test_hash_bytes_is_64_lowercase_hex() -> None:
    assert len(GOOD_ID) == ID_LENGTH
    assert is_object_id(GOOD_ID)
    # the BLAKE3 test vector of the empty input
    assert hash_bytes(b"") == "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"


@pytest.mark.parametrize(
    "value",
    [
        GOOD_ID.upper(),
        GOOD_ID[:-1],
        GOOD_ID + "0",
        "g" * 64,
        "",
        None,
        42,
        GOOD_ID[:32] + "/" + GOOD_ID[33:],
        "../" + GOOD_ID[3:],
    ],
)
def test_malformed_object_ids_are_refused(value: object) -> None:
    assert not is_object_id(value)
    with pytest.raises(FormatError):
        check_object_id(value)


def test_check_object_id_returns_the_id() -> None:
    assert check_object_id(GOOD_ID) == GOOD_ID


def test_check_object_id_names_what_was_checked() -> None:
    with pytest.raises(FormatError, match="parent snapshot id"):
        check_object_id("nope", "parent snapshot id")


# ---- shortest_unique_prefixes -------------------------------------------------------------


def test_prefixes_of_distinct_ids_have_the_minimum_length() -> None:
    ids = [hash_bytes(str(i).encode()) for i in range(20)]
    prefixes = shortest_unique_prefixes(ids)
    assert set(prefixes) == set(ids)
    for ident, prefix in prefixes.items():
        assert ident.startswith(prefix)
        assert len(prefix) >= 8


def test_prefixes_grow_past_a_shared_prefix() -> None:
    a = "abcdef0123456789" + "0" * 48
    b = "abcdef0123456780" + "0" * 48
    c = "ffff" + "1" * 60
    prefixes = shortest_unique_prefixes([a, b, c])
    assert prefixes[a] == a[:16]
    assert prefixes[b] == b[:16]
    assert prefixes[c] == c[:8]


def test_prefixes_are_unique_and_unambiguous() -> None:
    base = "0123456789abcdef" * 4
    ids = [base[:k] + ("f" if base[k] != "f" else "e") + base[k + 1 :] for k in range(8, 20)]
    ids.append(base)
    prefixes = shortest_unique_prefixes(ids)
    for ident, prefix in prefixes.items():
        matching = [other for other in ids if other.startswith(prefix)]
        assert matching == [ident]
        # and no shorter prefix (of at least 8) would do
        if len(prefix) > 8:
            shorter = prefix[:-1]
            assert len([o for o in ids if o.startswith(shorter)]) > 1


def test_prefixes_honour_a_custom_minimum_and_duplicates() -> None:
    ids = [GOOD_ID, GOOD_ID, hash_bytes(b"other")]
    prefixes = shortest_unique_prefixes(ids, minimum=4)
    assert len(prefixes) == 2
    assert all(len(p) == 4 for p in prefixes.values())


def test_prefixes_of_nothing() -> None:
    assert shortest_unique_prefixes([]) == {}


# ---- tag names ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "tag", ["v1", "baseline", "A", "0release", "exp_2024-01.3", "x" * 100, "abc", "v1.lockx"]
)
def test_valid_tags(tag: str) -> None:
    assert check_tag_name(tag) == tag
    assert is_valid_tag_file_name(tag)


@pytest.mark.parametrize(
    "tag",
    [
        "",
        "-v1",
        ".hidden",
        "_x",
        "a b",
        "a/b",
        "a\x00b",
        "é",
        "x" * 101,
        "v1.lock",
        "a..b",
        "tag\n",
    ],
)
def test_malformed_tags_are_refused(tag: str) -> None:
    with pytest.raises(UsageError, match="invalid tag"):
        check_tag_name(tag)
    assert not is_valid_tag_file_name(tag)


@pytest.mark.parametrize("tag", sorted(RESERVED_TAGS))
def test_reserved_tags_are_refused(tag: str) -> None:
    with pytest.raises(UsageError, match="reserved"):
        check_tag_name(tag)


def test_head_is_reserved() -> None:
    assert "HEAD" in RESERVED_TAGS


@pytest.mark.parametrize("tag", ["abcd", "deadbeef", "0123", "1234567", GOOD_ID, GOOD_ID[:12]])
def test_tags_that_look_like_id_prefixes_are_refused(tag: str) -> None:
    assert looks_like_id_prefix(tag)
    with pytest.raises(UsageError, match="looks like a snapshot id"):
        check_tag_name(tag)


@pytest.mark.parametrize("text", ["abc", "abcg", GOOD_ID + "0", "", "v1"])
def test_not_id_prefixes(text: str) -> None:
    assert not looks_like_id_prefix(text)


@pytest.mark.parametrize("tag", ["ABCD", "DEADBEEF", "DeadBeef01"])
def test_upper_case_hex_tags_are_refused_because_resolve_reads_them_as_id_prefixes(
    tag: str,
) -> None:
    # SnapshotCatalog.resolve lower-cases a reference before matching id prefixes, so a tag
    # such as "DEADBEEF" would shadow the snapshot whose id starts with deadbeef.
    with pytest.raises(UsageError, match="looks like a snapshot id"):
        check_tag_name(tag)


def test_min_prefix_is_the_boundary() -> None:
    assert not looks_like_id_prefix("a" * (MIN_PREFIX - 1))
    assert looks_like_id_prefix("a" * MIN_PREFIX)
