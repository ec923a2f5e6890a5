"""Helpers for local-files unit tests: scanning, counting reads, resources in temp dirs."""

from __future__ import annotations

import os
from collections.abc import Callable
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
from dws.resources.local_files.statcache import StatRow
from dws.store.base import ObjectStore
from dws.store.hashing import hash_file
from dws.store.local import LocalObjectStore
from dws.store.memory import MemoryObjectStore


class CountingStore(MemoryObjectStore):
    """A memory store that records which files were read into it."""

    def __init__(self) -> None:
        super().__init__()
        self.put_files: list[str] = []

    def put_file(self, path: str) -> tuple[str, int]:
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


def scan(
    root: Path,
    cache: dict[str, StatRow] | None = None,
    store: ObjectStore | None = None,
    generation: int = 0,
) -> ScanResult:
    return Scanner(str(root), cache or {}, store=store, generation=generation).scan()


def entries(result: ScanResult) -> dict[str, TreeEntry]:
    """path -> entry of everything a scan recorded."""
    return dict(walk_tree(result.loader(), result.root_id))


def cache_of(result: ScanResult) -> dict[str, StatRow]:
    return dict(result.cache_upserts)


ResourceFactory = Callable[..., LocalFilesResource]


@pytest.fixture
def make_resource(tmp_path: Path) -> ResourceFactory:
    """Build a local-files resource over ``tmp_path/ws/<name>`` with a local object store."""
    workspace = tmp_path / "ws"
    local = workspace / ".dataworkspace" / "local"
    local.mkdir(parents=True, exist_ok=True)
    store = LocalObjectStore.create(str(workspace / ".dataworkspace" / "objects"))

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
