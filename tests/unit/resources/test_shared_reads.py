"""A directory of many new small files is read on forked processes: the walk stores what
they read, reads itself what they left (changed, gone, a process dead, none made), and the
result is the tree and the store one process alone would give."""

from __future__ import annotations

import errno
import os
import signal
import threading
from pathlib import Path
from typing import Any

import pytest

from dws.model.tree import TreeEntry
from dws.resources.local_files import sharedreads, workers
from dws.resources.local_files.scanner import FileChangingError, Scanner
from dws.store.base import ObjectStore
from dws.store.loose import LooseObjectStore
from dws.store.packed import PackedObjectStore
from helpers.common import write_files

from .conftest import MemoryCache, entries, scan, scan_cached

FLAT: dict[str, str | bytes] = {
    **{f"imgs/{n:03}.bin": os.urandom(100 + 37 * n) for n in range(20)},
    "imgs/empty.bin": b"",
    "imgs/zeros.bin": bytes(50_000),  # compresses: stored framed
    "imgs/large.bin": os.urandom(200_000),  # beyond what the processes read
    "top.txt": "few files here: read by the walk",
}
SHARED = sorted(path for path in FLAT if path.startswith("imgs/") and path != "imgs/large.bin")


class Taken:
    """What the walk took from the processes: path -> whether an entry came with it."""

    def __init__(self) -> None:
        self.files: dict[str, bool] = {}


@pytest.fixture
def taken(monkeypatch: pytest.MonkeyPatch) -> Taken:
    """Share the reading of any directory of 4 files or more over two processes (whatever
    the machine has), 3 files a batch; record what the walk took from them."""
    monkeypatch.setenv("DWS_SCAN_READ_SHARED_FROM", "4")
    monkeypatch.setattr(workers, "can_fork", lambda: True)
    monkeypatch.setattr(workers, "worker_count", lambda: 2)
    monkeypatch.setattr(sharedreads, "READ_BATCH", 3)
    record = Taken()
    real = Scanner._take

    def taking(scanner: Scanner, f: Any, oid: str, entry: bytes | None) -> bool:
        record.files[f.name] = entry is not None
        return real(scanner, f, oid, entry)

    monkeypatch.setattr(Scanner, "_take", taking)
    return record


def flat_tree(tmp_path: Path) -> Path:
    """``FLAT`` written under ``tmp_path/data``."""
    root = tmp_path / "data"
    write_files(root, FLAT)
    return root


def alone(root: Path) -> str:
    """The root tree of ``root`` as one process reads it, with no cache."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DWS_SCAN_READ_SHARED_FROM", "0")
        return scan(root).root_id


def names(paths: list[str]) -> set[str]:
    return {path.rpartition("/")[2] for path in paths}


def assert_stored(root: Path, store: ObjectStore, found: dict[str, TreeEntry]) -> None:
    """Every file of the scan ``found`` is in ``store`` with the bytes it has now."""
    for path, entry in found.items():
        if entry.kind == "file":
            assert store.get_verified(entry.id) == (root / path).read_bytes(), path


@pytest.mark.usefixtures("files_are_old")
@pytest.mark.parametrize("kind", ["packed", "loose"])
def test_a_directory_read_on_several_processes_stores_what_one_would(
    tmp_path: Path, taken: Taken, kind: str
) -> None:
    root = flat_tree(tmp_path)
    objects = str(tmp_path / "objects")
    store = (
        PackedObjectStore.create(objects) if kind == "packed" else LooseObjectStore.create(objects)
    )
    result, cache = scan_cached(root, store=store)
    assert taken.files == {name: True for name in names(SHARED)}
    assert result.root_id == alone(root)
    found = entries(result)
    assert_stored(root, store, found)
    assert set(cache.upserts) >= set(FLAT)  # every file's row, however it was read


def test_what_the_store_has_is_not_sent_again(tmp_path: Path, taken: Taken) -> None:
    root = flat_tree(tmp_path)
    store = PackedObjectStore.create(str(tmp_path / "objects"))
    first = scan(root, store=store)
    store.flush()
    packs = sorted(os.listdir(store.packs_dir))
    taken.files.clear()
    again = scan(root, store=store)  # a new cache, the same store: a clone's first scan
    assert again.root_id == first.root_id
    assert taken.files == {name: False for name in names(SHARED)}
    store.flush()
    assert sorted(os.listdir(store.packs_dir)) == packs


def test_a_scan_that_stores_nothing_takes_the_ids_read_elsewhere(
    tmp_path: Path, taken: Taken
) -> None:
    root = flat_tree(tmp_path)
    result = scan(root)
    assert taken.files == {name: False for name in names(SHARED)}
    assert result.root_id == alone(root)


def before_the_processes(monkeypatch: pytest.MonkeyPatch, then: Any) -> None:
    """Run ``then`` once the walk listed the directory, before its processes read."""
    real = sharedreads.SharedReads.__init__

    def starting(reads: Any, *args: Any, **kwargs: Any) -> None:
        then()
        real(reads, *args, **kwargs)

    monkeypatch.setattr(sharedreads.SharedReads, "__init__", starting)


def test_a_file_changed_after_the_listing_is_read_again_by_the_walk(
    tmp_path: Path, taken: Taken, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = flat_tree(tmp_path)
    changed = root / "imgs/007.bin"
    before_the_processes(monkeypatch, lambda: changed.write_bytes(b"longer than before" * 50))
    store = PackedObjectStore.create(str(tmp_path / "objects"))
    result = scan(root, store=store)
    assert "007.bin" not in taken.files
    assert len(taken.files) == len(SHARED) - 1
    assert result.root_id == alone(root)
    assert store.get_verified(entries(result)["imgs/007.bin"].id) == changed.read_bytes()


def test_a_file_gone_after_the_listing_fails_the_scan_as_it_would_alone(
    tmp_path: Path, taken: Taken, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = flat_tree(tmp_path)
    before_the_processes(monkeypatch, (root / "imgs/011.bin").unlink)
    with pytest.raises(FileChangingError, match="disappeared"):
        scan(root, store=PackedObjectStore.create(str(tmp_path / "objects")))


def test_the_batches_of_a_dead_process_are_read_by_the_walk(
    tmp_path: Path, taken: Taken, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = flat_tree(tmp_path)
    real = sharedreads._read_batch

    def dying(prefix: str, store: Any, batches: Any, number: int) -> Any:
        if number == 3:
            os._exit(9)  # the second process dies at its second batch
        return real(prefix, store, batches, number)

    monkeypatch.setattr(sharedreads, "_read_batch", dying)
    store = PackedObjectStore.create(str(tmp_path / "objects"))
    result = scan(root, store=store)
    # 22 files in 8 batches, the second process's are 1, 3, 5, 7: those from 3 on (3, 3
    # and 1 files) are left to the walk
    assert len(SHARED) == 22
    assert len(taken.files) == 22 - 7
    assert result.root_id == alone(root)
    assert_stored(root, store, entries(result))


def test_with_no_process_to_spare_the_walk_reads_everything(
    tmp_path: Path, taken: Taken, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = flat_tree(tmp_path)

    def no_fork() -> int:
        raise BlockingIOError(errno.EAGAIN, "Resource temporarily unavailable")

    monkeypatch.setattr(os, "fork", no_fork)
    result = scan(root, store=PackedObjectStore.create(str(tmp_path / "objects")))
    assert taken.files == {}
    assert result.root_id == alone(root)


@pytest.mark.usefixtures("files_are_old")
def test_files_whose_content_is_known_are_not_read_elsewhere(tmp_path: Path, taken: Taken) -> None:
    root = flat_tree(tmp_path)
    store = PackedObjectStore.create(str(tmp_path / "objects"))
    _, first = scan_cached(root)  # hashed only: the rows know the ids, not the blobs stored
    taken.files.clear()
    result = Scanner(str(root), MemoryCache(first.upserts), store=store, generation=1).scan()
    assert taken.files == {}  # each is checked in the store, then read by the walk
    assert result.root_id == alone(root)


def test_a_large_file_read_on_a_thread_first_does_not_stop_the_sharing(
    tmp_path: Path, taken: Taken, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "data"
    write_files(root, {**FLAT, "big.bin": os.urandom(1 << 20)})  # read first, on a thread
    threads = threading.active_count()
    monkeypatch.setattr(workers, "can_fork", lambda: threading.active_count() == threads)
    result = scan(root, store=PackedObjectStore.create(str(tmp_path / "objects")))
    assert taken.files == {name: True for name in names(SHARED)}
    assert result.root_id == alone(root)


def test_a_file_become_a_fifo_fails_the_scan_instead_of_hanging(
    tmp_path: Path, taken: Taken, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = flat_tree(tmp_path)
    victim = root / "imgs/005.bin"

    def to_fifo() -> None:
        victim.unlink()
        os.mkfifo(victim)

    before_the_processes(monkeypatch, to_fifo)
    signal.alarm(60)  # a hang fails the test instead of the whole run
    try:
        with pytest.raises(FileChangingError, match=r"005\.bin"):
            scan(root, store=PackedObjectStore.create(str(tmp_path / "objects")))
    finally:
        signal.alarm(0)


def test_what_a_process_found_stored_but_the_walk_does_not_is_read_and_stored(
    tmp_path: Path, taken: Taken, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = flat_tree(tmp_path)
    walk = os.getpid()  # the processes answer "stored"; the walk's own store says no
    monkeypatch.setattr(PackedObjectStore, "has_entry", lambda store, oid: os.getpid() != walk)
    store = PackedObjectStore.create(str(tmp_path / "objects"))
    result = scan(root, store=store)
    assert taken.files == {name: False for name in names(SHARED)}
    assert_stored(root, store, entries(result))
