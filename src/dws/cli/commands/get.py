"""dws get"""

from __future__ import annotations

import click

from dws.cli.context import CliState, pass_state
from dws.cli.reading import endpoint_option, snapshot_files
from dws.cli.targets import split_target
from dws.model.summaries import human_bytes


@click.command()
@click.argument("args", metavar="[URL] SNAPSHOT:PATH DEST", nargs=-1, required=True)
@endpoint_option
@pass_state
def get(state: CliState, args: tuple[str, ...], endpoint_url: str | None) -> None:
    """Copy a file or directory of a snapshot out, without touching the workspace.

    With URL (a remote: a configured name, a directory or s3://bucket/prefix), no workspace
    is needed and only what PATH needs is fetched; HEAD is then the remote's newest
    snapshot. DEST must not exist, or be a directory to copy into; nothing is overwritten,
    and a directory appears whole. Every file is checked against its content id.

    \b
    Examples:
      dws get v1:data/raw ../raw-v1
      dws get s3://bucket/project v2:results/model.pkl .
      dws get ../shared-remote HEAD:data/features features
    """
    if len(args) not in (2, 3):
        raise click.UsageError("give [URL] SNAPSHOT:PATH DEST")
    remote = args[0] if len(args) == 3 else None
    ref, path = split_target(args[-2], need_path=True)
    dest = state.abspath(args[-1])
    with snapshot_files(state, ref, remote, endpoint_url) as files:
        copied = files.copy_out(path, dest)
        snapshot_id = files.record.id
        left_out = dict(files.left_out)
    out = state.output
    for why in left_out.values():
        out.note(f"not copied: {why}")
    if out.json:
        out.emit_json(
            {
                "snapshot": snapshot_id,
                "path": path,
                "files": copied.files,
                "bytes": copied.bytes,
                "dest": copied.dest,
            }
        )
        return
    out.line(
        f"copied {copied.files} file(s), {human_bytes(copied.bytes)}, from {snapshot_id[:10]} "
        f"to {copied.dest}"
    )
