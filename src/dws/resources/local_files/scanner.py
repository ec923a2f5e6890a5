"""Scanning a directory into Merkle trees, one directory at a time.

The walk is depth first and builds each directory's tree as soon as its subdirectories
are done (children before parents). For each directory it lists the entries (one stat
each). A directory without subdirectories whose listing digest (names and stat signatures
of every entry) equals its cached one is done at that: its tree is the cached one. Any other
directory reads the stat-cache rows of just that directory, hashes or stores only the files
the cache does not vouch for, and hands the cache changes to the cache in batches. Memory
therefore holds one directory's listing, the entries of the directories on the current
path, and the trees a caller asked to keep, never the whole resource.
"""

from __future__ import annotations

import builtins
import os
import stat as stat_module
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from msgspec import Struct, field

from dws.errors import DwsError, UsageError
from dws.model.digest import hash_bytes
from dws.model.progress import Progress, no_progress
from dws.model.tree import TreeEntry, encode_tree, make_tree
from dws.resources.local_files import workers
from dws.resources.local_files.dirchecks import MATCHED, DirChecker, DirChecks, Resolved
from dws.resources.local_files.dirchecks import PendingFile as _File
from dws.resources.local_files.ignore import IgnoreRules
from dws.resources.local_files.listing import (
    CAN_LIST_IN_PARTS,
    Listed,
    batches_digest,
    list_directory,
    list_in_parts,
    listing_digest,
)
from dws.resources.local_files.scanresult import ScanResult
from dws.resources.local_files.sharedreads import SMALL_FILE as SHARED_SIZE
from dws.resources.local_files.sharedreads import SharedReads, shared_from
from dws.resources.local_files.statcache import DirRow, ScanCache, StatRow, is_racy
from dws.store.base import ObjectStore
from dws.store.fileio import TEMP_PREFIX
from dws.store.hashing import hash_file

if TYPE_CHECKING:
    from concurrent.futures import ThreadPoolExecutor

__all__ = ["FileChangingError", "ScanResult", "Scanner", "refuse_unreadable"]

READ_ATTEMPTS = 3
WORKERS = max(2, os.cpu_count() or 2)
PARALLEL_FROM = 1 << 20
PROGRESS_EVERY = 512
S_ISDIR, S_ISREG, S_ISLNK, S_IXUSR = (
    stat_module.S_ISDIR,
    stat_module.S_ISREG,
    stat_module.S_ISLNK,
    stat_module.S_IXUSR,
)


class _Reading(Protocol):
    """A large file being read on the pool (a ``Future``, named so without importing
    ``concurrent.futures``, which a scan of small files never needs)."""

    def result(self, timeout: float | None = None) -> None: ...


class _Frame(Struct):
    """A directory on the current path: entries done so far, subdirectories still to
    visit (popped from the end), large files still being read."""

    rel: str
    subdirs: list[str]
    entries: list[TreeEntry] = field(default_factory=list)
    bytes: int = 0
    reading: list[tuple[_File, _Reading]] = field(default_factory=list)
    listing: builtins.bytes = b""  # digest of the listing; empty: no directory row kept
    gen: int = -1  # the lowest generation of its files' rows (see DirRow)
    known: DirRow | None = None  # the cached row that settled it without reading
    built: tuple[builtins.bytes, str, int] | None = None  # its tree, id and file count


# files under directory rows from which forked processes check them (DWS_SCAN_FORK_FROM)
VERIFY_FROM = 50_000
# files in one directory from which its lstat pass is shared out (DWS_SCAN_SPLIT_FROM)
SPLIT_FROM = 20_000


class FileChangingError(DwsError):
    """A file kept changing while dws read it."""


def _signature(st: os.stat_result) -> tuple[int, int, int, int]:
    return st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns


def _escaped(name: str) -> str | None:
    """``name`` with its undecodable bytes spelled ``\\xNN``, or None when it is UTF-8."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return None


def refuse_unreadable(names: list[str], owner: str) -> None:
    """Refuse to record a scan that left out names that are not UTF-8 (``owner`` says
    whose: "resource 'raw'", a directory)."""
    if not names:
        return
    shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
    raise UsageError(
        f"{owner}: {len(names)} file name(s) not valid UTF-8 ({shown}); rename them or list "
        "them in .dwsignore (`dws status` lists them all)"
    )


class Scanner:
    """Scans one directory, reusing a stat cache and optionally storing blobs and trees.

    ``store``: where blobs go (None: only hash). ``tree_store``: with ``put_trees`` every
    tree is put there as soon as it is built (a snapshot); without, only trees it lacks are
    kept in the result (status, diff, restore planning); None keeps every tree."""

    def __init__(
        self,
        root: str,
        cache: ScanCache,
        *,
        store: ObjectStore | None,
        generation: int,
        progress: Progress = no_progress,
        tree_store: ObjectStore | None = None,
        put_trees: bool = False,
    ) -> None:
        self.root = root
        self.cache = cache
        self.store = store
        self.generation = generation
        self.progress = progress
        self.tree_store = tree_store
        self.put_trees = put_trees and tree_store is not None
        self._ignore: IgnoreRules | None = None
        self._known_dirs: set[str] = set()
        self._started_ns = 0
        self._pool: ThreadPoolExecutor | None = None
        self._hashed = 0
        self._result = ScanResult("", {}, 0, 0)
        self._checks: DirChecks | None = None  # directories checked by other processes
        self._split: set[str] = set()  # directories listed by several processes
        self._salt = b""
        self._shared_from = shared_from()  # files to read in one directory to share them out

    def scan(self) -> ScanResult:
        """Walk, hash/store what changed, build trees (children before parents)."""
        self._started_ns = time.time_ns()
        self._result, self._hashed = ScanResult("", {}, 0, 0), 0
        rules = IgnoreRules(self.root)  # read afresh by every scan
        self._ignore = rules if rules.active else None
        self._salt = b"dws-listing-2\0" + rules.digest  # 2: marshal format 2
        self._known_dirs = self.cache.cached_dirs()
        rows = self.cache.dir_rows()
        self._split = self._split_dirs(rows)
        self._checks = self._start_checks(
            {r: row for r, row in rows.items() if r not in self._split}
        )
        try:
            stack = [self._open("")]
            while stack:
                frame = stack[-1]
                if frame.subdirs:
                    name = frame.subdirs.pop()
                    stack.append(self._open(f"{frame.rel}/{name}" if frame.rel else name))
                    continue
                stack.pop()
                oid, size = self._close(frame)
                if stack:
                    name = frame.rel.rpartition("/")[2]
                    stack[-1].entries.append(TreeEntry(name, "dir", oid, size))
                    stack[-1].bytes += size
                else:
                    self._result.root_id, self._result.bytes = oid, size
            self.cache.drop_dirs(sorted(self._known_dirs))  # gone, or ignored now
            self.cache.flush()
        finally:
            if self._checks is not None:
                self._checks.close()
                self._checks = None
            if self._pool is not None:
                self._pool.shutdown(wait=True, cancel_futures=True)
                self._pool = None
        if self._hashed:
            self.progress("hashing", self._hashed, self._hashed)
        self._result.unreadable.sort()
        return self._result

    # ---- one directory ----------------------------------------------------------------

    def _split_dirs(self, rows: dict[str, DirRow]) -> set[str]:
        """The directories so large that their own ``lstat`` pass is shared out over
        several processes (one flat directory of images): by their row's file count."""
        if not CAN_LIST_IN_PARTS or workers.worker_count() < 2:
            return set()
        large = workers.fork_from("DWS_SCAN_SPLIT_FROM", SPLIT_FROM)
        return {rel for rel, row in rows.items() if row.files >= large}

    def _start_checks(self, rows: dict[str, DirRow]) -> DirChecks | None:
        """Processes checking the directories that have rows as the walk goes (see
        ``dirchecks``), when the rows cover many files: listing and comparing every entry
        is most of a scan, and Python does it on one core per process. None when it is not
        worth it (few files, one directory, one core, a process with threads)."""
        enough = workers.fork_from("DWS_SCAN_FORK_FROM", VERIFY_FROM)
        if len(rows) < 2 or sum(row.files for row in rows.values()) < enough:
            return None
        if workers.worker_count() < 2 or not workers.can_fork():
            return None
        trusted = {rel for rel, row in rows.items() if self._trusted(row)}
        checker = DirChecker(
            self.root,
            self.cache,
            self._salt,
            self._ignore,
            self.generation,
            store=self.store,
        )
        try:
            return DirChecks(rows, checker, trusted)
        except OSError:  # no process to spare (EAGAIN, ENOMEM, EMFILE): the walk does all
            return None

    def _open(self, rel: str) -> _Frame:
        """List ``rel``; settle the files the cache vouches for, read the others (large
        ones on threads, awaited in ``_close``)."""
        checked = self._checks.take(rel) if self._checks is not None else None
        if checked is not None:  # checked just now by a process of its own
            outcome, found_there = checked
            if outcome == MATCHED and isinstance(found_there, DirRow):
                self._known_dirs.discard(rel)
                self._result.files += found_there.files
                return _Frame(rel, [], known=found_there)
            if isinstance(found_there, Resolved) and (frame := self._resolved(rel, found_there)):
                return frame
        where = os.path.join(self.root, rel) if rel else self.root
        try:
            found, digest = self._list(rel, where)
        except OSError as exc:
            raise DwsError(f"cannot read directory {where}: {exc.strerror}") from None
        if rel in self._known_dirs:
            self._known_dirs.discard(rel)
            known = self.cache.dir_row(rel) if digest else None
            if known is not None and known.listing == digest and self._trusted(known):
                self._result.files += known.files
                return _Frame(rel, [], known=known)
            cached = self.cache.rows(rel)
        else:
            cached = {}
        if callable(found):
            found = found()
        frame = _Frame(rel, [], listing=digest, gen=self.generation)
        prefix = f"{rel}/" if rel else ""
        rules = self._ignore
        trusted_gen = self.generation if self.store is not None else None
        entries, unknown = frame.entries, []
        seen: set[str] = set()
        for name, mode, size, mtime_ns, ino, ctime_ns, nlink in found:
            if name.startswith(TEMP_PREFIX):
                self._result.leftovers.append(prefix + name)
                frame.listing = b""
                continue
            if rules is not None and rules.ignored(prefix + name, S_ISDIR(mode)):
                continue
            if not name.isascii() and (shown := _escaped(name)) is not None:
                self._result.unreadable.append(prefix + shown)  # left out of the tree
                frame.listing = b""
                continue
            if S_ISREG(mode):
                seen.add(name)
                signature = (size, mtime_ns, ino, ctime_ns)
                executable = bool(mode & S_IXUSR)
                row = cached.get(name)
                if row is None:
                    unknown.append(_File(name, *signature, executable))
                elif row[:4] != signature:
                    if nlink > 1 and row.ino == ino:
                        self._check_link(prefix + name, row.oid)
                    unknown.append(
                        _File(name, *signature, executable, cached=True, previous=row.oid)
                    )
                elif trusted_gen is None or row.gen == trusted_gen:
                    entries.append(TreeEntry(name, "file", row.oid, row.size, executable))
                    frame.bytes += row.size
                    if row.gen < frame.gen:
                        frame.gen = row.gen
                else:  # content known, blob not known stored
                    unknown.append(_File(name, *signature, executable, row.oid, row.gen, True))
            elif S_ISDIR(mode):
                frame.subdirs.append(name)
            elif S_ISLNK(mode):
                link = self._link(os.path.join(where, name), name, prefix + name)
                if link is not None:
                    entries.append(link)
                else:
                    frame.listing = b""
            else:
                self._result.warnings.append(
                    f"skipped {prefix}{name}: not a regular file, directory or symlink"
                )
                frame.listing = b""
        self._result.files += len(seen)
        frame.subdirs.sort(reverse=True)
        if cached:
            self.cache.delete(rel, [name for name in cached if name not in seen])
        self._read(frame, unknown)
        return frame

    def _list(
        self, rel: str, where: str
    ) -> tuple[list[Listed] | Callable[[], list[Listed]], bytes]:
        """The entries of ``where`` (or, listed by several processes, how to decode them)
        and the digest of its listing: empty for a directory with subdirectories, whose
        tree depends on more."""
        if rel in self._split and workers.can_fork():
            listed = list_in_parts(where, workers.worker_count())
            if listed is not None:
                whole = bool(listed.batches) and not listed.has_subdir
                return listed.found, batches_digest(listed.batches, self._salt) if whole else b""
        found, has_subdir = list_directory(where)
        return found, listing_digest(found, self._salt) if found and not has_subdir else b""

    def _resolved(self, rel: str, resolved: Resolved) -> _Frame | None:
        """Take a directory's tree as a checking process built it, storing (or vouching
        for) the files its rows did not: the entries of those it read whole as they are,
        the others read again here; None when one of those no longer reads the same (the
        walk then lists the directory itself)."""
        prefix = os.path.join(self.root, rel) if rel else self.root
        for f in resolved.unsettled:
            if f.linked:
                self._check_link(f"{rel}/{f.name}" if rel else f.name, f.previous)
            if self.store is None:
                f.fresh = f.gen < 0  # hashed there; a known row stays as it is
                continue
            if f.read_there:  # its bytes came along (or the store had them there)
                entry, f.entry = f.entry, None
                if self._take(f, f.oid, entry):
                    continue
            checked = (f.oid, f.size, f.mtime_ns, f.ino, f.ctime_ns, f.exec)
            if f.gen < 0:
                f.oid = ""  # new content: stored now
            try:
                self._store_one(os.path.join(prefix, f.name), f)
            except (DwsError, OSError):
                return None  # gone or unreadable since: the walk sees it as it is now
            if (f.oid, f.size, f.mtime_ns, f.ino, f.ctime_ns, f.exec) != checked:
                return None  # changed since the check
        self._known_dirs.discard(rel)
        data, tree_id, count = resolved.tree, resolved.tree_id, resolved.files
        frame = _Frame(rel, [], listing=resolved.listing, gen=resolved.gen)
        frame.built = (data, tree_id, count)
        if resolved.gone:
            self.cache.delete(rel, resolved.gone)
        for f in resolved.unsettled:
            self._settle(frame, f)
        frame.bytes = resolved.bytes
        self._result.files += count
        return frame

    def _check_link(self, rel: str, oid: str) -> None:
        """A file changed in place that may be a hard link to its old store object
        (restore --link hardlink): that object then changed with it. It is dropped (a
        pull can bring it back), and the scan says so."""
        store = self.store or self.tree_store
        try:
            st = os.lstat(os.path.join(self.root, rel))  # rare: a multiply linked, changed file
        except FileNotFoundError:
            return
        if store is not None and store.release_link(oid, st):
            self._result.warnings.append(
                f"{rel} was changed in place while hard-linked to the object store: the "
                f"stored copy of its earlier version ({oid[:12]}) changed with it and was "
                "dropped; snapshots holding that version cannot restore it unless a remote "
                "has it (`dws fsck` lists them, `dws pull --all` fetches it back)"
            )

    def _link(self, path: str, name: str, rel: str) -> TreeEntry | None:
        target = os.readlink(path)
        if not target.isascii() and (shown := _escaped(target)) is not None:
            self._result.unreadable.append(f"{rel} -> {shown}")  # left out of the tree
            return None
        encoded = os.fsencode(target)
        return TreeEntry(name, "symlink", hash_bytes(encoded), len(encoded), target=target)

    def _read(self, frame: _Frame, files: list[_File]) -> None:
        # Small files are cheapest on this thread: with many tiny syscalls, worker threads
        # mostly fight over the GIL (measured: 3x slower). Many of them in one directory go
        # to forked processes (``sharedreads``). Large files go to a pool, and BLAKE3
        # itself hashes each of them on several threads.
        work: Callable[[str, _File], None] = self._store_one if self.store else self._hash_one
        prefix = os.path.join(self.root, frame.rel) if frame.rel else self.root
        if len(files) >= self._shared_from:
            files = self._read_shared(frame, prefix, files, work)
        for f in files:
            path = os.path.join(prefix, f.name)
            if f.size >= PARALLEL_FROM:
                if self._pool is None:
                    from concurrent.futures import ThreadPoolExecutor  # (imports logging)

                    self._pool = ThreadPoolExecutor(max_workers=WORKERS)
                frame.reading.append((f, self._pool.submit(work, path, f)))
                continue
            work(path, f)
            self._settle(frame, f)

    def _read_shared(
        self, frame: _Frame, prefix: str, files: list[_File], work: Callable[[str, _File], None]
    ) -> list[_File]:
        """Read the directory's new small files on forked processes, when there are enough
        of them and processes can be made; return the files left to read here."""
        small: list[_File] = []
        rest: list[_File] = []
        for f in files:  # new content only: a known id may need no reading at all
            (small if not f.oid and f.size <= SHARED_SIZE else rest).append(f)
        if len(small) < self._shared_from:
            return files
        if self._pool is not None:  # its idle threads forbid a fork: let it finish first
            self._pool.shutdown(wait=True)  # (what it read is awaited as before)
            self._pool = None
        if not workers.can_fork():
            return files
        try:
            reads = SharedReads(prefix, small, self.store, workers.worker_count())
        except OSError:  # no process to spare (EAGAIN, ENOMEM, EMFILE): all read here
            return files
        try:
            for f, read in reads:
                if read is None or not self._take(f, *read):
                    work(os.path.join(prefix, f.name), f)  # left to the walk: read it here
                self._settle(frame, f)
        finally:
            reads.close()
        return rest

    def _take(self, f: _File, oid: str, entry: bytes | None) -> bool:
        """Record a file another process read: store its entry, or check the store holds
        it (None: the store had it there). False when it does not (the walk reads it)."""
        if self.store is None:
            f.oid, f.fresh, f.gen = oid, True, -1
            return True
        if entry is not None:
            self.store.put_entry(oid, entry)
        elif not self.store.has_entry(oid):
            return False
        f.oid, f.fresh, f.gen = oid, True, self.generation
        return True

    def _settle(self, frame: _Frame, f: _File) -> None:
        """Record a file that was read: its tree entry, and its cache row unless it is too
        young to vouch for (then any old row goes)."""
        frame.entries.append(TreeEntry(f.name, "file", f.oid, f.size, f.exec))
        frame.bytes += f.size
        if f.gen < frame.gen:
            frame.gen = f.gen
        if f.fresh:
            row = StatRow(f.size, f.mtime_ns, f.ino, f.ctime_ns, f.oid, f.gen)
            if not is_racy(row, self._started_ns):
                self.cache.upsert(frame.rel, f.name, row)
            else:
                frame.listing = b""  # too young to vouch for: so is its directory
                if f.cached:
                    self.cache.delete(frame.rel, [f.name])
        self._hashed += 1
        if self._hashed % PROGRESS_EVERY == 0:
            self.progress("hashing", self._hashed, None)

    def _trusted(self, row: DirRow) -> bool:
        """Whether a directory row whose listing matches may stand for the directory: its
        blobs (and tree) known stored when this scan stores, its tree at hand otherwise."""
        if self.store is not None or self.put_trees:
            return row.gen == self.generation
        if self.tree_store is None:
            return False  # the caller keeps every tree: it needs the bytes
        return row.gen == self.generation or self.tree_store.has(row.tree)

    def _close(self, frame: _Frame) -> tuple[str, int]:
        """Await the directory's large files, then build, encode and hand on its tree."""
        if frame.known is not None:
            return frame.known.tree, frame.known.bytes
        for f, future in frame.reading:
            future.result()
            self._settle(frame, f)
        if frame.built is not None:
            data, oid, files = frame.built
        else:
            data = encode_tree(make_tree(frame.entries))
            oid = hash_bytes(data)
            files = sum(1 for entry in frame.entries if entry.kind == "file")
        stored = True
        if self.tree_store is None:
            self._result.trees[oid] = data
            stored = False
        elif self.put_trees:
            self.tree_store.put_bytes(data)
        elif not self.tree_store.has(oid):
            self._result.trees[oid] = data
            stored = False
        if frame.listing:
            gen = frame.gen if stored and frame.gen == self.generation else -1
            self.cache.put_dir(frame.rel, DirRow(frame.listing, oid, files, frame.bytes, gen))
        return oid, frame.bytes

    # ---- reading one file -------------------------------------------------------------

    def _hash_one(self, path: str, f: _File) -> None:
        self._read_stable(path, f, hash_file)
        f.gen = -1

    def _store_one(self, path: str, f: _File) -> None:
        store = self.store
        assert store is not None
        if f.oid and store.has(f.oid):
            f.gen, f.fresh = self.generation, True
            return
        if f.previous:  # a new version: the store may keep both as shared chunks
            self._read_stable(path, f, lambda p: store.put_file(p, f.previous))
        else:
            self._read_stable(path, f, store.put_file)
        f.gen = self.generation

    def _read_stable(self, path: str, f: _File, read: Callable[[str], tuple[str, int]]) -> None:
        """Read ``f`` until a stat before and after agree: a torn read is never recorded."""
        expected = (f.size, f.mtime_ns, f.ino, f.ctime_ns)
        for _ in range(READ_ATTEMPTS):
            try:
                oid, size = read(path)
                after = os.stat(path, follow_symlinks=False)
            except FileNotFoundError:
                raise FileChangingError(
                    f"{path} disappeared while being snapshotted; run the command again"
                ) from None
            except PermissionError:
                raise DwsError(f"cannot read {path}: permission denied") from None
            if not S_ISREG(after.st_mode):  # a FIFO or a link in its place since the listing
                raise FileChangingError(
                    f"{path} is no longer a regular file; run the command again"
                )
            signature = _signature(after)
            if signature == expected and size == after.st_size:
                f.oid, f.fresh = oid, True
                return
            expected = signature
            f.size, f.mtime_ns, f.ino, f.ctime_ns = signature
            f.exec = bool(after.st_mode & S_IXUSR)
        raise FileChangingError(f"{path} kept changing while being read; stop the writer and retry")
