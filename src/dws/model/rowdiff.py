"""Row-level differences between two versions of a table.

With key columns, rows are matched by key: a key only in the new version is an added row,
one only in the old version a removed row, and a key in both whose other values differ a
changed row (with the columns that differ). Without a key, rows are matched by their whole
content, as multisets: a row is added or removed as many times as its count differs, and
nothing is "changed".

Tables are read as streams of rows, more than once (``Table.rows`` is called again for
each pass): memory holds one small digest per row of the old version, not the tables.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from blake3 import blake3
from msgspec import Struct

from dws.errors import UsageError

Row = tuple[Any, ...]
DEFAULT_LIMIT = 10


class Table(Struct):
    """A table's column names and a way to read its rows (again) from the start."""

    columns: list[str]
    rows: Callable[[], Iterator[Row]]


class ChangedRow(Struct):
    """A row whose key is in both versions, with values that differ."""

    key: Row
    old: dict[str, Any]
    new: dict[str, Any]
    columns: list[str]  # the columns whose values differ


@dataclass
class RowDiff:
    """Counts (exact) and the first rows (up to the limit) of each kind of difference."""

    key: list[str]
    columns_added: list[str]
    columns_removed: list[str]
    old_rows: int = 0
    new_rows: int = 0
    added: int = 0
    removed: int = 0
    changed: int = 0
    unchanged: int = 0
    added_rows: list[dict[str, Any]] = field(default_factory=list)
    removed_rows: list[dict[str, Any]] = field(default_factory=list)
    changed_rows: list[ChangedRow] = field(default_factory=list)

    def _repr_html_(self) -> str:
        """A summary and the rows shown, for notebooks (every value escaped)."""
        from html import escape

        def rows(title: str, items: list[dict[str, Any]]) -> str:
            if not items:
                return ""
            columns = list(dict.fromkeys(c for item in items for c in item))
            head = "".join(f"<th>{escape(str(c))}</th>" for c in columns)
            body = "".join(
                "<tr>"
                + "".join(f"<td>{escape(str(item.get(c, '')))}</td>" for c in columns)
                + "</tr>"
                for item in items
            )
            return f"<p>{escape(title)}</p><table><tr>{head}</tr>{body}</table>"

        changed = [
            {
                "key": ", ".join(map(str, row.key)),
                **{c: f"{row.old[c]} → {row.new[c]}" for c in row.columns},
            }
            for row in self.changed_rows
        ]
        summary = (
            f"<p>{self.old_rows} → {self.new_rows} rows: {self.added} added, {self.removed} "
            f"removed, {self.changed} changed, {self.unchanged} unchanged</p>"
        )
        return (
            summary
            + rows("added", self.added_rows)
            + rows("removed", self.removed_rows)
            + rows("changed", changed)
        )

    @property
    def identical(self) -> bool:
        """True when no row and no column differs."""
        return not (
            self.added or self.removed or self.changed or self.columns_added or self.columns_removed
        )


def _digest(values: Iterable[Any]) -> bytes:
    return blake3(repr(tuple(values)).encode("utf-8", "surrogatepass")).digest(length=16)


def _positions(table: Table, names: list[str], which: str) -> list[int]:
    missing = [name for name in names if name not in table.columns]
    if missing:
        raise UsageError(
            f"the {which} version has no column {missing[0]!r} (its columns: "
            f"{', '.join(table.columns[:20])})"
        )
    return [table.columns.index(name) for name in names]


def diff_tables(
    old: Table, new: Table, key: list[str] | None = None, limit: int = DEFAULT_LIMIT
) -> RowDiff:
    """The row-level differences from ``old`` to ``new`` (see the module docstring).
    UsageError when a key column is missing or a key is not unique."""
    result = RowDiff(
        list(key or []),
        [c for c in new.columns if c not in old.columns],
        [c for c in old.columns if c not in new.columns],
    )
    shared = [c for c in new.columns if c in old.columns]
    old_shared = [old.columns.index(c) for c in shared]
    new_shared = [new.columns.index(c) for c in shared]
    if key:
        _by_key(old, new, result, shared, old_shared, new_shared, limit)
    else:
        _by_content(old, new, result, old_shared, new_shared, limit)
    return result


def _by_key(
    old: Table,
    new: Table,
    result: RowDiff,
    shared: list[str],
    old_shared: list[int],
    new_shared: list[int],
    limit: int,
) -> None:
    old_key = _positions(old, result.key, "old")
    new_key = _positions(new, result.key, "new")
    seen: dict[Row, bytes] = {}
    for row in old.rows():
        result.old_rows += 1
        found = tuple(row[i] for i in old_key)
        if found in seen:
            raise UsageError(
                f"{', '.join(result.key)} is not a unique key: {_shown_key(found)} repeats"
            )
        seen[found] = _digest(row[i] for i in old_shared)
    matched: set[Row] = set()
    wanted: dict[Row, dict[str, Any]] = {}  # changed rows to show: key -> new values
    for row in new.rows():
        result.new_rows += 1
        found = tuple(row[i] for i in new_key)
        if found in matched:
            raise UsageError(
                f"{', '.join(result.key)} is not a unique key: {_shown_key(found)} repeats"
            )
        before = seen.get(found)
        if before is None:
            result.added += 1
            if len(result.added_rows) < limit:
                result.added_rows.append(dict(zip(new.columns, row, strict=True)))
            continue
        matched.add(found)
        if before == _digest(row[i] for i in new_shared):
            result.unchanged += 1
            continue
        result.changed += 1
        if len(wanted) < limit:
            wanted[found] = {c: row[i] for c, i in zip(shared, new_shared, strict=True)}
    result.removed = len(seen) - len(matched)
    if not wanted and not result.removed:
        return
    for row in old.rows():  # a second pass for the old values of what is shown
        found = tuple(row[i] for i in old_key)
        if found in wanted:
            values = {c: row[i] for c, i in zip(shared, old_shared, strict=True)}
            differ = [c for c in shared if values[c] != wanted[found][c]]
            result.changed_rows.append(ChangedRow(found, values, wanted[found], differ))
        elif found not in matched and len(result.removed_rows) < limit:
            result.removed_rows.append(dict(zip(old.columns, row, strict=True)))


def _by_content(
    old: Table,
    new: Table,
    result: RowDiff,
    old_shared: list[int],
    new_shared: list[int],
    limit: int,
) -> None:
    left: Counter[bytes] = Counter()
    for row in old.rows():
        result.old_rows += 1
        left[_digest(row[i] for i in old_shared)] += 1
    for row in new.rows():
        result.new_rows += 1
        digest = _digest(row[i] for i in new_shared)
        if left[digest] > 0:
            left[digest] -= 1
            result.unchanged += 1
            continue
        result.added += 1
        if len(result.added_rows) < limit:
            result.added_rows.append(dict(zip(new.columns, row, strict=True)))
    result.removed = sum(left.values())
    if not result.removed:
        return
    for row in old.rows():
        if len(result.removed_rows) >= limit:
            break
        digest = _digest(row[i] for i in old_shared)
        if left[digest] > 0:
            left[digest] -= 1
            result.removed_rows.append(dict(zip(old.columns, row, strict=True)))


def _shown_key(values: Row) -> str:
    """A key's values as a user wrote them: ``north`` or ``(north, 3)``."""
    texts = ["" if v is None else str(v) for v in values]
    return texts[0] if len(texts) == 1 else f"({', '.join(texts)})"
