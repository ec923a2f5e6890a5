"""status, diff HEAD and snapshot agree on what changed: each resource against its base."""

from __future__ import annotations

import shutil
from pathlib import Path

from helpers.cli import api_snapshot, as_json, dws, head, ok, snapshot_ids, write_files

RESULTS_V2: dict[str, str | bytes] = {
    "results/metrics.json": '{"accuracy": 0.9}',
    "results/plot.txt": "a plot",
}


def _changed(root: Path) -> dict[str, int]:
    """Visible changes per resource as `dws status` and `dws diff HEAD` report them."""
    status = as_json(dws(root, "--json", "status"))["resources"]
    diff = as_json(dws(root, "--json", "diff", "HEAD"))["resources"]
    by_status = {r["name"]: len(r["changes"]) for r in status}
    by_diff = {r["name"]: len(r["changes"]) for r in diff}
    assert by_status == by_diff, (status, diff)
    return by_status


def _results_as_in(ws: Path, tag: str) -> None:
    """Make the working results those of snapshot ``tag``, copied out by `dws results
    export` (the way to get old results back, since restore never reverts them)."""
    out = ws.parent / f"export-{tag}"
    ok(dws(ws, "results", "export", tag, str(out)))
    shutil.rmtree(ws / "results")
    shutil.copytree(out / "results", ws / "results")
    shutil.rmtree(out)


def _results_back_at_v1_then_v2(ws: Path) -> None:
    """v1 and v2 differ only in results; HEAD and every base end at a snapshot with v1's
    content while the results files are v2's again."""
    write_files(ws, RESULTS_V2)
    api_snapshot(ws, "v2")
    ok(dws(ws, "restore", "v1"))  # results stay at v2
    _results_as_in(ws, "v1")
    ok(dws(ws, "snapshot"))  # results differ from their base (v2): recorded
    _results_as_in(ws, "v2")


def test_restore_only_results_changes_nothing_and_commands_agree(ws_v1: Path) -> None:
    _results_back_at_v1_then_v2(ws_v1)
    before = head(ws_v1)
    assert _changed(ws_v1)["results"] == 2

    result = ok(dws(ws_v1, "restore", "v2", "--only", "results"))

    assert "Restored" not in result.out
    assert "results are never reverted" in result.out
    assert "`dws results export SNAPSHOT DIR` copies them out" in result.out
    assert head(ws_v1) == before
    assert _changed(ws_v1) == {"raw": 0, "features": 0, "results": 2}
    ids = snapshot_ids(ws_v1)
    out = ok(dws(ws_v1, "snapshot")).out
    assert "nothing changed" not in out.lower()
    assert len(snapshot_ids(ws_v1)) == len(ids) + 1
    assert _changed(ws_v1) == {"raw": 0, "features": 0, "results": 0}


def test_results_changed_for_real_all_three_report_it(ws_v1: Path) -> None:
    _results_back_at_v1_then_v2(ws_v1)
    ok(dws(ws_v1, "snapshot", "v3"))
    write_files(ws_v1, {"results/metrics.json": '{"accuracy": 0.95}'})

    assert _changed(ws_v1) == {"raw": 0, "features": 0, "results": 1}
    ids = snapshot_ids(ws_v1)
    out = ok(dws(ws_v1, "snapshot")).out
    assert "nothing changed" not in out.lower()
    assert len(snapshot_ids(ws_v1)) == len(ids) + 1
    assert _changed(ws_v1) == {"raw": 0, "features": 0, "results": 0}


def test_snapshot_at_head_but_off_a_base_records_what_status_shows(ws_v1: Path) -> None:
    """Files equal HEAD's record, yet a resource differs from its own base: status lists
    the change, so snapshot records it rather than saying nothing changed."""
    write_files(ws_v1, RESULTS_V2)
    api_snapshot(ws_v1, "v2")
    ok(dws(ws_v1, "restore", "v1"))  # HEAD v1; results keep base v2
    _results_as_in(ws_v1, "v1")

    status = as_json(dws(ws_v1, "--json", "status"))["resources"]
    assert {r["name"]: len(r["changes"]) for r in status}["results"] == 2
    out = ok(dws(ws_v1, "snapshot")).out
    assert "nothing changed" not in out.lower()
    assert _changed(ws_v1) == {"raw": 0, "features": 0, "results": 0}
