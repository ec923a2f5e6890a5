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
from typing import Any, ClassVar

import pytest

from dws.model.records import ResourceSpec
from dws.model.roles import Role
from dws.resources.base import Resource, ResourceContext
from dws.resources.git.resource import GitResource
from dws.resources.local_files.resource import LocalFilesResource
from dws.store.base import ObjectStore
from dws.store.loose import LooseObjectStore
from helpers.common import manifest

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

    # tests of the shared suite that cannot apply to this type: test name -> reason
    not_applicable: ClassVar[dict[str, str]] = {}

    @staticmethod
    def fixtures(request: pytest.FixtureRequest) -> dict[str, Any]:
        """Extra constructor arguments taken from other fixtures (a server, say)."""
        return {}


class LocalFilesHarness(ResourceHarness):
    """A local-files resource over ``<tmp>/ws/data`` with a loose-object store."""

    def __init__(self, tmp: Path, keep: str) -> None:
        self.workspace = tmp / "ws"
        self.root = self.workspace / "data"
        self.root.mkdir(parents=True)
        local = self.workspace / ".dataworkspace" / "local"
        local.mkdir(parents=True)
        self.store: LooseObjectStore = LooseObjectStore.create(
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


_BYTES_IN_BUCKET = (
    "the bytes stay in the bucket, not in the store (tests/e2e/s3 covers ETag checks)"
)
_NOTHING_LOST = (
    "a versioned bucket keeps every overwritten version, so restore loses nothing and "
    "nothing is a conflict"
)


class S3Harness(ResourceHarness):
    """An s3 resource over the prefix data/ of a fresh bucket on the tests' SeaweedFS
    (versioned when keeping versions); the workspace store is a loose-object store."""

    not_applicable: ClassVar[dict[str, str]] = {
        "test_status_changes_carry_the_recorded_and_current_entries": (
            "entries identify object versions, not content hashes"
        ),
        "test_unsaved_changes_are_conflicts": _NOTHING_LOST,
        "test_without_a_base_every_overwritten_file_is_a_conflict": _NOTHING_LOST,
        "test_restore_reports_missing_objects_before_touching_anything": (
            "restore copies versions inside the bucket (tests/e2e/s3 removes a version instead)"
        ),
        "test_references_include_every_blob_when_keeping_content": _BYTES_IN_BUCKET,
        "test_references_include_no_blob_when_keeping_hashes": (
            "the manifest's per-key records are small blobs in either mode"
        ),
        "test_read_files_never_returns_corrupt_bytes": _BYTES_IN_BUCKET,
        "test_recorded_view_never_returns_corrupt_bytes": _BYTES_IN_BUCKET,
        "test_export_of_a_corrupt_blob_fails": _BYTES_IN_BUCKET,
        "test_restore_never_writes_a_corrupt_blob": _BYTES_IN_BUCKET,
    }

    @staticmethod
    def fixtures(request: pytest.FixtureRequest) -> dict[str, Any]:
        server = request.getfixturevalue("s3_server")
        monkeypatch: pytest.MonkeyPatch = request.getfixturevalue("monkeypatch")
        for key, value in server.env().items():
            monkeypatch.setenv(key, value)
        return {"server": server}

    def __init__(self, tmp: Path, keep: str, server: Any) -> None:
        from dws.resources.s3.resource import S3Resource

        self._type = S3Resource
        self.client = server.client()
        self.bucket = server.make_bucket(versioned=keep == "content")
        self.prefix = "data/"
        self.workspace = tmp / "ws"
        local = self.workspace / ".dataworkspace" / "local"
        local.mkdir(parents=True)
        self.store = LooseObjectStore.create(str(self.workspace / ".dataworkspace" / "objects"))
        url = f"s3://{self.bucket}/{self.prefix}"
        params = {"url": url, "keep": "versions" if keep == "content" else keep}
        self.spec = ResourceSpec("data", "s3", Role.INTERMEDIATE_DATA, params)
        self.context = ResourceContext(str(self.workspace), str(local), self.store, 0)
        self.resource = self.fresh()

    def fresh(self) -> Resource:
        return self._type(self.spec, self.context)

    def corrupt(self, oid: str, data: bytes) -> None:
        raise NotImplementedError("not applicable to s3 resources")

    def write(self, files: dict[str, bytes]) -> None:
        for rel, data in files.items():
            self.client.put_object(Bucket=self.bucket, Key=self.prefix + rel, Body=data)

    def delete(self, path: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self.prefix + path)

    def working_manifest(self) -> dict[str, Any]:
        """Like ``manifest()`` of a directory holding the current objects as files."""
        out: dict[str, Any] = {}
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self.prefix
        )
        for page in pages:
            for item in page.get("Contents", []):
                body = self.client.get_object(Bucket=self.bucket, Key=item["Key"])["Body"]
                path = item["Key"][len(self.prefix) :]
                out[path] = ("file", body.read(), False)
                parts = path.split("/")
                for depth in range(1, len(parts)):
                    out["/".join(parts[:depth])] = ("dir", None, False)
        return out


_PER_FILE = (
    "a reference names one image: status, plans and diffs say whether it changed, not which files"
)
_NOT_STORED = (
    "the image stays in the tool's local store and its registries; dws's store holds nothing of it"
)
_NOTHING_LOST = (
    "restore re-tags and never removes an image: the one replaced stays in the local store, "
    "so nothing is lost and nothing is a conflict"
)


class ContainerHarness(ResourceHarness):
    """A container resource over ``localhost/conformance:latest`` in a private podman store;
    the working state is the image the reference names, built from the files the suite
    writes (one `podman import` per distinct content; the same content again re-tags the
    image it made before, as a rebuild with a cache would)."""

    not_applicable: ClassVar[dict[str, str]] = {
        "test_status_without_a_base_lists_everything_as_added": _PER_FILE,
        "test_status_lists_exactly_the_changed_paths": _PER_FILE,
        "test_status_changes_carry_the_recorded_and_current_entries": _PER_FILE,
        "test_status_reverting_a_change_is_clean_again": _PER_FILE,
        "test_plan_restore_describes_the_changes": _PER_FILE,
        "test_diff_states": _PER_FILE,
        "test_diff_against_the_working_state": _PER_FILE,
        "test_unsaved_changes_are_conflicts": _NOTHING_LOST,
        "test_without_a_base_every_overwritten_file_is_a_conflict": _NOTHING_LOST,
        "test_restore_reports_missing_objects_before_touching_anything": (
            "the image is not in dws's store (tests/e2e/container removes it from the local "
            "store and the registry instead)"
        ),
        "test_references_include_every_blob_when_keeping_content": _NOT_STORED,
        "test_references_include_no_blob_when_keeping_hashes": _NOT_STORED,
        "test_referenced_objects_suffice_to_restore": _NOT_STORED,
        "test_export_writes_the_recorded_files": _NOT_STORED + " (export: podman save)",
        "test_read_files_returns_recorded_bytes_of_matching_paths": _NOT_STORED,
        "test_read_files_never_returns_corrupt_bytes": _NOT_STORED,
        "test_export_of_a_corrupt_blob_fails": _NOT_STORED,
        "test_restore_never_writes_a_corrupt_blob": _NOT_STORED,
        "test_recorded_view_reads_back_what_was_recorded": (
            _NOT_STORED + " (`dws ls` leaves it out with a note; reading it is NotHereError)"
        ),
        "test_recorded_view_never_returns_corrupt_bytes": _NOT_STORED,
    }
    REF = "localhost/conformance:latest"

    @staticmethod
    def fixtures(request: pytest.FixtureRequest) -> dict[str, Any]:
        from helpers.containers import Podman

        monkeypatch: pytest.MonkeyPatch = request.getfixturevalue("monkeypatch")
        tmp: Path = request.getfixturevalue("tmp_path")
        podman = Podman(tmp / "podman")
        for key, value in podman.env.items():
            monkeypatch.setenv(key, value)
        return {"podman": podman}

    def __init__(self, tmp: Path, keep: str, podman: Any) -> None:
        from dws.resources.container.resource import ContainerResource

        if keep != "content":
            pytest.skip("a container resource records its image by id; it has no keep mode")
        self._type = ContainerResource
        self.podman = podman
        self.files: dict[str, bytes] = {}
        self.images: dict[tuple[tuple[str, bytes], ...], str] = {}
        self.workspace = tmp / "ws"
        local = self.workspace / ".dataworkspace" / "local"
        local.mkdir(parents=True)
        self.store = LooseObjectStore.create(str(self.workspace / ".dataworkspace" / "objects"))
        self.spec = ResourceSpec("env", "container", Role.CODE, {"ref": self.REF})
        self.context = ResourceContext(str(self.workspace), str(local), self.store, 0)
        self.resource = self.fresh()

    def fresh(self) -> Resource:
        return self._type(self.spec, self.context)

    def _build(self) -> None:
        key = tuple(sorted(self.files.items()))
        made = self.images.get(key)
        if made is not None:
            self.podman.run("tag", made, self.REF)
            return
        texts = {path: data.decode("latin-1") for path, data in self.files.items()}
        self.images[key] = self.podman.make_image(self.REF, texts)

    def write(self, files: dict[str, bytes]) -> None:
        self.files.update(files)
        self._build()

    def delete(self, path: str) -> None:
        del self.files[path]
        self._build()

    def corrupt(self, oid: str, data: bytes) -> None:
        raise NotImplementedError("not applicable to container resources")

    def working_manifest(self) -> dict[str, Any]:
        """The image the reference names (its id identifies its content)."""
        found = self.podman.exists(self.REF)
        return {"image": self.podman.image_id(self.REF) if found else None}


HarnessFactory = Callable[..., ResourceHarness]

RESOURCE_KINDS = [
    pytest.param(LocalFilesHarness, id="local-files"),
    pytest.param(GitHarness, id="git"),
    pytest.param(S3Harness, id="s3"),
    pytest.param(ContainerHarness, id="container"),
]


@pytest.fixture(params=RESOURCE_KINDS)
def make_harness(request: pytest.FixtureRequest, tmp_path: Path) -> HarnessFactory:
    """``make_harness(keep="content")`` builds a harness of the parametrised type."""
    kind = request.param
    counter = iter(range(1000))
    reason = kind.not_applicable.get(request.node.originalname)
    if reason is not None:
        pytest.skip(reason)
    extra = kind.fixtures(request)

    def make(keep: str = "content") -> ResourceHarness:
        harness: ResourceHarness = kind(tmp_path / f"h{next(counter)}", keep, **extra)
        return harness

    return make


@pytest.fixture
def harness(make_harness: HarnessFactory) -> ResourceHarness:
    """A harness keeping content."""
    return make_harness()
