"""dws resources"""

from __future__ import annotations

import click

from dws.cli.context import CliState, json_option, pass_state


@click.command()
@click.option(
    "--trust",
    "trust",
    multiple=True,
    metavar="NAME",
    help="Confirm that dws may write into NAME's directory outside the workspace.",
)
@json_option
@pass_state
def resources(state: CliState, trust: tuple[str, ...]) -> None:
    """List the workspace's resources.

    A resource whose directory lies outside the workspace is written to (restore, clean)
    only once this machine has confirmed it: `dws add`, `dws swap` and `dws clone --map`
    do so, and `--trust NAME` does it for a resource.json that came from elsewhere.

    \b
    Example:
      dws resources --json
      dws resources --trust images
    """
    ws = state.open()
    for name in trust:
        where = ws.trust_resource(name)
        state.output.note(
            f"{name}: dws may now write into {where}"
            if where
            else f"{name} is inside the workspace",
            style="",
        )
    if trust:
        return
    specs = ws.resources()
    if state.output.json:
        state.output.emit_json([s.to_json_obj() for s in specs])
        return
    if not specs:
        state.output.line("No resources yet (add one with `dws add local-files DIR --role ROLE`)")
        return
    rows = []
    for spec in specs:
        extra = " (hashes only)" if spec.params.get("keep") == "hashes" else ""
        where = spec.params.get("path") or spec.params.get("url") or spec.params.get("ref") or ""
        rows.append([spec.name, spec.type, spec.role.value, str(where) + extra])
    state.output.table(["name", "type", "role", "location"], rows)
