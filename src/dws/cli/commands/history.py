"""dws history / dws log"""

from __future__ import annotations

import click

from dws.cli.context import CliState, json_option, pass_state
from dws.cli.render import record_json, record_summary
from dws.model.ids import shortest_unique_prefixes
from dws.model.lines import draw, tips


def _history(state: CliState, graph: bool) -> None:
    ws = state.open()
    entries = ws.history()
    out = state.output
    if out.json:
        out.emit_json([record_json(record, tags) for record, tags in entries])
        return
    if not entries:
        out.line("No snapshots yet (take one with `dws snapshot TAG`)")
        return
    head = ws.head()
    # git-style: the shortest prefixes (at least 10 digits) that stay unique among them all
    shown = shortest_unique_prefixes([record.id for record, _ in entries], minimum=10)
    if graph:
        by_id = {record.id: (record, tags) for record, tags in entries}
        for row in draw([record for record, _ in entries], head):
            if row.snapshot is None:
                out.line(row.lanes)
                continue
            record, tags = by_id[row.snapshot]
            parent = record.parent
            gone = parent is not None and parent not in by_id
            after = f" (its parent {parent[:10]} was deleted)" if parent and gone else ""
            out.line(f"{row.lanes} {record_summary(record, tags, shown[record.id])}{after}")
        return
    for record, tags in entries:
        marker = "* " if record.id == head else "  "
        out.line(marker + record_summary(record, tags, shown[record.id]))
    count = len(tips({record.id: record for record, _ in entries}))
    if count > 1:
        out.note(f"{count} lines of history: `dws history --graph` shows where they fork")


_GRAPH = click.option(
    "--graph",
    is_flag=True,
    help="Draw how lines of history fork, newest first, each snapshot above its parent "
    "(@ marks HEAD).",
)


@click.command()
@_GRAPH
@json_option
@pass_state
def history(state: CliState, graph: bool) -> None:
    """List snapshots, newest first (* marks HEAD). Snapshots no other follows end lines
    of history; --graph draws them like `git log --graph`.

    \b
    Examples:
      dws history --graph
      dws history --json
    """
    _history(state, graph)


@click.command()
@_GRAPH
@json_option
@pass_state
def log(state: CliState, graph: bool) -> None:
    """Same as `dws history`.

    \b
    Example:
      dws log --graph
    """
    _history(state, graph)
