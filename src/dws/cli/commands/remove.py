"""dws remove"""

from __future__ import annotations

import click

from dws.cli.context import CliState, json_option, pass_state


@click.command()
@click.argument("name")
@json_option
@pass_state
def remove(state: CliState, name: str) -> None:
    """Forget resource NAME. Its files are never deleted.

    \b
    Example:
      dws remove features
    """
    spec = state.open().remove_resource(name)
    if state.output.json:
        state.output.emit_json(spec.to_json_obj())
    else:
        state.output.line(f"Removed resource {name!r} (its files were left alone)")
