"""dws init"""

from __future__ import annotations

import click

from dws.cli.context import CliState, json_option, pass_state


@click.command()
@click.option("--name", help="Workspace name (default: the directory's name).")
@json_option
@pass_state
def init(state: CliState, name: str | None) -> None:
    """Make the current directory (or -C DIR) a workspace.

    \b
    Example:
      cd myproject && dws init
    """
    from dws.api import Workspace

    ws = Workspace.init(state.directory, name)
    if state.output.json:
        state.output.emit_json({"root": ws.root, "name": ws.name})
    else:
        state.output.line(f"Initialised workspace {ws.name!r} in {ws.root}")
