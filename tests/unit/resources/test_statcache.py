"""The SQLite stat cache: rows per resource, gen semantics, persistence."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dws.model.digest import hash_bytes
from dws.resources.local_files.statcache import StatCache, StatRow

ID1 = hash_bytes(b"1")
ID2 = hash_bytes(b"2")


def row(oid: str = ID1, gen: int = 0, size: int = 1) -> StatRow:
    return StatRow(size, 1_000, 42, 2_000, oid, gen)


@pytest.fixture
def cache_path(tmp_path: Path) -> str:
    return str(tmp_path / "statcache.sqlite")


@pytest.fixture
def cache(cache_path: str) -> Iterator[StatCache]:
    opened = StatCache(cache_path)
    yield opened
    opened.close()


def test_empty_cache_loads_nothing(cache: StatCache) -> None:
    assert cache.load("raw") == {}


def test_update_then_load(cache: StatCache) -> None:
    cache.update("raw", [("a", row()), ("dir/日本 é.csv", row(ID2, gen=-1))], [])
    assert cache.load("raw") == {"a": row(), "dir/日本 é.csv": row(ID2, gen=-1)}


def test_update_replaces_rows_and_deletes(cache: StatCache) -> None:
    cache.update("raw", [("a", row()), ("b", row())], [])
    cache.update("raw", [("a", row(ID2, gen=3))], ["b", "never-there"])
    assert cache.load("raw") == {"a": row(ID2, gen=3)}


def test_resources_are_separate(cache: StatCache) -> None:
    cache.update("raw", [("a", row())], [])
    cache.update("features", [("a", row(ID2))], [])
    cache.update("features", [], ["a"])
    assert cache.load("raw") == {"a": row()}
    assert cache.load("features") == {}


def test_forget_drops_only_that_resource(cache: StatCache) -> None:
    cache.update("raw", [("a", row()), ("b", row())], [])
    cache.update("results", [("a", row())], [])
    cache.forget("raw")
    assert cache.load("raw") == {}
    assert cache.load("results") == {"a": row()}


def test_rows_persist_across_connections(cache_path: str) -> None:
    first = StatCache(cache_path)
    first.update("raw", [("a", row(gen=7))], [])
    first.close()
    second = StatCache(cache_path)
    try:
        assert second.load("raw") == {"a": row(gen=7)}
    finally:
        second.close()


def test_forget_persists(cache_path: str) -> None:
    first = StatCache(cache_path)
    first.update("raw", [("a", row())], [])
    first.forget("raw")
    first.close()
    second = StatCache(cache_path)
    try:
        assert second.load("raw") == {}
    finally:
        second.close()


def test_empty_update_is_a_no_op(cache: StatCache) -> None:
    cache.update("raw", [], [])
    assert cache.load("raw") == {}


def test_a_failed_update_changes_nothing(cache: StatCache) -> None:
    cache.update("raw", [("a", row())], [])
    bad: Any = (1, 2, 3)  # too few columns: the insert fails part-way through the batch
    with pytest.raises(sqlite3.ProgrammingError):
        cache.update("raw", [("b", row()), ("c", bad)], ["a"])
    assert cache.load("raw") == {"a": row()}


@pytest.mark.parametrize(
    ("size", "mtime", "ino", "ctime", "expected"),
    [
        (1, 1_000, 42, 2_000, True),
        (2, 1_000, 42, 2_000, False),
        (1, 1_001, 42, 2_000, False),
        (1, 1_000, 43, 2_000, False),
        (1, 1_000, 42, 2_001, False),
    ],
)
def test_matches_compares_the_whole_signature(
    size: int, mtime: int, ino: int, ctime: int, expected: bool
) -> None:
    assert row().matches(size, mtime, ino, ctime) is expected


def test_gen_is_stored_as_given(cache: StatCache) -> None:
    """gen -1 means 'only hashed'; a store generation means 'known stored at that gen'."""
    cache.update("raw", [("hashed", row(gen=-1)), ("stored", row(gen=5))], [])
    loaded = cache.load("raw")
    assert loaded["hashed"].gen == -1
    assert loaded["stored"].gen == 5


def test_racy_window_depends_on_timestamp_granularity() -> None:
    """Sub-second timestamps: a 100 ms margin; whole-second ones: 2 s."""
    from dws.resources.local_files.statcache import SECOND_NS, StatRow, is_racy

    now = 1_000 * SECOND_NS
    fine = StatRow(1, now - SECOND_NS // 2 + 7, 1, now - SECOND_NS // 2 + 7, "x" * 64, 0)
    assert not is_racy(fine, now)
    just_written = fine._replace(mtime_ns=now - 1_000_000 + 7, ctime_ns=now - 1_000_000 + 7)
    assert is_racy(just_written, now)
    coarse = StatRow(1, now - SECOND_NS, 1, now - SECOND_NS, "x" * 64, 0)
    assert is_racy(coarse, now)
    older = coarse._replace(mtime_ns=now - 3 * SECOND_NS, ctime_ns=now - 3 * SECOND_NS)
    assert not is_racy(older, now)
