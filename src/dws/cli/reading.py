"""What `dws ls`, `dws cat` and `dws get` share: reading a snapshot of this workspace or of a
remote."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from dws.cli.context import CliState

if TYPE_CHECKING:
    from dws.api import SnapshotFiles

remote_option = click.option(
    "--remote",
    metavar="NAME|URL",
    help="Read from this remote (a configured name, a directory or s3://bucket/prefix) "
    "instead of the workspace; no workspace is needed. HEAD is the remote's newest snapshot.",
)
endpoint_option = click.option(
    "--endpoint-url", metavar="URL", help="The S3 endpoint of an s3:// remote URL."
)


def snapshot_files(
    state: CliState, ref: str, remote: str | None, endpoint_url: str | None
) -> SnapshotFiles:
    """The files of snapshot ``ref`` of the workspace at -C DIR, or of ``remote``."""
    from dws.api import snapshot_files as open_files

    if remote is None and endpoint_url is not None:
        raise click.UsageError("--endpoint-url goes with a remote URL")
    directory = None if state.directory == "." and remote is not None else state.directory
    return open_files(ref, workspace=directory, remote=remote, endpoint_url=endpoint_url)
