"""Resource harnesses for the resource conformance suite.

A harness builds a resource of one type in temp dirs and changes its working state the way a
user would. To add a type (git, s3), write a harness class and add one line to
``RESOURCE_KINDS``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from conftest import manifest
from dws.model.records import ResourceSpec
from dws.model.roles import Role
from dws.resources.base import Resource, ResourceContext
from dws.resources.git.resource import GitResource
from dws.resources.local_files.resource import LocalFilesResource
from dws.store.base import ObjectStore
from dws.store.local import LocalObjectStore

GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "Test",
    "GIT_AUTHOR_EMAIL": "test@example.com",
    "GIT_COMMITTER_NAME": "Test",
    "GIT_COMMITTER_EMAIL": "test@example.com",
}


class ResourceHarness(ABC):
    """One resource under test plus the means to change and inspect its working state."""

    resource: Resource
    store: ObjectStore

    @abstractmethod
    def write(self, files: dict[str, bytes]) -> None:
        """Create or overwrite files (parents included) in the working state."""

    @abstractmethod
    def delete(self, path: str) -> None:
        """Remove one file from the working state."""

    @abstractmethod
    def working_manifest(self) -> dict[str, Any]:
        """Everything a snapshot records of the working state, comparable with ``==``."""

    @abstractmethod
    def corrupt(self, oid: str, data: bytes) -> None:
        """Replace a stored object's bytes behind the store's back (disk damage)."""

    @abstractmethod
    def fresh(self) -> Resource:
        """A new resource object over the same data (as a new process would build)."""


class LocalFilesHarness(ResourceHarness):
    """A local-files resource over ``<tmp>/ws/data`` with a loose-object store."""

    def __init__(self, tmp: Path, keep: str) -> None:
        self.workspace = tmp / "ws"
        self.root = self.workspace / "data"
        self.root.mkdir(parents=True)
        local = self.workspace / ".dataworkspace" / "local"
        local.mkdir(parents=True)
        self.store: LocalObjectStore = LocalObjectStore.create(
            str(self.workspace / ".dataworkspace" / "objects")
        )
        self.spec = ResourceSpec(
            "data", "local-files", Role.INTERMEDIATE_DATA, {"path": "data", "keep": keep}
        )
        self.context = ResourceContext(str(self.workspace), str(local), self.store, 0)
        self.resource = self.fresh()

    def fresh(self) -> Resource:
        return LocalFilesResource(self.spec, self.context)

    def corrupt(self, oid: str, data: bytes) -> None:
        path = self.store.path(oid)
        os.chmod(path, 0o644)  # objects are read-only on disk
        with open(path, "wb") as handle:
            handle.write(data)

    def write(self, files: dict[str, bytes]) -> None:
        for rel, data in files.items():
            path = self.root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)

    def delete(self, path: str) -> None:
        target = self.root / path
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        else:
            os.unlink(target)

    def working_manifest(self) -> dict[str, Any]:
        return manifest(self.root)


class GitHarness(LocalFilesHarness):
    """A git resource over a repository at ``<tmp>/ws/data`` whose only commit is empty, so
    every file the suite writes is an uncommitted (untracked) change."""

    def __init__(self, tmp: Path, keep: str) -> None:
        if keep != "content":
            pytest.skip("git resources always keep content")
        super().__init__(tmp, keep)
        env = {**os.environ, **GIT_IDENTITY}
        for args in (["init", "-q"], ["commit", "-q", "--allow-empty", "-m", "empty"]):
            subprocess.run(
                ["git", "-c", "init.defaultBranch=main", "-C", str(self.root), *args],
                check=True,
                env=env,
            )
        self.spec = ResourceSpec("code", "git", Role.CODE, {"path": "data"})
        self.resource = self.fresh()

    def fresh(self) -> Resource:
        return GitResource(self.spec, self.context)

    def working_manifest(self) -> dict[str, Any]:
        found = manifest(self.root)
        return {k: v for k, v in found.items() if k != ".git" and not k.startswith(".git/")}


HarnessFactory = Callable[..., ResourceHarness]

RESOURCE_KINDS = [
    pytest.param(LocalFilesHarness, id="local-files"),
    pytest.param(GitHarness, id="git"),
]


@pytest.fixture(params=RESOURCE_KINDS)
def make_harness(request: pytest.FixtureRequest, tmp_path: Path) -> HarnessFactory:
    """``make_harness(keep="content")`` builds a harness of the parametrised type."""
    kind = request.param
    counter = iter(range(1000))

    def make(keep: str = "content") -> ResourceHarness:
        harness: ResourceHarness = kind(tmp_path / f"h{next(counter)}", keep)
        return harness

    return make


@pytest.fixture
def harness(make_harness: HarnessFactory) -> ResourceHarness:
    """A harness keeping content."""
    return make_harness()
