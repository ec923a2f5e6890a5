"""Directory rows of the stat cache: an unchanged directory without subdirectories is settled
by the digest of its listing alone, and anything that could change its tree makes it read
again (a changed, added or removed file, new ignore rules, a gc, a racy timestamp)."""

from __future__ import annotations

import errno
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from dws.model.treediff import walk_tree
from dws.resources.local_files import dirchecks, workers
from dws.resources.local_files.dirchecks import MATCHED, DirChecker, DirChecks
from dws.resources.local_files.listing import list_directory, listing_digest
from dws.resources.local_files.resource import LocalFilesResource
from dws.resources.local_files.scanner import Scanner
from dws.resources.local_files.sharedreads import SMALL_FILE
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


# ---- checked by forked processes as the walk goes -------------------------------------


@pytest.fixture
def checked_forked(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Make every scan check its directories with rows on forked processes (two, whatever
    the machine has); return what the walk took from them, per directory: "matched",
    "resolved" or "left" (to the walk)."""
    monkeypatch.setenv("DWS_SCAN_FORK_FROM", "1")
    monkeypatch.setattr(workers, "can_fork", lambda: True)
    monkeypatch.setattr(workers, "worker_count", lambda: 2)
    seen: dict[str, str] = {}
    real = DirChecks.take

    def recording(checks: DirChecks, rel: str) -> Any:
        owned = rel in checks._owner
        result = real(checks, rel)
        if owned:
            seen[rel] = "left" if result is None else ("matched", "resolved")[result[0]]
        return result

    monkeypatch.setattr(DirChecks, "take", recording)
    return seen


WIDE = {f"d{d}/f{i}.bin": f"{d}-{i}" for d in range(6) for i in range(5)}


def wide_snapshotted(make_resource: ResourceFactory) -> Path:
    """The resource's root holding ``WIDE``, snapshotted once."""
    root = root_of(make_resource())
    write_files(root, WIDE)
    snapshot(make_resource)
    return root


def fresh_tree(root: Path) -> str:
    """The root tree id of ``root`` scanned with no cache at all."""
    return Scanner(str(root), MemoryCache(), store=None, generation=0).scan().root_id


@pytest.mark.usefixtures("files_are_old")
def test_unchanged_directories_checked_on_other_processes_are_taken_as_they_are(
    make_resource: ResourceFactory, hash_counter: HashCounter, checked_forked: dict[str, str]
) -> None:
    write_files(root_of(make_resource()), WIDE)
    first = snapshot(make_resource)
    hash_counter.paths.clear()
    checked_forked.clear()
    assert snapshot(make_resource) == first
    assert checked_forked == {f"d{d}": "matched" for d in range(6)}
    assert hash_counter.paths == []


@pytest.mark.usefixtures("files_are_old")
def test_changed_directories_are_built_by_the_checking_processes(
    make_resource: ResourceFactory, checked_forked: dict[str, str]
) -> None:
    root = wide_snapshotted(make_resource)
    stat = (root / "d3/f1.bin").stat()
    (root / "d3/f1.bin").write_text("3-X")  # same size, same mtime: only the ctime moves
    os.utime(root / "d3/f1.bin", ns=(stat.st_atime_ns, stat.st_mtime_ns))
    (root / "d5/new.bin").write_text("new")
    (root / "d1/f0.bin").unlink()
    checked_forked.clear()
    second = snapshot(make_resource)
    resolved = {"d1": "resolved", "d3": "resolved", "d5": "resolved"}
    assert checked_forked == {**{d: "matched" for d in ("d0", "d2", "d4")}, **resolved}
    assert second == fresh_tree(root)
    files = paths(make_resource(), second)
    assert set(files) == set(WIDE) - {"d1/f0.bin"} | {"d5/new.bin"}
    for rel in ("d3/f1.bin", "d5/new.bin"):
        assert make_resource().context.store.has(files[rel])
    (root.parent / ".dataworkspace/local/statcache.sqlite").unlink()
    assert snapshot(make_resource) == second


@pytest.mark.usefixtures("files_are_old")
def test_what_a_checking_process_cannot_settle_is_left_to_the_walk(
    make_resource: ResourceFactory, checked_forked: dict[str, str]
) -> None:
    root = wide_snapshotted(make_resource)
    (root / "d0/sub").mkdir()
    (root / "d0/sub/x").write_text("x")
    os.symlink("f0.bin", root / "d1/link")
    (root / "d2/.dws-tmp.left").write_text("left over")
    (root / "d3/f2.bin").write_bytes(b"big" * 400_000)  # a changed file of 1.2 MB
    checked_forked.clear()
    resource = make_resource()
    state = resource.snapshot(None)
    assert checked_forked == {
        **{d: "left" for d in ("d0", "d1", "d2", "d3")},
        **{d: "matched" for d in ("d4", "d5")},
    }
    assert not (root / "d2/.dws-tmp.left").exists()  # found by the walk, and removed
    assert state["tree"] == fresh_tree(root)


@pytest.mark.usefixtures("files_are_old")
def test_a_directory_gone_or_a_process_dead_leaves_the_rest_to_the_walk(
    make_resource: ResourceFactory, checked_forked: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    root = wide_snapshotted(make_resource)
    shutil.rmtree(root / "d2")  # its result is skipped on the way to d4's
    (root / "d4/f0.bin").write_text("4-X")
    real = DirChecker.__call__

    def dying(checker: DirChecker, item: Any) -> Any:
        if item[0] == "d3":
            os._exit(9)  # the second process dies at its second directory
        return real(checker, item)

    monkeypatch.setattr(DirChecker, "__call__", dying)
    checked_forked.clear()
    second = snapshot(make_resource)
    assert checked_forked == {
        "d0": "matched",
        "d1": "matched",
        "d3": "left",
        "d4": "resolved",
        "d5": "left",
    }
    assert second == fresh_tree(root)


@pytest.mark.usefixtures("files_are_old")
def test_a_file_changed_after_its_check_is_read_again_by_the_walk(
    make_resource: ResourceFactory, checked_forked: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    root = wide_snapshotted(make_resource)
    (root / "d3/f1.bin").write_bytes(MIDDLE)
    real = DirChecks.take

    def rewriting(checks: DirChecks, rel: str) -> Any:
        result = real(checks, rel)
        if rel == "d3":  # between the check and the store
            (root / "d3/f1.bin").write_bytes(MIDDLE + b"again")
        return result

    monkeypatch.setattr(DirChecks, "take", rewriting)
    second = snapshot(make_resource)
    assert second == fresh_tree(root)
    stored = make_resource().context.store.get_bytes(paths(make_resource(), second)["d3/f1.bin"])
    assert stored == MIDDLE + b"again"


@pytest.mark.usefixtures("files_are_old")
def test_a_scan_that_stores_nothing_takes_the_trees_the_processes_hashed(
    make_resource: ResourceFactory, checked_forked: dict[str, str]
) -> None:
    root = wide_snapshotted(make_resource)
    (root / "d5/f4.bin").write_text("5-X")
    (root / ".dwsignore").write_text("d0/f1.bin\n")  # new rules: every listing is read again
    checked_forked.clear()
    result = make_resource()._scan(store_blobs=False)  # as status and diff scan
    assert checked_forked == {f"d{d}": "resolved" for d in range(6)}
    assert result.root_id == fresh_tree(root)
    assert result.files == len(WIDE) - 1 + 1  # d0/f1.bin ignored, .dwsignore counted


# a changed file a checking process hashes but does not send whole: the walk reads it
# again to store it (a small one comes with its bytes, see the tests after these)
MIDDLE = b"m" * (SMALL_FILE + 1)


def taking_then(monkeypatch: pytest.MonkeyPatch, rel: str, then: Callable[[], object]) -> None:
    """Run ``then`` right after the walk took ``rel``'s result (between the check and the
    store)."""
    real = DirChecks.take

    def taking(checks: DirChecks, wanted: str) -> Any:
        result = real(checks, wanted)
        if wanted == rel:
            then()
        return result

    monkeypatch.setattr(DirChecks, "take", taking)


@pytest.mark.usefixtures("files_are_old", "checked_forked")
@pytest.mark.parametrize("victim", ["d3/f1.bin", "d3/new.bin"])
def test_a_file_gone_after_its_check_is_seen_gone(
    make_resource: ResourceFactory, monkeypatch: pytest.MonkeyPatch, victim: str
) -> None:
    root = wide_snapshotted(make_resource)
    (root / victim).write_bytes(MIDDLE)
    taking_then(monkeypatch, "d3", (root / victim).unlink)
    assert snapshot(make_resource) == fresh_tree(root)


@pytest.mark.usefixtures("files_are_old", "checked_forked")
def test_a_mode_changed_after_its_check_is_recorded_as_it_is_now(
    make_resource: ResourceFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = wide_snapshotted(make_resource)
    (root / "d3/f1.bin").write_bytes(MIDDLE)
    taking_then(monkeypatch, "d3", lambda: (root / "d3/f1.bin").chmod(0o755))
    second = snapshot(make_resource)
    assert second == fresh_tree(root)
    loader = store_loader(make_resource().context.store)
    assert dict(walk_tree(loader, second))["d3/f1.bin"].exec


class WalkReads:
    """The files the walk itself reads to store them."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.paths: list[str] = []
        real = Scanner._store_one

        def reading(scanner: Scanner, path: str, f: Any) -> None:
            self.paths.append(os.path.relpath(path, scanner.root))
            real(scanner, path, f)

        monkeypatch.setattr(Scanner, "_store_one", reading)


@pytest.mark.usefixtures("files_are_old", "checked_forked")
def test_small_changed_files_come_with_their_bytes_and_are_read_once(
    make_resource: ResourceFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = wide_snapshotted(make_resource)
    (root / "d3/f1.bin").write_text("3-changed")
    (root / "d3/new.bin").write_text("new")
    (root / "d4/f2.bin").write_bytes(MIDDLE)
    walk = WalkReads(monkeypatch)
    # changed after its check: the snapshot holds what was read, the next one the change
    taking_then(monkeypatch, "d3", lambda: (root / "d3/f1.bin").write_text("3-changed again"))
    second = snapshot(make_resource)
    assert walk.paths == ["d4/f2.bin"]  # only the one too large to send
    files, store = paths(make_resource(), second), make_resource().context.store
    assert store.get_bytes(files["d3/f1.bin"]) == b"3-changed"
    assert store.get_bytes(files["d3/new.bin"]) == b"new"
    assert store.get_bytes(files["d4/f2.bin"]) == MIDDLE
    assert snapshot(make_resource) == fresh_tree(root)
    assert store.get_bytes(paths(make_resource(), fresh_tree(root))["d3/f1.bin"]) == (
        b"3-changed again"
    )


@pytest.mark.usefixtures("files_are_old", "checked_forked")
def test_beyond_its_budget_a_checking_process_only_hashes(
    make_resource: ResourceFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = wide_snapshotted(make_resource)
    for n in range(3):
        (root / f"d2/f{n}.bin").write_text(f"2-{n}-changed")  # 11 bytes each
    monkeypatch.setattr(dirchecks, "ENTRY_BUDGET", 25)
    walk = WalkReads(monkeypatch)
    second = snapshot(make_resource)
    # the first two in listing order came whole (22 bytes of 25), the third is read here
    assert len(walk.paths) == 1
    assert walk.paths[0] in {f"d2/f{n}.bin" for n in range(3)}
    assert second == fresh_tree(root)
    files, store = paths(make_resource(), second), make_resource().context.store
    assert [store.get_bytes(files[f"d2/f{n}.bin"]) for n in range(3)] == [
        f"2-{n}-changed".encode() for n in range(3)
    ]


@pytest.mark.usefixtures("files_are_old", "checked_forked")
def test_a_scan_goes_on_alone_when_no_process_can_be_made(
    make_resource: ResourceFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = root_of(make_resource())
    write_files(root, WIDE)
    first = snapshot(make_resource)

    def no_fork() -> int:
        raise BlockingIOError(errno.EAGAIN, "Resource temporarily unavailable")

    monkeypatch.setattr(os, "fork", no_fork)
    assert snapshot(make_resource) == first
    (root / "d2/f0.bin").write_text("2-X")
    assert snapshot(make_resource) == fresh_tree(root)


@pytest.mark.usefixtures("files_are_old", "checked_forked")
def test_a_directory_now_a_symbolic_link_is_not_read_through(
    make_resource: ResourceFactory, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    root = wide_snapshotted(make_resource)
    outside = tmp_path / "elsewhere"
    write_files(outside, {f"secret{i}": "x" for i in range(5)})
    shutil.rmtree(root / "d2")
    os.symlink(outside, root / "d2")
    read = tmp_path / "read.log"
    real = dirchecks.hash_file

    def logged(path: str) -> Any:
        with open(read, "a") as log:  # written by the checking process
            log.write(path + "\n")
        return real(path)

    monkeypatch.setattr(dirchecks, "hash_file", logged)
    assert snapshot(make_resource) == fresh_tree(root)
    assert not read.exists() or "secret" not in read.read_text()


def test_a_directory_asked_for_out_of_order_leaves_the_later_results_in_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(workers, "worker_count", lambda: 2)
    names = ["a", "b", "c", "d", "e", "f"]
    write_files(tmp_path, {f"{name}/x": name for name in names})
    digests = {
        name: listing_digest(list_directory(str(tmp_path / name))[0], b"s") for name in names
    }
    rows = {name: DirRow(digests[name], "0" * 64, 1, 1, 0) for name in names}
    checker = DirChecker(str(tmp_path), MemoryCache(), b"s", None, 0, store=None)
    checks = DirChecks(rows, checker, set(names))
    try:
        assert checks.take("c") == (MATCHED, rows["c"])  # a's result skipped
        assert checks.take("a") is None  # passed already: left to the walk
        assert checks.take("e") == (MATCHED, rows["e"])
        assert checks.take("f") == (MATCHED, rows["f"])
    finally:
        checks.close()
