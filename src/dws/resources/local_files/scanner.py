"""Scanning a directory into Merkle trees.

Three passes: walk with ``os.scandir`` (one stat per entry), hash or store only the files
whose stat signature the cache does not vouch for (in parallel threads: BLAKE3 and file I/O
release the GIL), then build the trees bottom-up.
"""

from __future__ import annotations

import os
import stat as stat_module
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from dws.errors import DwsError, UsageError
from dws.model.digest import hash_bytes
from dws.model.progress import Progress, no_progress
from dws.model.tree import Tree, TreeEntry, encode_tree, make_tree
from dws.model.treediff import TreeLoader
from dws.resources.local_files.ignore import IgnoreRules
from dws.resources.local_files.statcache import StatRow, is_racy
from dws.store.base import ObjectStore
from dws.store.fileio import TEMP_PREFIX
from dws.store.hashing import hash_file

READ_ATTEMPTS = 3
WORKERS = max(2, os.cpu_count() or 2)
PARALLEL_FROM = 1 << 20


@dataclass(slots=True)
class _File:
    rel: str
    name: str
    size: int
    mtime_ns: int
    ino: int
    ctime_ns: int
    exec: bool
    oid: str = ""
    gen: int = -1
    fresh: bool = False  # row must be written back to the cache


@dataclass(slots=True)
class _Dir:
    rel: str
    files: list[_File] = field(default_factory=list)
    links: list[tuple[str, str]] = field(default_factory=list)
    subdirs: list[str] = field(default_factory=list)


@dataclass
class ScanResult:
    """The working state of a directory as trees held in memory."""

    root_id: str
    trees: dict[str, bytes]
    files: int
    bytes: int
    cache_upserts: list[tuple[str, StatRow]]
    cache_deletes: list[str]
    warnings: list[str] = field(default_factory=list)
    leftovers: list[str] = field(default_factory=list)

    def loader(self, fallback: TreeLoader | None = None) -> TreeLoader:
        """Load trees from this scan, then from ``fallback``."""
        from dws.model.tree import decode_tree

        parsed: dict[str, Tree] = {}

        def load(oid: str) -> Tree:
            if oid in parsed:
                return parsed[oid]
            data = self.trees.get(oid)
            if data is None:
                if fallback is None:
                    raise KeyError(oid)
                return fallback(oid)
            tree = parsed[oid] = decode_tree(data)
            return tree

        return load


class FileChangingError(DwsError):
    """A file kept changing while dws read it."""


def _signature(st: os.stat_result) -> tuple[int, int, int, int]:
    return st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns


@dataclass
class Walk:
    """Directories found (parents first), warnings, and leftover temporary files of
    interrupted restores (never part of a snapshot)."""

    dirs: list[_Dir]
    warnings: list[str]
    leftovers: list[str]


def walk(root: str, rules: IgnoreRules) -> Walk:
    """List every directory below ``root`` (parents first), skipping ignored paths."""
    dirs: list[_Dir] = []
    warnings: list[str] = []
    leftovers: list[str] = []
    stack = [""]
    while stack:
        rel = stack.pop()
        listing = _Dir(rel)
        dirs.append(listing)
        try:
            entries = list(os.scandir(os.path.join(root, rel) if rel else root))
        except OSError as exc:
            where = os.path.join(root, rel)
            raise DwsError(f"cannot read directory {where}: {exc.strerror}") from None
        for entry in entries:
            name = entry.name
            child = f"{rel}/{name}" if rel else name
            if name.startswith(TEMP_PREFIX):
                leftovers.append(child)
                continue
            st = entry.stat(follow_symlinks=False)
            mode = st.st_mode
            is_dir = stat_module.S_ISDIR(mode)
            if rules.ignored(child, is_dir):
                continue
            _check_utf8(name, rel)
            if is_dir:
                listing.subdirs.append(name)
            elif stat_module.S_ISREG(mode):
                listing.files.append(
                    _File(child, name, *_signature(st), bool(mode & stat_module.S_IXUSR))
                )
            elif stat_module.S_ISLNK(mode):
                target = os.readlink(entry.path)
                _check_utf8(target, child)
                listing.links.append((name, target))
            else:
                warnings.append(f"skipped {child}: not a regular file, directory or symlink")
        stack.extend(f"{rel}/{d}" if rel else d for d in sorted(listing.subdirs, reverse=True))
    return Walk(dirs, warnings, leftovers)


def _check_utf8(name: str, rel: str) -> None:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        shown = name.encode("utf-8", "surrogateescape")
        where = rel or "."
        raise UsageError(
            f"file name {shown!r} in {where} is not valid UTF-8; rename it or list it in .dwsignore"
        ) from None


class Scanner:
    """Scans one directory, reusing a stat cache and optionally storing blobs."""

    def __init__(
        self,
        root: str,
        cache: dict[str, StatRow],
        *,
        store: ObjectStore | None,
        generation: int,
        progress: Progress = no_progress,
    ) -> None:
        self.root = root
        self.cache = cache
        self.store = store
        self.generation = generation
        self.progress = progress

    def scan(self) -> ScanResult:
        """Walk, hash/store what changed, build trees."""
        started_ns = time.time_ns()
        found = walk(self.root, IgnoreRules(self.root))
        files = [f for d in found.dirs for f in d.files]
        pending = [f for f in files if not self._known(f)]
        self._process(pending)
        root_id, trees, total_bytes = self._build_trees(found.dirs)
        upserts, deletes = self._cache_changes(files, started_ns)
        return ScanResult(
            root_id,
            trees,
            len(files),
            total_bytes,
            upserts,
            deletes,
            found.warnings,
            found.leftovers,
        )

    def _known(self, f: _File) -> bool:
        row = self.cache.get(f.rel)
        if row is None or not row.matches(f.size, f.mtime_ns, f.ino, f.ctime_ns):
            return False
        f.oid, f.gen = row.oid, row.gen
        # with a store, the blob must also be known present (else: check it)
        return self.store is None or row.gen == self.generation

    def _process(self, pending: list[_File]) -> None:
        if not pending:
            return
        total = len(pending)
        self.progress("hashing", 0, total)
        work: Callable[[_File], None] = self._store_one if self.store else self._hash_one
        # Small files are cheapest on this thread: with many tiny syscalls, worker threads
        # mostly fight over the GIL (measured: 3x slower). Large files go to a pool, and
        # BLAKE3 itself hashes each of them on several threads.
        large = [f for f in pending if f.size >= PARALLEL_FROM]
        done = 0
        with ThreadPoolExecutor(max_workers=WORKERS) as pool:
            futures = [pool.submit(work, f) for f in large]
            for f in pending:
                if f.size < PARALLEL_FROM:
                    work(f)
                    done += 1
                    if done % 512 == 0:
                        self.progress("hashing", done, total)
            for future in futures:
                future.result()
                done += 1
                self.progress("hashing", done, total)
        self.progress("hashing", total, total)

    def _hash_one(self, f: _File) -> None:
        self._read_stable(f, hash_file)
        f.gen = -1

    def _store_one(self, f: _File) -> None:
        store = self.store
        assert store is not None
        if f.oid and store.has(f.oid):
            f.gen, f.fresh = self.generation, True
            return
        self._read_stable(f, store.put_file)
        f.gen = self.generation

    def _read_stable(self, f: _File, read: Callable[[str], tuple[str, int]]) -> None:
        """Read ``f`` until a stat before and after agree: a torn read is never recorded."""
        path = os.path.join(self.root, f.rel)
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
            f.exec = bool(after.st_mode & stat_module.S_IXUSR)
        raise FileChangingError(f"{path} kept changing while being read; stop the writer and retry")

    def _build_trees(self, dirs: list[_Dir]) -> tuple[str, dict[str, bytes], int]:
        trees: dict[str, bytes] = {}
        sub_ids: dict[str, tuple[str, int]] = {}
        for listing in reversed(dirs):
            entries = [TreeEntry(f.name, "file", f.oid, f.size, f.exec) for f in listing.files]
            for name, target in listing.links:
                encoded = os.fsencode(target)
                entries.append(
                    TreeEntry(name, "symlink", hash_bytes(encoded), len(encoded), target=target)
                )
            total = sum(f.size for f in listing.files)
            for name in listing.subdirs:
                child = f"{listing.rel}/{name}" if listing.rel else name
                oid, size = sub_ids.pop(child)
                entries.append(TreeEntry(name, "dir", oid, size))
                total += size
            data = encode_tree(make_tree(entries))
            oid = hash_bytes(data)
            trees[oid] = data
            sub_ids[listing.rel] = (oid, total)
        root_id, total_bytes = sub_ids[""]
        return root_id, trees, total_bytes

    def _cache_changes(
        self, files: list[_File], started_ns: int
    ) -> tuple[list[tuple[str, StatRow]], list[str]]:
        fresh = [
            (f.rel, StatRow(f.size, f.mtime_ns, f.ino, f.ctime_ns, f.oid, f.gen))
            for f in files
            if f.fresh
        ]
        upserts = [(rel, row) for rel, row in fresh if not is_racy(row, started_ns)]
        seen = {f.rel for f in files}
        racy = {f.rel for f in files if f.fresh} - {path for path, _ in upserts}
        deletes = [path for path in self.cache if path not in seen or path in racy]
        return upserts, deletes
