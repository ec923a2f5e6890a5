"""Large files kept as chunks, under damage, kills, full disks and hostile bytes: a damaged
chunk, list or pack is named (exit 4) and never written out; a snapshot killed while it
stores chunks (or converts a loose version) leaves a store fsck accepts and a rerun
completes; a full disk is a clear error that records nothing."""

from __future__ import annotations

import os
import random
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from blake3 import blake3

from dws.store.chunklist import ChunkList, Piece
from dws.store.packed import PackedObjectStore
from helpers.chunks import MiB, csv_bytes, csv_lines
from helpers.failure import (
    assert_clean_error,
    assert_ok,
    assert_store_ok,
    copy_workspace,
    disk_state,
    head_id,
    kill_after,
    kill_rounds,
    kill_seed,
    make_workspace,
    meta,
    records,
    run_crashing,
    run_dws,
    start_dws,
    temp_files,
    timed_run,
)

RESOURCES = (("data", "source-data", "data"),)
TABLE = "data/table.csv"
V1 = b"id,a,b\n" + csv_bytes(random.Random(1), 8 * MiB)
V2 = V1 + csv_lines(random.Random(2), 3000)  # an append: v1's last chunk is v1's alone
V1_ID, V2_ID = blake3(V1).hexdigest(), blake3(V2).hexdigest()
SMALL = {"data/notes.txt": b"kept beside the table\n"}


def _write(root: Path, files: dict[str, bytes]) -> None:
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The table at v1 then v2 (an append), both snapshotted; the workspace at v2."""
    root = tmp_path_factory.mktemp("chunk-failures") / "ws"
    make_workspace(root, RESOURCES)
    _write(root, {TABLE: V1, **SMALL})
    assert_ok(run_dws("snapshot", "v1", cwd=root))
    _write(root, {TABLE: V2})
    assert_ok(run_dws("snapshot", "v2", cwd=root))
    return root


@pytest.fixture
def ws(template: Path, tmp_path: Path) -> Path:
    return copy_workspace(template, tmp_path / "ws")


@contextmanager
def _store(root: Path) -> Iterator[PackedObjectStore]:
    store = PackedObjectStore(str(meta(root, "objects")))
    try:
        yield store
    finally:
        store.close()


def _lists(root: Path) -> tuple[ChunkList, ChunkList]:
    with _store(root) as store:
        v1, v2 = store.chunk_list(V1_ID), store.chunk_list(V2_ID)
    assert v1 is not None and v2 is not None, "the table is not kept as chunks"
    return v1, v2


def _v1_only_chunk(root: Path) -> str:
    """A chunk of v1 that v2 does not have."""
    v1, v2 = _lists(root)
    only = [c for c in v1.chunk_ids() if c not in set(v2.chunk_ids())]
    assert only, "v1 and v2 share every chunk"
    return only[-1]


def _entry(root: Path, oid: str) -> tuple[Path, int, int]:
    """(pack file, offset, length) of a packed object."""
    with _store(root) as store:
        found = store._find(oid)
        assert found is not None and found[0] is not None, f"{oid[:12]} is not packed"
        pack, entry = found
        return Path(store.packs_dir) / f"{pack}.pack", entry.offset, entry.length


def _poke(path: Path, offset: int, value: int | None = None) -> None:
    """Flip one byte of ``path`` (or set it to ``value``)."""
    path.chmod(0o644)  # objects are read-only; tests run as root anyway
    with open(path, "r+b") as handle:
        handle.seek(offset)
        old = handle.read(1)[0]
        handle.seek(offset)
        handle.write(bytes([old ^ 0x01 if value is None else value]))


def _list_file(root: Path, oid: str) -> Path:
    return meta(root, "objects", "lists", oid[:2], oid[2:])


def _replace_list(root: Path, oid: str, chunks: ChunkList) -> None:
    path = _list_file(root, oid)
    path.chmod(0o644)
    path.write_bytes(chunks.encode())


def _assert_restore_refused(root: Path, *needles: str) -> None:
    """`dws restore v1` exits 4 with a clean error and leaves the table at v2."""
    result = run_dws("restore", "v1", cwd=root)
    assert_clean_error(result, 4)
    text = result.err.lower()
    assert any(needle[:12] in text for needle in needles), (needles, result.err)
    assert (root / TABLE).read_bytes() == V2
    assert not temp_files(root / "data"), temp_files(root / "data")


def _assert_refused_on_absence(root: Path) -> None:
    """With the table deleted, a forced restore of v1 still writes nothing there."""
    (root / TABLE).unlink()
    result = run_dws("restore", "--force", "v1", cwd=root)
    assert_clean_error(result, 4)
    assert not (root / TABLE).exists()
    assert not temp_files(root / "data"), temp_files(root / "data")


# ---- damage -----------------------------------------------------------------------------


@pytest.mark.parametrize("where", ["codec", "middle"])
def test_a_damaged_chunk_is_named_and_never_written(ws: Path, where: str) -> None:
    chunk = _v1_only_chunk(ws)
    pack, offset, length = _entry(ws, chunk)
    _poke(pack, offset if where == "codec" else offset + length // 2)
    _assert_restore_refused(ws, chunk, V1_ID)
    fsck = run_dws("fsck", cwd=ws)
    assert_clean_error(fsck, 4)
    assert chunk[:12] in fsck.out + fsck.err or V1_ID[:12] in fsck.out + fsck.err
    assert_ok(run_dws("restore", "v2", cwd=ws))  # v2 does not need it
    _assert_refused_on_absence(ws)


def test_a_damaged_chunk_list_is_reported_and_never_used(ws: Path) -> None:
    _poke(_list_file(ws, V1_ID), 50)
    fsck = run_dws("fsck", cwd=ws)
    assert_clean_error(fsck, 4, "chunk list", V1_ID[:12])
    _assert_restore_refused(ws, V1_ID)
    _assert_refused_on_absence(ws)


def test_fsck_with_a_damaged_list_still_lists_every_problem(ws: Path) -> None:
    _poke(_list_file(ws, V1_ID), 50)
    with _store(ws) as store:
        v2_chunk = next(iter(store.chunk_list(V2_ID).chunk_ids()))  # type: ignore[union-attr]
    pack, offset, length = _entry(ws, v2_chunk)
    _poke(pack, offset + length // 2)
    result = run_dws("--json", "fsck", cwd=ws)
    assert result.code == 4
    assert result.out.strip().startswith("{"), result.err  # a report, not an abort
    assert V1_ID[:12] in result.out and v2_chunk[:12] in result.out


def test_a_list_naming_a_missing_chunk(ws: Path) -> None:
    v1, _ = _lists(ws)
    stranger = blake3(b"a chunk nobody stored").digest()
    pieces = list(v1.pieces)
    index = next(i for i, p in enumerate(pieces) if not p.zeros)
    pieces[index] = Piece(stranger, pieces[index].length)
    _replace_list(ws, V1_ID, ChunkList(v1.size, pieces))  # a valid list, wrong chunk
    fsck = run_dws("fsck", cwd=ws)
    assert_clean_error(fsck, 4)
    report = (fsck.out + fsck.err).lower()
    assert "missing" in report and "chunks" in report and V1_ID[:12] in report, report
    _assert_restore_refused(ws, stranger.hex(), V1_ID)
    _assert_refused_on_absence(ws)


def _truncate_at(root: Path, chunk: str) -> None:
    pack, offset, length = _entry(root, chunk)
    pack.chmod(0o644)
    os.truncate(pack, offset + length // 2)


def test_a_truncated_pack_stops_restore(ws: Path) -> None:
    _truncate_at(ws, _v1_only_chunk(ws))
    result = run_dws("restore", "v1", cwd=ws)
    assert_clean_error(result, 4)
    assert (ws / TABLE).read_bytes() == V2
    assert not temp_files(ws / "data")
    assert_clean_error(run_dws("fsck", cwd=ws), 4)


def test_a_truncated_pack_names_an_object_it_held(ws: Path) -> None:
    chunk = _v1_only_chunk(ws)
    with _store(ws) as store:
        held = {key.hex()[:12] for index in store._load_indexes().values() for key, _ in index}
    held |= {V1_ID[:12], V2_ID[:12]}
    _truncate_at(ws, chunk)
    result = run_dws("restore", "v1", cwd=ws)
    assert_clean_error(result, 4)
    named = re.findall(r"object ([0-9a-f]{12})", result.err)
    assert named and all(name in held for name in named), result.err


@pytest.mark.parametrize("victim", ["chunk", "small"])
def test_an_entry_with_an_unknown_codec_is_an_integrity_error(ws: Path, victim: str) -> None:
    oid = _v1_only_chunk(ws) if victim == "chunk" else blake3(SMALL["data/notes.txt"]).hexdigest()
    pack, offset, _ = _entry(ws, oid)
    _poke(pack, offset, 9)
    if victim == "chunk":
        _assert_restore_refused(ws, oid, V1_ID)
    else:
        (ws / "data/notes.txt").unlink()
        result = run_dws("restore", "--force", "v1", cwd=ws)
        assert_clean_error(result, 4, oid[:12])
        assert not (ws / "data/notes.txt").exists()
    fsck = run_dws("fsck", cwd=ws)
    assert_clean_error(fsck, 4)
    assert oid[:12] in fsck.out + fsck.err


def test_a_newer_workspace_format_is_refused_before_anything(ws: Path) -> None:
    path = meta(ws, "workspace.json")
    path.write_bytes(path.read_bytes().replace(b'"format":2', b'"format":3'))
    assert b'"format":3' in path.read_bytes()
    before = disk_state(ws)
    for command in (("restore", "v1"), ("status",), ("fsck",), ("snapshot",)):
        result = run_dws(*command, cwd=ws)
        assert_clean_error(result, 4, "format version 3", "upgrade dws")
    assert disk_state(ws) == before


# ---- kills ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fresh(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The table at v1, never snapshotted."""
    root = tmp_path_factory.mktemp("chunk-kills") / "ws"
    make_workspace(root, RESOURCES)
    _write(root, {TABLE: V1, **SMALL})
    return root


def _check_after_crash(root: Path, expected: bytes, context: str) -> None:
    """fsck accepts what the crash left; a rerun of the snapshot completes and records the
    table as it is; every snapshot restores byte for byte."""
    assert_store_ok(root, context)
    assert_ok(run_dws("snapshot", "again", cwd=root))
    assert_store_ok(root, context + " (after the rerun)")
    for rec in records(root):
        assert_ok(run_dws("restore", rec.id, cwd=root))
        data = (root / TABLE).read_bytes()
        assert blake3(data).hexdigest() in (V1_ID, V2_ID, blake3(expected).hexdigest()), context
    assert_ok(run_dws("restore", "again", cwd=root))
    assert (root / TABLE).read_bytes() == expected, context


FIRST_SNAPSHOT_POINTS = {
    "chunks-half-packed": "dws.store.packfile:PackWriter.add:after:12",
    "chunks-stored": "dws.store.packed:store_chunks:after:1",
    "pack-finished": "dws.store.packfile:PackWriter.finish:after:1",
    "list-installed": "dws.store.chunked:ListFiles.install:after:1",
    "before-the-record": "dws.core.catalog:SnapshotCatalog.put:before:1",
}


@pytest.mark.parametrize("point", FIRST_SNAPSHOT_POINTS.values(), ids=FIRST_SNAPSHOT_POINTS.keys())
def test_first_snapshot_of_a_chunked_file_killed(point: str, fresh: Path, tmp_path: Path) -> None:
    root = copy_workspace(fresh, tmp_path / "ws")
    crashed = run_crashing(point, "snapshot", "v1", cwd=root)
    assert crashed.code == -9, f"the crash point {point} was never reached: {crashed.err}"
    assert records(root) == []
    _check_after_crash(root, V1, point)


@pytest.fixture(scope="module")
def random_v1(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, bytes, bytes]:
    """A random 8 MiB file snapshotted loose as v1 (its stat-cache row recorded), then
    rewritten in 1 MiB at its middle, not yet snapshotted: the next snapshot keeps v2 as
    chunks and converts v1."""
    root = tmp_path_factory.mktemp("chunk-convert") / "ws"
    make_workspace(root, RESOURCES)
    rng = random.Random(5)
    first = rng.randbytes(8 * MiB)
    _write(root, {TABLE: first})
    # the stat cache records a file only once its timestamps are 100 ms older than the
    # scan; that row is how the next snapshot knows the previous version
    time.sleep(0.3)
    assert_ok(run_dws("snapshot", "v1", cwd=root))
    assert meta(root, "objects", _id(first)[:2], _id(first)[2:]).is_file()  # loose
    second = first[: 4 * MiB] + rng.randbytes(MiB) + first[5 * MiB :]
    with open(root / TABLE, "r+b") as handle:
        handle.seek(4 * MiB)
        handle.write(second[4 * MiB : 5 * MiB])
    return root, first, second


def _id(data: bytes) -> str:
    return blake3(data).hexdigest()


def test_the_conversion_case_is_what_the_kill_tests_need(
    random_v1: tuple[Path, bytes, bytes], tmp_path: Path
) -> None:
    template, first, second = random_v1
    root = copy_workspace(template, tmp_path / "ws")
    assert_ok(run_dws("snapshot", "v2", cwd=root))
    assert _list_file(root, _id(second)).is_file()
    assert _list_file(root, _id(first)).is_file()
    assert not meta(root, "objects", _id(first)[:2], _id(first)[2:]).exists()


CONVERSION_POINTS = {
    "v1-converted": "dws.store.packed:PackedObjectStore._convert:after:1",
    "lists-installed": "dws.store.chunked:ListFiles.install:after:2",
    "loose-v1-removed": "dws.store.loose:LooseObjectStore.delete:after:1",
    "before-the-record": "dws.core.catalog:SnapshotCatalog.put:before:1",
}


@pytest.mark.parametrize("point", CONVERSION_POINTS.values(), ids=CONVERSION_POINTS.keys())
def test_snapshot_converting_a_loose_version_killed(
    point: str, random_v1: tuple[Path, bytes, bytes], tmp_path: Path
) -> None:
    template, first, second = random_v1
    root = copy_workspace(template, tmp_path / "ws")
    crashed = run_crashing(point, "snapshot", "v2", cwd=root)
    assert crashed.code == -9, f"the crash point {point} was never reached: {crashed.err}"
    assert len(records(root)) == 1
    assert_store_ok(root, point)  # v1 is whole: loose, or chunks and list
    assert_ok(run_dws("restore", "--force", "v1", cwd=root))
    assert (root / TABLE).read_bytes() == first, point
    (root / TABLE).write_bytes(second)
    assert_ok(run_dws("snapshot", "v2", cwd=root))
    assert_store_ok(root, point + " (after the rerun)")
    for tag, data in (("v1", first), ("v2", second)):
        assert_ok(run_dws("restore", tag, cwd=root))
        assert (root / TABLE).read_bytes() == data, (point, tag)


@pytest.mark.slow
def test_snapshot_of_chunked_files_killed_at_random_moments(fresh: Path, tmp_path: Path) -> None:
    reference = copy_workspace(fresh, tmp_path / "reference")
    result, duration = timed_run("snapshot", "v1", cwd=reference)
    assert_ok(result)
    seed = kill_seed()
    rng = random.Random(seed)
    for round_no in range(kill_rounds(3)):
        root = copy_workspace(fresh, tmp_path / f"round{round_no}")
        delay = rng.uniform(0.0, 1.05) * duration
        context = f"seed {seed} round {round_no}: killed after {delay:.3f}s of ~{duration:.3f}s"
        kill_after(start_dws("snapshot", "v1", cwd=root), delay)
        _check_after_crash(root, V1, context)


# ---- a full disk ----------------------------------------------------------------------------


def _assert_disk_full(result: object) -> None:
    code, err = result.code, result.err  # type: ignore[attr-defined]
    assert code == 1, f"exit {code}\n{err}"
    first = err.strip().splitlines()[0]
    assert first.startswith("error: ") and "Traceback" not in err, err
    assert "No space left on device" in first and "objects" in first, err


DISK_FULL_POINTS = {
    "writing-chunks": "dws.store.packfile:PackWriter.add:ENOSPC:4",
    "writing-the-list": "dws.store.fileio:write_all:ENOSPC:1:DWSCHK01",
}


@pytest.mark.parametrize("point", DISK_FULL_POINTS.values(), ids=DISK_FULL_POINTS.keys())
def test_snapshot_of_a_chunked_file_on_a_full_disk(point: str, fresh: Path, tmp_path: Path) -> None:
    root = copy_workspace(fresh, tmp_path / "ws")
    result = run_crashing(point, "snapshot", "v1", cwd=root)
    _assert_disk_full(result)
    assert records(root) == [] and head_id(root) is None
    lists = meta(root, "objects", "lists")
    assert not [p for p in lists.rglob("*") if p.is_file()], "a list was recorded"
    assert_store_ok(root, point)
    assert_ok(run_dws("snapshot", "v1", cwd=root))
    assert_store_ok(root, point + " (after the rerun)")
    (root / TABLE).unlink()
    assert_ok(run_dws("restore", "--force", "v1", cwd=root))
    assert (root / TABLE).read_bytes() == V1


def test_restore_of_a_chunked_file_on_a_full_disk(ws: Path) -> None:
    result = run_crashing("dws.store.chunked:_write_at:ENOSPC:3", "restore", "v1", cwd=ws)
    code, err = result.code, result.err
    assert code == 1 and "No space left on device" in err and "Traceback" not in err, err
    assert (ws / TABLE).read_bytes() == V2  # wholly the old version
    assert not temp_files(ws / "data"), temp_files(ws / "data")
    assert_store_ok(ws, "restore on a full disk")
    assert_ok(run_dws("restore", "v1", cwd=ws))
    assert (ws / TABLE).read_bytes() == V1
