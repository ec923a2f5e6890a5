"""SQLite stat cache: (size, mtime_ns, inode, ctime_ns) -> object id, so unchanged files
are never re-read. ``gen`` is the store generation at which the blob was known stored
(-1 when only hashed); ``dws gc`` bumps the generation, which invalidates that knowledge.

Rows are keyed by (resource, directory, name) so a scan reads the rows of one directory
at a time. The cache is machine-local and disposable: its schema carries a version
(``PRAGMA user_version``) and a cache of any other version is dropped and rebuilt empty.
"""

from __future__ import annotations

import contextlib
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
_FIELDS = "size, mtime_ns, ino, ctime_ns, id, gen"
_INSERT = "INSERT OR REPLACE INTO file_stat VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
_DELETE = "DELETE FROM file_stat WHERE resource=? AND dir=? AND name=?"
BATCH_ROWS = 2048

_Row = tuple[str, str, str, int, int, int, int, str, int]  # a full row, in column order

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

    def flush(self) -> None:
        """Write what is still buffered."""


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

    def flush(self) -> None:
        pass


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
        self._db = sqlite3.connect(path, timeout=60, isolation_level=None)
        with contextlib.suppress(sqlite3.OperationalError):
            self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        if self._version() != SCHEMA_VERSION:
            with self.transaction():
                if self._version() != SCHEMA_VERSION:  # another process may have rebuilt it
                    self._rebuild()

    def _version(self) -> int:
        return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    def _rebuild(self) -> None:
        query = "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'"
        for (table,) in self._db.execute(query).fetchall():
            self._db.execute(f'DROP TABLE IF EXISTS "{table}"')
        for statement in _SCHEMA:
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

    def session(self, resource: str, *, defer_stored: bool) -> ResourceCache:
        """The cache as one scan of ``resource`` sees it (see ResourceCache)."""
        return ResourceCache(self, resource, defer_stored=defer_stored)

    def cached_dirs(self, resource: str) -> set[str]:
        """Directories of ``resource`` that hold rows."""
        query = "SELECT DISTINCT dir FROM file_stat WHERE resource=?"
        return {row[0] for row in self._db.execute(query, (resource,))}

    def rows(self, resource: str, directory: str) -> dict[str, StatRow]:
        """The rows of one directory of ``resource``, keyed by file name."""
        cursor = self._db.execute(
            f"SELECT name, {_FIELDS} FROM file_stat WHERE resource=? AND dir=?",
            (resource, directory),
        )
        make = StatRow._make
        return {row[0]: make(row[1:]) for row in cursor}

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
    ) -> None:
        """One transaction of full rows for ``stat`` and ``pending`` and (resource, dir,
        name) keys to delete."""
        if not upserts and not pending and not deletes:
            return
        with self.transaction() as db:
            db.executemany(_DELETE, deletes)
            db.executemany(_INSERT, upserts)
            db.executemany("INSERT INTO pending_stat VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", pending)

    def drop_dirs(self, resource: str, directories: Iterable[str]) -> None:
        """Drop every row of these directories of ``resource``."""
        rows = [(resource, directory) for directory in directories]
        if rows:
            with self.transaction() as db:
                db.executemany("DELETE FROM file_stat WHERE resource=? AND dir=?", rows)

    def discard_pending(self, resource: str) -> None:
        """Drop the rows a snapshot of ``resource`` left uncommitted."""
        self._db.execute("DELETE FROM pending_stat WHERE resource=?", (resource,))

    def promote(self, resource: str) -> None:
        """The snapshot of ``resource`` is committed: its rows of stored blobs become true."""
        with self.transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO file_stat SELECT * FROM pending_stat WHERE resource=?",
                (resource,),
            )
            db.execute("DELETE FROM pending_stat WHERE resource=?", (resource,))

    def forget(self, resource: str) -> None:
        """Drop every row of ``resource``."""
        with self.transaction() as db:
            db.execute("DELETE FROM file_stat WHERE resource=?", (resource,))
            db.execute("DELETE FROM pending_stat WHERE resource=?", (resource,))

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

    def _maybe_flush(self) -> None:
        if len(self._upserts) + len(self._pending) + len(self._deletes) >= BATCH_ROWS:
            self.flush()

    def flush(self) -> None:
        self._cache.write(self._upserts, self._pending, self._deletes)
        self._upserts, self._pending, self._deletes = [], [], []
