"""`dws swap`: the resource keeps its path and other data is put behind it, so code that
reads data/raw/... reads the swapped-in bytes and lineage records exactly those; what was
there is stored first and comes back with --back; refusals change nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from blake3 import blake3

from helpers.cli import (
    api,
    api_snapshot,
    as_json,
    assert_error,
    assert_unchanged,
    disk_state,
    manifest,
    ok,
    run_dws,
    write_files,
)

from .conftest import PREPARE_RUN

COUNT = "data = open('data/raw/t.csv', 'rb').read(); open('data/features/n.txt', 'w').write(f'{len(data.split())} {len(data)}\\n')"  # noqa: E501
COUNT_RUN = ("run", "-i", "data/raw/t.csv", "-o", "data/features/n.txt", "--", "python3", "-c", COUNT)  # fmt: skip  # noqa: E501
JOURNAL = ".dataworkspace/local/swaps.json"


def count(data: bytes) -> str:
    """What the COUNT script writes for ``data``."""
    return f"{len(data.split())} {len(data)}\n"


def swap(root: Path, *args: str) -> Any:
    """`dws --json swap ARGS`, which must succeed; its document."""
    return as_json(run_dws("--json", "swap", *args, cwd=root))


def raw_files(root: Path) -> dict[str, Any]:
    return manifest(root / "data/raw")


@pytest.fixture
def ws(pipeline: Path) -> Path:
    """The pipeline workspace with raw at v1: t.csv and old.csv."""
    write_files(pipeline, {"data/raw/t.csv": "a b\n", "data/raw/old.csv": "old\n"})
    api_snapshot(pipeline, "v1")
    return pipeline


@pytest.fixture
def dec(tmp_path: Path) -> Path:
    """A directory to swap in, outside the workspace."""
    directory = tmp_path / "raw-dec"
    write_files(directory, {"t.csv": "x y z\n1 2 3\n", "sub/new.csv": "new\n"})
    return directory


def test_code_reading_the_path_reads_the_swapped_in_bytes(ws: Path, dec: Path) -> None:
    specs = (ws / ".dataworkspace/resources.json").read_bytes()
    dec_before = manifest(dec)
    doc = swap(ws, "raw", str(dec))
    assert doc["applied"] is True and doc["path"] == str(ws / "data/raw")
    assert (ws / ".dataworkspace/resources.json").read_bytes() == specs
    assert manifest(dec) == dec_before  # only read
    assert raw_files(ws) == manifest(dec)  # exactly DIR's content; old.csv removed
    ok(run_dws(*COUNT_RUN, cwd=ws))
    data = (dec / "t.csv").read_bytes()
    assert (ws / "data/features/n.txt").read_text() == count(data)
    runs = ws / ".dataworkspace/lineage/runs"
    (record,) = [json.loads(p.read_text()) for p in runs.iterdir()]
    (raw_input,) = [i for i in record["inputs"] if i["resource"] == "raw"]
    assert raw_input["path"] == "t.csv" and raw_input["id"] == blake3(data).hexdigest()


def test_back_brings_back_a_file_never_snapshotted(ws: Path, dec: Path) -> None:
    (ws / "data/raw/hand.txt").write_text("made by hand\n")
    before = raw_files(ws)
    doc = swap(ws, "raw", str(dec))
    assert doc["back"] == 1
    assert not (ws / "data/raw/hand.txt").exists()
    # gc keeps what --back needs, although no snapshot references it
    ok(run_dws("gc", cwd=ws))
    back = swap(ws, "raw", "--back")
    assert back["applied"] is True and back["back"] == 0
    assert raw_files(ws) == before
    assert (ws / "data/raw/hand.txt").read_text() == "made by hand\n"
    assert_error(run_dws("swap", "raw", "--back", cwd=ws), 2, contains="no swap")


def test_swaps_stack_and_go_back_in_order(ws: Path, dec: Path, tmp_path: Path) -> None:
    original = raw_files(ws)
    jan = tmp_path / "raw-jan"
    write_files(jan, {"t.csv": "jan\n"})
    swap(ws, "raw", str(dec))
    assert swap(ws, "raw", str(jan))["back"] == 2
    swap(ws, "raw", "--back")
    assert raw_files(ws) == manifest(dec)
    swap(ws, "raw", "--back")
    assert raw_files(ws) == original


def test_swap_to_a_snapshot_then_back(ws: Path) -> None:
    v1 = raw_files(ws)
    write_files(ws, {"data/raw/t.csv": "changed\n", "data/raw/extra.csv": "extra\n"})
    changed = raw_files(ws)
    doc = swap(ws, "raw", "raw@v1")
    assert doc["applied"] is True and doc["source"] == "raw@v1"
    assert raw_files(ws) == v1
    status = as_json(run_dws("--json", "status", cwd=ws))
    raw = next(r for r in status["resources"] if r["name"] == "raw")
    assert raw["changes"] == []  # its base is v1 now, as after restore --only raw
    swap(ws, "raw", "--back")
    assert raw_files(ws) == changed


def test_dry_run_changes_nothing_and_shows_the_real_changes(ws: Path, dec: Path) -> None:
    (ws / "data/raw/hand.txt").write_text("hand\n")
    before = disk_state(ws)
    dry = swap(ws, "raw", str(dec), "--dry-run")
    assert dry["applied"] is False
    assert_unchanged(ws, before)
    assert not (ws / JOURNAL).exists()
    text = ok(run_dws("swap", "raw", str(dec), "--dry-run", cwd=ws)).out
    assert_unchanged(ws, before)
    real = swap(ws, "raw", str(dec))
    assert real["changes"] == dry["changes"]
    statuses = {c["path"]: c["status"] for c in real["changes"]}
    assert statuses == {
        "hand.txt": "deleted",
        "old.csv": "deleted",
        "sub/new.csv": "added",
        "t.csv": "modified",
        "train.csv": "deleted",
    }
    for path in statuses:
        assert path in text
    # and for --back and NAME@REF too
    before = disk_state(ws)
    dry_back = swap(ws, "raw", "--back", "--dry-run")
    assert_unchanged(ws, before)
    assert {c["path"]: c["status"] for c in dry_back["changes"]} == {
        "hand.txt": "added",
        "old.csv": "added",
        "sub/new.csv": "deleted",
        "t.csv": "modified",
        "train.csv": "added",
    }
    dry_ref = swap(ws, "raw", "raw@v1", "--dry-run")
    assert_unchanged(ws, before)
    assert swap(ws, "raw", "raw@v1")["changes"] == dry_ref["changes"]


def test_downstream_outputs_are_listed_as_stale(pipeline: Path, dec: Path) -> None:
    ok(run_dws(*PREPARE_RUN, cwd=pipeline))
    write_files(dec, {"train.csv": "a,b\n9,9\n"})
    doc = swap(pipeline, "raw", str(dec))
    assert [s["path"] for s in doc["stale"]] == ["data/features/train.csv"]
    text = ok(run_dws("swap", "raw", "--back", cwd=pipeline)).out
    assert "stale" not in text


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("features", "DEC"), 2, "source data only"),
        (("nosuch", "DEC"), 2, "no resource"),
        (("raw", "no/such/dir"), 2, "does not exist"),
        (("raw", "data/raw/sub"), 2, "overlaps resource"),
        (("raw", "data"), 2, "overlaps resource"),
        (("raw", ".dataworkspace"), 2, "metadata"),
        (("raw", "raw@nosuch"), 2, "nosuch"),
        (("raw", "features@v1"), 2, "raw@SNAPSHOT"),
        (("raw", "--back"), 2, "no swap"),
        (("raw",), 2, "--back"),
        (("raw", "DEC", "--back"), 2, "--back"),
        (("archive", "DEC"), 3, "keeps hashes only"),
    ],
)
def test_refusals_change_nothing(
    ws: Path, dec: Path, args: tuple[str, ...], code: int, message: str
) -> None:
    (ws / "data/raw/sub").mkdir()
    (ws / "archive").mkdir()
    (ws / "archive/a.bin").write_bytes(b"big")
    api(ws).add_resource("local-files", str(ws / "archive"), "source-data", keep="hashes")
    api_snapshot(ws, "v2")
    before = disk_state(ws)
    argv = [str(dec) if a == "DEC" else a for a in args]
    assert_error(run_dws("swap", *argv, cwd=ws), code, contains=message)
    assert_unchanged(ws, before)
    assert not (ws / JOURNAL).exists()


def test_refuses_a_git_repository_as_source(ws: Path, dec: Path) -> None:
    (dec / ".git").mkdir()
    before = disk_state(ws)
    assert_error(run_dws("swap", "raw", str(dec), cwd=ws), 2, contains="git repository")
    assert_unchanged(ws, before)
