"""Reading many new small files of one directory on several processes.

A first snapshot of one flat directory of 100,000 images opens, reads, hashes and
compresses every file: on one process that is most of the snapshot. When a directory has
at least ``READ_SHARED_FROM`` files to read of at most ``SMALL_FILE`` bytes, forked
processes take batches of them in turn (batch k to process k mod n). Each reads a file
once, keeps it only if its stat signature after the read is the one its listing gave
(nothing changed it meanwhile), hashes it and, when the scan stores, frames its bytes as
the store packs them, unless the store already has them. It streams back per file the id
and the entry, or None for a file it left (changed, gone, unreadable).

The walk, in the parent, takes the batches in order. Only it writes the store and the
stat cache: it appends each entry to the store and reads the files left to it itself, as
it would have without the processes (with their retries and their errors). A process
that dies leaves its batches to the walk too.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from functools import partial
from typing import TYPE_CHECKING

from dws.model.digest import hash_bytes
from dws.resources.local_files import workers
from dws.store.base import ObjectStore
from dws.store.framing import frame
from dws.store.hashing import O_NONBLOCK

if TYPE_CHECKING:  # (dirchecks reads files with ``read_small`` too)
    from dws.resources.local_files.dirchecks import PendingFile

__all__ = ["READ_SHARED_FROM", "SMALL_FILE", "Read", "SharedReads", "read_small", "shared_from"]

# files to read in one directory from which the reading is shared out
READ_SHARED_FROM = 1024
# files up to this size: what the store packs (the walk reads larger ones itself)
SMALL_FILE = 128 << 10
READ_BATCH = 256  # files per message: fewer pickles, yet little read ahead of the walk
O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)

# a file read elsewhere: its id, and its entry for the store (None: the scan does not
# store, or the store had it then)
Read = tuple[str, bytes | None]


def shared_from() -> int:
    """From how many files to read in one directory their reading is shared out
    (``DWS_SCAN_READ_SHARED_FROM``, 0: never)."""
    return workers.fork_from("DWS_SCAN_READ_SHARED_FROM", READ_SHARED_FROM)


class SharedReads:
    """``files`` of the directory ``prefix`` read by ``parts`` forked processes; iterate
    to take each file with what was read of it, in order. Raises OSError when no process
    could be made. Must be closed."""

    def __init__(
        self, prefix: str, files: list[PendingFile], store: ObjectStore | None, parts: int
    ) -> None:
        self._batches = [
            files[start : start + READ_BATCH] for start in range(0, len(files), READ_BATCH)
        ]
        self._parts = max(1, min(parts, len(self._batches)))
        shares = [list(range(part, len(self._batches), self._parts)) for part in range(self._parts)]
        self._streams: workers.Streams[list[Read | None]] = workers.fork_streams(
            shares, partial(_read_batch, prefix, store, self._batches)
        )

    def __iter__(self) -> Iterator[tuple[PendingFile, Read | None]]:
        for number, batch in enumerate(self._batches):
            reads = self._streams.next(number % self._parts)
            if reads is None or len(reads) != len(batch):  # the process stopped: all here
                reads = [None] * len(batch)
            yield from zip(batch, reads, strict=True)

    def close(self) -> None:
        """Stop the processes still running."""
        self._streams.close()


def _read_batch(
    prefix: str, store: ObjectStore | None, batches: list[list[PendingFile]], number: int
) -> list[Read | None]:
    """In a forked process: each file of one batch read, or None where it was left."""
    return [
        read_small(os.path.join(prefix, f.name), (f.size, f.mtime_ns, f.ino, f.ctime_ns), store)
        for f in batches[number]
    ]


def read_small(path: str, signature: workers.Signature, store: ObjectStore | None) -> Read | None:
    """Read a file of at most ``SMALL_FILE`` bytes once: its id, and its entry unless the
    scan does not store or ``store`` has it. None when its stat ``signature`` (size, mtime,
    inode, ctime) after the read is not the one given, or it cannot be read."""
    try:
        handle = os.open(path, os.O_RDONLY | O_NOFOLLOW | O_NONBLOCK)  # see open_nonblocking
        try:
            data = os.read(handle, signature[0] + 1)  # one byte more: a file that grew shows
        finally:
            os.close(handle)
        after = os.stat(path, follow_symlinks=False)
    except OSError:
        return None
    now = (after.st_size, after.st_mtime_ns, after.st_ino, after.st_ctime_ns)
    if now != signature or len(data) != signature[0]:
        return None
    oid = hash_bytes(data)
    if store is None or store.has_entry(oid):
        return oid, None
    return oid, frame(data)
