"""Checking directories against their cache rows on forked processes, as the walk goes.

A scan's walk builds one directory's tree after another, and for most directories of a
large resource that means listing it (one ``lstat`` per entry), reading its file rows and
comparing them: Python does that on one core. When the directory rows of a resource
cover many files, one forked process per core takes every n-th of those directories, in
the walk's order, and sends back for each, in that order:

* ``MATCHED``: its listing digest equals the row's, the cached tree stands;
* ``RESOLVED``: the tree built from its listing and its file rows, the files the rows did
  not vouch for hashed, the small ones read whole (``sharedreads.read_small``) and sent
  with their store entries, which the parent stores as they are (a larger one, or beyond
  ``ENTRY_BUDGET``, the parent reads again to store it, and falls back to listing the
  directory itself if it no longer reads the same), the names whose rows are gone;
* ``LEFT``: a directory the process does not settle (a subdirectory, a symbolic link or
  other special file, a leftover or undecodable name to report, a changed file of
  ``PARALLEL_FROM`` bytes or more, a file changing while hashed): the walk lists it itself.

The parent takes each result when its walk reaches the directory, so a process runs ahead
only as far as its pipe holds (``workers.STREAM_PIPE_BYTES``). A process reads the stat
cache through a connection of its own and never writes to it or to the store.
"""

from __future__ import annotations

import os
import stat as stat_module
from typing import NamedTuple

from msgspec import Struct

from dws.model.digest import hash_bytes
from dws.model.tree import TreeEntry, encode_tree, make_tree
from dws.resources.local_files import workers
from dws.resources.local_files.ignore import IgnoreRules
from dws.resources.local_files.listing import Listed, list_directory, listing_digest
from dws.resources.local_files.sharedreads import SMALL_FILE, read_small
from dws.resources.local_files.statcache import DirRow, ScanCache, StatRow
from dws.store.base import ObjectStore
from dws.store.fileio import TEMP_PREFIX
from dws.store.hashing import hash_file

__all__ = [
    "LEFT",
    "MATCHED",
    "RESOLVED",
    "Checked",
    "DirChecker",
    "DirChecks",
    "PendingFile",
    "Resolved",
]

MATCHED, RESOLVED, LEFT = 0, 1, 2
PARALLEL_FROM = 1 << 20  # a changed file this large is read once, by the walk
# bytes of small changed files a process reads whole for the walk to store, per directory
# (beyond, it only hashes them and the walk reads them again: a message stays small)
ENTRY_BUDGET = 4 << 20
S_ISREG, S_IXUSR = stat_module.S_ISREG, stat_module.S_IXUSR


class PendingFile(Struct):
    """A file the cache did not vouch for (changed, new, or its blob not known stored),
    while it is hashed or stored."""

    name: str
    size: int
    mtime_ns: int
    ino: int
    ctime_ns: int
    exec: bool
    oid: str = ""  # hashed, or the row's when only the blob is in doubt
    gen: int = -1  # the row's generation when the content is known, else -1
    cached: bool = False  # the cache holds a (stale or unproven) row for it
    previous: str = ""  # the content the cache last saw at this path (a hint for the store)
    fresh: bool = False  # its row must be written back to the cache
    linked: bool = False  # changed in place with other links: its old object may have changed
    read_there: bool = False  # read by a checking process: ``entry`` is what to store
    entry: bytes | None = None  # its entry for the store (None: the store had it there)


class Resolved(NamedTuple):
    """A directory's tree as its listing and file rows give it."""

    listing: bytes
    tree: bytes
    tree_id: str
    bytes: int
    files: int
    gen: int  # the lowest generation of the rows taken as they are
    unsettled: list[PendingFile]
    gone: list[str]  # names whose rows are no longer listed


Checked = tuple[str, int, Resolved | None]  # directory, outcome, the tree when RESOLVED
Item = tuple[str, DirRow, bool]  # directory, its row, whether a matching listing settles it


class DirChecker(Struct):
    """What a checking process does with one directory (see the module docstring)."""

    root: str
    cache: ScanCache
    salt: bytes
    ignore: IgnoreRules | None
    generation: int
    store: ObjectStore | None  # where a snapshot stores (None: the scan only hashes)
    _reader: ScanCache | None = None
    _resolved_root: str | None = None

    def __call__(self, item: Item) -> Checked:
        rel, row, settles = item
        where = os.path.join(self.root, rel) if rel else self.root
        if rel and os.path.realpath(where) != os.path.join(self._real_root(), rel):
            return rel, LEFT, None  # a symbolic link now, or below one: nothing to read there
        try:
            found, has_subdir = list_directory(where)
        except OSError:
            return rel, LEFT, None
        if has_subdir or not found:
            return rel, LEFT, None
        digest = listing_digest(found, self.salt)
        if settles and digest == row.listing:
            return rel, MATCHED, None
        resolved = self._resolve(rel, where, found, digest)
        return (rel, LEFT, None) if resolved is None else (rel, RESOLVED, resolved)

    def _real_root(self) -> str:
        if self._resolved_root is None:
            self._resolved_root = os.path.realpath(self.root)
        return self._resolved_root

    def _rows(self, rel: str) -> dict[str, StatRow]:
        if self._reader is None:  # opened in the process that reads: never across a fork
            self._reader = self.cache.reopened()
        return self._reader.rows(rel)

    def _resolve(self, rel: str, where: str, found: list[Listed], digest: bytes) -> Resolved | None:
        cached = self._rows(rel)
        prefix = f"{rel}/" if rel else ""
        # storing, a row vouches only for blobs known stored now
        rules, trusted_gen = self.ignore, self.generation if self.store is not None else None
        entries: list[TreeEntry] = []
        unsettled: list[PendingFile] = []
        seen: set[str] = set()
        total, gen = 0, self.generation
        budget = ENTRY_BUDGET
        for name, mode, size, mtime_ns, ino, ctime_ns, nlink in found:
            if name.startswith(TEMP_PREFIX):
                return None  # a leftover to report
            if rules is not None and rules.ignored(prefix + name, False):
                continue
            if not S_ISREG(mode) or not _decodable(name):
                return None
            seen.add(name)
            executable = bool(mode & S_IXUSR)
            signature = (size, mtime_ns, ino, ctime_ns)
            row = cached.get(name)
            if row is not None and row[:4] == signature:
                oid = row.oid
                if trusted_gen is None or row.gen == trusted_gen:
                    gen = min(gen, row.gen)
                else:  # the content is known, its blob not known stored
                    known = PendingFile(name, *signature, executable, oid, row.gen, True)
                    unsettled.append(known)
            else:
                path = os.path.join(where, name)
                read = None
                if self.store is not None and size <= SMALL_FILE and budget >= size:
                    read = read_small(path, signature, self.store)  # stored by the walk
                    budget -= size
                hashed = read[0] if read is not None else _hash_stable(path, signature)
                if hashed is None:
                    return None
                oid, previous = hashed, row.oid if row is not None else ""
                linked = row is not None and nlink > 1 and row.ino == ino
                changed = PendingFile(name, *signature, executable, oid, -1, bool(previous))
                changed.previous, changed.linked = previous, linked
                if read is not None:
                    changed.read_there, changed.entry = True, read[1]
                unsettled.append(changed)
            entries.append(TreeEntry(name, "file", oid, size, executable))
            total += size
        data = encode_tree(make_tree(entries))
        gone = [name for name in cached if name not in seen]
        return Resolved(digest, data, hash_bytes(data), total, len(seen), gen, unsettled, gone)


def _decodable(name: str) -> bool:
    if name.isascii():
        return True
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False  # a name the walk reports
    return True


def _hash_stable(path: str, signature: tuple[int, int, int, int]) -> str | None:
    """The file's id, or None when it is large (the walk reads it once, to store it),
    changed since it was listed or cannot be read (the walk then reads it, and says why)."""
    if signature[0] >= PARALLEL_FROM:
        return None
    try:
        oid, size = hash_file(path)
        after = os.lstat(path)
    except OSError:
        return None
    now = (after.st_size, after.st_mtime_ns, after.st_ino, after.st_ctime_ns)
    return oid if now == signature and size == signature[0] else None


class DirChecks:
    """The checking processes of one scan, and which directory each one has."""

    def __init__(self, rows: dict[str, DirRow], checker: DirChecker, trusted: set[str]) -> None:
        order = sorted(rows, key=lambda rel: rel.split("/"))  # the walk's order
        parts = workers.worker_count()
        shares = [
            [(rel, rows[rel], rel in trusted) for rel in order[part::parts]]
            for part in range(parts)
        ]
        self._owner = {rel: (position % parts, rows[rel]) for position, rel in enumerate(order)}
        self._ahead: dict[int, Checked] = {}  # a result read past the directory asked for
        self._streams: workers.Streams[Checked] = workers.fork_streams(shares, checker)

    def take(self, rel: str) -> tuple[int, DirRow | Resolved] | None:
        """What the process checking ``rel`` found (MATCHED with the row, RESOLVED with the
        tree), or None when no process has it or it left it to the walk."""
        owner = self._owner.pop(rel, None)
        if owner is None:
            return None
        part, row = owner
        wanted = rel.split("/")
        while (checked := self._ahead.pop(part, None) or self._streams.next(part)) is not None:
            found, outcome, resolved = checked
            if found != rel:
                if found.split("/") > wanted:  # asked out of order: keep it for its turn
                    self._ahead[part] = checked
                    return None
                continue  # a directory the walk did not reach (gone, or ignored now)
            if outcome == MATCHED:
                return MATCHED, row
            if outcome == RESOLVED and resolved is not None:
                return RESOLVED, resolved
            return None
        return None

    def close(self) -> None:
        """Stop the processes."""
        self._streams.close()
