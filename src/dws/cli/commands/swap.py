"""dws swap"""

from __future__ import annotations

import click

from dws.cli.context import CliState, json_option, pass_state
from dws.cli.render import print_stale, stale_json


@click.command()
@click.argument("name")
@click.argument("target")
@json_option
@pass_state
def swap(state: CliState, name: str, target: str) -> None:
    """Re-point source-data resource NAME at directory TARGET, or bring back the
    version NAME had in a snapshot with TARGET = NAME@TAG. Lists the outputs that are
    stale afterwards (`dws rerun` brings them up to date).

    \b
    Example:
      dws swap raw /data/raw-2026-11
      dws swap raw raw@v1
    """
    ws = state.open()
    outcome = ws.swap(name, target if "@" in target else state.abspath(target))
    out = state.output
    if out.json:
        out.emit_json(
            {
                "resource": outcome.resource,
                "old": outcome.old,
                "new": outcome.new,
                "stale": [stale_json(s) for s in outcome.stale],
            }
        )
        return
    out.line(f"{name}: {outcome.old} -> {outcome.new}")
    if not outcome.stale:
        out.line("no recorded output depends on it")
    print_stale(out, outcome.stale)
