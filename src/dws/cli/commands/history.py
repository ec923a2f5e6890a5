"""dws history / dws log"""

from __future__ import annotations

import click

from dws.cli.context import CliState, json_option, pass_state
from dws.cli.render import record_json, record_summary
from dws.model.ids import shortest_unique_prefixes


def _history(state: CliState) -> None:
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
    for record, tags in entries:
        marker = "* " if record.id == head else "  "
        out.line(marker + record_summary(record, tags, shown[record.id]))


@click.command()
@json_option
@pass_state
def history(state: CliState) -> None:
    """List snapshots, newest first (* marks HEAD).

    \b
    Example:
      dws history --json
    """
    _history(state)


@click.command()
@json_option
@pass_state
def log(state: CliState) -> None:
    """Same as `dws history`.

    \b
    Example:
      dws log
    """
    _history(state)
