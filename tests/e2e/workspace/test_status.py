"""dws status."""

from __future__ import annotations

from pathlib import Path

from helpers.cli import (
    api_snapshot,
    as_json,
    assert_unchanged,
    disk_state,
    dws,
    ok,
    write_files,
)


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


def _many(prefix: str, count: int) -> dict[str, str | bytes]:
    return {f"{prefix}/{i:05}.txt": f"{prefix} {i}\n" for i in range(count)}


def test_status_folds_many_changes_by_directory(ws: Path) -> None:
    write_files(
        ws,
        {
            **_many("data/raw/imgs", 3000),
            **_many("data/raw/labels", 1500),
            **_many("data/raw/meta", 500),
        },
    )

    lines = ok(dws(ws, "status")).out.splitlines()
    doc = as_json(dws(ws, "--json", "status"))

    assert "raw (source-data): 5,000 change(s) (never snapshotted)" in lines
    listing = [line for line in lines if line.startswith("  ")]
    assert [line.split() for line in listing[:3]] == [
        ["imgs/", "3,000", "added"],
        ["labels/", "1,500", "added"],
        ["meta/", "500", "added"],
    ]
    assert listing[3] == "  (by directory; `dws status --all` lists every path)"
    assert len(lines) < 20
    assert len(_changes(doc, "raw")) == 5000


def test_status_shows_a_directory_with_few_changes_apart_from_a_big_one(ws: Path) -> None:
    write_files(ws, {**_many("data/raw/imgs", 800), **_many("data/raw/imgs/a", 6)})
    api_snapshot(ws, "v1")
    write_files(ws, {**_many("data/raw/imgs", 1800), "data/raw/imgs/a/00000.txt": "changed"})
    write_files(ws, {f"data/raw/imgs/a/{i:05}.txt": f"v2 {i}\n" for i in (1, 2)})
    (ws / "data/raw/imgs/a/00005.txt").unlink()

    text = ok(dws(ws, "status")).out

    assert "raw (source-data): 1,004 change(s)" in text
    listing = [line.split() for line in text.splitlines() if line.startswith("  ")]
    assert ["imgs/", "1,000", "added"] in listing
    assert ["imgs/a/", "3", "modified,", "1", "deleted"] in listing


def test_status_all_and_verbose_list_every_path(ws: Path) -> None:
    write_files(ws, {**_many("data/raw/imgs", 300), **_many("data/features/f", 2)})

    for args in (["status", "--all"], ["status", "-v"], ["-v", "status"]):
        text = ok(dws(ws, *args)).out
        added = [line for line in text.splitlines() if line.startswith("  added ")]
        assert len(added) == 302, args
        assert "  added     imgs/00299.txt" in text
        assert "more" not in text and "--all" not in text


def test_status_shares_the_listing_between_resources(ws: Path) -> None:
    write_files(
        ws,
        {
            **_many("data/raw/one", 30),
            **_many("data/raw/two", 30),
            **{f"data/features/d{i:02}/f.txt": "x" for i in range(60)},
            "results/metrics.json": "{}",
        },
    )

    lines = ok(dws(ws, "status")).out.splitlines()

    listed = [line for line in lines if line.startswith("  ")]
    assert len(listed) <= 45
    assert [line.split() for line in listed[:2]] == [
        ["one/", "30", "added"],
        ["two/", "30", "added"],
    ]
    features = listed[3:-1]
    assert features[0].split() == ["d00/f.txt", "added"]
    assert features[-1] == (
        f"  ... and {60 - len(features) + 1} more changes "
        "(by directory; `dws status --all` lists every path)"
    )
    assert listed[-1] == "  added     metrics.json"
