"""SQLite stat cache: (size, mtime_ns, inode, ctime_ns) -> object id, so unchanged files
are never re-read. ``gen`` is the store generation at which the blob was known stored
(-1 when only hashed); ``dws gc`` bumps the generation, which invalidates that knowledge."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterable
from typing import NamedTuple

_SCHEMA = """
CREATE TABLE IF NOT EXISTS stat (
    resource TEXT NOT NULL,
    path TEXT NOT NULL,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    ino INTEGER NOT NULL,
    ctime_ns INTEGER NOT NULL,
    id TEXT NOT NULL,
    gen INTEGER NOT NULL,
    PRIMARY KEY (resource, path)
) WITHOUT ROWID
"""


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


class StatCache:
    """Per-machine cache shared by all local-files resources of a workspace."""

    def __init__(self, path: str) -> None:
        self._db = sqlite3.connect(path, timeout=60, isolation_level=None)
        with contextlib.suppress(sqlite3.OperationalError):
            self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(_SCHEMA)

    def load(self, resource: str) -> dict[str, StatRow]:
        """Every row of ``resource``, keyed by relative path."""
        cursor = self._db.execute(
            "SELECT path, size, mtime_ns, ino, ctime_ns, id, gen FROM stat WHERE resource=?",
            (resource,),
        )
        return {row[0]: StatRow(*row[1:]) for row in cursor}

    def update(
        self, resource: str, upserts: Iterable[tuple[str, StatRow]], deletes: Iterable[str]
    ) -> None:
        """Write changed rows and drop rows of files that are gone, in one transaction."""
        upsert_rows = [(resource, path, *row) for path, row in upserts]
        delete_rows = [(resource, path) for path in deletes]
        if not upsert_rows and not delete_rows:
            return
        self._db.execute("BEGIN IMMEDIATE")
        try:
            self._db.executemany(
                "INSERT OR REPLACE INTO stat VALUES (?, ?, ?, ?, ?, ?, ?, ?)", upsert_rows
            )
            self._db.executemany("DELETE FROM stat WHERE resource=? AND path=?", delete_rows)
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise

    def forget(self, resource: str) -> None:
        """Drop every row of ``resource``."""
        self._db.execute("DELETE FROM stat WHERE resource=?", (resource,))

    def close(self) -> None:
        """Close the database."""
        self._db.close()
