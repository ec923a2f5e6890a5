"""Helpers for local-files unit tests: scanning, counting reads, resources in temp dirs."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path

import pytest

from dws.model.records import ResourceSpec
from dws.model.roles import Role
from dws.model.tree import TreeEntry
from dws.model.treediff import walk_tree
from dws.resources.base import ResourceContext
from dws.resources.local_files import scanner as scanner_module
from dws.resources.local_files.resource import LocalFilesResource
from dws.resources.local_files.scanner import Scanner, ScanResult
from dws.resources.local_files.statcache import DirRow, StatRow, split_path
from dws.store.base import ObjectStore
from dws.store.hashing import hash_file
from dws.store.loose import LooseObjectStore
from dws.store.memory import MemoryObjectStore


class CountingStore(MemoryObjectStore):
    """A memory store that records which files were read into it."""

    def __init__(self) -> None:
        super().__init__()
        self.put_files: list[str] = []

    def put_file(self, path: str, similar_to: str | None = None) -> tuple[str, int]:
        self.put_files.append(path)
        return super().put_file(path)


class HashCounter:
    """Wraps the scanner's hash function and records every path it reads."""

    def __init__(self) -> None:
        self.paths: list[str] = []
        self.real = hash_file

    def __call__(self, path: str) -> tuple[str, int]:
        self.paths.append(path)
        return self.real(path)

    def names(self) -> list[str]:
        return sorted(os.path.basename(p) for p in self.paths)


@pytest.fixture
def hash_counter(monkeypatch: pytest.MonkeyPatch) -> HashCounter:
    """Count the files the scanner hashes (the scanner calls its own ``hash_file`` name)."""
    counter = HashCounter()
    monkeypatch.setattr(scanner_module, "hash_file", counter)
    return counter


@pytest.fixture
def files_are_old(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let the stat cache vouch for files written moments ago (no racy-timestamp window),
    so tests need not sleep."""
    monkeypatch.setattr(scanner_module, "is_racy", lambda row, seen_at_ns: False)


class MemoryCache:
    """A stat cache over a {path: row} dict (the ScanCache protocol) that records what a
    scan changed: ``upserts`` and ``deletes`` by path, directories whose rows it read."""

    def __init__(self, rows: dict[str, StatRow] | None = None) -> None:
        self.by_path = dict(rows or {})
        self.upserts: dict[str, StatRow] = {}
        self.deletes: list[str] = []
        self.read_dirs: list[str] = []
        self.by_dir: dict[str, DirRow] = {}

    @staticmethod
    def _join(directory: str, name: str) -> str:
        return f"{directory}/{name}" if directory else name

    def cached_dirs(self) -> set[str]:
        return {split_path(path)[0] for path in self.by_path}

    def rows(self, directory: str) -> dict[str, StatRow]:
        self.read_dirs.append(directory)
        return {
            split_path(path)[1]: row
            for path, row in self.by_path.items()
            if split_path(path)[0] == directory
        }

    def upsert(self, directory: str, name: str, row: StatRow) -> None:
        self.upserts[self._join(directory, name)] = row

    def delete(self, directory: str, names: Iterable[str]) -> None:
        self.deletes.extend(self._join(directory, name) for name in names)

    def drop_dirs(self, directories: Iterable[str]) -> None:
        gone = set(directories)
        self.deletes.extend(sorted(p for p in self.by_path if split_path(p)[0] in gone))

    def dir_row(self, directory: str) -> DirRow | None:
        return self.by_dir.get(directory)

    def dir_rows(self) -> dict[str, DirRow]:
        return dict(self.by_dir)

    def put_dir(self, directory: str, row: DirRow) -> None:
        self.by_dir[directory] = row

    def flush(self) -> None:
        pass

    def reopened(self) -> MemoryCache:
        return self  # a forked process reads its own copy


def scan_cached(
    root: Path,
    cache: dict[str, StatRow] | None = None,
    store: ObjectStore | None = None,
    generation: int = 0,
) -> tuple[ScanResult, MemoryCache]:
    """Scan with a stat cache holding ``cache``; also return what the scan changed."""
    memory = MemoryCache(cache)
    return Scanner(str(root), memory, store=store, generation=generation).scan(), memory


def scan(
    root: Path,
    cache: dict[str, StatRow] | None = None,
    store: ObjectStore | None = None,
    generation: int = 0,
) -> ScanResult:
    return scan_cached(root, cache, store, generation)[0]


def entries(result: ScanResult) -> dict[str, TreeEntry]:
    """path -> entry of everything a scan recorded."""
    return dict(walk_tree(result.loader(), result.root_id))


ResourceFactory = Callable[..., LocalFilesResource]


@pytest.fixture
def make_resource(tmp_path: Path) -> ResourceFactory:
    """Build a local-files resource over ``tmp_path/ws/<name>`` with a local object store."""
    workspace = tmp_path / "ws"
    local = workspace / ".dataworkspace" / "local"
    local.mkdir(parents=True, exist_ok=True)
    store = LooseObjectStore.create(str(workspace / ".dataworkspace" / "objects"))

    def make(
        name: str = "data",
        role: Role = Role.INTERMEDIATE_DATA,
        keep: str = "content",
        generation: int = 0,
    ) -> LocalFilesResource:
        (workspace / name).mkdir(exist_ok=True)
        spec = ResourceSpec(name, "local-files", role, {"path": name, "keep": keep})
        context = ResourceContext(str(workspace), str(local), store, generation)
        return LocalFilesResource(spec, context)

    return make
