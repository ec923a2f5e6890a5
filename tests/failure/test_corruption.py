"""Damaged objects: fsck names them (exit 4); a restore that would need a missing or
damaged object fails with exit 4 before touching anything."""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

import pytest

import dws
from dws.model.digest import hash_bytes
from dws.model.tree import decode_tree
from helpers.failure import (
    assert_clean_error,
    assert_ok,
    disk_state,
    head_bases,
    head_id,
    manifest,
    object_path,
    record,
    run_dws,
    status_changes,
    tag_target,
    temp_files,
    write_files,
)

V1_RAW = {"a.txt": "alpha v1\n", "sub/b.txt": "bravo v1\n", "sub/c.txt": "charlie\n"}
V2_RAW = {"a.txt": "alpha v2, longer\n", "sub/b.txt": "bravo v2\n", "sub/c.txt": "charlie\n"}
F1, F2 = b"\x00features v1", b"\x00features v2"
BIG1 = random.Random(1).randbytes(5 << 20)  # above the store's small-file threshold
BIG2 = random.Random(2).randbytes(5 << 20)


@pytest.fixture
def ws(project: Path, workspace: dws.Workspace) -> Path:
    """The standard workspace with raw at v1, then v2 (on disk now)."""
    write_files(project / "data/raw", V1_RAW)
    write_files(project / "data/features", {"f.bin": F1, "big.bin": BIG1})
    write_files(project / "results", {"metrics.json": '{"acc": 1}'})
    workspace.snapshot("v1")
    write_files(project / "data/raw", V2_RAW)
    write_files(project / "data/features", {"f.bin": F2, "big.bin": BIG2})
    workspace.snapshot("v2")
    return project


def _writable(path: Path) -> None:
    # objects are read-only; tests run as root in CI, so never rely on permission denial
    path.chmod(0o644)


def _flip(path: Path) -> None:
    _writable(path)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


def _truncate(path: Path) -> None:
    _writable(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _append(path: Path) -> None:
    _writable(path)
    path.write_bytes(path.read_bytes() + b"\n")


def _empty(path: Path) -> None:
    _writable(path)
    path.write_bytes(b"")


def _damage(ws: Path, oid: str, how: Callable[[Path], None]) -> None:
    path = object_path(ws, oid)
    how(path)
    assert hash_bytes(path.read_bytes()) != oid, "the object was not damaged"


DAMAGE: dict[str, Callable[[Path], None]] = {
    "flipped-bit": _flip,
    "truncated": _truncate,
    "appended": _append,
    "emptied": _empty,
}


def _blob(content: str) -> str:
    return hash_bytes(content.encode())


def _raw_tree(ws: Path, tag: str) -> str:
    return str(record(ws, tag_target(ws, tag)).resources["raw"].state["tree"])


def _sub_tree(ws: Path, tag: str) -> str:
    root = decode_tree(object_path(ws, _raw_tree(ws, tag)).read_bytes())
    return next(e.id for e in root.entries if e.name == "sub")


@pytest.mark.parametrize("damage", DAMAGE.values(), ids=DAMAGE.keys())
def test_fsck_names_a_damaged_blob(ws: Path, damage: Callable[[Path], None]) -> None:
    oid = _blob(V1_RAW["a.txt"])
    _damage(ws, oid, damage)
    assert_clean_error(run_dws("fsck", cwd=ws), 4, oid[:12])


@pytest.mark.parametrize("damage", DAMAGE.values(), ids=DAMAGE.keys())
def test_fsck_names_a_damaged_tree(ws: Path, damage: Callable[[Path], None]) -> None:
    oid = _sub_tree(ws, "v1")
    _damage(ws, oid, damage)
    assert_clean_error(run_dws("fsck", cwd=ws), 4, oid[:12])


def test_fsck_names_a_missing_blob_and_tree(ws: Path) -> None:
    blob = _blob(V1_RAW["sub/b.txt"])
    tree = _raw_tree(ws, "v2")
    object_path(ws, blob).unlink()
    object_path(ws, tree).unlink()
    result = run_dws("fsck", cwd=ws)
    assert_clean_error(result, 4, blob[:12], tree[:12], "missing")


def test_fsck_quick_still_finds_missing_objects(ws: Path) -> None:
    blob = _blob(V1_RAW["a.txt"])
    object_path(ws, blob).unlink()
    assert_clean_error(run_dws("fsck", "--quick", cwd=ws), 4, blob[:12])


def test_restore_needing_a_missing_blob_changes_nothing(ws: Path) -> None:
    object_path(ws, _blob(V1_RAW["a.txt"])).unlink()
    before = disk_state(ws)
    result = run_dws("restore", "v1", cwd=ws)
    assert_clean_error(result, 4, "a.txt")
    # neither raw (a.txt, sub/b.txt) nor features were touched
    assert disk_state(ws) == before
    # and the workspace did not move: status still compares with v2
    assert_ok(run_dws("status", cwd=ws))
    assert manifest(ws / "data/raw")["a.txt"][1] == V2_RAW["a.txt"].encode()


def test_restore_needing_a_missing_blob_of_a_later_resource_changes_nothing(ws: Path) -> None:
    """The blob missing belongs to features, restored after raw: raw must stay as it is."""
    object_path(ws, hash_bytes(F1)).unlink()
    before = disk_state(ws)
    assert_clean_error(run_dws("restore", "v1", cwd=ws), 4, "f.bin")
    assert disk_state(ws) == before


@pytest.mark.parametrize("damage", DAMAGE.values(), ids=DAMAGE.keys())
def test_restore_needing_a_damaged_tree_changes_nothing(
    ws: Path, damage: Callable[[Path], None]
) -> None:
    _damage(ws, _sub_tree(ws, "v1"), damage)
    before = disk_state(ws)
    assert_clean_error(run_dws("restore", "v1", cwd=ws), 4)
    assert disk_state(ws) == before


@pytest.mark.parametrize("damage", DAMAGE.values(), ids=DAMAGE.keys())
def test_restore_never_writes_a_damaged_blob(ws: Path, damage: Callable[[Path], None]) -> None:
    """A blob whose bytes no longer match its id must not be materialised as if it were
    the snapshot's content (docs/format.md: everything read from disk is validated before use).
    Files are written several at a time, so files next to a.txt may already be restored
    when its blob fails: each is wholly its old or its new version, and nothing of the
    damaged blob reaches the disk."""
    _damage(ws, _blob(V1_RAW["a.txt"]), damage)
    result = run_dws("restore", "v1", cwd=ws)
    restored = (ws / "data/raw/a.txt").read_bytes()
    assert restored == V2_RAW["a.txt"].encode(), (
        f"restore wrote {restored!r} into data/raw/a.txt (exit {result.code})"
    )
    assert_clean_error(result, 4)
    assert not temp_files(ws / "data"), temp_files(ws / "data")
    raw = {p: e[1] for p, e in manifest(ws / "data/raw").items() if e[0] == "file"}
    for path, content in raw.items():
        assert content in (V1_RAW[path].encode(), V2_RAW[path].encode()), path


@pytest.mark.parametrize("which", ["small", "large"])
@pytest.mark.parametrize("damage", [_flip, _append], ids=["flipped-bit", "appended"])
def test_restore_stops_at_a_damaged_blob_of_a_later_resource(
    ws: Path, damage: Callable[[Path], None], which: str
) -> None:
    """The damaged blob belongs to features, restored after raw: restore exits 4, the
    damaged bytes never reach the file, every file is wholly old or new, no temporary
    file is left, and status tells the truth about what is on disk."""
    name, v1, v2 = ("f.bin", F1, F2) if which == "small" else ("big.bin", BIG1, BIG2)
    _damage(ws, hash_bytes(v1), damage)
    result = run_dws("restore", "v1", cwd=ws)
    assert_clean_error(result, 4)
    assert (ws / "data/features" / name).read_bytes() == v2
    assert not temp_files(ws / "data"), temp_files(ws / "data")
    raw = {p: e[1] for p, e in manifest(ws / "data/raw").items() if e[0] == "file"}
    for path, content in raw.items():
        assert content in (V1_RAW[path].encode(), V2_RAW[path].encode()), path
    # status tells the truth: a features file is listed iff it differs from its base
    versions = {tag_target(ws, "v1"): {"f.bin": F1, "big.bin": BIG1}}
    versions[tag_target(ws, "v2")] = {"f.bin": F2, "big.bin": BIG2}
    base = versions[head_bases(ws)["features"]]
    differing = sorted(p for p in base if (ws / "data/features" / p).read_bytes() != base[p])
    assert sorted(status_changes(ws)["features"]) == differing


def test_status_after_a_damaged_blob_restore_is_not_fooled(ws: Path) -> None:
    """Whatever restore does with a damaged blob, status must never call a file whose
    bytes differ from the snapshot it compares with 'unchanged'."""
    _damage(ws, _blob(V1_RAW["a.txt"]), _flip)
    run_dws("restore", "v1", cwd=ws)
    on_disk = (ws / "data/raw/a.txt").read_bytes()
    base = V1_RAW if head_id(ws) == tag_target(ws, "v1") else V2_RAW
    changed = status_changes(ws)["raw"]
    assert ("a.txt" in changed) == (on_disk != base["a.txt"].encode()), (on_disk, changed)
