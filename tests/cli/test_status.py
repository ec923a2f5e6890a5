"""dws status."""

from __future__ import annotations

from pathlib import Path

from .cli_support import as_json, assert_unchanged, disk_state, dws, ok, write_files


def _changes(doc: dict[str, object], name: str) -> dict[str, str]:
    resources = doc["resources"]
    assert isinstance(resources, list)
    (item,) = [r for r in resources if r["name"] == name]
    return {c["path"]: c["status"] for c in item["changes"]}


def test_status_before_any_snapshot(ws: Path) -> None:
    write_files(ws, {"data/raw/a.csv": "1\n", "data/raw/sub/b.csv": "2\n"})

    doc = as_json(dws(ws, "--json", "status"))
    text = ok(dws(ws, "status")).out

    assert doc["head"] is None
    by_name = {r["name"]: r for r in doc["resources"]}
    assert list(by_name) == ["raw", "features", "results"]
    assert by_name["raw"]["role"] == "source-data"
    assert by_name["raw"]["note"] == "never snapshotted"
    assert by_name["raw"]["base"] is None
    assert _changes(doc, "raw") == {"a.csv": "added", "sub/b.csv": "added"}
    assert _changes(doc, "features") == {}
    assert "No snapshot yet" in text
    assert "a.csv" in text and "sub/b.csv" in text


def test_status_clean_after_snapshot(ws_v1: Path) -> None:
    doc = as_json(dws(ws_v1, "--json", "status"))
    text = ok(dws(ws_v1, "status")).out

    v1 = (ws_v1 / ".dataworkspace" / "tags" / "v1").read_text().strip()
    assert doc["head"] == v1
    for item in doc["resources"]:
        assert item["changes"] == [], item
        assert item["base"] == v1
        assert item["note"] == ""
    assert text.count("unchanged") == 3


def test_status_lists_added_modified_deleted_per_resource(ws_v1: Path) -> None:
    (ws_v1 / "data/raw/b.csv").unlink()
    write_files(
        ws_v1,
        {
            "data/raw/a.csv": "id,value\n1,11\n",
            "data/features/new dir/g h.npy": b"new",
            "results/model.bin": b"\x00",
        },
    )
    (ws_v1 / "data/features/empty").mkdir()

    result = ok(dws(ws_v1, "--json", "status"))
    doc = as_json(result)
    text = ok(dws(ws_v1, "status")).out

    assert _changes(doc, "raw") == {"a.csv": "modified", "b.csv": "deleted"}
    assert _changes(doc, "features") == {"new dir/g h.npy": "added", "empty": "added"}
    assert _changes(doc, "results") == {"model.bin": "added"}
    assert "modified  a.csv" in text
    assert "deleted   b.csv" in text


def test_status_warns_when_source_data_changed(ws_v1: Path) -> None:
    write_files(ws_v1, {"data/raw/a.csv": "tampered\n"})

    result = ok(dws(ws_v1, "status"))

    assert "source data 'raw' changed" in result.err


def test_status_does_not_warn_for_intermediate_changes(ws_v1: Path) -> None:
    write_files(ws_v1, {"data/features/f.npy": b"recomputed"})

    result = ok(dws(ws_v1, "status"))

    assert "warning" not in result.err


def test_status_reports_exec_bit_change(ws_v1: Path) -> None:
    (ws_v1 / "data/raw/a.csv").chmod(0o755)

    doc = as_json(dws(ws_v1, "--json", "status"))

    assert _changes(doc, "raw") == {"a.csv": "modified"}


def test_status_honours_dwsignore(ws_v1: Path) -> None:
    write_files(
        ws_v1,
        {
            "data/features/.dwsignore": "*.tmp\ncache/\n",
            "data/features/x.tmp": "scratch",
            "data/features/cache/c.bin": "scratch",
            "data/features/kept.npy": "kept",
        },
    )

    doc = as_json(dws(ws_v1, "--json", "status"))

    assert _changes(doc, "features") == {".dwsignore": "added", "kept.npy": "added"}


def test_status_changes_nothing(ws_v1: Path) -> None:
    write_files(ws_v1, {"data/raw/a.csv": "changed\n"})
    before = disk_state(ws_v1)

    ok(dws(ws_v1, "status"))

    assert_unchanged(ws_v1, before)


def test_status_with_no_resources(tmp_path: Path) -> None:
    ok(dws(tmp_path, "init"))

    assert "No resources" in ok(dws(tmp_path, "status")).out
    assert as_json(dws(tmp_path, "--json", "status"))["resources"] == []
