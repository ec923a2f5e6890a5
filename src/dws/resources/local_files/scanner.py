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
import marshal
import os
import stat as stat_module
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from blake3 import blake3

from dws.errors import DwsError, UsageError
from dws.model.digest import hash_bytes
from dws.model.progress import Progress, no_progress
from dws.model.tree import TreeEntry, encode_tree, make_tree
from dws.resources.local_files import workers
from dws.resources.local_files.ignore import IgnoreRules
from dws.resources.local_files.scanresult import ScanResult
from dws.resources.local_files.statcache import DirRow, ScanCache, StatRow, is_racy
from dws.store.base import ObjectStore
from dws.store.fileio import TEMP_PREFIX
from dws.store.hashing import hash_file

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


@dataclass(slots=True)
class _File:
    """A file the cache did not vouch for, while it is hashed or stored."""

    name: str
    size: int
    mtime_ns: int
    ino: int
    ctime_ns: int
    exec: bool
    oid: str = ""
    gen: int = -1
    cached: bool = False  # the cache holds a (stale or unproven) row for it
    previous: str = ""  # the content the cache last saw at this path (a hint for the store)
    fresh: bool = False  # its row must be written back to the cache


@dataclass(slots=True)
class _Frame:
    """A directory on the current path: entries done so far, subdirectories still to
    visit (popped from the end), large files still being read."""

    rel: str
    subdirs: list[str]
    entries: list[TreeEntry] = field(default_factory=list)
    bytes: int = 0
    reading: list[tuple[_File, Future[None]]] = field(default_factory=list)
    listing: builtins.bytes = b""  # digest of the listing; empty: no directory row kept
    gen: int = -1  # the lowest generation of its files' rows (see DirRow)
    known: DirRow | None = None  # the cached row that settled it without reading


LISTING_BATCH = 1024
# files under directory rows from which forked processes check them (DWS_SCAN_FORK_FROM)
VERIFY_FROM = 50_000
GIVE_UP_AFTER = 16  # directories a checking process looks at before it may give up
# one entry of a listing: name, st_mode, st_size, st_mtime_ns, st_ino, st_ctime_ns, st_nlink
# (a tuple of ints holds a tenth of what the DirEntry with its stat_result holds)
Listed = tuple[str, int, int, int, int, int, int]


def _list(where: str) -> tuple[list[Listed], bool]:
    """The entries of a directory with their lstat fields, and whether one is a directory.
    An entry that vanishes between the listing and its stat is left out."""
    found: list[Listed] = []
    append = found.append
    has_subdir = False
    with os.scandir(where) as listing:
        for entry in listing:
            try:
                st = entry.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue
            mode = st.st_mode
            if S_ISDIR(mode):
                has_subdir = True
            append(
                (
                    entry.name,
                    mode,
                    st.st_size,
                    st.st_mtime_ns,
                    st.st_ino,
                    st.st_ctime_ns,
                    st.st_nlink,
                )
            )
    return found, has_subdir


def _listing_digest(found: list[Listed], salt: bytes) -> bytes:
    """A digest of every entry's name and stat fields, in listing order."""
    hasher = blake3(salt)
    for start in range(0, len(found), LISTING_BATCH):
        hasher.update(marshal.dumps(found[start : start + LISTING_BATCH]))
    return hasher.digest()


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
        self._verified: dict[str, DirRow] = {}  # directories checked ahead of the walk
        self._salt = b""

    def scan(self) -> ScanResult:
        """Walk, hash/store what changed, build trees (children before parents)."""
        self._started_ns = time.time_ns()
        self._result, self._hashed = ScanResult("", {}, 0, 0), 0
        rules = IgnoreRules(self.root)  # read afresh by every scan
        self._ignore = rules if rules.active else None
        self._salt = b"dws-listing-1\0" + rules.digest
        self._verified = self._verify_in_parallel()
        self._known_dirs = self.cache.cached_dirs()
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
            if self._pool is not None:
                self._pool.shutdown(wait=True, cancel_futures=True)
                self._pool = None
        if self._hashed:
            self.progress("hashing", self._hashed, self._hashed)
        self._result.unreadable.sort()
        return self._result

    # ---- one directory ----------------------------------------------------------------

    def _verify_in_parallel(self) -> dict[str, DirRow]:
        """The directory rows whose listing still matches, checked ahead of the walk by one
        process per core, when the rows cover many files: the ``lstat`` of every entry is
        most of an unchanged scan, and Python does it on one core per process. Empty when
        it is not worth it (few files, one core, a process with threads)."""
        rows = {rel: row for rel, row in self.cache.dir_rows().items() if self._trusted(row)}
        parts = workers.worker_count()
        enough = workers.fork_from("DWS_SCAN_FORK_FROM", VERIFY_FROM)
        if not rows or sum(row.files for row in rows.values()) < enough or parts < 2:
            return {}
        if not workers.can_fork():
            return {}
        shares = workers.split(list(rows.items()), lambda i: i[0], lambda i: i[1].files, parts)
        if len(shares) < 2:  # one directory: the walk lists it anyway, on this process
            return {}
        checked = workers.fork_map(shares, self._verify_share, lambda why: [])
        return {rel: rows[rel] for matched in checked for rel in matched}

    def _verify_share(self, share: list[tuple[str, DirRow]]) -> list[str]:
        """The directories of ``share`` whose listing matches their row. Gives up early when
        most of them changed (a changed directory is listed again by the walk)."""
        matched: list[str] = []
        for checked, (rel, row) in enumerate(share, 1):
            try:
                found, has_subdir = _list(os.path.join(self.root, rel))
            except OSError:
                continue
            if found and not has_subdir and _listing_digest(found, self._salt) == row.listing:
                matched.append(rel)
            elif checked >= GIVE_UP_AFTER and 2 * len(matched) < checked:
                break
        return matched

    def _open(self, rel: str) -> _Frame:
        """List ``rel``; settle the files the cache vouches for, read the others (large
        ones on threads, awaited in ``_close``)."""
        verified = self._verified.pop(rel, None) if self._verified else None
        if verified is not None:  # checked just now by a process of its own
            self._known_dirs.discard(rel)
            self._result.files += verified.files
            return _Frame(rel, [], known=verified)
        where = os.path.join(self.root, rel) if rel else self.root
        try:
            found, has_subdir = _list(where)
        except OSError as exc:
            raise DwsError(f"cannot read directory {where}: {exc.strerror}") from None
        # a directory with subdirectories gets no digest: its tree depends on more
        digest = _listing_digest(found, self._salt) if found and not has_subdir else b""
        if rel in self._known_dirs:
            self._known_dirs.discard(rel)
            known = self.cache.dir_row(rel) if digest else None
            if known is not None and known.listing == digest and self._trusted(known):
                self._result.files += known.files
                return _Frame(rel, [], known=known)
            cached = self.cache.rows(rel)
        else:
            cached = {}
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
        # mostly fight over the GIL (measured: 3x slower). Large files go to a pool, and
        # BLAKE3 itself hashes each of them on several threads.
        work: Callable[[str, _File], None] = self._store_one if self.store else self._hash_one
        prefix = os.path.join(self.root, frame.rel) if frame.rel else self.root
        for f in files:
            path = os.path.join(prefix, f.name)
            if f.size >= PARALLEL_FROM:
                if self._pool is None:
                    self._pool = ThreadPoolExecutor(max_workers=WORKERS)
                frame.reading.append((f, self._pool.submit(work, path, f)))
                continue
            work(path, f)
            self._settle(frame, f)

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
        data = encode_tree(make_tree(frame.entries))
        oid = hash_bytes(data)
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
            files = sum(1 for entry in frame.entries if entry.kind == "file")
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
            signature = _signature(after)
            if signature == expected and size == after.st_size:
                f.oid, f.fresh = oid, True
                return
            expected = signature
            f.size, f.mtime_ns, f.ino, f.ctime_ns = signature
            f.exec = bool(after.st_mode & S_IXUSR)
        raise FileChangingError(f"{path} kept changing while being read; stop the writer and retry")
