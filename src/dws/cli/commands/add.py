"""dws add"""

from __future__ import annotations

import click

from dws.cli.context import CliState, json_option, pass_state


@click.command()
@click.argument("type_name", metavar="TYPE")
@click.argument("location")
@click.option(
    "--role", "-r", required=True, help="source-data|intermediate-data|results|code (or s/i/r/c)."
)
@click.option("--name", help="Resource name (default: derived from the location).")
@click.option(
    "--keep",
    type=click.Choice(["content", "hashes"]),
    default="content",
    show_default=True,
    help="'hashes' records hashes only (huge external data); restore then only verifies.",
)
@click.option("--create", is_flag=True, help="Create the directory if it does not exist.")
@json_option
@pass_state
def add(
    state: CliState,
    type_name: str,
    location: str,
    role: str,
    name: str | None,
    keep: str,
    create: bool,
) -> None:
    """Register a resource of TYPE at LOCATION.

    \b
    Examples:
      dws add local-files data/raw --role source-data --name raw
      dws add local-files /mnt/big/imagenet --role s --name images --keep hashes
      dws add local-files results --role results --create
    """
    ws = state.open()
    spec = ws.add_resource(
        type_name, state.abspath(location), role, name=name, keep=keep, create=create
    )
    if state.output.json:
        state.output.emit_json(spec.to_json_obj())
    else:
        where = spec.params.get("path", location)
        state.output.line(
            f"Added {spec.type} resource {spec.name!r} ({spec.role.value}) at {where}"
        )
