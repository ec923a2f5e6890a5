"""The local-files resource beyond the shared conformance suite: stat-cache use across calls,
ignored files, keep=hashes, symlink safety, parameters."""

from __future__ import annotations

import os
import shutil
import time
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

import dws
from dws.errors import DwsError, IntegrityError, UsageError
from dws.model.digest import hash_bytes
from dws.model.treediff import walk_tree
from dws.resources.local_files import workers
from dws.resources.local_files.applying import Restorer
from dws.resources.local_files.resource import LocalFilesResource
from dws.resources.local_files.statcache import StatCache, is_racy
from dws.store.fileio import TEMP_PREFIX
from dws.store.trees import store_loader
from helpers.common import manifest, write_files

from .conftest import HashCounter, ResourceFactory


def root_of(resource: LocalFilesResource) -> Path:
    return Path(resource.local_path())


def entries_of(resource: LocalFilesResource, root_id: str) -> list[str]:
    """Every path below a tree read back from the resource's store."""
    return [path for path, _ in walk_tree(store_loader(resource.context.store), root_id)]


# ---- the stat cache through the resource -------------------------------------------------


@pytest.mark.usefixtures("files_are_old")
def test_a_second_status_reads_no_file(
    make_resource: ResourceFactory, hash_counter: HashCounter
) -> None:
    resource = make_resource()
    write_files(root_of(resource), {"a": "1", "d/b": "2"})
    resource.status(None)
    assert hash_counter.names() == ["a", "b"]
    hash_counter.paths.clear()
    again = make_resource()  # a new process would build a new resource object
    again.status(None)
    assert hash_counter.paths == []


@pytest.mark.usefixtures("files_are_old")
def test_a_second_snapshot_stores_no_file(
    make_resource: ResourceFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    resource = make_resource()
    write_files(root_of(resource), {"a": "1", "d/b": "2"})
    store = resource.context.store
    stored: list[str] = []
    real_put_file = store.put_file

    def counting_put_file(path: str, similar_to: str | None = None) -> tuple[str, int]:
        stored.append(os.path.basename(path))
        return real_put_file(path, similar_to)

    monkeypatch.setattr(store, "put_file", counting_put_file)
    first = resource.snapshot(None)
    resource.committed()
    assert sorted(stored) == ["a", "b"]
    stored.clear()
    second = make_resource().snapshot(first)
    assert stored == []
    assert second == first


@pytest.mark.usefixtures("files_are_old")
def test_the_cache_is_not_updated_before_commit(
    make_resource: ResourceFactory, hash_counter: HashCounter
) -> None:
    """Until the record is durable, the cache must not claim the blobs are stored."""
    resource = make_resource()
    write_files(root_of(resource), {"a": "1"})
    resource.snapshot(None)  # no committed(): as if the snapshot died before its record
    cache = StatCache(os.path.join(resource.context.local_dir, "statcache.sqlite"))
    try:
        rows = cache.load(resource.name)
    finally:
        cache.close()
    assert all(row.gen != resource.context.store_generation for row in rows.values())


def test_a_new_directory_appears_whole_and_a_name_taken_meanwhile_stops_the_restore(
    make_resource: ResourceFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A directory the restore creates is renamed into place only when all its files are
    written; if something took its name meanwhile, the restore fails naming where the
    restored content is, and the intruder is left as it was."""
    resource = make_resource()
    root = root_of(resource)
    write_files(root, {"keep": "k", "new/a": "1", "new/sub/b": "2"})
    state = resource.snapshot(None)
    resource.committed()
    shutil.rmtree(root / "new")
    plan = resource.plan_restore(state, [])
    seen_during_writes: list[bool] = []
    real = Restorer._apply_batch

    def writing(self: Restorer, batch: Any, progress: Any, done: int, total: int) -> int:
        done = real(self, batch, progress, done, total)
        seen_during_writes.append((root / "new").exists())
        (root / "new").write_text("someone else's")
        return done

    monkeypatch.setattr(Restorer, "_apply_batch", writing)
    with pytest.raises(DwsError, match=r"cannot restore directory .*new.*restored content is in"):
        resource.apply_restore(plan)
    assert seen_during_writes == [False]  # not there, not even half, until all was written
    assert (root / "new").read_text() == "someone else's"
    (staged,) = [p for p in root.iterdir() if p.name.startswith(TEMP_PREFIX)]
    files = {path: entry for path, entry in manifest(staged).items() if entry[0] == "file"}
    assert files == {"a": ("file", b"1", False), "sub/b": ("file", b"2", False)}


def test_restore_does_not_vouch_for_files_it_just_wrote(make_resource: ResourceFactory) -> None:
    """The scanner never caches a file changed just before the scan (`is_racy`), because on
    filesystems with coarse timestamps a second same-size write would keep the signature.
    Rows the restorer writes into the cache must obey the same rule, else an in-place edit
    right after a restore can be missed by the next status and snapshot."""
    resource = make_resource()
    root = root_of(resource)
    write_files(root, {"a": "v1", "b": "keep"})
    state = resource.snapshot(None)
    resource.committed()
    write_files(root, {"a": "v2"})
    resource.apply_restore(resource.plan_restore(state, []))
    # rows vouch only for files older than the racy window when they were written, which
    # was before now (a slow machine may legitimately keep rows of files written early)
    finished = time.time_ns()
    assert (root / "a").read_bytes() == b"v1"
    cache = StatCache(os.path.join(resource.context.local_dir, "statcache.sqlite"))
    try:
        rows = cache.load(resource.name)
    finally:
        cache.close()
    racy = sorted(path for path, row in rows.items() if is_racy(row, finished))
    assert racy == []


def test_status_keeps_in_memory_only_the_trees_the_store_lacks(
    make_resource: ResourceFactory,
) -> None:
    resource = make_resource()
    root = root_of(resource)
    write_files(root, {"a/x": "1", "b/y": "2", "c/z": "3"})
    state = resource.snapshot(None)
    resource.committed()
    write_files(root, {"b/y": "changed"})
    scan = resource._scan(store_blobs=False)
    assert len(scan.trees) == 2  # b and the root: a and c come from the store
    assert [c.path for c in resource.status(state)] == ["b/y"]


def test_a_snapshot_puts_every_tree_in_the_store_as_it_goes(make_resource: ResourceFactory) -> None:
    resource = make_resource()
    write_files(root_of(resource), {"a/x": "1", "a/b/y": "2", "z": "3"})
    scan = resource._scan(store_blobs=True, put_trees=True)
    assert scan.trees == {}
    store = resource.context.store
    assert store.has(scan.root_id)
    assert sorted(entries_of(resource, scan.root_id)) == ["a", "a/b", "a/b/y", "a/x", "z"]


# ---- ignored files ------------------------------------------------------------------------


def test_restore_leaves_ignored_files_alone(make_resource: ResourceFactory) -> None:
    resource = make_resource()
    root = root_of(resource)
    write_files(root, {".dwsignore": "*.log\nscratch/\n", "a": "1", "d/b": "2"})
    state = resource.snapshot(None)
    write_files(root, {"x.log": "log", "d/y.log": "log", "scratch/z": "z"})
    (root / "d" / "b").unlink()
    write_files(root, {"new": "n"})
    resource.apply_restore(resource.plan_restore(state, [state]))
    after = manifest(root)
    assert after["x.log"][1] == b"log"
    assert after["d/y.log"][1] == b"log"
    assert after["scratch/z"][1] == b"z"
    assert after["d/b"][1] == b"2"
    assert "new" not in after


def test_a_directory_holding_ignored_files_survives_restore(make_resource: ResourceFactory) -> None:
    resource = make_resource()
    root = root_of(resource)
    write_files(root, {".dwsignore": "*.log\n", "a": "1"})
    state = resource.snapshot(None)
    write_files(root, {"d/tracked": "t", "d/kept.log": "log"})
    resource.apply_restore(resource.plan_restore(state, []))
    assert not (root / "d" / "tracked").exists()
    assert (root / "d" / "kept.log").read_bytes() == b"log"


# ---- keep=hashes --------------------------------------------------------------------------


def test_keep_hashes_stores_no_blob(make_resource: ResourceFactory) -> None:
    resource = make_resource(keep="hashes")
    write_files(root_of(resource), {"a": "big data"})
    state = resource.snapshot(None)
    assert state["keep"] == "hashes"
    assert not resource.context.store.has(hash_bytes(b"big data"))
    assert resource.context.store.has(state["tree"])


def test_keep_hashes_restore_verifies_and_touches_nothing(make_resource: ResourceFactory) -> None:
    resource = make_resource(keep="hashes")
    root = root_of(resource)
    write_files(root, {"a": "1", "b": "2"})
    state = resource.snapshot(None)
    assert resource.plan_restore(state, [state]).verify_failures == []
    write_files(root, {"a": "changed", "c": "new"})
    before = manifest(root)
    plan = resource.plan_restore(state, [state])
    assert sorted(plan.verify_failures) == ["a", "c"]
    assert manifest(root) == before


def test_keep_hashes_cannot_export(make_resource: ResourceFactory, tmp_path: Path) -> None:
    resource = make_resource(keep="hashes")
    write_files(root_of(resource), {"a": "1"})
    state = resource.snapshot(None)
    with pytest.raises(UsageError, match="hashes only"):
        resource.export(state, str(tmp_path / "out"))


def test_keep_hashes_read_files_checks_the_working_copy(make_resource: ResourceFactory) -> None:
    resource = make_resource(keep="hashes")
    root = root_of(resource)
    write_files(root, {"metrics.json": '{"acc": 1}'})
    state = resource.snapshot(None)
    assert list(resource.read_files(state, ["metrics.json"])) == [("metrics.json", b'{"acc": 1}')]
    write_files(root, {"metrics.json": '{"acc": 2}'})
    with pytest.raises(IntegrityError, match="changed since it was recorded"):
        list(resource.read_files(state, ["metrics.json"]))
    # the same bytes elsewhere, reached through a link, are not the recorded file
    write_files(root.parent, {"elsewhere.json": '{"acc": 1}'})
    os.unlink(os.path.join(root, "metrics.json"))
    os.symlink(os.path.join(root.parent, "elsewhere.json"), os.path.join(root, "metrics.json"))
    with pytest.raises(IntegrityError, match="symbolic link"):
        list(resource.read_files(state, ["metrics.json"]))


# ---- safety of restore --------------------------------------------------------------------


def test_restore_replaces_a_symlinked_directory_without_writing_through_it(
    make_resource: ResourceFactory, tmp_path: Path
) -> None:
    resource = make_resource()
    root = root_of(resource)
    write_files(root, {"d/f": "recorded"})
    state = resource.snapshot(None)
    outside = tmp_path / "outside"
    write_files(outside, {"f": "outside, must stay"})
    (root / "d" / "f").unlink()
    (root / "d").rmdir()
    os.symlink(outside, root / "d")
    resource.apply_restore(resource.plan_restore(state, []))
    assert (outside / "f").read_bytes() == b"outside, must stay"
    assert not (root / "d").is_symlink()
    assert (root / "d" / "f").read_bytes() == b"recorded"


def test_restore_recreates_a_missing_resource_directory(make_resource: ResourceFactory) -> None:
    resource = make_resource()
    root = root_of(resource)
    write_files(root, {"a": "1"})
    (root / "empty").mkdir()
    state = resource.snapshot(None)
    before = manifest(root)
    for path in sorted(root.rglob("*"), reverse=True):
        path.rmdir() if path.is_dir() else path.unlink()
    root.rmdir()
    resource.apply_restore(resource.plan_restore(state, []))
    assert manifest(root) == before


def test_snapshot_of_a_missing_directory_is_a_usage_error(make_resource: ResourceFactory) -> None:
    resource = make_resource()
    root_of(resource).rmdir()
    with pytest.raises(UsageError, match="missing"):
        resource.snapshot(None)


# ---- parameters ---------------------------------------------------------------------------


def test_prepare_params_records_inside_paths_relative(tmp_path: Path) -> None:
    (tmp_path / "data" / "raw").mkdir(parents=True)
    params = LocalFilesResource.prepare_params("data/raw", str(tmp_path), {})
    assert params == {"path": "data/raw", "keep": "content"}


def test_prepare_params_keeps_outside_paths_absolute(tmp_path: Path) -> None:
    (tmp_path / "ws").mkdir()
    (tmp_path / "big").mkdir()
    params = LocalFilesResource.prepare_params(
        str(tmp_path / "big"), str(tmp_path / "ws"), {"keep": "hashes"}
    )
    assert params == {"path": str(tmp_path / "big"), "keep": "hashes"}


def test_prepare_params_refusals(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(UsageError, match="does not exist"):
        LocalFilesResource.prepare_params("missing", str(tmp_path), {})
    with pytest.raises(UsageError, match="not a directory"):
        LocalFilesResource.prepare_params("file", str(tmp_path), {})
    with pytest.raises(UsageError, match="--keep"):
        LocalFilesResource.prepare_params(".", str(tmp_path), {"keep": "some"})
    params = LocalFilesResource.prepare_params("new", str(tmp_path), {"create": True})
    assert params["path"] == "new"


# ---- restore and ignored files, through the workspace ------------------------------------


def test_restore_fails_whole_or_succeeds_when_ignored_files_block_a_path(
    workspace: dws.Workspace, project: Path
) -> None:
    """v1 has a file ``x``; now ``x`` is a directory that also holds an ignored file, so the
    directory cannot simply be removed. Restore must refuse before touching anything, or
    complete; never stop half-way."""
    features = project / "data" / "features"
    write_files(features, {".dwsignore": "*.log\n", "x": "file x", "a": "kept"})
    workspace.snapshot("v1")
    (features / "x").unlink()
    write_files(features, {"x/tracked": "t", "x/notes.log": "ignored", "b": "new"})
    workspace.snapshot("v2")
    before = manifest(features)
    try:
        workspace.restore("v1", force=True)
    except dws.DwsError:
        assert manifest(features) == before, "a failed restore left a half-restored resource"
    else:
        assert (features / "x").read_bytes() == b"file x"
        assert not (features / "b").exists()


def test_restore_does_not_overwrite_unsaved_work_in_a_now_ignored_file(
    workspace: dws.Workspace, project: Path
) -> None:
    """a.log was recorded in v1; then *.log became ignored and a.log was edited. Restoring
    v1 would overwrite that edit, which no snapshot holds: it must be refused without
    --force, like any other unsaved change."""
    features = project / "data" / "features"
    write_files(features, {"a.log": "recorded"})
    workspace.snapshot("v1")
    write_files(features, {".dwsignore": "*.log\n"})
    workspace.snapshot("v2")
    write_files(features, {"a.log": "precious unsaved work"})
    with pytest.raises(dws.RefusedError):
        workspace.restore("v1")
    assert (features / "a.log").read_bytes() == b"precious unsaved work"


# ---- memory -------------------------------------------------------------------------------


def write_grid(root: Path, dirs: int, files: int) -> None:
    """``dirs`` directories of ``files`` tiny files each."""
    for d in range(dirs):
        directory = root / f"d{d:03d}"
        directory.mkdir()
        for f in range(files):
            (directory / f"f{f:03d}").write_bytes(b"%d-%d" % (d, f))


@pytest.mark.usefixtures("files_are_old")
def test_scanning_memory_does_not_grow_with_the_number_of_files(
    make_resource: ResourceFactory,
) -> None:
    """A scan holds one directory at a time, not the resource: scanning 20,000 files in 200
    directories (first snapshot, status, no-op snapshot) peaks far below the ~20 MiB (about
    1 KiB a file) that listing every file and loading the whole stat cache first took. The
    bound leaves room for one batch of cache rows and the directories on the current path."""
    resource = make_resource(keep="hashes")  # trees stored, blobs not: the scan is the cost
    root = root_of(resource)
    write_grid(root, 200, 100)
    tracemalloc.start()
    try:
        state = resource.snapshot(None)  # reads and caches every file
        resource.committed()
        first = tracemalloc.get_traced_memory()[1]
        tracemalloc.reset_peak()
        assert make_resource(keep="hashes").status(state) == []
        status = tracemalloc.get_traced_memory()[1]
        tracemalloc.reset_peak()
        assert make_resource(keep="hashes").snapshot(state) == state
        again = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert state["files"] == 20_000
    limit = 4 << 20
    assert max(first, status, again) < limit, (first, status, again)


@pytest.mark.usefixtures("files_are_old")
def test_restoring_memory_does_not_grow_with_the_number_of_files(
    make_resource: ResourceFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A restore holds one batch of changes and a bounded set of decoded trees, not the
    plan: restoring 5,000 files in 50 directories into an emptied directory (planning,
    checking, writing, recording the cache rows) peaks at about 1 MiB, where holding
    every change, every decoded tree and every written file's signature took 3.3 MiB.
    Batches of 250 changes and 500 cached tree entries stand for the defaults at a
    million files."""
    monkeypatch.setenv("DWS_RESTORE_BATCH", "250")
    monkeypatch.setenv("DWS_RESTORE_FORK_FROM", "0")  # one process: tracemalloc sees all
    monkeypatch.setattr("dws.model.treediff.CACHED_ENTRIES", 500, raising=False)
    resource = make_resource()
    root = root_of(resource)
    write_grid(root, 50, 100)
    state = resource.snapshot(None)
    resource.committed()
    recorded = manifest(root)
    for directory in root.iterdir():
        shutil.rmtree(directory)
    tracemalloc.start()
    try:
        restoring = make_resource()
        restoring.apply_restore(restoring.plan_restore(state, []))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert manifest(root) == recorded
    assert peak < 2 << 20, peak


def snapshotted(
    resource: LocalFilesResource, dirs: int, files: int
) -> tuple[LocalFilesResource, Path, dict[str, Any]]:
    """``resource`` holding ``dirs`` directories of ``files`` files, snapshotted."""
    root = root_of(resource)
    write_files(root, {f"d{d}/f{f}": f"content {d}-{f}" for d in range(dirs) for f in range(files)})
    state = resource.snapshot(None)
    resource.committed()
    return resource, root, state


def test_restore_records_each_batch_as_it_goes(
    make_resource: ResourceFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each batch is handed over once applied, then forgotten: at most a batch of changes
    each time, and every file written exactly once in all."""
    monkeypatch.setenv("DWS_RESTORE_BATCH", "7")
    resource, root, state = snapshotted(make_resource(), 4, 10)
    shutil.rmtree(root / "d1")
    (root / "d2" / "f3").unlink()
    os.symlink("elsewhere", root / "d2" / "f3")
    handed: list[tuple[list[str], list[str]]] = []
    plan = resource.plan_restore(state, [])
    restorer = Restorer(
        str(root),
        resource.context.store,
        0,
        record=lambda removed, written: handed.append((removed, [w[0] for w in written])),
    )
    restorer.apply(plan.changes, lambda *args: None)
    assert all(len(removed) + len(written) <= 7 for removed, written in handed)
    written = [path for _, paths in handed for path in paths]
    assert sorted(written) == sorted([f"d1/f{f}" for f in range(10)] + ["d2/f3"])
    assert (root / "d2" / "f3").read_text() == "content 2-3"


class WorkerKilled(BaseException):
    """Stands for SIGKILL of a worker process in the middle of a write."""


def test_directories_a_dead_worker_wrote_into_stay_under_temporary_names(
    make_resource: ResourceFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker killed while writing a file into a directory being built (its final name,
    since nothing else is there) leaves that file part way: the restore fails without
    renaming any directory it built into place, and the next restore finishes the job.
    The shares run here, the second one dying as a killed process would (whether this
    test process may fork depends on the threads earlier tests left; forked deaths are
    in test_restore_workers)."""
    monkeypatch.setenv("DWS_RESTORE_FORK_FROM", "1")
    monkeypatch.setenv("DWS_RESTORE_WORKERS", "2")
    monkeypatch.setattr(workers, "can_fork", lambda: True)
    resource, root, state = snapshotted(make_resource(), 2, 5)
    recorded = manifest(root)
    shutil.rmtree(root / "d0")
    shutil.rmtree(root / "d1")
    store_type = type(resource.context.store)
    real = store_type.materialize
    in_second_share = [False]

    def dying(self: Any, oid: str, dest: str, mode: int = 0o644) -> None:
        if in_second_share[0] and dest.endswith("f3"):
            Path(dest).write_bytes(b"part")
            raise WorkerKilled
        real(self, oid, dest, mode)

    def run_shares(shares: list[Any], run: Any) -> list[workers.PartResult]:
        results = [run(shares[0])]
        in_second_share[0] = True
        with pytest.raises(WorkerKilled):
            run(shares[1])
        died = workers.PartResult(error=(1, "a restore worker process died (killed)", []))
        died.died = True
        return [*results, died]

    monkeypatch.setattr(store_type, "materialize", dying)
    monkeypatch.setattr(workers, "run_shares", run_shares)
    with pytest.raises(DwsError, match="worker process died"):
        resource.apply_restore(resource.plan_restore(state, []))
    assert sorted(p.name.startswith(TEMP_PREFIX) for p in root.iterdir()) == [True, True]
    monkeypatch.undo()
    again = make_resource()
    again.apply_restore(again.plan_restore(state, []))
    assert manifest(root) == recorded
