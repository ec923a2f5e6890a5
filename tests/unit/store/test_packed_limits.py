"""The pack store bounds what an unfinished pack keeps in memory: a pack is finished
after a fixed number of objects, when writing and when gc repacks."""

from __future__ import annotations

from pathlib import Path

import pytest

import dws.store.packed as packed


def _indexes(store: packed.PackedObjectStore) -> int:
    return sum(1 for name in Path(store.packs_dir).iterdir() if name.suffix == ".idx")


def test_packs_are_finished_every_n_objects(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(packed, "TARGET_PACK_OBJECTS", 100)
    store = packed.PackedObjectStore.create(str(tmp_path / "objects"))
    ids = [store.put_bytes(f"object {i}".encode()) for i in range(1050)]
    assert store._writer is None or len(store._writer.entries) < 100
    store.flush()
    assert _indexes(store) == 11
    assert [store.get_bytes(oid) for oid in ids] == [f"object {i}".encode() for i in range(1050)]
    keep = set(ids[::2])
    report = store.prune(keep.__contains__)
    assert report.removed == 525
    assert _indexes(store) == 6  # the 525 kept objects, 100 per pack
    assert sorted(store.iter_ids()) == sorted(keep)
    store.close()


def test_repacking_into_a_pack_with_an_old_packs_name_keeps_it(tmp_path: Path) -> None:
    """A pack is named by its objects: when gc merges small packs and the objects it keeps
    are exactly those of one old pack, the new pack has that pack's name and must stay."""
    store = packed.PackedObjectStore.create(str(tmp_path / "objects"))
    kept = store.put_bytes(b"a tree every run names")
    store.flush()
    garbage = [store.put_bytes(f"garbage {i}".encode()) for i in range(3)]
    store.flush()
    assert _indexes(store) == 2
    report = store.prune({kept}.__contains__)
    assert report.removed == len(garbage)
    reopened = packed.PackedObjectStore(str(tmp_path / "objects"))
    assert reopened.get_bytes(kept) == b"a tree every run names"
    assert not any(reopened.has(oid) for oid in garbage)
