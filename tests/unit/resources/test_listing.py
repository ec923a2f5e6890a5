"""Listing a directory (``listing``): one process or several give the same entries and
the same digest, equal listings always digest equally, and a listing in parts that loses
an entry on the way is refused rather than wrong."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dws.resources.local_files import listing, workers
from dws.resources.local_files.listing import list_directory, list_in_parts, listing_digest
from dws.resources.local_files.scanner import Scanner
from dws.store.memory import MemoryObjectStore
from helpers.common import write_files

from .conftest import MemoryCache

SALT = b"salt"
pytestmark = pytest.mark.skipif(not listing.CAN_LIST_IN_PARTS, reason="needs fork and dir_fd")


@pytest.fixture
def wide(tmp_path: Path) -> Path:
    root = tmp_path / "imgs"
    write_files(root, {f"{i:05d}.bin": str(i) * (i % 7) for i in range(3000)})
    (root / "sub").mkdir()
    os.symlink("00001.bin", root / "link")
    return root


def test_a_listing_in_parts_is_the_listing(wide: Path) -> None:
    found, has_subdir = list_directory(str(wide))
    for parts in (1, 2, 3):
        listed = list_in_parts(str(wide), parts)
        assert listed is not None
        assert listed.found() == found
        assert listed.has_subdir == has_subdir is True
        assert listing.batches_digest(listed.batches, SALT) == listing_digest(found, SALT)


def test_an_empty_directory_listed_in_parts_is_empty(tmp_path: Path) -> None:
    listed = list_in_parts(str(tmp_path), 2)
    assert listed is not None and listed.found() == [] and not listed.has_subdir


def test_equal_listings_digest_equally_however_they_were_built(wide: Path) -> None:
    found, _ = list_directory(str(wide))
    names = [entry[0] for entry in found]  # every name now referenced twice
    rebuilt = [(names[i], *entry[1:]) for i, entry in enumerate(found)]
    copied = [(str(entry[0].encode().decode()), *entry[1:]) for entry in found]
    assert listing_digest(rebuilt, SALT) == listing_digest(copied, SALT)


def test_a_listing_in_parts_that_lost_an_entry_is_refused(
    wide: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = os.listdir
    monkeypatch.setattr(os, "listdir", lambda where: [*real(where), "vanished.bin"])
    assert list_in_parts(str(wide), 2) is None


@pytest.fixture
def split(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every directory with a row is listed in parts, by two processes."""
    monkeypatch.setenv("DWS_SCAN_SPLIT_FROM", "1")
    monkeypatch.setattr(workers, "can_fork", lambda: True)
    monkeypatch.setattr(workers, "worker_count", lambda: 2)


@pytest.mark.usefixtures("files_are_old", "split")
def test_a_directory_listed_in_parts_is_settled_or_read_as_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "flat"
    write_files(root, {f"{i:05d}.bin": f"{i}" for i in range(2500)})
    cache, store = MemoryCache(), MemoryObjectStore()

    def snapshot() -> str:  # stores blobs and trees, as `dws snapshot` does
        return (
            Scanner(str(root), cache, store=store, tree_store=store, put_trees=True, generation=0)
            .scan()
            .root_id
        )

    first = snapshot()
    assert set(cache.by_dir) == {""}
    cache.by_path.update(cache.upserts)
    calls: list[str] = []
    real = listing.list_in_parts

    def counting(where: str, parts: int) -> object:
        calls.append(where)
        return real(where, parts)

    monkeypatch.setattr("dws.resources.local_files.scanner.list_in_parts", counting)
    cache.read_dirs.clear()
    assert snapshot() == first
    assert calls == [str(root)] and cache.read_dirs == []  # settled by its digest alone
    (root / "01234.bin").write_text("changed")
    (root / "new.bin").write_text("new")
    cache.by_path.update(cache.upserts)
    again = snapshot()
    fresh = Scanner(str(root), MemoryCache(), store=None, generation=0).scan()
    assert again == fresh.root_id != first
    assert cache.read_dirs == [""]


@pytest.mark.usefixtures("files_are_old", "split")
def test_a_large_directory_emptied_since_its_row_scans_empty(tmp_path: Path) -> None:
    root = tmp_path / "flat"
    write_files(root, {f"{i:03d}.bin": str(i) for i in range(30)})
    cache, store = MemoryCache(), MemoryObjectStore()
    Scanner(str(root), cache, store=store, tree_store=store, put_trees=True, generation=0).scan()
    cache.by_path.update(cache.upserts)
    for name in os.listdir(root):
        os.unlink(root / name)
    emptied = Scanner(str(root), cache, store=store, tree_store=store, put_trees=True, generation=0)
    assert emptied.scan().files == 0
