"""Hard links out of the local store, and the verified-stamp that spares re-reading."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from blake3 import blake3

from dws.store import loose
from dws.store.base import CorruptObjectError, ObjectMissingError
from dws.store.loose import STAMP_XATTR, LooseObjectStore

BIG = (5 << 20) + 123


@pytest.fixture
def store(tmp_path: Path) -> LooseObjectStore:
    root = tmp_path / "objects"
    made = LooseObjectStore.create(str(root))
    try:
        os.setxattr(str(root), "user.dws.probe", b"1")
    except OSError:
        pytest.skip("this filesystem has no user extended attributes")
    return made


def _put(store: LooseObjectStore, tmp_path: Path, data: bytes) -> str:
    src = tmp_path / "src"
    src.write_bytes(data)
    oid, _ = store.put_file(str(src))
    return oid


def _rot(path: str, offset: int, keep_mtime: bool) -> None:
    st = os.stat(path)
    os.chmod(path, 0o644)
    with open(path, "r+b") as handle:
        handle.seek(offset)
        byte = handle.read(1)[0]
        handle.seek(offset)
        handle.write(bytes([byte ^ 0xFF]))  # always another byte (random data may hold 0xff)
    if keep_mtime:
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


def test_a_stored_large_object_is_stamped_and_linked_without_reading_it(
    store: LooseObjectStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = os.urandom(BIG)
    oid = _put(store, tmp_path, data)
    assert os.getxattr(store.path(oid), STAMP_XATTR)

    def no_reading(path: str) -> str:
        raise AssertionError("a stamped object was read again")

    monkeypatch.setattr(loose, "_hash_path", no_reading)
    assert store.link(oid, str(tmp_path / "linked"))
    assert (tmp_path / "linked").read_bytes() == data
    assert os.stat(tmp_path / "linked").st_ino == os.stat(store.path(oid)).st_ino


def test_a_write_through_a_link_voids_the_stamp(store: LooseObjectStore, tmp_path: Path) -> None:
    oid = _put(store, tmp_path, os.urandom(BIG))
    assert store.link(oid, str(tmp_path / "first"))
    _rot(str(tmp_path / "first"), 1000, keep_mtime=False)
    with pytest.raises(CorruptObjectError):
        store.link(oid, str(tmp_path / "second"))
    assert not (tmp_path / "second").exists()


def test_verify_hashes_always_and_renews_the_stamp(store: LooseObjectStore, tmp_path: Path) -> None:
    oid = _put(store, tmp_path, os.urandom(BIG))
    path = store.path(oid)
    os.removexattr(path, STAMP_XATTR)
    assert store.verify(oid)
    assert os.getxattr(path, STAMP_XATTR)
    # bit rot that leaves the mtime alone: links trust the stamp, fsck's verify does not
    _rot(path, 5000, keep_mtime=True)
    assert not store.verify(oid)


def test_objects_without_a_stamp_are_hashed_before_linking(
    store: LooseObjectStore, tmp_path: Path
) -> None:
    data = os.urandom(BIG)
    oid = _put(store, tmp_path, data)
    path = store.path(oid)
    os.removexattr(path, STAMP_XATTR)
    _rot(path, 7, keep_mtime=True)
    with pytest.raises(CorruptObjectError):
        store.link(oid, str(tmp_path / "linked"))


def test_small_and_missing_objects(store: LooseObjectStore, tmp_path: Path) -> None:
    small = _put(store, tmp_path, b"small" * 100)
    assert not store.link(small, str(tmp_path / "s"))
    assert not (tmp_path / "s").exists()
    with pytest.raises(ObjectMissingError):
        store.link(blake3(b"absent").hexdigest(), str(tmp_path / "m"))
