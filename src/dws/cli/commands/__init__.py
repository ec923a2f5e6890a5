"""One module per verb. ``COMMANDS`` names each command's module and attribute; a command's
module is imported only when that command runs (or ``--help`` lists them all), so
`dws cat` does not pay for importing what `dws clone` needs."""

from __future__ import annotations

import importlib

import click

# command name -> "module:attribute" below dws.cli.commands, in the order they were added
COMMANDS: dict[str, str] = {
    "init": "init:init",
    "add": "add:add",
    "remove": "remove:remove",
    "resources": "resources:resources",
    "status": "status:status",
    "snapshot": "snapshot:snapshot",
    "restore": "restore:restore",
    "recover": "recover:recover",
    "history": "history:history",
    "log": "history:log",
    "show": "show:show",
    "diff": "diff:diff",
    "ls": "ls:ls",
    "cat": "cat:cat",
    "get": "get:get",
    "results": "results:results",
    "report": "report:report",
    "ui": "ui:ui",
    "tag": "tag:tag",
    "delete-snapshot": "delete_snapshot:delete_snapshot",
    "gc": "gc:gc",
    "fsck": "fsck:fsck",
    "run": "run:run",
    "lineage": "lineage:lineage",
    "swap": "swap:swap",
    "clean": "clean:clean",
    "rerun": "rerun:rerun",
    "remote": "remote:remote",
    "push": "push:push",
    "pull": "pull:pull",
    "clone": "clone:clone",
}


def load_command(name: str) -> click.Command | None:
    """The click command ``name``, its module imported now; None for an unknown name."""
    where = COMMANDS.get(name)
    if where is None:
        return None
    module, attribute = where.split(":")
    command = getattr(importlib.import_module(f"dws.cli.commands.{module}"), attribute)
    assert isinstance(command, click.Command) and command.name == name
    return command


class LazyGroup(click.Group):
    """A group whose commands are imported when they are first asked for."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*COMMANDS, *self.commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        found = self.commands.get(cmd_name)
        if found is None:
            found = load_command(cmd_name)
            if found is not None:
                self.commands[cmd_name] = found
        return found
