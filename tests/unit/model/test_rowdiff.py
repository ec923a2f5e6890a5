"""Row-level diffs of two versions of a table (``model.rowdiff``): by key and by content,
counts that always add up, and the rows shown are the right ones."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dws.errors import UsageError
from dws.model.rowdiff import Row, Table, diff_tables


def table(columns: list[str], rows: list[Row]) -> Table:
    def read() -> Iterator[Row]:
        return iter(list(rows))

    return Table(columns, read)


OLD = table(["id", "x"], [(1, "a"), (2, "b"), (3, "c")])
NEW = table(["id", "x"], [(1, "a"), (2, "B"), (4, "d")])


def test_by_key() -> None:
    found = diff_tables(OLD, NEW, ["id"])
    assert (found.added, found.removed, found.changed, found.unchanged) == (1, 1, 1, 1)
    assert found.added_rows == [{"id": 4, "x": "d"}]
    assert found.removed_rows == [{"id": 3, "x": "c"}]
    [changed] = found.changed_rows
    assert (changed.key, changed.columns, changed.old, changed.new) == (
        (2,),
        ["x"],
        {"id": 2, "x": "b"},
        {"id": 2, "x": "B"},
    )
    assert not found.identical


def test_by_content_is_a_multiset_difference() -> None:
    old = table(["v"], [("a",), ("a",), ("b",)])
    new = table(["v"], [("a",), ("b",), ("b",), ("c",)])
    found = diff_tables(old, new)
    assert (found.added, found.removed, found.changed, found.unchanged) == (2, 1, 0, 2)
    assert found.added_rows == [{"v": "b"}, {"v": "c"}]
    assert found.removed_rows == [{"v": "a"}]


def test_a_compound_key_and_a_new_column() -> None:
    old = table(["a", "b", "v"], [(1, 1, "x"), (1, 2, "y")])
    new = table(["a", "b", "v", "w"], [(1, 2, "y", 0), (1, 1, "x", 0)])
    found = diff_tables(old, new, ["a", "b"])
    assert found.columns_added == ["w"] and found.columns_removed == []
    assert (found.added, found.removed, found.changed, found.unchanged) == (0, 0, 0, 2)
    assert not found.identical  # a column was added


def test_limit_bounds_the_rows_shown_not_the_counts() -> None:
    old = table(["id"], [])
    new = table(["id"], [(i,) for i in range(50)])
    found = diff_tables(old, new, ["id"], limit=3)
    assert found.added == 50 and len(found.added_rows) == 3


@pytest.mark.parametrize(
    ("old", "new", "key", "words"),
    [
        (table(["id"], [(1,), (1,)]), NEW, ["id"], "not a unique key"),
        (OLD, table(["id", "x"], [(1, "a"), (1, "b")]), ["id"], "not a unique key"),
        (OLD, NEW, ["nope"], "no column 'nope'"),
        (OLD, table(["x"], []), ["id"], "new version has no column"),
    ],
)
def test_bad_keys_are_usage_errors(old: Table, new: Table, key: list[str], words: str) -> None:
    with pytest.raises(UsageError, match=words):
        diff_tables(old, new, key)


rows = st.lists(st.tuples(st.integers(0, 6), st.sampled_from("abc")), max_size=20)


@given(old_rows=rows, new_rows=rows)
def test_counts_add_up_by_content(old_rows: list[Row], new_rows: list[Row]) -> None:
    found = diff_tables(table(["k", "v"], old_rows), table(["k", "v"], new_rows))
    assert found.old_rows - found.removed == found.new_rows - found.added == found.unchanged
    expected_added = Counter(new_rows) - Counter(old_rows)
    assert found.added == sum(expected_added.values())


@given(
    old_rows=st.dictionaries(st.integers(0, 9), st.sampled_from("abc"), max_size=10),
    new_rows=st.dictionaries(st.integers(0, 9), st.sampled_from("abc"), max_size=10),
)
def test_counts_add_up_by_key(old_rows: dict[int, str], new_rows: dict[int, str]) -> None:
    found = diff_tables(
        table(["k", "v"], list(old_rows.items())), table(["k", "v"], list(new_rows.items())), ["k"]
    )
    assert found.removed == len(old_rows.keys() - new_rows.keys())
    assert found.added == len(new_rows.keys() - old_rows.keys())
    both = old_rows.keys() & new_rows.keys()
    assert found.changed == sum(old_rows[k] != new_rows[k] for k in both)
    assert found.unchanged + found.changed == len(both)
    assert {r.key[0] for r in found.changed_rows} == {k for k in both if old_rows[k] != new_rows[k]}
