"""SQLite stat cache: (size, mtime_ns, inode, ctime_ns) -> object id, so unchanged files
are never re-read. ``gen`` is the store generation at which the blob was known stored
(-1 when only hashed); ``dws gc`` bumps the generation, which invalidates that knowledge.

Rows are keyed by (resource, directory, name) so a scan reads the rows of one directory
at a time. A directory without subdirectories also gets one row of its own: a digest of
its whole listing (every entry's name and stat signature) -> its tree id, so an unchanged
directory costs its listing and nothing else (see ``DirRow``). The cache is machine-local
and disposable: its schema carries a version (``PRAGMA user_version``) and a cache of any
other version is dropped and rebuilt empty; the directory tables are added to a cache
that lacks them.
"""

from __future__ import annotations

import contextlib
import functools
import operator
import os
import sqlite3
from collections.abc import Iterable, Iterator
from typing import NamedTuple, Protocol

SCHEMA_VERSION = 2
_COLUMNS = """
    resource TEXT NOT NULL,
    dir TEXT NOT NULL,
    name TEXT NOT NULL,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    ino INTEGER NOT NULL,
    ctime_ns INTEGER NOT NULL,
    id TEXT NOT NULL,
    gen INTEGER NOT NULL"""
_SCHEMA = (
    f"CREATE TABLE file_stat ({_COLUMNS},\n    PRIMARY KEY (resource, dir, name)\n) WITHOUT ROWID",
    f"CREATE TABLE pending_stat ({_COLUMNS}\n)",
)
_DIR_COLUMNS = """
    resource TEXT NOT NULL,
    dir TEXT NOT NULL,
    listing BLOB NOT NULL,
    tree TEXT NOT NULL,
    files INTEGER NOT NULL,
    bytes INTEGER NOT NULL,
    gen INTEGER NOT NULL"""
_DIR_SCHEMA = (
    f"CREATE TABLE IF NOT EXISTS dir_stat ({_DIR_COLUMNS},\n"
    "    PRIMARY KEY (resource, dir)\n) WITHOUT ROWID",
    f"CREATE TABLE IF NOT EXISTS pending_dir ({_DIR_COLUMNS}\n)",
)
_DIR_INSERT = "INSERT OR REPLACE INTO dir_stat VALUES (?, ?, ?, ?, ?, ?, ?)"
_FIELDS = "size, mtime_ns, ino, ctime_ns, id, gen"
_INSERT = "INSERT OR REPLACE INTO file_stat VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
_DELETE = "DELETE FROM file_stat WHERE resource=? AND dir=? AND name=?"
BATCH_ROWS = 2048

_Row = tuple[str, str, str, int, int, int, int, str, int]  # a full row, in column order
_DirKeyed = tuple[str, str, bytes, str, int, int, int]  # a full directory row

SECOND_NS = 1_000_000_000
COARSE_WINDOW_NS = 2 * SECOND_NS
FINE_WINDOW_NS = SECOND_NS // 10


def is_racy(row: StatRow, seen_at_ns: int) -> bool:
    """True when a write right after ``seen_at_ns`` could leave the file's stat signature
    unchanged, so the row must not vouch for its content. Filesystems with sub-second
    timestamps (ext4, XFS, Btrfs, APFS, NTFS) tick in at most milliseconds: a 100 ms margin
    covers them. Whole-second timestamps (FAT, HFS+, some NFS) get a 2 s margin."""
    coarse = row.mtime_ns % SECOND_NS == 0 and row.ctime_ns % SECOND_NS == 0
    window = COARSE_WINDOW_NS if coarse else FINE_WINDOW_NS
    return max(row.mtime_ns, row.ctime_ns) >= seen_at_ns - window


class DirRow(NamedTuple):
    """What the cache knows about one directory without subdirectories: the digest of its
    listing as it was (``listing``), and what that listing held then. Valid only while the
    listing's digest is the same; ``gen`` as for files (and with gen >= 0 the tree itself
    is stored too)."""

    listing: bytes
    tree: str
    files: int
    bytes: int
    gen: int


class StatRow(NamedTuple):
    """What the cache knows about one file."""

    size: int
    mtime_ns: int
    ino: int
    ctime_ns: int
    oid: str
    gen: int

    def matches(self, size: int, mtime_ns: int, ino: int, ctime_ns: int) -> bool:
        """True when the file's stat signature is unchanged."""
        return (
            self.size == size
            and self.mtime_ns == mtime_ns
            and self.ino == ino
            and self.ctime_ns == ctime_ns
        )


def split_path(path: str) -> tuple[str, str]:
    """('dir/sub', 'name') of 'dir/sub/name'; the root directory is ''."""
    directory, _, name = path.rpartition("/")
    return directory, name


# one seek per directory (each next directory is the least one past the last) instead of
# reading every row: a directory of a million files costs what a directory of one does
_DIRS_WITH_ROWS = """
WITH RECURSIVE seen(dir) AS (
    SELECT (SELECT min(dir) FROM file_stat WHERE resource=?1)
    UNION ALL
    SELECT (SELECT min(dir) FROM file_stat WHERE resource=?1 AND dir > seen.dir)
    FROM seen WHERE seen.dir IS NOT NULL
)
SELECT dir FROM seen WHERE dir IS NOT NULL
"""


class ScanCache(Protocol):
    """What a scan needs from a stat cache: the rows of one directory at a time, and a
    place for its changes."""

    def cached_dirs(self) -> set[str]:
        """Every directory holding rows."""

    def rows(self, directory: str) -> dict[str, StatRow]:
        """The rows of one directory, keyed by file name."""

    def upsert(self, directory: str, name: str, row: StatRow) -> None:
        """Remember a file."""

    def delete(self, directory: str, names: Iterable[str]) -> None:
        """Forget files."""

    def drop_dirs(self, directories: Iterable[str]) -> None:
        """Forget every row of directories that are gone (or now ignored)."""

    def dir_row(self, directory: str) -> DirRow | None:
        """The row of one directory, if it has one."""

    def dir_rows(self) -> dict[str, DirRow]:
        """Every directory row, keyed by directory."""

    def put_dir(self, directory: str, row: DirRow) -> None:
        """Remember a directory's listing."""

    def flush(self) -> None:
        """Write what is still buffered."""

    def reopened(self) -> ScanCache:
        """The same cache for reading in a forked process: a connection of its own (a
        connection must never be used on both sides of a fork)."""


class NoCache:
    """A scan cache that knows nothing and keeps nothing: every file is read (for
    directories that are not resources, such as one `dws swap` imports)."""

    def cached_dirs(self) -> set[str]:
        return set()

    def rows(self, directory: str) -> dict[str, StatRow]:
        return {}

    def upsert(self, directory: str, name: str, row: StatRow) -> None:
        pass

    def delete(self, directory: str, names: Iterable[str]) -> None:
        pass

    def drop_dirs(self, directories: Iterable[str]) -> None:
        pass

    def dir_row(self, directory: str) -> DirRow | None:
        return None

    def dir_rows(self) -> dict[str, DirRow]:
        return {}

    def put_dir(self, directory: str, row: DirRow) -> None:
        pass

    def flush(self) -> None:
        pass

    def reopened(self) -> ScanCache:
        return self


_NAME, _FIELDS_OF = operator.itemgetter(0), operator.itemgetter(slice(1, None))
_STAT_ROW = functools.partial(tuple.__new__, StatRow)


class StatCache:
    """Per-machine cache shared by all local-files resources of a workspace."""

    def __init__(self, path: str) -> None:
        try:
            self._open(path)
        except sqlite3.DatabaseError:
            # a cache only: a damaged one is thrown away and rebuilt by the next scan
            with contextlib.suppress(Exception):
                self._db.close()
            for suffix in ("", "-wal", "-shm", "-journal"):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(path + suffix)
            self._open(path)

    def _open(self, path: str) -> None:
        self.path = path
        self._db = sqlite3.connect(path, timeout=60, isolation_level=None)
        with contextlib.suppress(sqlite3.OperationalError):
            self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        if self._version() != SCHEMA_VERSION:
            with self.transaction():
                if self._version() != SCHEMA_VERSION:  # another process may have rebuilt it
                    self._rebuild()
        if not self._db.execute("SELECT 1 FROM sqlite_master WHERE name='dir_stat'").fetchone():
            with self.transaction() as db:
                for statement in _DIR_SCHEMA:
                    db.execute(statement)

    def _version(self) -> int:
        return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    def _rebuild(self) -> None:
        query = "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'"
        for (table,) in self._db.execute(query).fetchall():
            self._db.execute(f'DROP TABLE IF EXISTS "{table}"')
        for statement in _SCHEMA + _DIR_SCHEMA:
            self._db.execute(statement)
        self._db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: all of it or nothing."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise

    @classmethod
    def reader(cls, path: str) -> StatCache:
        """Another connection to the cache at ``path``, for reading (no schema checks: the
        cache that made it did them)."""
        cache = cls.__new__(cls)
        cache.path = path
        cache._db = sqlite3.connect(path, timeout=60, isolation_level=None)
        return cache

    def session(self, resource: str, *, defer_stored: bool) -> ResourceCache:
        """The cache as one scan of ``resource`` sees it (see ResourceCache)."""
        return ResourceCache(self, resource, defer_stored=defer_stored)

    def cached_dirs(self, resource: str) -> set[str]:
        """Directories of ``resource`` that hold rows."""
        return {row[0] for row in self._db.execute(_DIRS_WITH_ROWS, (resource,))}

    def rows(self, resource: str, directory: str) -> dict[str, StatRow]:
        """The rows of one directory of ``resource``, keyed by file name."""
        rows = self._db.execute(
            f"SELECT name, {_FIELDS} FROM file_stat WHERE resource=? AND dir=?",
            (resource, directory),
        ).fetchall()
        # built without a Python call per row: a directory of a million files has as many
        return dict(zip(map(_NAME, rows), map(_STAT_ROW, map(_FIELDS_OF, rows)), strict=True))

    def dir_row(self, resource: str, directory: str) -> DirRow | None:
        """The row of one directory of ``resource``."""
        found = self._db.execute(
            "SELECT listing, tree, files, bytes, gen FROM dir_stat WHERE resource=? AND dir=?",
            (resource, directory),
        ).fetchone()
        return DirRow._make(found) if found is not None else None

    def dir_rows(self, resource: str) -> dict[str, DirRow]:
        """Every directory row of ``resource``, keyed by directory."""
        cursor = self._db.execute(
            "SELECT dir, listing, tree, files, bytes, gen FROM dir_stat WHERE resource=?",
            (resource,),
        )
        return {row[0]: DirRow._make(row[1:]) for row in cursor}

    def load(self, resource: str) -> dict[str, StatRow]:
        """Every row of ``resource``, keyed by relative path (for tools and tests: a scan
        reads one directory at a time)."""
        cursor = self._db.execute(
            f"SELECT dir, name, {_FIELDS} FROM file_stat WHERE resource=?", (resource,)
        )
        return {(f"{r[0]}/{r[1]}" if r[0] else r[1]): StatRow(*r[2:]) for r in cursor}

    def update(
        self, resource: str, upserts: Iterable[tuple[str, StatRow]], deletes: Iterable[str]
    ) -> None:
        """Write rows and drop rows of files that are gone (paths relative to the resource
        root), in one transaction."""
        upsert_rows = [(resource, *split_path(path), *row) for path, row in upserts]
        delete_rows = [(resource, *split_path(path)) for path in deletes]
        self.write(upsert_rows, [], delete_rows)

    def write(
        self,
        upserts: list[_Row],
        pending: list[_Row],
        deletes: list[tuple[str, str, str]],
        dirs: tuple[list[_DirKeyed], list[_DirKeyed]] = ([], []),
    ) -> None:
        """One transaction of full rows for ``stat`` and ``pending`` and (resource, dir,
        name) keys to delete, and directory rows (true now, pending)."""
        dir_rows, pending_dirs = dirs
        if not upserts and not pending and not deletes and not dir_rows and not pending_dirs:
            return
        with self.transaction() as db:
            db.executemany(_DELETE, deletes)
            db.executemany(_INSERT, upserts)
            db.executemany("INSERT INTO pending_stat VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", pending)
            db.executemany(_DIR_INSERT, dir_rows)
            db.executemany("INSERT INTO pending_dir VALUES (?, ?, ?, ?, ?, ?, ?)", pending_dirs)

    def drop_dirs(self, resource: str, directories: Iterable[str]) -> None:
        """Drop every row of these directories of ``resource``."""
        rows = [(resource, directory) for directory in directories]
        if rows:
            with self.transaction() as db:
                db.executemany("DELETE FROM file_stat WHERE resource=? AND dir=?", rows)
                db.executemany("DELETE FROM dir_stat WHERE resource=? AND dir=?", rows)

    def discard_pending(self, resource: str) -> None:
        """Drop the rows a snapshot of ``resource`` left uncommitted."""
        with self.transaction() as db:
            db.execute("DELETE FROM pending_stat WHERE resource=?", (resource,))
            db.execute("DELETE FROM pending_dir WHERE resource=?", (resource,))

    def promote(self, resource: str) -> None:
        """The snapshot of ``resource`` is committed: its rows of stored blobs become true."""
        with self.transaction() as db:
            for table, pending, key in (
                ("file_stat", "pending_stat", "dir, name"),
                ("dir_stat", "pending_dir", "dir"),
            ):  # in key order: a first snapshot's 100,000 rows go in 40% sooner
                db.execute(
                    f"INSERT OR REPLACE INTO {table} SELECT * FROM {pending} WHERE resource=?"
                    f" ORDER BY {key}",
                    (resource,),
                )
                db.execute(f"DELETE FROM {pending} WHERE resource=?", (resource,))

    def forget(self, resource: str) -> None:
        """Drop every row of ``resource``."""
        with self.transaction() as db:
            for table in ("file_stat", "pending_stat", "dir_stat", "pending_dir"):
                db.execute(f"DELETE FROM {table} WHERE resource=?", (resource,))

    def close(self) -> None:
        """Close the database."""
        self._db.close()


class ResourceCache:
    """One resource's rows as a scan sees them, with its changes written in batches of
    ``BATCH_ROWS`` (so memory does not grow with the number of files).

    With ``defer_stored`` (a snapshot that stores blobs), rows claiming a blob is stored
    (``gen`` >= 0) go to the ``pending_stat`` table instead: the claim becomes true only once
    the snapshot record is committed, when ``StatCache.promote`` moves them into ``file_stat``.
    Hashed-only rows and deletions are true at once and go straight to ``file_stat``."""

    def __init__(self, cache: StatCache, resource: str, *, defer_stored: bool) -> None:
        self._cache = cache
        self.resource = resource
        self._defer = defer_stored
        self._upserts: list[_Row] = []
        self._pending: list[_Row] = []
        self._deletes: list[tuple[str, str, str]] = []
        self._dirs: list[_DirKeyed] = []
        self._pending_dirs: list[_DirKeyed] = []
        if defer_stored:
            cache.discard_pending(resource)  # left by a snapshot that never committed

    def cached_dirs(self) -> set[str]:
        return self._cache.cached_dirs(self.resource)

    def rows(self, directory: str) -> dict[str, StatRow]:
        return self._cache.rows(self.resource, directory)

    def upsert(self, directory: str, name: str, row: StatRow) -> None:
        target = self._pending if self._defer and row.gen >= 0 else self._upserts
        target.append((self.resource, directory, name, *row))
        self._maybe_flush()

    def delete(self, directory: str, names: Iterable[str]) -> None:
        self._deletes.extend((self.resource, directory, name) for name in names)
        self._maybe_flush()

    def drop_dirs(self, directories: Iterable[str]) -> None:
        self._cache.drop_dirs(self.resource, directories)

    def dir_row(self, directory: str) -> DirRow | None:
        return self._cache.dir_row(self.resource, directory)

    def dir_rows(self) -> dict[str, DirRow]:
        return self._cache.dir_rows(self.resource)

    def put_dir(self, directory: str, row: DirRow) -> None:
        target = self._pending_dirs if self._defer and row.gen >= 0 else self._dirs
        target.append((self.resource, directory, *row))
        self._maybe_flush()

    def _maybe_flush(self) -> None:
        waiting = len(self._upserts) + len(self._pending) + len(self._deletes)
        if waiting + len(self._dirs) + len(self._pending_dirs) >= BATCH_ROWS:
            self.flush()

    def reopened(self) -> ResourceCache:
        return ResourceCache(StatCache.reader(self._cache.path), self.resource, defer_stored=False)

    def flush(self) -> None:
        dirs = (self._dirs, self._pending_dirs)
        self._cache.write(self._upserts, self._pending, self._deletes, dirs)
        self._upserts, self._pending, self._deletes = [], [], []
        self._dirs, self._pending_dirs = [], []
