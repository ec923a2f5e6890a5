"""Large files kept as content-defined chunks (docs/format.md, "Chunked files"), through
the CLI: versions of an edited file share their chunks, sparse files stay sparse in the
store and on restore, a random file stays loose (hard-linkable) until a similar version
comes, and every version restores byte for byte."""

from __future__ import annotations

import os
import random
import shutil
import sqlite3
import time
from pathlib import Path

import pytest

import dws
from helpers.chunks import MiB, allocated, csv_bytes, csv_lines, du, file_hash, make_sparse
from helpers.cli import as_json, ok
from helpers.cli import dws as run

META = ".dataworkspace"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A workspace with one source-data resource ``data`` (data/), nothing snapshotted."""
    ws_root = tmp_path / "ws"
    (ws_root / "data").mkdir(parents=True)
    ws = dws.Workspace.init(str(ws_root))
    ws.add_resource("local-files", str(ws_root / "data"), "source-data", name="data")
    return ws_root


def _objects(root: Path) -> Path:
    return root / META / "objects"


def _list_path(root: Path, oid: str) -> Path:
    return _objects(root) / "lists" / oid[:2] / oid[2:]


def _loose_path(root: Path, oid: str) -> Path:
    return _objects(root) / oid[:2] / oid[2:]


def _settle() -> None:
    """Let the file just written age past the timestamp granularity (100 ms), so the
    next scan records its stat-cache row: that row is how the next snapshot knows the
    file's previous version (docs/format.md, statcache.sqlite)."""
    time.sleep(0.3)


def _cached_id(root: Path, name: str) -> str | None:
    db = sqlite3.connect(root / META / "local" / "statcache.sqlite")
    try:
        row = db.execute("SELECT id FROM file_stat WHERE name = ?", (name,)).fetchone()
    finally:
        db.close()
    return None if row is None else str(row[0])


def _restore_and_compare(root: Path, tag: str, copy: Path, *extra: str) -> None:
    ok(run(root, "restore", tag, *extra))
    restored = root / "data" / copy.name.split("@")[0]
    assert restored.read_bytes() == copy.read_bytes(), f"restore {tag} differs"


# ---- an edited CSV --------------------------------------------------------------------------


def test_edits_of_a_large_csv_share_chunks_and_every_version_restores(
    root: Path, tmp_path: Path
) -> None:
    rng = random.Random(24)
    table = root / "data" / "table.csv"
    copies = tmp_path / "copies"
    copies.mkdir()
    table.write_bytes(b"id,a,b,c\n" + csv_bytes(rng, 24 * MiB))
    size = table.stat().st_size

    def snapshot(tag: str) -> None:
        ok(run(root, "snapshot", tag))
        shutil.copyfile(table, copies / f"table.csv@{tag}")

    snapshot("v1")
    v1_id = file_hash(table)
    assert _list_path(root, v1_id).is_file()  # compressible: kept as chunks
    assert not _loose_path(root, v1_id).exists()
    assert du(_objects(root)) < 0.7 * size  # and compressed
    after_v1 = du(_objects(root))

    with open(table, "ab") as handle:  # append 2% more lines
        handle.write(csv_lines(rng, size // 50 // 28))
    snapshot("v2")
    with open(table, "r+b") as handle:  # overwrite 64 KiB in the middle
        handle.seek(size // 2)
        handle.write(csv_bytes(rng, 64 << 10))
    snapshot("v3")
    table.write_bytes(b"# exported 2026-12-06\n" + table.read_bytes())  # a new first line
    snapshot("v4")

    growth = du(_objects(root)) - after_v1
    assert growth < 0.10 * size, f"three small edits grew the store by {growth} bytes"
    ids = {file_hash(copies / f"table.csv@v{n}") for n in range(1, 5)}
    assert len(ids) == 4 and all(_list_path(root, oid).is_file() for oid in ids)

    for tag in ("v1", "v3", "v2", "v4", "v1"):
        _restore_and_compare(root, tag, copies / f"table.csv@{tag}")
    ok(run(root, "fsck"))

    ok(run(root, "delete-snapshot", "v2"))
    ok(run(root, "delete-snapshot", "v3"))
    before_gc = du(_objects(root))
    report = as_json(run(root, "--json", "gc"))
    assert report["removed"] >= 2  # the two lists at least
    assert du(_objects(root)) < before_gc
    ok(run(root, "fsck"))
    for tag in ("v4", "v1", "v4"):
        _restore_and_compare(root, tag, copies / f"table.csv@{tag}")
    ok(run(root, "fsck"))


# ---- a sparse file ---------------------------------------------------------------------------


def test_a_sparse_file_stays_sparse_in_the_store_and_on_restore(root: Path) -> None:
    rng = random.Random(256)
    big = root / "data" / "disk.img"
    pieces = {
        0: csv_bytes(rng, MiB),
        100 * MiB + 4096: rng.randbytes(MiB),
        200 * MiB: csv_bytes(rng, MiB),
        255 * MiB: rng.randbytes(MiB),
    }
    make_sparse(big, 256 * MiB, pieces)
    if allocated(big) > 16 * MiB:
        pytest.skip("this filesystem does not keep holes")
    expected = file_hash(big)
    before = du(_objects(root))

    ok(run(root, "snapshot", "v1"))

    assert du(_objects(root)) - before < 16 * MiB
    assert _list_path(root, expected).is_file()
    big.unlink()
    ok(run(root, "restore", "--force", "v1"))
    assert big.stat().st_size == 256 * MiB
    assert file_hash(big) == expected
    assert allocated(big) < 32 * MiB
    ok(run(root, "fsck"))


# ---- a random file: loose first, chunked once a similar version comes ------------------------


def test_a_random_file_stays_loose_until_a_similar_version_comes(
    root: Path, tmp_path: Path
) -> None:
    rng = random.Random(32)
    path = root / "data" / "blob.bin"
    v1 = rng.randbytes(32 * MiB)
    path.write_bytes(v1)
    v1_id = file_hash(path)
    _settle()
    ok(run(root, "snapshot", "v1"))

    loose = _loose_path(root, v1_id)
    assert loose.is_file() and not _list_path(root, v1_id).exists()
    path.unlink()
    ok(run(root, "restore", "--link", "hardlink", "v1"))
    assert path.stat().st_nlink >= 2 and path.stat().st_ino == loose.stat().st_ino
    _settle()
    ok(run(root, "status"))
    assert _cached_id(root, "blob.bin") == v1_id  # the previous version is known

    # a private copy (never edit a hard link to the store), then 3 blocks of 1 MiB
    # rewritten in place
    path.unlink()
    path.write_bytes(v1)
    with open(path, "r+b") as handle:
        for block in (3, 17, 29):
            handle.seek(block * MiB)
            handle.write(rng.randbytes(MiB))
    v2 = path.read_bytes()
    after_v1 = du(_objects(root))
    ok(run(root, "snapshot", "v2"))

    v2_id = file_hash(path)
    assert _list_path(root, v2_id).is_file()  # shares chunks with v1: chunked
    assert _list_path(root, v1_id).is_file()  # and v1 converted,
    assert not loose.exists()  # its loose copy gone
    growth = du(_objects(root)) - after_v1
    assert growth < 0.25 * len(v1), f"3 MiB rewritten grew the store by {growth} bytes"
    ok(run(root, "fsck"))

    for tag, data in (("v1", v1), ("v2", v2), ("v1", v1)):
        ok(run(root, "restore", tag))
        assert path.read_bytes() == data, tag
    path.unlink()
    ok(run(root, "restore", "--link", "hardlink", "v2"))
    assert path.read_bytes() == v2
    assert path.stat().st_nlink == 1  # a chunked file is copied
    assert os.access(path, os.R_OK)
    ok(run(root, "fsck"))
