"""restore destroys nothing that is not in the store: --force saves unsaved files in a
recovery record first, content only the store still holds is overwritten without --force
(and kept), and `dws recover` gives every byte back."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from helpers.cli import (
    META,
    api_snapshot,
    as_json,
    assert_error,
    assert_unchanged,
    disk_state,
    dws,
    manifest,
    object_path,
    ok,
    set_exec,
    symlink,
    write_files,
)

RECOVERY = f"{META}/local/recovery"


def _records(ws: Path) -> list[dict[str, object]]:
    doc = as_json(dws(ws, "--json", "recover"))
    records: list[dict[str, object]] = doc["records"]
    return records


def _unsaved_work(features: Path) -> None:
    """Every kind of unsaved change restore would overwrite or delete."""
    write_files(
        features,
        {
            "f.npy": b"edited, never snapshotted",
            "scratch.txt": "an untracked scratch file\n",
            "new dir/deep/x.bin": bytes(range(256)) * 40,
        },
    )
    set_exec(features / "new dir/deep/x.bin", True)
    symlink(features / "link", "scratch.txt")


def test_force_saves_unsaved_files_and_recover_gives_them_back(ws_v1: Path) -> None:
    features = ws_v1 / "data/features"
    v1 = manifest(features)
    _unsaved_work(features)
    unsaved = manifest(features)

    result = ok(dws(ws_v1, "restore", "v1", "--force"))

    assert manifest(features) == v1
    [record] = _records(ws_v1)
    short = str(record["id"])[:10]
    assert f"dws recover {short}" in result.err
    saved = record["resources"]["features"]["paths"]  # type: ignore[index]
    assert sorted(saved) == ["f.npy", "link", "new dir/deep/x.bin", "scratch.txt"]

    ok(dws(ws_v1, "recover", short, "--to", "../out"))
    out = manifest(ws_v1.parent / "out" / "features")
    assert {p: v for p, v in out.items() if v[0] != "dir"} == {p: unsaved[p] for p in saved}, (
        "every byte, link and exec bit comes back"
    )


def test_recover_in_place_refuses_over_other_content_then_writes(ws_v1: Path) -> None:
    features = ws_v1 / "data/features"
    _unsaved_work(features)
    unsaved = manifest(features)
    ok(dws(ws_v1, "restore", "v1", "--force"))
    short = str(_records(ws_v1)[0]["id"])[:10]
    before = disk_state(ws_v1)

    refused = dws(ws_v1, "recover", short)

    assert_error(refused, 3, max_lines=3, contains="f.npy")
    assert_unchanged(ws_v1, before)

    (features / "f.npy").unlink()  # the user moves the restored version away
    dry = ok(dws(ws_v1, "recover", short, "--dry-run"))
    assert "scratch.txt" in dry.err
    assert_unchanged(ws_v1, {**before, "files": disk_state(ws_v1)["files"]})
    ok(dws(ws_v1, "recover", short))

    assert manifest(features) == unsaved
    ok(dws(ws_v1, "recover", short))  # everything already there: nothing to write


def test_dry_run_says_what_would_be_saved_and_saves_nothing(ws_v1: Path) -> None:
    features = ws_v1 / "data/features"
    _unsaved_work(features)
    before = disk_state(ws_v1)

    result = ok(dws(ws_v1, "restore", "v1", "--force", "--dry-run"))
    doc = as_json(dws(ws_v1, "--json", "restore", "v1", "--force", "--dry-run"))

    assert "would first save 4 path(s)" in result.err
    assert doc["to_save"] == 4 and doc["recovery"] is None
    assert_unchanged(ws_v1, before)
    assert not (ws_v1 / RECOVERY).exists()


def test_restore_without_force_still_refuses_and_saves_nothing(ws_v1: Path) -> None:
    write_files(ws_v1, {"data/raw/a.csv": "unsaved\n"})
    api_snapshot(ws_v1, "v2")
    write_files(ws_v1, {"data/raw/a.csv": "unsaved again\n"})

    assert_error(dws(ws_v1, "restore", "v1"), 3, max_lines=3, contains="--force")
    assert not (ws_v1 / RECOVERY).exists()


def test_content_only_the_store_holds_is_overwritten_without_force(ws_v1: Path) -> None:
    """After delete-snapshot of HEAD the files match no snapshot, but the store still has
    their bytes: a restore loses nothing, so it need not refuse; it keeps them from gc."""
    raw = ws_v1 / "data/raw"
    v1 = manifest(raw)
    write_files(raw, {"a.csv": "v2 content\n", "c.csv": "only in v2\n"})
    v2 = manifest(raw)
    api_snapshot(ws_v1, "v2")
    ok(dws(ws_v1, "delete-snapshot", "v2", "--force"))

    result = ok(dws(ws_v1, "restore", "v1"))

    assert manifest(raw) == v1
    [record] = _records(ws_v1)
    assert record["resources"]["raw"]["paths"] == ["a.csv", "c.csv"]  # type: ignore[index]
    assert "recovery record" in result.err
    ok(dws(ws_v1, "gc"))
    ok(dws(ws_v1, "fsck"))
    ok(dws(ws_v1, "recover", str(record["id"])[:10], "--to", "../back"))
    back = manifest(ws_v1.parent / "back/raw")
    assert back == {"a.csv": v2["a.csv"], "c.csv": v2["c.csv"]}


def test_gc_keeps_what_a_record_holds_until_it_is_dropped(ws_v1: Path) -> None:
    features = ws_v1 / "data/features"
    write_files(features, {"big.bin": b"\x07" * 300_000})
    ok(dws(ws_v1, "restore", "v1", "--force"))
    short = str(_records(ws_v1)[0]["id"])[:10]

    kept = as_json(dws(ws_v1, "--json", "gc"))
    ok(dws(ws_v1, "recover", short, "--to", "../kept"))
    assert (ws_v1.parent / "kept/features/big.bin").read_bytes() == b"\x07" * 300_000

    ok(dws(ws_v1, "recover", "--drop", short))
    freed = as_json(dws(ws_v1, "--json", "gc"))

    assert kept["removed"] == 0
    assert freed["removed"] >= 2  # the blob and the record's tree
    assert _records(ws_v1) == []
    assert_error(dws(ws_v1, "recover", short), 2, contains="no recovery record")


def test_fsck_reports_a_record_whose_object_is_gone(ws_v1: Path) -> None:
    lost = b"unique bytes " * 100_000
    write_files(ws_v1 / "data/features", {"lost.bin": lost})
    ok(dws(ws_v1, "restore", "v1", "--force"))
    record = _records(ws_v1)[0]
    object_path(ws_v1, lost).unlink()

    result = dws(ws_v1, "fsck")

    assert result.code != 0 and f"recovery record {str(record['id'])[:10]}" in result.err


def test_a_changed_record_is_refused_and_gc_removes_nothing(ws_v1: Path) -> None:
    write_files(ws_v1 / "data/features", {"x.bin": b"unsaved"})
    ok(dws(ws_v1, "restore", "v1", "--force"))
    record_id = str(_records(ws_v1)[0]["id"])
    path = ws_v1 / RECOVERY / f"{record_id}.json"
    doc = json.loads(path.read_bytes())
    doc["resources"]["features"]["path"] = "/etc"
    path.write_text(json.dumps(doc))
    objects_before = sorted((ws_v1 / META / "objects").rglob("*"))

    assert_error(dws(ws_v1, "recover", record_id[:10]), 4, contains="changed")
    assert dws(ws_v1, "gc").code != 0
    assert sorted((ws_v1 / META / "objects").rglob("*")) == objects_before


def test_recover_usage_errors_change_nothing(ws_v1: Path) -> None:
    write_files(ws_v1 / "data/features", {"x.bin": b"unsaved"})
    ok(dws(ws_v1, "restore", "v1", "--force"))
    short = str(_records(ws_v1)[0]["id"])[:10]
    (ws_v1.parent / "full").mkdir()
    (ws_v1.parent / "full/x").write_text("x")
    before = disk_state(ws_v1)

    assert_error(dws(ws_v1, "recover", "--drop"), 2)
    assert_error(dws(ws_v1, "recover", "zz-not-an-id"), 2)
    assert_error(dws(ws_v1, "recover", "0000000000"), 2, contains="no recovery record")
    assert_error(dws(ws_v1, "recover", short, "--to", "../full"), 2, contains="not an empty")

    assert_unchanged(ws_v1, before)
    assert len(_records(ws_v1)) == 1


def test_an_untracked_directory_in_the_way_is_saved_whole(ws_v1: Path) -> None:
    """An ignored directory where the snapshot has a file: --force saves it, files and all."""
    features = ws_v1 / "data/features"
    write_files(features, {"model": "a file in v2\n"})
    api_snapshot(ws_v1, "v2")
    ok(dws(ws_v1, "restore", "v1"))
    write_files(features, {".dwsignore": "model/\n", "model/w.bin": b"weights", "model/c": "c"})
    before = manifest(features / "model")

    assert_error(dws(ws_v1, "restore", "v2"), 3, max_lines=3, contains="model")
    ok(dws(ws_v1, "restore", "v2", "--force"))

    assert (features / "model").read_text() == "a file in v2\n"
    short = str(_records(ws_v1)[0]["id"])[:10]
    ok(dws(ws_v1, "recover", short, "--to", "../saved"))
    assert manifest(ws_v1.parent / "saved/features/model") == before
    shutil.rmtree(ws_v1.parent / "saved")
