"""dws restore --link hardlink: source data's large files as read-only hard links to the
store; other roles and small files copied; in-place edits of a link detected."""

from __future__ import annotations

import os
import random
import stat
import time
from pathlib import Path

import pytest
from blake3 import blake3

from dws.errors import UsageError
from helpers.cli import api, api_snapshot, as_json, assert_error, dws, manifest, ok, set_exec

BIG = 5 << 20  # above the size from which objects are stored as files of their own


def _big(seed: int) -> bytes:
    # random bytes: a large file that compresses would be kept as chunks, never linked
    return random.Random(seed).randbytes(BIG)


def _store_file(ws: Path, data: bytes) -> Path:
    oid = blake3(data).hexdigest()
    return ws / ".dataworkspace" / "objects" / oid[:2] / oid[2:]


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def _setup(ws: Path) -> tuple[bytes, bytes]:
    big, feature = _big(1), _big(2)
    (ws / "data/raw/big.bin").write_bytes(big)
    (ws / "data/raw/tool").write_bytes(_big(3))
    set_exec(ws / "data/raw/tool", True)
    (ws / "data/raw/small.csv").write_text("a,b\n1,2\n")
    (ws / "data/features/f.bin").write_bytes(feature)
    api_snapshot(ws, "v1")
    return big, feature


def _empty(directory: Path) -> None:
    for child in directory.iterdir():
        child.unlink()


def test_large_source_files_become_read_only_links_to_the_store(ws: Path) -> None:
    big, _ = _setup(ws)
    raw_v1, features_v1 = manifest(ws / "data/raw"), manifest(ws / "data/features")
    _empty(ws / "data/raw")
    _empty(ws / "data/features")

    result = ok(dws(ws, "restore", "--link", "hardlink", "v1"))

    assert manifest(ws / "data/raw") == raw_v1
    assert manifest(ws / "data/features") == features_v1
    linked = ws / "data/raw/big.bin"
    assert linked.stat().st_ino == _store_file(ws, big).stat().st_ino
    assert linked.stat().st_nlink == 2
    assert _mode(linked) & 0o222 == 0
    # small and executable files are copies, read-only too
    for name in ("small.csv", "tool"):
        assert (ws / "data/raw" / name).stat().st_nlink == 1
        assert _mode(ws / "data/raw" / name) & 0o222 == 0
    assert _mode(ws / "data/raw/tool") & 0o100
    # intermediate data is never linked: it is written by pipeline steps
    assert (ws / "data/features/f.bin").stat().st_nlink == 1
    assert _mode(ws / "data/features/f.bin") & 0o200
    assert "1 file(s) hard-linked" in result.err
    status = as_json(dws(ws, "--json", "status"))
    assert all(item["changes"] == [] for item in status["resources"]), status


def test_a_later_copy_restore_replaces_links_and_leaves_the_store_alone(ws: Path) -> None:
    big, _ = _setup(ws)
    (ws / "data/raw/big.bin").write_bytes(_big(9))
    api_snapshot(ws, "v2")
    ok(dws(ws, "restore", "--link", "hardlink", "v1"))
    assert (ws / "data/raw/big.bin").stat().st_nlink == 2

    ok(dws(ws, "restore", "v2"))
    ok(dws(ws, "restore", "v1"))

    restored = ws / "data/raw/big.bin"
    assert restored.read_bytes() == big
    assert restored.stat().st_nlink == 1
    assert _mode(restored) & 0o200
    assert _mode(_store_file(ws, big)) == 0o444


def test_an_in_place_edit_of_a_link_is_reported_and_its_object_dropped(ws: Path) -> None:
    big, _ = _setup(ws)
    _empty(ws / "data/raw")
    ok(dws(ws, "restore", "--link", "hardlink", "v1"))
    time.sleep(0.3)  # let the stat cache vouch for the restored file
    ok(dws(ws, "status"))
    linked = ws / "data/raw/big.bin"
    os.chmod(linked, 0o644)  # what it takes to write into it (root needs not even that)
    with open(linked, "r+b") as handle:
        handle.write(b"edited in place")

    result = ok(dws(ws, "snapshot", "v2"))

    assert "changed in place while hard-linked" in result.err
    assert not _store_file(ws, big).exists()
    # the loss is visible, never silent: fsck names it, restore refuses before writing
    assert_error(dws(ws, "fsck"), 4, max_lines=5)
    before = manifest(ws / "data/raw")
    assert_error(dws(ws, "restore", "--force", "v1"), 4, max_lines=5, contains="missing")
    assert manifest(ws / "data/raw") == before
    # the edited content itself was stored properly
    _empty(ws / "data/raw")
    ok(dws(ws, "restore", "v2"))
    assert linked.read_bytes()[:15] == b"edited in place"


def test_a_damaged_store_object_is_never_linked(ws: Path) -> None:
    big, _ = _setup(ws)
    stored = _store_file(ws, big)
    os.chmod(stored, 0o644)
    with open(stored, "r+b") as handle:
        handle.write(b"bit rot")
    _empty(ws / "data/raw")

    assert_error(dws(ws, "restore", "--link", "hardlink", "v1"), 4, contains="corrupt")

    assert not (ws / "data/raw/big.bin").exists()


def test_unknown_link_mode_is_a_usage_error(ws: Path) -> None:
    _setup(ws)
    result = dws(ws, "restore", "--link", "symlink", "v1")
    assert result.code == 2
    assert "Traceback" not in result.err


def test_the_api_refuses_an_unknown_link_mode_before_touching_anything(ws: Path) -> None:
    _setup(ws)
    (ws / "data/raw/big.bin").unlink()
    with pytest.raises(UsageError, match="unknown link mode"):
        api(ws).restore("v1", link="symlink")
    assert not (ws / "data/raw/big.bin").exists()
