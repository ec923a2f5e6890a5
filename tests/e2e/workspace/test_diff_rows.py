"""`dws diff --rows`: row-level changes of a CSV or Parquet table between two snapshots,
through the CLI; bad input is a one-line error that changes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers.cli import api_snapshot, as_json, assert_error, assert_unchanged, disk_state, ok
from helpers.cli import dws as run
from helpers.common import write_files

V1 = "id,name,score\n1,ann,10\n2,bob,20\n3,cid,30\n"
V2 = "id,name,score\n1,ann,10\n2,bob,25\n4,dee,40\n"


@pytest.fixture
def tables(ws: Path) -> Path:
    write_files(ws, {"data/raw/t.csv": V1})
    api_snapshot(ws, "v1")
    write_files(ws, {"data/raw/t.csv": V2})
    api_snapshot(ws, "v2")
    return ws


def test_csv_by_key(tables: Path) -> None:
    found = as_json(
        run(tables, "diff", "--rows", "v1", "v2", "data/raw/t.csv", "--key", "id", "--json")
    )
    assert (found["added"], found["removed"], found["changed"], found["unchanged"]) == (1, 1, 1, 1)
    assert found["added_rows"] == [{"id": "4", "name": "dee", "score": "40"}]
    assert found["removed_rows"] == [{"id": "3", "name": "cid", "score": "30"}]
    assert found["changed_rows"] == [
        {
            "key": ["2"],
            "columns": ["score"],
            "old": {"id": "2", "name": "bob", "score": "20"},
            "new": {"id": "2", "name": "bob", "score": "25"},
        }
    ]
    text = ok(run(tables, "diff", "--rows", "v1", "v2", "data/raw/t.csv", "--key", "id")).out
    assert "1 added, 1 removed, 1 changed, 1 unchanged" in text
    assert "score: 20 -> 25" in text


def test_csv_by_content(tables: Path) -> None:
    found = as_json(run(tables, "diff", "--rows", "v1", "v2", "data/raw/t.csv", "--json"))
    assert (found["added"], found["removed"], found["changed"]) == (2, 2, 0)


def test_parquet_by_key(ws: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    path = ws / "data/features/f.parquet"
    pq.write_table(pa.table({"id": [1, 2, 3], "y": [0.5, 1.5, 2.5]}), path)
    api_snapshot(ws, "v1")
    pq.write_table(pa.table({"id": [1, 2, 3, 5], "y": [0.5, 1.75, 2.5, 9.0]}), path)
    api_snapshot(ws, "v2")
    args = ("diff", "--rows", "v1", "v2", "data/features/f.parquet", "--key", "id", "--json")
    found = as_json(run(ws, *args))
    assert (found["added"], found["removed"], found["changed"]) == (1, 0, 1)
    assert found["changed_rows"][0]["old"] == {"id": 2, "y": 1.5}
    assert found["changed_rows"][0]["new"] == {"id": 2, "y": 1.75}


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("diff", "--rows", "v1", "v2", "data/raw/t.csv", "--key", "nope"), "no column"),
        (
            ("diff", "--rows", "v1", "v2", "data/raw/t.csv", "--key", "name", "--key", "x"),
            "no column",
        ),
        (("diff", "--rows", "v1", "v2", "data/raw/zzz.csv"), "not in snapshot"),
        (("diff", "--rows", "v1", "v9", "data/raw/t.csv"), "no snapshot or tag"),
        (("diff", "--rows", "v1", "v2", "data/raw"), "row-level diffs read"),
    ],
)
def test_bad_input_is_a_one_line_error(tables: Path, args: tuple[str, ...], words: str) -> None:
    before = disk_state(tables)
    assert_error(run(tables, *args), 2, contains=words)
    assert_unchanged(tables, before)


def test_a_key_that_repeats_is_refused(tables: Path) -> None:
    write_files(tables, {"data/raw/t.csv": "id,v\n1,a\n1,b\n"})
    api_snapshot(tables, "v3")
    result = run(tables, "diff", "--rows", "v2", "v3", "data/raw/t.csv", "--key", "id")
    assert_error(result, 2, contains="not a unique key")


def test_rows_needs_two_snapshots_and_a_path(tables: Path) -> None:
    result = run(tables, "diff", "--rows", "v1", "v2")
    assert result.code == 2 and "--rows takes" in result.err
    result = run(tables, "diff", "v1", "v2", "data/raw/t.csv")
    assert result.code == 2 and "go with --rows" in result.err


def test_files_that_are_not_tables_are_usage_errors(ws: Path) -> None:
    pytest.importorskip("pyarrow")
    write_files(
        ws, {"data/raw/x.parquet": "not parquet", "data/raw/big.csv": "a\n" + "x" * 200_000}
    )
    api_snapshot(ws, "v1")
    api_snapshot(ws, "v2")
    assert_error(run(ws, "diff", "--rows", "v1", "v2", "data/raw/x.parquet"), 2, contains="Parquet")
    assert_error(run(ws, "diff", "--rows", "v1", "v2", "data/raw/big.csv"), 2, contains="CSV")
