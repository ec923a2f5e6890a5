"""dws diff"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import click

from dws.cli.context import CliState, json_option, pass_state
from dws.cli.output import Output, printable
from dws.cli.render import print_changes, print_notes, resource_changes_json

if TYPE_CHECKING:
    from dws.model.rowdiff import RowDiff

CELL = 40  # characters of a value shown in text


@click.command()
@click.argument("old", metavar="SNAPSHOT")
@click.argument("new", metavar="[SNAPSHOT]", required=False)
@click.argument("path", metavar="[PATH]", required=False)
@click.option(
    "--rows",
    is_flag=True,
    help="Row-level changes of the table at PATH (.csv, .tsv, .parquet) between two snapshots.",
)
@click.option(
    "--key",
    "keys",
    metavar="COLUMN",
    multiple=True,
    help="With --rows: match rows by this column (repeat for a compound key); without it, "
    "rows are matched by their whole content.",
)
@click.option(
    "--limit",
    type=click.IntRange(min=0),
    default=10,
    show_default=True,
    help="With --rows: how many rows of each kind to show (counts are always exact).",
)
@json_option
@pass_state
def diff(
    state: CliState,
    old: str,
    new: str | None,
    path: str | None,
    rows: bool,
    keys: tuple[str, ...],
    limit: int,
) -> None:
    """File-level changes from SNAPSHOT to another one, or to the working state; with
    --rows, row-level changes of one table.

    \b
    Examples:
      dws diff v1 v2
      dws diff v1          # v1 against the files as they are now
      dws diff --rows v1 v2 data/raw/train.csv --key id
    """
    if rows:
        if new is None or path is None:
            raise click.UsageError("--rows takes SNAPSHOT SNAPSHOT PATH")
        _rows(state, old, new, path, list(keys), limit)
        return
    if path is not None or keys:
        raise click.UsageError("PATH and --key go with --rows")
    ws = state.open()
    with state.output.progress() as progress:
        ws.set_progress(progress)
        items = ws.diff(old, new)
    out = state.output
    if out.json:
        out.emit_json(
            {
                "old": ws.resolve(old),
                "new": ws.resolve(new) if new else None,
                "resources": [resource_changes_json(i) for i in items],
            }
        )
        return
    for item in items:
        visible = item.visible
        summary = item.note or (f"{len(visible)} change(s)" if visible else "unchanged")
        out.line(f"{item.name} ({item.role.value}): {summary}", "bold")
        print_notes(out, item.notes)
        print_changes(out, visible)


def _rows(state: CliState, old: str, new: str, path: str, keys: list[str], limit: int) -> None:
    ws = state.open()
    found = ws.diff_rows(old, new, path, key=keys or None, limit=limit)
    out = state.output
    if out.json:
        out.emit_json(
            {"old": ws.resolve(old), "new": ws.resolve(new), "path": path, **_rows_json(found)}
        )
        return
    matched = f"key {', '.join(found.key)}" if found.key else "rows matched by content"
    out.line(f"{printable(path)}: {old} -> {new} ({matched})", "bold")
    counts = f"{found.added} added, {found.removed} removed"
    if found.key:
        counts += f", {found.changed} changed"
    out.line(f"  rows: {found.old_rows} -> {found.new_rows}: {counts}, {found.unchanged} unchanged")
    if found.columns_added or found.columns_removed:
        out.line(
            f"  columns added: {', '.join(found.columns_added) or '-'}; "
            f"removed: {', '.join(found.columns_removed) or '-'}"
        )
    _print_rows(out, "added", found.added, found.added_rows, "green")
    _print_rows(out, "removed", found.removed, found.removed_rows, "red")
    if found.changed_rows:
        out.line(f"  changed{_first(found.changed, len(found.changed_rows))}:")
        for row in found.changed_rows:
            key = ", ".join(f"{k}={_cell(v)}" for k, v in zip(found.key, row.key, strict=True))
            what = "; ".join(
                f"{c}: {_cell(row.old[c])} -> {_cell(row.new[c])}" for c in row.columns
            )
            out.line(f"    {key}: {what}", "yellow")
    if found.identical:
        out.line("  no differences")


def _first(total: int, shown: int) -> str:
    return f" (first {shown} of {total})" if shown < total else ""


def _print_rows(
    out: Output, label: str, total: int, rows: list[dict[str, Any]], style: str
) -> None:
    if not rows:
        return
    out.line(f"  {label}{_first(total, len(rows))}:")
    for row in rows:
        out.line("    " + ", ".join(f"{k}={_cell(v)}" for k, v in row.items()), style)


def _cell(value: Any) -> str:
    text = printable(str(value))
    return text if len(text) <= CELL else text[: CELL - 3] + "..."


def _rows_json(found: RowDiff) -> dict[str, Any]:
    return {
        "key": found.key,
        "columns_added": found.columns_added,
        "columns_removed": found.columns_removed,
        "old_rows": found.old_rows,
        "new_rows": found.new_rows,
        "added": found.added,
        "removed": found.removed,
        "changed": found.changed,
        "unchanged": found.unchanged,
        "added_rows": [_jsonable(r) for r in found.added_rows],
        "removed_rows": [_jsonable(r) for r in found.removed_rows],
        "changed_rows": [
            {
                "key": [_plain(v) for v in r.key],
                "columns": r.columns,
                "old": _jsonable(r.old),
                "new": _jsonable(r.new),
            }
            for r in found.changed_rows
        ],
    }


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    return {k: _plain(v) for k, v in row.items()}


def _plain(value: Any) -> Any:
    """A value as JSON can hold it (dates, decimals and bytes as text)."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # JSON has no NaN or infinity
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)
