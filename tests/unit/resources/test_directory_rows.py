"""Directory rows of the stat cache: an unchanged directory without subdirectories is settled
by the digest of its listing alone, and anything that could change its tree makes it read
again (a changed, added or removed file, new ignore rules, a gc, a racy timestamp)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from dws.model.treediff import walk_tree
from dws.resources.local_files import scanner as scanner_module
from dws.resources.local_files import workers
from dws.resources.local_files.resource import LocalFilesResource
from dws.resources.local_files.scanner import Scanner
from dws.resources.local_files.statcache import DirRow, StatCache
from dws.store.trees import store_loader
from helpers.common import write_files

from .conftest import HashCounter, MemoryCache, ResourceFactory

TREE = {"imgs/a.bin": "a", "imgs/b.bin": "bb", "imgs/c.bin": "ccc", "top.txt": "t", "sub/x": "x"}


def root_of(resource: LocalFilesResource) -> Path:
    return Path(resource.local_path())


def dir_rows(resource: LocalFilesResource) -> dict[str, tuple[str, int]]:
    """directory -> (tree id, generation) of the committed directory rows."""
    cache = StatCache(os.path.join(resource.context.local_dir, "statcache.sqlite"))
    try:
        query = "SELECT dir, tree, gen FROM dir_stat WHERE resource=?"
        return {d: (t, g) for d, t, g in cache._db.execute(query, (resource.name,))}
    finally:
        cache.close()


class RowReads:
    """Counts the directories whose file rows a scan reads."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.dirs: list[str] = []
        real = StatCache.rows

        def rows(cache: StatCache, resource: str, directory: str) -> object:
            self.dirs.append(directory)
            return real(cache, resource, directory)

        monkeypatch.setattr(StatCache, "rows", rows)


@pytest.fixture
def row_reads(monkeypatch: pytest.MonkeyPatch) -> RowReads:
    return RowReads(monkeypatch)


def snapshot(make_resource: ResourceFactory, generation: int = 0) -> str:
    resource = make_resource(generation=generation)
    state = resource.snapshot(None)
    resource.committed()
    tree = state["tree"]
    assert isinstance(tree, str)
    return tree


def paths(resource: LocalFilesResource, tree: str) -> dict[str, str]:
    loader = store_loader(resource.context.store)
    return {path: entry.id for path, entry in walk_tree(loader, tree) if entry.kind == "file"}


@pytest.mark.usefixtures("files_are_old")
def test_an_unchanged_leaf_directory_reads_neither_files_nor_rows(
    make_resource: ResourceFactory, hash_counter: HashCounter, row_reads: RowReads
) -> None:
    write_files(root_of(make_resource()), TREE)
    first = snapshot(make_resource)
    assert set(dir_rows(make_resource())) == {"imgs", "sub"}  # not "": it has subdirectories
    hash_counter.paths.clear()
    row_reads.dirs.clear()
    assert snapshot(make_resource) == first
    assert make_resource().status(None) and hash_counter.paths == []
    assert "imgs" not in row_reads.dirs and "sub" not in row_reads.dirs
    assert "" in row_reads.dirs  # the root has subdirectories: read row by row


@pytest.mark.usefixtures("files_are_old")
@pytest.mark.parametrize(
    "change",
    ["rewrite same size", "append", "add", "remove", "rename", "chmod +x", "symlink", "ignore"],
)
def test_any_change_in_a_leaf_directory_gives_its_new_tree(
    change: str, make_resource: ResourceFactory
) -> None:
    root = root_of(make_resource())
    write_files(root, TREE)
    first = snapshot(make_resource)
    imgs = root / "imgs"
    if change == "rewrite same size":
        stat = (imgs / "b.bin").stat()
        (imgs / "b.bin").write_text("BB")
        os.utime(imgs / "b.bin", ns=(stat.st_atime_ns, stat.st_mtime_ns))  # mtime kept
    elif change == "append":
        with open(imgs / "a.bin", "a") as handle:
            handle.write("more")
    elif change == "add":
        (imgs / "d.bin").write_text("d")
    elif change == "remove":
        (imgs / "c.bin").unlink()
    elif change == "rename":
        (imgs / "c.bin").rename(imgs / "e.bin")
    elif change == "chmod +x":
        (imgs / "a.bin").chmod(0o755)
    elif change == "symlink":
        os.symlink("a.bin", imgs / "link")
    else:
        (root / ".dwsignore").write_text("imgs/b.bin\n")
    second = snapshot(make_resource)
    assert second != first
    # the tree recorded is exactly what a scan without any cache finds
    (root.parent / ".dataworkspace/local/statcache.sqlite").unlink()
    assert snapshot(make_resource) == second


@pytest.mark.usefixtures("files_are_old")
def test_a_gc_makes_stored_directories_unproven(
    make_resource: ResourceFactory, hash_counter: HashCounter
) -> None:
    """After a gc (a new store generation) a snapshot cannot take the directory's blobs as
    stored from its row: it stores them again (here: finds them stored, reading each)."""
    write_files(root_of(make_resource()), TREE)
    first = snapshot(make_resource, generation=0)
    hash_counter.paths.clear()
    resource = make_resource(generation=1)
    stored: list[str] = []
    real = resource.context.store.has

    def has(oid: str) -> bool:
        stored.append(oid)
        return real(oid)

    resource.context.store.has = has  # type: ignore[method-assign]
    state = resource.snapshot(None)
    resource.committed()
    assert state["tree"] == first
    blob_ids = set(paths(resource, first).values())
    assert blob_ids <= set(stored)  # every blob checked again, none taken on trust
    assert {gen for _, gen in dir_rows(resource).values()} == {1}


def test_files_too_young_to_vouch_for_leave_no_directory_row(
    make_resource: ResourceFactory,
) -> None:
    write_files(root_of(make_resource()), TREE)  # just written: inside the racy window
    snapshot(make_resource)
    assert dir_rows(make_resource()) == {}


@pytest.mark.usefixtures("files_are_old")
def test_directory_rows_wait_for_the_snapshot_record(make_resource: ResourceFactory) -> None:
    write_files(root_of(make_resource()), TREE)
    make_resource().snapshot(None)  # never committed: the record was not written
    assert dir_rows(make_resource()) == {}
    snapshot(make_resource)
    assert set(dir_rows(make_resource())) == {"imgs", "sub"}


@pytest.mark.usefixtures("files_are_old")
def test_status_after_a_snapshot_uses_the_rows_and_a_status_row_never_vouches_for_storage(
    make_resource: ResourceFactory, hash_counter: HashCounter
) -> None:
    root = root_of(make_resource())
    write_files(root, TREE)
    make_resource().status(None)  # rows made by a status: content known, nothing stored
    assert {gen for _, gen in dir_rows(make_resource()).values()} == {-1}
    hash_counter.paths.clear()
    stored: list[str] = []
    resource = make_resource()
    real = resource.context.store.put_file

    def put_file(path: str, similar_to: str | None = None) -> tuple[str, int]:
        stored.append(os.path.basename(path))
        return real(path, similar_to)

    resource.context.store.put_file = put_file  # type: ignore[method-assign]
    state = resource.snapshot(None)
    resource.committed()
    assert sorted(stored) == ["a.bin", "b.bin", "c.bin", "top.txt", "x"]
    assert set(paths(resource, str(state["tree"]))) == set(TREE)


# ---- checked ahead of the walk by forked processes ---------------------------------------


@pytest.fixture
def verify_forked(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """Make every scan check its directory rows on forked processes (two, whatever the
    machine has); return what each process found unchanged, per scan."""
    monkeypatch.setenv("DWS_SCAN_FORK_FROM", "1")
    monkeypatch.setattr(workers, "can_fork", lambda: True)
    monkeypatch.setattr(workers, "worker_count", lambda: 2)
    seen: list[list[str]] = []
    real = workers.fork_map

    def recording(*args: Any, **kwargs: Any) -> Any:
        results = real(*args, **kwargs)
        seen.append(sorted(rel for result in results for rel in result))
        return results

    monkeypatch.setattr(workers, "fork_map", recording)
    return seen


WIDE = {f"d{d}/f{i}.bin": f"{d}-{i}" for d in range(6) for i in range(5)}


@pytest.mark.usefixtures("files_are_old")
def test_unchanged_directories_checked_on_other_processes_are_taken_as_they_are(
    make_resource: ResourceFactory, hash_counter: HashCounter, verify_forked: list[list[str]]
) -> None:
    write_files(root_of(make_resource()), WIDE)
    first = snapshot(make_resource)
    hash_counter.paths.clear()
    verify_forked.clear()
    assert snapshot(make_resource) == first
    assert verify_forked == [[f"d{d}" for d in range(6)]]
    assert hash_counter.paths == []


@pytest.mark.usefixtures("files_are_old")
def test_a_change_seen_by_no_checking_process_still_gives_the_new_tree(
    make_resource: ResourceFactory, verify_forked: list[list[str]]
) -> None:
    root = root_of(make_resource())
    write_files(root, WIDE)
    snapshot(make_resource)
    stat = (root / "d3/f1.bin").stat()
    (root / "d3/f1.bin").write_text("3-X")  # same size, same mtime: only the ctime moves
    os.utime(root / "d3/f1.bin", ns=(stat.st_atime_ns, stat.st_mtime_ns))
    (root / "d5/new.bin").write_text("new")
    verify_forked.clear()
    second = snapshot(make_resource)
    assert verify_forked == [["d0", "d1", "d2", "d4"]]
    files = paths(make_resource(), second)
    assert set(files) == set(WIDE) | {"d5/new.bin"}
    (root.parent / ".dataworkspace/local/statcache.sqlite").unlink()
    assert snapshot(make_resource) == second


def test_a_checking_process_gives_up_when_most_directories_changed(tmp_path: Path) -> None:
    root = tmp_path / "data"
    write_files(root, {f"d{d:02d}/f": str(d) for d in range(40)})
    rows = {f"d{d:02d}": DirRow(b"stale", "0" * 64, 1, 1, 0) for d in range(40)}
    scanner = Scanner(str(root), MemoryCache(), store=None, generation=0)
    checked: list[str] = []
    real = scanner_module._list

    def counting(where: str) -> Any:
        checked.append(where)
        return real(where)

    scanner_module._list = counting  # type: ignore[assignment]
    try:
        assert scanner._verify_share(sorted(rows.items())) == []
    finally:
        scanner_module._list = real  # type: ignore[assignment]
    assert len(checked) == scanner_module.GIVE_UP_AFTER
