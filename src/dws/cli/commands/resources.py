"""dws resources"""

from __future__ import annotations

import click

from dws.cli.context import CliState, json_option, pass_state


@click.command()
@json_option
@pass_state
def resources(state: CliState) -> None:
    """List the workspace's resources.

    \b
    Example:
      dws resources --json
    """
    specs = state.open().resources()
    if state.output.json:
        state.output.emit_json([s.to_json_obj() for s in specs])
        return
    if not specs:
        state.output.line("No resources yet (add one with `dws add local-files DIR --role ROLE`)")
        return
    rows = []
    for spec in specs:
        extra = " (hashes only)" if spec.params.get("keep") == "hashes" else ""
        where = spec.params.get("path") or spec.params.get("url") or ""
        rows.append([spec.name, spec.type, spec.role.value, str(where) + extra])
    state.output.table(["name", "type", "role", "location"], rows)
