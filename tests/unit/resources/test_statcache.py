"""The SQLite stat cache: rows per resource, gen semantics, persistence."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dws.model.digest import hash_bytes
from dws.resources.local_files import statcache as statcache_module
from dws.resources.local_files.statcache import SCHEMA_VERSION, StatCache, StatRow

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


# ---- one directory at a time --------------------------------------------------------------


def test_rows_of_one_directory_and_the_directories_with_rows(cache: StatCache) -> None:
    cache.update("raw", [("a", row()), ("d/b", row(ID2)), ("d/e/c", row()), ("d/e/f", row())], [])
    cache.update("other", [("x/y", row())], [])
    assert cache.cached_dirs("raw") == {"", "d", "d/e"}
    assert cache.rows("raw", "") == {"a": row()}
    assert cache.rows("raw", "d") == {"b": row(ID2)}
    assert sorted(cache.rows("raw", "d/e")) == ["c", "f"]
    assert cache.rows("raw", "x") == {}
    cache.drop_dirs("raw", ["d/e", "never-there"])
    assert sorted(cache.load("raw")) == ["a", "d/b"]
    assert cache.load("other") == {"x/y": row()}


def test_the_directories_with_rows_are_those_any_row_names(cache: StatCache) -> None:
    # found one seek per directory: neighbours in the index (other resources, names that
    # sort between directories, a directory of many rows) must neither hide nor add one
    cache.update("ra", [("z/a", row())], [])
    cache.update("raw0", [("b/c", row())], [])
    many = [(f"big/{n:05}", row()) for n in range(3_000)]
    files = ["top", "b/x", "b-/y", "b/c/d", "b0/e", "é/f", "big2/g", *[path for path, _ in many]]
    cache.update("raw", [(path, row()) for path in files], [])
    assert cache.cached_dirs("raw") == {"", "b", "b-", "b/c", "b0", "é", "big", "big2"}
    assert cache.cached_dirs("nothing") == set()
    cache.drop_dirs("raw", ["", "big", "é"])
    assert cache.cached_dirs("raw") == {"b", "b-", "b/c", "b0", "big2"}


def test_a_session_writes_in_batches(
    cache_path: str, cache: StatCache, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Changes are buffered up to BATCH_ROWS rows, then written: memory stays flat."""
    monkeypatch.setattr(statcache_module, "BATCH_ROWS", 3)
    session = cache.session("raw", defer_stored=False)
    session.upsert("d", "a", row())
    session.upsert("d", "b", row())
    reader = StatCache(cache_path)
    try:
        assert reader.load("raw") == {}
        session.delete("d", ["zzz"])  # the third change fills the batch
        assert sorted(reader.load("raw")) == ["d/a", "d/b"]
        session.upsert("", "c", row())
        session.flush()
        assert sorted(reader.load("raw")) == ["c", "d/a", "d/b"]
    finally:
        reader.close()


def test_stored_claims_of_a_snapshot_wait_for_promote(cache: StatCache) -> None:
    """A snapshot's rows saying a blob is stored (gen >= 0) are true only once its record is
    committed; hashed-only rows and deletions are true at once."""
    cache.update("raw", [("old", row())], [])
    session = cache.session("raw", defer_stored=True)
    session.upsert("", "stored", row(gen=4))
    session.upsert("", "hashed", row(gen=-1))
    session.delete("", ["old"])
    session.flush()
    assert cache.load("raw") == {"hashed": row(gen=-1)}
    cache.promote("raw")
    assert cache.load("raw") == {"hashed": row(gen=-1), "stored": row(gen=4)}
    cache.promote("raw")  # nothing left to promote
    assert len(cache.load("raw")) == 2


def test_rows_of_a_snapshot_that_never_committed_are_never_promoted(cache: StatCache) -> None:
    died = cache.session("raw", defer_stored=True)
    died.upsert("", "a", row(gen=4))
    died.flush()  # ... and the snapshot died before its record was written
    other = cache.session("features", defer_stored=True)  # another resource's snapshot
    other.upsert("", "f", row(gen=4))
    other.flush()
    nxt = cache.session("raw", defer_stored=True)  # the next snapshot of the resource
    nxt.upsert("", "b", row(gen=4))
    nxt.flush()
    cache.promote("raw")
    assert cache.load("raw") == {"b": row(gen=4)}
    cache.promote("features")
    assert cache.load("features") == {"f": row(gen=4)}


def test_forget_drops_pending_rows_too(cache: StatCache) -> None:
    session = cache.session("raw", defer_stored=True)
    session.upsert("", "a", row(gen=1))
    session.flush()
    cache.forget("raw")
    cache.promote("raw")
    assert cache.load("raw") == {}


# ---- schema versions ----------------------------------------------------------------------


@pytest.mark.parametrize("version", [0, 1, 99])
def test_a_cache_of_another_schema_version_is_rebuilt_empty(cache_path: str, version: int) -> None:
    old = sqlite3.connect(cache_path)
    old.execute(
        "CREATE TABLE stat (resource TEXT, path TEXT, size INTEGER, mtime_ns INTEGER,"
        " ino INTEGER, ctime_ns INTEGER, id TEXT, gen INTEGER, PRIMARY KEY (resource, path))"
    )
    old.execute("INSERT INTO stat VALUES ('raw', 'a/b', 1, 1, 1, 1, ?, 0)", (ID1,))
    old.execute("CREATE INDEX stat_by_id ON stat(id)")
    old.execute(f"PRAGMA user_version = {version}")
    old.commit()
    old.close()
    cache = StatCache(cache_path)
    try:
        assert cache.load("raw") == {}
        cache.update("raw", [("a/b", row())], [])
        assert cache.load("raw") == {"a/b": row()}
    finally:
        cache.close()
    check = sqlite3.connect(cache_path)
    try:
        assert check.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        tables = {r[0] for r in check.execute("SELECT name FROM sqlite_master")}
        assert "stat" not in tables and "stat_by_id" not in tables
    finally:
        check.close()
