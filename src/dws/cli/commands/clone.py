"""dws clone"""

from __future__ import annotations

import sys

import click

from dws.cli.context import CliState, json_option, pass_state
from dws.cli.output import short
from dws.errors import UsageError


def _parse_maps(values: tuple[str, ...], state: CliState) -> dict[str, str]:
    maps: dict[str, str] = {}
    for value in values:
        name, sep, path = value.partition("=")
        if not sep or not name or not path:
            raise UsageError(f"--map needs NAME=PATH, not {value!r}")
        maps[name] = state.abspath(path)
    return maps


@click.command()
@click.argument("url")
@click.argument("directory")
@click.option("--snapshot", "ref", metavar="REF", help="Restore this snapshot (default: latest).")
@click.option(
    "--map",
    "maps",
    multiple=True,
    metavar="NAME=PATH",
    help="Where a resource that lived outside the workspace is on this machine.",
)
@click.option("--endpoint-url", metavar="URL", help="S3-compatible endpoint for s3:// URLs.")
@json_option
@pass_state
def clone(
    state: CliState,
    url: str,
    directory: str,
    ref: str | None,
    maps: tuple[str, ...],
    endpoint_url: str | None,
) -> None:
    """Make DIRECTORY a copy of the workspace at URL (a directory or s3://bucket/prefix),
    restored to its latest snapshot; git code resources are cloned from their recorded
    URLs. A failed clone leaves nothing behind.

    \b
    Example:
      dws clone s3://team-bucket/projects/churn ./churn --snapshot v3
      dws clone /mnt/nas/churn-ws ./churn --map images=/data/imagenet
    """
    from dws.api import Workspace

    out = state.output
    interactive = not out.batch and sys.stdin.isatty() and sys.stderr.isatty()

    def ask(name: str, recorded: str) -> str | None:
        answer = click.prompt(
            f"Resource {name!r} was at {recorded}; where is it on this machine?",
            default=recorded,
            err=True,
        )
        return state.abspath(answer) if answer else None

    target = state.abspath(directory)
    source = url if url.startswith("s3://") else state.abspath(url)
    with out.progress() as progress:
        ws, report = Workspace.clone(
            source,
            target,
            snapshot=ref,
            maps=_parse_maps(maps, state),
            endpoint_url=endpoint_url,
            ask=ask if interactive else None,
            progress=progress,
        )
    if out.json:
        out.emit_json(
            {
                "root": ws.root,
                "snapshot": report.snapshot,
                "snapshots": len(report.pull.snapshots),
                "objects": report.pull.objects,
                "bytes": report.pull.bytes,
                "cloned": report.cloned,
                "skipped": report.skipped,
            }
        )
    else:
        at = f" at snapshot {short(report.snapshot)}" if report.snapshot else " (no snapshots)"
        out.line(f"Cloned {source} into {ws.root}{at}")
    for name, why in report.skipped.items():
        out.note(f"warning: resource {name!r} not restored: {why}")
