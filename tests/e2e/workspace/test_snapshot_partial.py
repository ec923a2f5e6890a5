"""dws snapshot --only/--exclude: the resources not snapshotted keep HEAD's state in the
new record (and their base), one HEAD does not record is left out."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

import dws as dws_api
from helpers.cli import (
    META,
    as_json,
    assert_error,
    disk_state,
    dws,
    head,
    ok,
    resources_json,
    snapshot_ids,
    tag_target,
    write_files,
)


def record(root: Path, ref: str) -> dict[str, Any]:
    ident = tag_target(root, ref) or ref
    return dict(json.loads((root / META / "snapshots" / f"{ident}.json").read_text()))


def changed_paths(root: Path) -> dict[str, list[str]]:
    doc = as_json(dws(root, "status", "--json"))
    return {item["name"]: [c["path"] for c in item["changes"]] for item in doc["resources"]}


def test_exclude_keeps_heads_state_and_base_of_the_excluded(ws_v1: Path) -> None:
    v1 = tag_target(ws_v1, "v1")
    write_files(ws_v1, {"data/raw/a.csv": "changed\n", "data/features/g.npy": "new"})

    result = ok(dws(ws_v1, "snapshot", "v2", "--exclude", "raw"))

    v2 = tag_target(ws_v1, "v2")
    assert "raw (source-data): 2 files" in result.out and "kept from HEAD" in result.out
    assert "features (intermediate-data): 2 files" in result.out
    old, new = record(ws_v1, "v1"), record(ws_v1, "v2")
    assert new["parent"] == v1
    assert new["resources"]["raw"] == old["resources"]["raw"]
    assert new["definitions"] == old["definitions"]
    assert new["resources"]["features"]["state"]["files"] == 2
    assert head(ws_v1)["snapshot"] == v2
    assert head(ws_v1)["bases"] == {"raw": v1, "features": v2, "results": v2}
    # raw's change was not looked at: status still shows it, and restore protects it
    assert changed_paths(ws_v1) == {"raw": ["a.csv"], "features": [], "results": []}
    before = disk_state(ws_v1)
    assert_error(dws(ws_v1, "restore", "v2"), 3, max_lines=3, contains="raw/a.csv")
    assert disk_state(ws_v1) == before
    # the next full snapshot records it
    ok(dws(ws_v1, "snapshot", "v3"))
    assert record(ws_v1, "v3")["resources"]["raw"] != old["resources"]["raw"]
    assert changed_paths(ws_v1) == {"raw": [], "features": [], "results": []}


def test_only_is_exclude_of_the_others(ws_v1: Path) -> None:
    write_files(ws_v1, {"data/raw/a.csv": "changed\n", "data/features/g.npy": "new"})

    doc = as_json(dws(ws_v1, "snapshot", "--only", "features", "--only", "results", "--json"))

    assert doc["created_new"] is True
    assert doc["kept_from_head"] == ["raw"] and doc["left_out"] == []
    assert record(ws_v1, doc["id"])["resources"]["raw"] == record(ws_v1, "v1")["resources"]["raw"]


def test_nothing_changed_in_what_is_snapshotted_records_nothing(ws_v1: Path) -> None:
    v1 = tag_target(ws_v1, "v1")
    write_files(ws_v1, {"data/raw/a.csv": "changed\n"})
    before = snapshot_ids(ws_v1)

    result = ok(dws(ws_v1, "snapshot", "--exclude", "raw"))
    assert "Nothing changed since snapshot" in result.out
    assert "Not snapshotted, kept from HEAD: raw" in result.out
    # a tag naming HEAD stays: the snapshotted resources are as HEAD records them
    ok(dws(ws_v1, "snapshot", "v1", "--exclude", "raw"))
    assert snapshot_ids(ws_v1) == before and tag_target(ws_v1, "v1") == v1
    assert changed_paths(ws_v1)["raw"] == ["a.csv"]
    # snapshotting raw would change the state: the tag naming HEAD is then refused
    assert_error(dws(ws_v1, "snapshot", "v1", "--only", "raw"), 3, contains="v1")
    assert snapshot_ids(ws_v1) == before


def test_a_resource_head_does_not_record_is_left_out(ws_v1: Path) -> None:
    write_files(ws_v1, {"extra/x.txt": "x", "data/features/g.npy": "new"})
    ok(dws(ws_v1, "add", "local-files", "extra", "--role", "intermediate-data"))

    result = ok(dws(ws_v1, "snapshot", "v2", "--exclude", "extra"))

    assert "left out (HEAD does not record them): extra" in result.out
    assert "extra" not in record(ws_v1, "v2")["resources"]
    assert "extra" not in record(ws_v1, "v2")["definitions"]
    assert "extra" not in head(ws_v1)["bases"]
    doc = as_json(dws(ws_v1, "snapshot", "--exclude", "extra", "--json"))
    assert doc["created_new"] is False and doc["left_out"] == ["extra"]
    ok(dws(ws_v1, "snapshot", "v3"))
    assert "extra" in record(ws_v1, "v3")["resources"]


def test_metrics_of_excluded_results_are_heads(ws_v1: Path) -> None:
    write_files(ws_v1, {"results/metrics.json": '{"accuracy": 0.9}', "data/raw/c.csv": "c"})

    ok(dws(ws_v1, "snapshot", "v2", "--exclude", "results"))

    assert record(ws_v1, "v2")["metrics"] == {"results/metrics.json": {"accuracy": 0.5}}
    ok(dws(ws_v1, "snapshot", "v3"))
    assert record(ws_v1, "v3")["metrics"] == {"results/metrics.json": {"accuracy": 0.9}}


def test_a_missing_directory_can_be_excluded(ws_v1: Path) -> None:
    shutil.rmtree(ws_v1 / "data" / "features")  # a disk not mounted, say
    write_files(ws_v1, {"data/raw/c.csv": "c"})
    assert_error(dws(ws_v1, "snapshot"), 2, contains="features")

    ok(dws(ws_v1, "snapshot", "v2", "--exclude", "features"))

    assert (
        record(ws_v1, "v2")["resources"]["features"] == record(ws_v1, "v1")["resources"]["features"]
    )
    assert record(ws_v1, "v2")["resources"]["raw"]["state"]["files"] == 3


def test_the_definition_of_a_kept_resource_is_heads(ws_v1: Path) -> None:
    (ws_v1 / "data" / "raw").rename(ws_v1 / "data" / "raw2")
    specs = resources_json(ws_v1)
    specs[0]["path"] = "data/raw2"
    (ws_v1 / META / "resources.json").write_text(json.dumps(specs) + "\n")
    write_files(ws_v1, {"data/features/g.npy": "new"})

    ok(dws(ws_v1, "snapshot", "v2", "--exclude", "raw"))

    assert record(ws_v1, "v2")["definitions"]["raw"]["path"] == "data/raw"
    write_files(ws_v1, {"data/raw2/c.csv": "c"})
    ok(dws(ws_v1, "snapshot", "v3"))
    assert record(ws_v1, "v3")["definitions"]["raw"]["path"] == "data/raw2"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--only", "rwa"], "no resource named 'rwa' (did you mean raw?)"),
        (["--exclude", "feature"], "no resource named 'feature' (did you mean features?)"),
        (["--only", "raw", "--exclude", "raw"], "leave no resource to snapshot"),
        (["--exclude", "raw", "--exclude", "features", "--exclude", "results"], "leave no"),
    ],
)
def test_bad_selections_are_usage_errors_that_change_nothing(
    ws_v1: Path, args: list[str], message: str
) -> None:
    write_files(ws_v1, {"data/raw/c.csv": "c"})
    before = disk_state(ws_v1)
    assert_error(dws(ws_v1, "snapshot", "v2", *args), 2, max_lines=1, contains=message)
    assert disk_state(ws_v1) == before


def test_the_python_api_names_what_was_kept_and_left_out(ws_v1: Path) -> None:
    write_files(ws_v1, {"extra/x.txt": "x", "data/raw/c.csv": "c"})
    ws = dws_api.Workspace.open(str(ws_v1))
    ws.add_resource("local-files", str(ws_v1 / "extra"), "intermediate-data")

    outcome = ws.snapshot("v2", exclude=["features", "extra"])

    assert outcome.created and outcome.kept == ["features"] and outcome.left_out == ["extra"]
    assert set(outcome.record.resources) == {"raw", "features", "results"}
    with pytest.raises(dws_api.NotFoundError, match=r"did you mean raw\?"):
        ws.snapshot(only=["rav"])
