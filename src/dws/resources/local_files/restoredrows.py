"""Stat-cache rows for the files a restore wrote, recorded batch by batch as it goes."""

from __future__ import annotations

import time

from dws.resources.local_files.applying import Written
from dws.resources.local_files.statcache import StatCache, StatRow, is_racy, split_path
from dws.store.fileio import sync_filesystem


class RestoredRows:
    """Told by a ``Restorer`` what each batch removed and wrote: the rows of removed paths
    go at once (before any row of a file written in their place), and each file written
    gets a row from the stat signature taken just after writing it.

    A batch's rows are written as it is handed over, but as pending rows (the table a
    snapshot uses for claims that become true only at its commit): ``finish`` syncs the
    filesystem and only then makes them true, so a row never vouches for bytes not yet
    on disk, and the restore needs one sync, not one per batch. A restore that dies
    leaves them pending, and the next scan session that stores, or the next restore,
    drops them. Files still too young to vouch for (see ``is_racy``: written in the last
    moments of a batch) wait for the next batch; those still too young at ``finish`` get
    no row and are hashed again next time."""

    def __init__(self, cache: StatCache, resource: str, sync_path: str, generation: int) -> None:
        self._cache = cache
        self._resource = resource
        self._session = cache.session(resource, defer_stored=True)
        self._sync_path = sync_path
        self._generation = generation
        self._young: list[Written] = []

    def __call__(self, removed: list[str], written: list[Written]) -> None:
        for rel in removed:
            directory, name = split_path(rel)
            self._session.delete(directory, [name])
        young, self._young = self._young, []
        self._record(young, keep_young=True)
        self._record(written, keep_young=True)

    def finish(self) -> None:
        """Sync; record the files that were too young so far; make the rows true."""
        sync_filesystem(self._sync_path)
        young, self._young = self._young, []
        self._record(young, keep_young=False)
        self._session.flush()
        self._cache.promote(self._resource)

    def _record(self, written: list[Written], *, keep_young: bool) -> None:
        now = time.time_ns()
        for rel, oid, signature in written:
            directory, name = split_path(rel)
            if signature is None:
                self._session.delete(directory, [name])
                continue
            row = StatRow(*signature, oid, self._generation)
            if not is_racy(row, now):
                self._session.upsert(directory, name, row)
            elif keep_young:
                self._young.append((rel, oid, signature))
            else:
                self._session.delete(directory, [name])
