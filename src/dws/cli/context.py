"""The state the global options set up, and opening the workspace for a command."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import click
from msgspec import Struct, field

from dws.cli.output import Output

if TYPE_CHECKING:
    from dws.api import Workspace


class CliState(Struct):
    """Global options of one `dws` invocation."""

    directory: str = "."
    output: Output = field(default_factory=Output)

    def open(self) -> Workspace:
        """The workspace at or above -C DIR."""
        from dws.api import Workspace

        return Workspace.open(self.directory)

    def abspath(self, path: str) -> str:
        """Interpret a user-given path relative to the directory given with -C."""
        return os.path.abspath(os.path.join(self.directory, path))


pass_state = click.make_pass_decorator(CliState)


def _set_json(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value:
        ctx.ensure_object(CliState).output.json = True


json_option = click.option(
    "--json",
    is_flag=True,
    expose_value=False,
    callback=_set_json,
    help="Machine-readable output on stdout (same as `dws --json`).",
)
