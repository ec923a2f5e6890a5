"""dws restore: exact round trips, roles, selection, dry run, refusals, hash-only resources."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from helpers.cli import (
    api,
    api_snapshot,
    as_json,
    assert_error,
    assert_unchanged,
    disk_state,
    dws,
    head,
    manifest,
    object_path,
    ok,
    set_exec,
    snapshot_ids,
    symlink,
    tag_target,
    write_files,
)

RICH_FILES: dict[str, str | bytes] = {
    "plain.csv": "a,b\n1,2\n",
    "binary.bin": bytes(range(256)) * 8,
    "empty-file": b"",
    "with space/a b.txt": "spaces",
    "données/été.csv": "unicode",
    "日本語/ファイル.txt": "more unicode",
    "nested/deep/er/x.txt": "deep",
    "run.sh": "#!/bin/sh\necho hi\n",
    "to-be-dir": "a file that becomes a directory",
    "to-be-file/inner.txt": "a directory that becomes a file",
}


def _rich_tree(root: Path) -> None:
    """Files, empty dirs, symlinks (inside, dangling, pointing outside), exec bits, names
    with spaces and non-ASCII characters."""
    write_files(root, RICH_FILES)
    set_exec(root / "run.sh", True)
    (root / "empty").mkdir()
    (root / "nested" / "empty too").mkdir()
    symlink(root / "link-to-file", "plain.csv")
    symlink(root / "link-to-dir", "nested/deep")
    symlink(root / "dangling", "does/not/exist")
    symlink(root / "outside", "/etc/hostname")
    symlink(root / "données" / "lien é", "../plain.csv")


def _mutate(root: Path) -> None:
    """Change every kind of thing _rich_tree made."""
    write_files(root, {"plain.csv": "a,b\n9,9\n", "binary.bin": b"short", "new file.txt": "n"})
    (root / "empty-file").write_bytes(b"now has content")
    (root / "with space" / "a b.txt").unlink()
    shutil.rmtree(root / "日本語")
    set_exec(root / "run.sh", False)
    set_exec(root / "plain.csv", True)
    (root / "empty").rmdir()
    (root / "new empty").mkdir()
    (root / "link-to-file").unlink()
    symlink(root / "link-to-file", "binary.bin")
    (root / "dangling").unlink()
    (root / "outside").unlink()
    (root / "outside").write_text("a file where a link was")
    (root / "to-be-dir").unlink()
    write_files(root, {"to-be-dir/child.txt": "child"})
    shutil.rmtree(root / "to-be-file")
    (root / "to-be-file").write_text("now a file")
    (root / "nested" / "deep" / "er" / "x.txt").write_text("changed deep")


def _results_tree(root: Path, accuracy: float) -> None:
    write_files(root, {"metrics.json": f'{{"accuracy": {accuracy}}}', "model.bin": b"\x01"})


def test_restore_brings_source_and_intermediate_back_byte_for_byte(ws: Path) -> None:
    raw, features, results = ws / "data/raw", ws / "data/features", ws / "results"
    _rich_tree(raw)
    _rich_tree(features)
    _results_tree(results, 0.5)
    ok(dws(ws, "snapshot", "v1"))
    raw_v1, features_v1 = manifest(raw), manifest(features)
    _mutate(raw)
    _mutate(features)
    _results_tree(results, 0.9)
    ok(dws(ws, "snapshot", "v2"))
    raw_v2, features_v2, results_v2 = manifest(raw), manifest(features), manifest(results)
    assert raw_v2 != raw_v1

    result = ok(dws(ws, "restore", "v1"))

    assert manifest(raw) == raw_v1
    assert manifest(features) == features_v1
    assert manifest(results) == results_v2
    assert "results are never reverted" in result.out
    assert head(ws)["snapshot"] == tag_target(ws, "v1")
    status = as_json(dws(ws, "--json", "status"))
    assert all(item["changes"] == [] for item in status["resources"]), status

    ok(dws(ws, "restore", "v2"))

    assert manifest(raw) == raw_v2
    assert manifest(features) == features_v2
    assert manifest(results) == results_v2


@pytest.mark.parametrize("snapshot_first", [True, False], ids=["saved", "forced"])
def test_restore_never_writes_through_a_symlink_out_of_the_resource(
    ws: Path, tmp_path: Path, snapshot_first: bool
) -> None:
    raw = ws / "data/raw"
    write_files(raw, {"sub/x.txt": "inside", "sub/y.txt": "inside too"})
    ok(dws(ws, "snapshot", "v1"))
    raw_v1 = manifest(raw)
    outside = tmp_path / "outside"
    write_files(outside, {"x.txt": "outside, must stay", "z.txt": "outside"})
    outside_before = manifest(outside)
    shutil.rmtree(raw / "sub")
    symlink(raw / "sub", str(outside))
    if snapshot_first:
        api_snapshot(ws, "v2")

    ok(dws(ws, "restore", "v1", *([] if snapshot_first else ["--force"])))

    assert manifest(outside) == outside_before
    assert manifest(raw) == raw_v1


def test_restore_keeps_unsaved_results_changes(ws_v1: Path) -> None:
    write_files(ws_v1, {"data/raw/a.csv": "v2\n"})
    api_snapshot(ws_v1, "v2")
    write_files(ws_v1, {"results/metrics.json": '{"accuracy": 0.99}', "results/new.png": b"png"})
    (ws_v1 / "results" / "plots").mkdir()
    results_before = manifest(ws_v1 / "results")

    ok(dws(ws_v1, "restore", "v1"))

    assert manifest(ws_v1 / "results") == results_before
    assert (ws_v1 / "data/raw/a.csv").read_text() == "id,value\n1,10\n2,20\n"


def test_restore_touches_only_files_that_differ(ws_v1: Path) -> None:
    untouched = ws_v1 / "data/raw/b.csv"
    before = os.stat(untouched)
    write_files(ws_v1, {"data/raw/a.csv": "v2\n"})
    api_snapshot(ws_v1, "v2")

    ok(dws(ws_v1, "restore", "v1"))

    after = os.stat(untouched)
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert (ws_v1 / "data/raw/a.csv").read_text() == "id,value\n1,10\n2,20\n"


def _two_versions(root: Path) -> tuple[dict[str, object], dict[str, object]]:
    """v1 from the fixture, v2 with raw and features changed; returns their manifests."""
    v1 = manifest(root / "data")
    write_files(root, {"data/raw/a.csv": "raw v2\n", "data/features/f.npy": b"features v2"})
    (root / "data/raw/b.csv").unlink()
    api_snapshot(root, "v2")
    return v1, manifest(root / "data")


def test_restore_only_one_resource(ws_v1: Path) -> None:
    v1, _ = _two_versions(ws_v1)

    doc = as_json(dws(ws_v1, "--json", "restore", "v1", "--only", "raw"))

    assert manifest(ws_v1 / "data/raw") == {
        k.removeprefix("raw/"): v for k, v in v1.items() if k.startswith("raw/")
    }
    assert (ws_v1 / "data/features/f.npy").read_bytes() == b"features v2"
    assert list(doc["resources"]) == ["raw"]
    assert doc["applied"] is True
    assert {c["path"]: c["status"] for c in doc["resources"]["raw"]} == {
        "a.csv": "modified",
        "b.csv": "added",
    }


def test_restore_excluding_a_resource(ws_v1: Path) -> None:
    _two_versions(ws_v1)

    ok(dws(ws_v1, "restore", "v1", "--exclude", "raw"))

    assert (ws_v1 / "data/raw/a.csv").read_text() == "raw v2\n"
    assert not (ws_v1 / "data/raw/b.csv").exists()
    assert (ws_v1 / "data/features/f.npy").read_bytes() == b"\x00\x01\x02features"


def test_restore_only_an_unknown_resource_exits_2(ws_v1: Path) -> None:
    _two_versions(ws_v1)
    before = disk_state(ws_v1)

    result = dws(ws_v1, "restore", "v1", "--only", "nosuch")

    assert_error(result, 2, contains="nosuch")
    assert_unchanged(ws_v1, before)


def test_dry_run_prints_the_plan_and_changes_nothing(ws_v1: Path) -> None:
    _two_versions(ws_v1)
    before = disk_state(ws_v1)

    text = ok(dws(ws_v1, "restore", "v1", "--dry-run"))
    doc = as_json(dws(ws_v1, "--json", "restore", "v1", "-n"))

    assert_unchanged(ws_v1, before)
    assert "Would restore" in text.out
    assert "a.csv" in text.out and "b.csv" in text.out
    assert doc["applied"] is False
    assert doc["snapshot"] == tag_target(ws_v1, "v1")
    assert {c["path"] for c in doc["resources"]["raw"]} == {"a.csv", "b.csv"}
    assert doc["skipped"] == {"results": "results are never reverted"}


def test_dry_run_lists_the_conflicts_a_restore_would_refuse(ws_v1: Path) -> None:
    _two_versions(ws_v1)
    write_files(ws_v1, {"data/raw/a.csv": "unsaved edit\n"})
    before = disk_state(ws_v1)

    text = ok(dws(ws_v1, "restore", "v1", "--dry-run"))
    doc = as_json(dws(ws_v1, "restore", "v1", "--dry-run", "--json"))

    assert "raw/a.csv" in text.err and "--force" in text.err
    assert doc["conflicts"] == {"raw": ["a.csv"]}
    assert doc["applied"] is False
    assert_unchanged(ws_v1, before)


def test_restore_refuses_to_overwrite_unsaved_changes(ws_v1: Path) -> None:
    _two_versions(ws_v1)
    write_files(ws_v1, {"data/raw/a.csv": "unsaved edit\n", "data/features/new.npy": b"unsaved"})
    before = disk_state(ws_v1)

    result = dws(ws_v1, "restore", "v1")

    assert_error(result, 3, max_lines=4, contains="--force")
    assert "raw/a.csv" in result.err
    assert "features/new.npy" in result.err
    assert_unchanged(ws_v1, before)


def test_restore_refusal_touches_no_resource_even_if_only_one_conflicts(ws_v1: Path) -> None:
    _two_versions(ws_v1)
    write_files(ws_v1, {"data/features/f.npy": b"unsaved"})
    before = disk_state(ws_v1)

    result = dws(ws_v1, "restore", "v1")

    assert_error(result, 3, max_lines=3)
    assert "features/f.npy" in result.err
    assert "raw/" not in result.err
    assert_unchanged(ws_v1, before)


def test_restore_force_overwrites_unsaved_changes(ws_v1: Path) -> None:
    v1, _ = _two_versions(ws_v1)
    write_files(ws_v1, {"data/raw/a.csv": "unsaved edit\n", "data/features/new.npy": b"unsaved"})

    ok(dws(ws_v1, "restore", "v1", "--force"))

    assert manifest(ws_v1 / "data") == v1


def test_restore_unknown_snapshot_exits_2_and_changes_nothing(ws_v1: Path) -> None:
    _two_versions(ws_v1)
    before = disk_state(ws_v1)

    result = dws(ws_v1, "restore", "nosuch")

    assert_error(result, 2, contains="nosuch")
    assert_unchanged(ws_v1, before)


def test_restore_by_id_prefix(ws_v1: Path) -> None:
    v1, _ = _two_versions(ws_v1)
    prefix = tag_target(ws_v1, "v1")
    assert prefix is not None

    ok(dws(ws_v1, "restore", prefix[:8]))

    assert manifest(ws_v1 / "data") == v1


def test_restore_current_state_is_a_no_op(ws_v1: Path) -> None:
    before = disk_state(ws_v1)

    result = ok(dws(ws_v1, "restore", "v1"))

    assert "already as recorded" in result.out
    assert_unchanged(ws_v1, before)


# ---- --keep hashes -----------------------------------------------------------------------


@pytest.fixture
def with_hashes(ws_v1: Path, tmp_path: Path) -> Path:
    """ws_v1 plus a hash-only external resource 'images', then a v2 where raw changed."""
    external = tmp_path / "external"
    write_files(external, {"img/1.jpg": b"jpeg one", "img/2.jpg": b"jpeg two"})
    api(ws_v1).add_resource(
        "local-files", str(external), "source-data", name="images", keep="hashes"
    )
    api_snapshot(ws_v1, "v1h")
    write_files(ws_v1, {"data/raw/a.csv": "raw v2\n"})
    api_snapshot(ws_v1, "v2")
    return external


def test_keep_hashes_restore_with_differing_content_exits_4_and_touches_nothing(
    ws_v1: Path, with_hashes: Path
) -> None:
    (with_hashes / "img/2.jpg").write_bytes(b"someone replaced it")
    before = disk_state(ws_v1)
    external_before = manifest(with_hashes)

    result = dws(ws_v1, "restore", "v1h")

    assert_error(result, 4, max_lines=3)
    assert "images/img/2.jpg" in result.err
    assert_unchanged(ws_v1, before)
    assert manifest(with_hashes) == external_before
    assert (ws_v1 / "data/raw/a.csv").read_text() == "raw v2\n"


def test_keep_hashes_restore_with_identical_content_succeeds(
    ws_v1: Path, with_hashes: Path
) -> None:
    external_before = manifest(with_hashes)

    ok(dws(ws_v1, "restore", "v1h"))

    assert manifest(with_hashes) == external_before
    assert (ws_v1 / "data/raw/a.csv").read_text() == "id,value\n1,10\n2,20\n"
    assert head(ws_v1)["snapshot"] == tag_target(ws_v1, "v1h")


def test_keep_hashes_missing_file_is_an_integrity_failure(ws_v1: Path, with_hashes: Path) -> None:
    (with_hashes / "img/1.jpg").unlink()
    before = disk_state(ws_v1)

    result = dws(ws_v1, "restore", "v1h")

    assert_error(result, 4, max_lines=3, contains="images/img/1.jpg")
    assert_unchanged(ws_v1, before)


def test_restore_with_a_missing_object_exits_4_and_touches_nothing(ws_v1: Path) -> None:
    _two_versions(ws_v1)
    blob = object_path(ws_v1, b"id,value\n3,30\n")  # b.csv exists only in v1
    blob.chmod(0o644)
    blob.unlink()
    before = disk_state(ws_v1)

    result = dws(ws_v1, "restore", "v1")

    assert_error(result, 4, max_lines=3, contains="raw/b.csv")
    assert_unchanged(ws_v1, before)
    assert len(snapshot_ids(ws_v1)) == 2


def test_restore_shared_out_over_processes_is_exact(ws: Path) -> None:
    """Every restore forks here (threshold 1, three processes): kind changes, links,
    exec bits and removals still come out exactly, and the stat cache vouches for what
    the workers wrote."""
    raw = ws / "data/raw"
    _rich_tree(raw)
    for i in range(40):
        write_files(raw, {f"many/d{i % 7}/f{i}.txt": f"file {i}"})
    ok(dws(ws, "snapshot", "v1"))
    v1 = manifest(raw)
    _mutate(raw)
    shutil.rmtree(raw / "many")
    ok(dws(ws, "snapshot", "v2"))
    v2 = manifest(raw)
    forked = {"DWS_RESTORE_FORK_FROM": "1", "DWS_RESTORE_WORKERS": "3"}

    ok(dws(ws, "restore", "v1", env=forked))
    assert manifest(raw) == v1
    ok(dws(ws, "restore", "v2", env=forked))
    assert manifest(raw) == v2
    ok(dws(ws, "restore", "v1", env=forked))
    assert manifest(raw) == v1
    status = as_json(dws(ws, "--json", "status"))
    assert all(item["changes"] == [] for item in status["resources"]), status
