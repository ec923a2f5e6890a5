"""dws diff"""

from __future__ import annotations

import click

from dws.cli.context import CliState, json_option, pass_state
from dws.cli.render import print_changes, print_notes, resource_changes_json


@click.command()
@click.argument("old", metavar="SNAPSHOT")
@click.argument("new", metavar="[SNAPSHOT]", required=False)
@json_option
@pass_state
def diff(state: CliState, old: str, new: str | None) -> None:
    """File-level changes from SNAPSHOT to another one, or to the working state.

    \b
    Examples:
      dws diff v1 v2
      dws diff v1          # v1 against the files as they are now
    """
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
