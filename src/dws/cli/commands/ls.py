"""dws ls"""

from __future__ import annotations

from typing import Any

import click

from dws.cli.context import CliState, json_option, pass_state
from dws.cli.output import align, printable
from dws.cli.reading import endpoint_option, remote_option, snapshot_files
from dws.cli.targets import split_target
from dws.model.summaries import human_bytes


@click.command(name="ls")
@click.argument("target", metavar="[SNAPSHOT[:PATH]]", default="HEAD")
@click.option("-r", "--recursive", is_flag=True, help="Every entry below PATH, not only its own.")
@remote_option
@endpoint_option
@json_option
@pass_state
def ls(
    state: CliState, target: str, recursive: bool, remote: str | None, endpoint_url: str | None
) -> None:
    """List a directory of a snapshot as recorded: type, size, content id, name.

    PATH is workspace-relative (data/raw), or @NAME/... for resource NAME; without it, the
    top of the workspace. With -r, entries show their whole path. Nothing is restored.

    \b
    Examples:
      dws ls v1:data/raw
      dws ls -r HEAD:results --json
      dws ls --remote s3://bucket/project v2:data
    """
    ref, path = split_target(target, need_path=False)
    with snapshot_files(state, ref, remote, endpoint_url) as files:
        listed = files.ls(path, recursive=recursive)
        left_out = dict(files.left_out)
    out = state.output
    for why in left_out.values():
        out.note(f"not listed: {why}")
    if out.json:
        out.emit_json([_entry_json(item) for item in listed])
        return
    rows = []
    for item in listed:
        entry = item.entry
        name = item.path if recursive else item.path.rsplit("/", 1)[-1]
        shown_name = printable(name) + ("/" if entry.is_dir else "")
        if entry.kind == "symlink":
            shown_name += f" -> {printable(entry.target or '')}"
        rows.append([entry.kind, human_bytes(entry.size), entry.id[:10] or "-", shown_name])
    for line in align(rows, [False, True, False, False]):
        out.line(line)


def _entry_json(item: Any) -> dict[str, Any]:
    entry = item.entry
    out: dict[str, Any] = {
        "path": item.path,
        "name": entry.name,
        "type": entry.kind,
        "size": entry.size,
        "id": entry.id or None,
        "resource": item.resource,
    }
    if entry.exec:
        out["exec"] = True
    if entry.target is not None:
        out["target"] = entry.target
    return out
