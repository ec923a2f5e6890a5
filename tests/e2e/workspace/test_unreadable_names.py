"""File names that are not UTF-8: `dws status` lists them with their resource and reports
everything else; `dws snapshot` refuses the resource holding them until they are renamed."""

from __future__ import annotations

import os
from pathlib import Path

from helpers.cli import (
    as_json,
    assert_error,
    assert_unchanged,
    disk_state,
    dws,
    ok,
    snapshot_ids,
    write_files,
)

BAD = (b"data/raw/caf\xe9.csv", b"data/raw/sub/na\xefve.txt")
SHOWN = ("caf\\xe9.csv", "sub/na\\xefve.txt")


def _make_bad_names(root: Path) -> None:
    for name in BAD:
        with open(os.path.join(os.fsencode(root), name), "wb") as f:
            f.write(b"x")


def test_status_lists_every_bad_name_and_snapshot_refuses_until_renamed(ws_v1: Path) -> None:
    write_files(ws_v1, {"data/raw/sub/ok.csv": "fine\n", "results/metrics.json": '{"a": 1}'})
    _make_bad_names(ws_v1)

    status = ok(dws(ws_v1, "status"))
    assert "raw (source-data): 1 change(s)" in status.out
    assert "added     sub/ok.csv" in status.out
    assert "results (results): 1 change(s)" in status.out
    assert "modified  metrics.json" in status.out
    assert "2 file name(s) not valid UTF-8" in status.err
    for shown in SHOWN:
        assert f"    {shown}\n" in status.err
        assert shown not in status.out  # left out of the changes, not reported as added

    document = as_json(dws(ws_v1, "status", "--json"))
    assert document["unreadable_names"] == [{"resource": "raw", "path": p} for p in SHOWN]
    by_name = {r["name"]: r for r in document["resources"]}
    assert [c["path"] for c in by_name["raw"]["changes"]] == ["sub/ok.csv"]
    assert [c["path"] for c in by_name["results"]["changes"]] == ["metrics.json"]

    before = disk_state(ws_v1)
    refused = dws(ws_v1, "snapshot", "v2")
    assert_error(refused, 2, contains="resource 'raw'")
    assert SHOWN[0] in refused.err and SHOWN[1] in refused.err
    assert_unchanged(ws_v1, before)

    for name in BAD:
        path = os.path.join(os.fsencode(ws_v1), name)
        os.rename(path, path.replace(b"\xe9", b"e").replace(b"\xef", b"i"))
    document = as_json(dws(ws_v1, "status", "--json"))
    assert document["unreadable_names"] == []
    assert sorted(c["path"] for c in document["resources"][0]["changes"]) == [
        "cafe.csv",
        "sub/naive.txt",
        "sub/ok.csv",
    ]
    ok(dws(ws_v1, "snapshot", "v2"))
    assert len(snapshot_ids(ws_v1)) == 2
    assert "unchanged" in ok(dws(ws_v1, "status")).out


def test_a_clean_workspace_reports_no_bad_names(ws_v1: Path) -> None:
    assert as_json(dws(ws_v1, "status", "--json"))["unreadable_names"] == []
