"""dws delete-snapshot"""

from __future__ import annotations

import click

from dws.cli.context import CliState, json_option, pass_state
from dws.cli.output import short


@click.command("delete-snapshot")
@click.argument("ref", metavar="SNAPSHOT")
@click.option("--force", is_flag=True, help="Also when it is the snapshot the workspace is at.")
@json_option
@pass_state
def delete_snapshot(state: CliState, ref: str, force: bool) -> None:
    """Delete SNAPSHOT's record and tags; `dws gc` then frees its data.

    \b
    Example:
      dws delete-snapshot v2 && dws gc
    """
    ident, tags = state.open().delete_snapshot(ref, force=force)
    if state.output.json:
        state.output.emit_json({"deleted": ident, "tags": tags})
        return
    tag_text = f" and tag(s) {', '.join(tags)}" if tags else ""
    state.output.line(f"Deleted snapshot {short(ident)}{tag_text}; run `dws gc` to free space")
