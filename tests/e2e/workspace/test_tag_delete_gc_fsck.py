"""dws tag, dws delete-snapshot, dws gc, dws fsck."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpers.cli import (
    META,
    api_snapshot,
    as_json,
    assert_error,
    assert_unchanged,
    assert_usage_error,
    disk_state,
    dws,
    head,
    manifest,
    object_path,
    ok,
    snapshot_ids,
    tag_target,
    write_files,
)

V2_ONLY = b"only in v2\n"
V3_ONLY = b"only in v3\n"


@pytest.fixture
def three(ws_v1: Path) -> tuple[Path, str, str, str]:
    """v1 (fixture), v2 and v3 (HEAD), each with a raw file no other snapshot has."""
    write_files(ws_v1, {"data/raw/a.csv": V2_ONLY})
    v2 = api_snapshot(ws_v1, "v2")
    write_files(ws_v1, {"data/raw/a.csv": V3_ONLY})
    v3 = api_snapshot(ws_v1, "v3")
    v1 = tag_target(ws_v1, "v1")
    assert v1 is not None
    return ws_v1, v1, v2, v3


# ---- tag ---------------------------------------------------------------------------------


def test_tag_an_id_prefix(three: tuple[Path, str, str, str]) -> None:
    root, v1, _, _ = three

    result = ok(dws(root, "tag", v1[:7], "best"))

    assert tag_target(root, "best") == v1
    assert "best" in result.out and v1[:10] in result.out
    assert as_json(dws(root, "--json", "show", "best"))["tags"] == ["best", "v1"]


def test_tag_json(three: tuple[Path, str, str, str]) -> None:
    root, _, v2, _ = three

    assert as_json(dws(root, "--json", "tag", "v2", "good")) == {"tag": "good", "snapshot": v2}


def test_tag_listing(three: tuple[Path, str, str, str]) -> None:
    root, v1, v2, v3 = three

    text = ok(dws(root, "tag")).out
    doc = as_json(dws(root, "--json", "tag"))

    assert doc == {"v1": v1, "v2": v2, "v3": v3}
    assert [line.split() for line in text.splitlines()] == [
        ["v1", v1[:10]],
        ["v2", v2[:10]],
        ["v3", v3[:10]],
    ]


def test_tag_delete_keeps_the_snapshot(three: tuple[Path, str, str, str]) -> None:
    root, _, v2, _ = three

    result = ok(dws(root, "tag", "--delete", "v2"))

    assert "v2" in result.out
    assert tag_target(root, "v2") is None
    assert v2 in snapshot_ids(root)
    assert "v2" not in as_json(dws(root, "--json", "tag"))


def test_tag_delete_short_option(three: tuple[Path, str, str, str]) -> None:
    root = three[0]

    ok(dws(root, "tag", "-d", "v1"))

    assert tag_target(root, "v1") is None


def test_tag_delete_unknown_tag_exits_2(three: tuple[Path, str, str, str]) -> None:
    root = three[0]
    before = disk_state(root)

    result = dws(root, "tag", "--delete", "nosuch")

    assert_error(result, 2, contains="nosuch")
    assert_unchanged(root, before)


def test_tag_collision_is_refused_without_force(three: tuple[Path, str, str, str]) -> None:
    root, _, v2, _ = three
    before = disk_state(root)

    result = dws(root, "tag", "v1", "v2")

    assert_error(result, 3, contains="--force")
    assert_unchanged(root, before)
    assert tag_target(root, "v2") == v2


def test_tag_force_moves_the_tag(three: tuple[Path, str, str, str]) -> None:
    root, v1, _, _ = three

    ok(dws(root, "tag", "v1", "v2", "--force"))

    assert tag_target(root, "v2") == v1


def test_tagging_the_same_snapshot_again_is_fine(three: tuple[Path, str, str, str]) -> None:
    root = three[0]
    before = disk_state(root)

    ok(dws(root, "tag", "v2", "v2"))

    assert_unchanged(root, before)


@pytest.mark.parametrize(
    "name", ["abc123", "cafe", "a/b", "HEAD", "latest", ".x", "x..y", "x.lock", "a b", "n" * 101]
)
def test_tag_bad_names_exit_2_and_change_nothing(
    three: tuple[Path, str, str, str], name: str
) -> None:
    root = three[0]
    before = disk_state(root)

    result = dws(root, "tag", "v1", name)

    assert_error(result, 2)
    assert_unchanged(root, before)


def test_tag_dash_name_is_refused(three: tuple[Path, str, str, str]) -> None:
    root = three[0]
    before = disk_state(root)

    assert_usage_error(dws(root, "tag", "v1", "-x"))
    assert_error(dws(root, "tag", "--", "v1", "-x"), 2, contains="-x")
    assert_unchanged(root, before)


def test_tag_unknown_snapshot_exits_2(three: tuple[Path, str, str, str]) -> None:
    root = three[0]
    before = disk_state(root)

    result = dws(root, "tag", "nosuch", "best")

    assert_error(result, 2, contains="nosuch")
    assert_unchanged(root, before)


def test_tag_with_only_a_snapshot_is_a_usage_error(three: tuple[Path, str, str, str]) -> None:
    root = three[0]
    before = disk_state(root)

    assert_usage_error(dws(root, "tag", "v1"))
    assert_unchanged(root, before)


# ---- delete-snapshot ---------------------------------------------------------------------


def test_delete_snapshot_removes_record_and_tags(three: tuple[Path, str, str, str]) -> None:
    root, v1, v2, v3 = three
    ok(dws(root, "tag", "v2", "candidate"))

    result = ok(dws(root, "delete-snapshot", "v2"))

    assert snapshot_ids(root) == sorted([v1, v3])
    assert tag_target(root, "v2") is None and tag_target(root, "candidate") is None
    assert "gc" in result.out
    assert [e["id"] for e in as_json(dws(root, "--json", "history"))] == [v3, v1]
    assert_error(dws(root, "show", v2[:12]), 2)


def test_delete_snapshot_json(three: tuple[Path, str, str, str]) -> None:
    root, v1, _, _ = three

    doc = as_json(dws(root, "--json", "delete-snapshot", v1[:8]))

    assert doc == {"deleted": v1, "tags": ["v1"]}


def test_delete_snapshot_of_head_is_refused_without_force(
    three: tuple[Path, str, str, str],
) -> None:
    root = three[0]
    before = disk_state(root)

    for ref in ("v3", "HEAD"):
        result = dws(root, "delete-snapshot", ref)
        assert_error(result, 3, contains="--force")
        assert_unchanged(root, before)


def test_delete_snapshot_of_head_with_force(three: tuple[Path, str, str, str]) -> None:
    root, v1, v2, _ = three

    ok(dws(root, "delete-snapshot", "v3", "--force"))

    assert snapshot_ids(root) == sorted([v1, v2])
    assert tag_target(root, "v3") is None


def test_delete_snapshot_unknown_ref_exits_2(three: tuple[Path, str, str, str]) -> None:
    root = three[0]
    before = disk_state(root)

    result = dws(root, "delete-snapshot", "nosuch")

    assert_error(result, 2, contains="nosuch")
    assert_unchanged(root, before)


def test_delete_newer_snapshot_after_restoring_an_older_one(ws_v1: Path) -> None:
    """The issue's walkthrough: snapshot v1, change, snapshot v2, restore v1, delete v2.
    After the restore HEAD is v1, so v2 is not what the workspace is at."""
    write_files(ws_v1, {"data/raw/a.csv": V2_ONLY, "results/metrics.json": '{"accuracy": 0.9}'})
    v2 = as_json(dws(ws_v1, "--json", "snapshot", "v2"))["id"]
    ok(dws(ws_v1, "restore", "v1"))

    result = dws(ws_v1, "delete-snapshot", "v2")

    ok(result)
    assert v2 not in snapshot_ids(ws_v1)


# ---- gc ----------------------------------------------------------------------------------


def test_gc_frees_objects_of_deleted_snapshots_only(three: tuple[Path, str, str, str]) -> None:
    root = three[0]
    ok(dws(root, "delete-snapshot", "v2"))
    assert object_path(root, V2_ONLY).exists()

    doc = as_json(dws(root, "--json", "gc"))

    assert not object_path(root, V2_ONLY).exists()
    assert object_path(root, V3_ONLY).exists()
    assert object_path(root, b"id,value\n1,10\n2,20\n").exists()  # v1's a.csv
    assert doc["removed"] >= 2  # the blob and the raw tree of v2
    assert doc["removed_bytes"] >= len(V2_ONLY)
    assert doc["dry_run"] is False
    ok(dws(root, "fsck"))
    ok(dws(root, "restore", "v1"))
    assert (root / "data/raw/a.csv").read_bytes() == b"id,value\n1,10\n2,20\n"
    assert (root / "data/raw/b.csv").read_bytes() == b"id,value\n3,30\n"
    ok(dws(root, "restore", "v3"))
    assert (root / "data/raw/a.csv").read_bytes() == V3_ONLY


def test_gc_with_nothing_to_free_keeps_everything(three: tuple[Path, str, str, str]) -> None:
    """Nothing is removed; small packs may be merged into one, which a second gc keeps."""
    root = three[0]
    ids_before = _stored_ids(root)
    doc = as_json(dws(root, "--json", "gc"))
    assert doc["removed"] == 0
    assert doc["kept"] > 0
    assert _stored_ids(root) == ids_before
    assert ok(dws(root, "fsck")).code == 0

    before = disk_state(root)
    assert as_json(dws(root, "--json", "gc"))["removed"] == 0
    assert_unchanged(root, before)


def _stored_ids(root: Path) -> list[str]:
    from dws.store.packed import PackedObjectStore

    return sorted(PackedObjectStore(str(root / ".dataworkspace/objects")).iter_ids())


def test_gc_dry_run_deletes_nothing(three: tuple[Path, str, str, str]) -> None:
    root = three[0]
    ok(dws(root, "delete-snapshot", "v2"))
    before = disk_state(root)

    text = ok(dws(root, "gc", "--dry-run")).out
    doc = as_json(dws(root, "--json", "gc", "-n"))

    assert "Would remove" in text
    assert doc["dry_run"] is True and doc["removed"] >= 2
    assert_unchanged(root, before)
    assert object_path(root, V2_ONLY).exists()


# ---- fsck --------------------------------------------------------------------------------


def test_fsck_ok(three: tuple[Path, str, str, str]) -> None:
    root = three[0]

    text = ok(dws(root, "fsck")).out
    doc = as_json(dws(root, "--json", "fsck"))

    assert "Checked 3 snapshot(s)" in text
    assert "No problems found" in text
    assert doc["snapshots"] == 3
    assert doc["objects"] > 0
    assert doc["problems"] == []


def test_fsck_detects_a_corrupt_object(three: tuple[Path, str, str, str]) -> None:
    root = three[0]
    blob = object_path(root, V2_ONLY)
    blob.chmod(0o644)
    blob.write_bytes(b"bit rot\n")

    result = dws(root, "fsck")

    assert_error(result, 4, max_lines=3, contains="corrupt")
    assert blob.name[:10] in result.err


def test_fsck_json_lists_the_problem(three: tuple[Path, str, str, str]) -> None:
    root = three[0]
    blob = object_path(root, V3_ONLY)
    blob.chmod(0o644)
    blob.write_bytes(b"bit rot\n")

    result = dws(root, "--json", "fsck")

    assert result.code == 4
    doc = json.loads(result.out)
    assert len(doc["problems"]) == 1
    assert "corrupt" in doc["problems"][0]


def test_fsck_detects_a_missing_object(three: tuple[Path, str, str, str]) -> None:
    root = three[0]
    blob = object_path(root, V2_ONLY)
    blob.chmod(0o644)
    blob.unlink()

    result = dws(root, "fsck")

    assert_error(result, 4, max_lines=3, contains="missing")


def test_fsck_detects_a_tag_naming_a_missing_snapshot(three: tuple[Path, str, str, str]) -> None:
    root = three[0]
    (root / META / "tags" / "ghost").write_text("f" * 64 + "\n")

    result = dws(root, "fsck")

    assert_error(result, 4, max_lines=3, contains="ghost")


def test_fsck_detects_a_tampered_snapshot_record(three: tuple[Path, str, str, str]) -> None:
    root, _, v2, _ = three
    record_path = root / META / "snapshots" / f"{v2}.json"
    record = json.loads(record_path.read_text())
    record["message"] = "rewritten history"
    record_path.chmod(0o644)
    record_path.write_text(json.dumps(record))

    result = dws(root, "fsck")

    assert_error(result, 4, max_lines=3)
    assert v2[:12] in result.err


def test_fsck_changes_nothing(three: tuple[Path, str, str, str]) -> None:
    root = three[0]
    before = disk_state(root)

    ok(dws(root, "fsck"))

    assert_unchanged(root, before)
    assert head(root)["snapshot"] == three[3]
    assert manifest(root / "data/raw")["a.csv"][1] == V3_ONLY
