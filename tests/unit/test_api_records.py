"""What the Python API hands back is made of dataclasses, as users of pandas and of the
standard library expect: `dataclasses.asdict` works on it and pandas makes a column of
each field. (Internal values are msgspec Structs, which are cheaper to define.)"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

import dws.api
from dws.api import Workspace

NOT_RECORDS = {"Copied", "RecoveryRecord", "SnapshotFiles", "StatusReport", "Workspace"}


def test_every_record_type_the_api_names_is_a_dataclass() -> None:
    for name in set(dws.api.__all__) - NOT_RECORDS:
        value = getattr(dws.api, name)
        assert not isinstance(value, type) or dataclasses.is_dataclass(value), name


@pytest.fixture
def measured(tmp_path: Path) -> Workspace:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "a.csv").write_text("x\n1\n")
    (tmp_path / "results").mkdir()
    ws = Workspace.init(str(tmp_path))
    ws.add_resource("local-files", "data", "source-data")
    ws.add_resource("local-files", "results", "results")
    for accuracy in (0.5, 0.75):
        (tmp_path / "results" / "metrics.json").write_text(json.dumps({"accuracy": accuracy}))
        ws.snapshot()
    return ws


def test_results_become_a_table_with_a_column_per_field(measured: Workspace) -> None:
    pandas = pytest.importorskip("pandas")
    table = pandas.DataFrame(measured.results())
    assert {"snapshot", "created", "tags", "metrics"} <= set(table.columns)
    assert [m["results/metrics.json:accuracy"] for m in table["metrics"]] == [0.5, 0.75]


def test_outcomes_and_reports_turn_into_dicts(measured: Workspace) -> None:
    (Path(measured.root) / "data" / "a.csv").write_text("x\n2\n")
    outcome = dataclasses.asdict(measured.snapshot("v3"))
    assert outcome["created"] is True and outcome["record"] is not None
    status = [dataclasses.asdict(item) for item in measured.status()]
    assert {item["name"] for item in status} == {"data", "results"}
    assert dataclasses.asdict(measured.gc(dry_run=True))["removed"] == 0
    assert [entry["path"] for entry in map(dataclasses.asdict, measured.ls("data"))] == [
        "data/a.csv"
    ]
