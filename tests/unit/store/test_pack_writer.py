"""The pack writer gathers entries and writes them a megabyte at a time: an entry reads
back the same before and after it reaches the file, and a write that fails part way
(ENOSPC) leaves the file and the entries still in step. A pack index finds exactly the
ids it holds."""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dws.errors import IntegrityError
from dws.model.digest import hash_bytes
from dws.store import packed, packfile
from dws.store.framing import frame, unframe
from dws.store.packed import PackedObjectStore
from dws.store.packfile import PACK_MAGIC, PackEntry, PackIndex, PackWriter, encode_index


def entries(count: int, size: int) -> dict[bytes, bytes]:
    """``count`` framed entries of random bytes, keyed by their ids."""
    found = {}
    for _ in range(count):
        data = os.urandom(size)
        found[bytes.fromhex(hash_bytes(data))] = frame(data)
    return found


def test_entries_read_back_the_same_before_and_after_they_are_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(packfile, "WRITE_BYTES", 10_000)
    writer = PackWriter(str(tmp_path / "pack.tmp"))
    added = entries(43, 999)  # four writes, and entries still gathered at the end
    for key, entry in added.items():
        writer.add(key, entry)
        assert writer.read(writer.entries[key]) == entry
    assert 0 < writer._written < writer.size
    assert all(writer.read(writer.entries[key]) == entry for key, entry in added.items())
    (tmp_path / "packs").mkdir()
    name = writer.finish(str(tmp_path / "packs"), str(tmp_path / "idx.tmp"))
    data = (tmp_path / "packs" / f"{name}.pack").read_bytes()
    assert data.startswith(PACK_MAGIC) and len(data) == writer.size
    index = PackIndex(str(tmp_path / "packs" / f"{name}.idx"))
    for key, entry in added.items():
        found = index.lookup(key)
        assert found is not None
        assert unframe(data[found.offset : found.offset + found.length]) == unframe(entry)
    index.close()


def test_a_write_that_fails_part_way_keeps_the_file_and_the_entries_in_step(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(packfile, "WRITE_BYTES", 5_000)
    writer = PackWriter(str(tmp_path / "pack.tmp"))
    added = entries(12, 800)
    keys = list(added)
    real = os.pwrite
    calls = {"n": 0}

    def filling(fd: int, data: Any, offset: int) -> int:
        calls["n"] += 1
        if calls["n"] == 1:
            return real(fd, bytes(data)[:1_000], offset)  # a short write...
        raise OSError(errno.ENOSPC, "No space left on device")  # ...then a full disk

    monkeypatch.setattr(os, "pwrite", filling)
    with pytest.raises(OSError, match="No space"):
        for key in keys:
            writer.add(key, added[key])
    for key in writer.entries:  # one entry is now part in the file, part still gathered
        assert writer.read(writer.entries[key]) == added[key]
    monkeypatch.setattr(os, "pwrite", real)  # space again
    for key in keys:
        writer.add(key, added[key])
    for key in keys:
        assert writer.read(writer.entries[key]) == added[key]
    (tmp_path / "packs").mkdir()
    name = writer.finish(str(tmp_path / "packs"), str(tmp_path / "idx.tmp"))
    data = (tmp_path / "packs" / f"{name}.pack").read_bytes()
    for key in keys:
        entry = writer.entries[key]
        assert data[entry.offset : entry.offset + entry.length] == added[key]


@given(
    prefixes=st.lists(st.binary(min_size=2, max_size=2), min_size=1, max_size=6),
    tails=st.lists(st.binary(min_size=30, max_size=30), min_size=1, max_size=40),
    probes=st.lists(st.binary(min_size=32, max_size=32), max_size=20),
)
@settings(max_examples=60, deadline=None)
def test_an_index_finds_exactly_the_ids_it_holds(
    prefixes: list[bytes], tails: list[bytes], probes: list[bytes]
) -> None:
    # ids crowded on a few first and second bytes: runs of equal second bytes, neighbours
    # that differ only at the end, and absent ids inside those runs
    held = {
        prefix + tail: PackEntry(8 + n, n + 1)
        for n, (prefix, tail) in enumerate(
            (prefix, tail) for prefix in prefixes for tail in tails[::2]
        )
    }
    absent = [prefix + tail for prefix in prefixes for tail in tails[1::2]] + probes
    with tempfile.TemporaryDirectory() as scratch:
        path = os.path.join(scratch, "pack.idx")
        with open(path, "wb") as handle:
            handle.write(encode_index(held)[1])
        index = PackIndex(path)
        try:
            for key, entry in held.items():
                assert index.lookup(key) == entry
            for key in absent:
                assert index.lookup(key) == held.get(key)
        finally:
            index.close()


def small_objects(count: int) -> list[bytes]:
    return [os.urandom(300) for _ in range(count)]


@pytest.mark.parametrize("full_at", ["entries", "index"])
def test_a_pack_that_cannot_be_finished_for_want_of_space_loses_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, full_at: str
) -> None:
    store = PackedObjectStore.create(str(tmp_path / "objects"))
    monkeypatch.setattr(packed, "TARGET_PACK_OBJECTS", 5)
    failures = {"left": 2}

    def full_disk() -> None:
        if failures["left"]:
            failures["left"] -= 1
            raise OSError(errno.ENOSPC, "No space left on device")

    if full_at == "entries":
        real_write = PackWriter._write_pending

        def writing(writer: PackWriter) -> None:
            full_disk()
            real_write(writer)

        monkeypatch.setattr(PackWriter, "_write_pending", writing)
    else:

        def opening(path: str, mode: str) -> Any:
            if failures["left"] and mode == "xb":  # the index: written part way, then full
                with open(path, mode) as partial:
                    partial.write(b"part of an index")
                full_disk()
            return open(path, mode)

        monkeypatch.setattr(packfile, "open", opening, raising=False)
    objects = small_objects(6)
    ids = [store.put_bytes(data) for data in objects[:4]]
    for data in objects[4:]:  # the fifth fills the pack; still open, the sixth tries again
        with pytest.raises(OSError, match="No space"):
            store.put_bytes(data)
        ids.append(hash_bytes(data))
        assert all(store.has(oid) for oid in ids)
    store.flush()  # space again
    again = PackedObjectStore(str(tmp_path / "objects"))
    assert [again.get_verified(oid) for oid in ids] == objects
    assert os.listdir(tmp_path / "objects/tmp") == []  # no part of an index left behind


def test_objects_lost_past_retrying_fail_the_next_flush(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = PackedObjectStore.create(str(tmp_path / "objects"))
    kept = store.put_bytes(b"in an earlier pack")
    store.flush()
    lost = store.put_bytes(b"in the pack that fails")
    real = os.replace

    def failing(source: str, target: str) -> None:
        if target.endswith(".pack"):
            raise OSError(errno.EIO, "Input/output error")
        real(source, target)

    monkeypatch.setattr(os, "replace", failing)
    with pytest.raises(OSError, match="Input/output"):
        store._finish_pack()  # as when a full pack is finished and its caller goes on
    monkeypatch.setattr(os, "replace", real)
    assert store.has(kept) and not store.has(lost)
    with pytest.raises(IntegrityError, match="lost when a pack failed"):
        store.flush()
    store.put_bytes(b"in the pack that fails")
    store.flush()  # told once; what is stored again is kept
    assert PackedObjectStore(str(tmp_path / "objects")).has(lost)
