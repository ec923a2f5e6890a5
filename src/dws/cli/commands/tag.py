"""dws tag"""

from __future__ import annotations

import click

from dws.cli.context import CliState, json_option, pass_state
from dws.cli.output import short


@click.command()
@click.argument("ref", metavar="[SNAPSHOT]", required=False)
@click.argument("name", metavar="[TAG]", required=False)
@click.option("--force", is_flag=True, help="Move TAG if it names another snapshot.")
@click.option("--delete", "-d", "delete", metavar="TAG", help="Remove a tag.")
@json_option
@pass_state
def tag(
    state: CliState, ref: str | None, name: str | None, force: bool, delete: str | None
) -> None:
    """Name SNAPSHOT with TAG; without arguments, list tags.

    \b
    Examples:
      dws tag 3fa9c2 best
      dws tag --delete best
      dws tag
    """
    ws = state.open()
    out = state.output
    if delete:
        if ref or name:
            raise click.UsageError("--delete takes only the tag name")
        ws.untag(delete)
        if out.json:
            out.emit_json({"deleted": delete})
        out.line(f"Deleted tag {delete!r}")
        return
    if ref is None:
        tags = ws.tags()
        if out.json:
            out.emit_json(tags)
        for tag_name, ident in tags.items():
            out.line(f"{tag_name}\t{short(ident)}")
        return
    if name is None:
        raise click.UsageError("give both SNAPSHOT and TAG (e.g. `dws tag 3fa9c2 best`)")
    ident = ws.tag(ref, name, force=force)
    if out.json:
        out.emit_json({"tag": name, "snapshot": ident})
    else:
        out.line(f"Tag {name!r} names {short(ident)}")
