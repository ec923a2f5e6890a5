"""Stat-cache rows for the files a restore wrote, recorded batch by batch as it goes."""

from __future__ import annotations

import time

from dws.resources.local_files.applying import Written
from dws.resources.local_files.statcache import ResourceCache, StatRow, is_racy, split_path
from dws.store.fileio import sync_filesystem


class RestoredRows:
    """Told by a ``Restorer`` what each batch removed and wrote: the rows of removed paths
    go (before any row of a file written in their place), and each file written gets a
    row from the stat signature taken just after writing it.

    A batch is recorded once the next one is done, or by ``finish``, each time after a
    sync of the filesystem: a row never vouches for bytes not yet on disk, and by then
    most of the batch is older than the racy window. Files still too young to vouch for
    (see ``is_racy``) get no row and are hashed again next time."""

    def __init__(self, cache: ResourceCache, sync_path: str, generation: int) -> None:
        self._cache = cache
        self._sync_path = sync_path
        self._generation = generation
        self._waiting: list[tuple[list[str], list[Written]]] = []

    def __call__(self, removed: list[str], written: list[Written]) -> None:
        if self._waiting:
            sync_filesystem(self._sync_path)
            self._record_waiting()
        self._waiting.append((removed, written))

    def finish(self) -> None:
        """Sync, and record every batch still waiting."""
        sync_filesystem(self._sync_path)
        self._record_waiting()
        self._cache.flush()

    def _record_waiting(self) -> None:
        now = time.time_ns()
        waiting, self._waiting = self._waiting, []
        for removed, written in waiting:
            for rel in removed:
                directory, name = split_path(rel)
                self._cache.delete(directory, [name])
            for rel, oid, signature in written:
                directory, name = split_path(rel)
                if signature is None:
                    self._cache.delete(directory, [name])
                    continue
                row = StatRow(*signature, oid, self._generation)
                if is_racy(row, now):
                    self._cache.delete(directory, [name])
                else:
                    self._cache.upsert(directory, name, row)
