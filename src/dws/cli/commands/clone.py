"""dws clone"""

from __future__ import annotations

import os
import re
import sys

import click

from dws.cli.context import CliState, json_option, pass_state
from dws.cli.lines import describe, other_line_json
from dws.cli.output import short
from dws.core.remote.pull import damaged_notes
from dws.errors import UsageError


def _parse_maps(values: tuple[str, ...], state: CliState) -> dict[str, str]:
    maps: dict[str, str] = {}
    for value in values:
        name, sep, path = value.partition("=")
        if not sep or not name or not path:
            raise UsageError(f"--map needs NAME=PATH, not {value!r}")
        maps[name] = state.abspath(path)
    return maps


_NAMED_REPO = re.compile(r"(\.|[A-Za-z_][A-Za-z0-9_-]{0,63})=(.+)", re.DOTALL)


def _parse_repos(values: tuple[str, ...], state: CliState) -> dict[str, str]:
    """``--repo URL`` (the workspace's own repository, key ".") and ``--repo NAME=URL``
    (a name holds no ':' or '/', so a URL is never taken for one); the resource type
    decides which values are local paths (relative to the directory given with -C)."""
    repos: dict[str, str] = {}
    for value in values:
        named = _NAMED_REPO.fullmatch(value)
        name, url = (named.group(1), named.group(2)) if named else (".", value)
        if not url:
            raise UsageError(f"--repo needs URL or NAME=URL, not {value!r}")
        if name in repos:
            which = "the workspace's own repository" if name == "." else repr(name)
            raise UsageError(f"--repo gives {which} twice")
        repos[name] = url
    return repos


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
@click.option(
    "--repo",
    "repos",
    multiple=True,
    metavar="[NAME=]URL",
    help="Clone git resource NAME (without NAME: the workspace's own repository) from URL "
    "instead of its recorded URL.",
)
@click.option("--endpoint-url", metavar="URL", help="S3-compatible endpoint for s3:// URLs.")
@click.option(
    "--pull-image",
    "pull_images",
    multiple=True,
    metavar="NAME",
    help="Pull container resource NAME's recorded image by digest (default: images stay "
    "in their registries).",
)
@json_option
@pass_state
def clone(
    state: CliState,
    url: str,
    directory: str,
    ref: str | None,
    maps: tuple[str, ...],
    repos: tuple[str, ...],
    endpoint_url: str | None,
    pull_images: tuple[str, ...],
) -> None:
    """Make DIRECTORY a copy of the workspace at URL (a directory or s3://bucket/prefix),
    restored to its latest snapshot. Git code resources are cloned from their recorded URLs
    (or --repo): the workspace's own repository first, the workspace made inside it, then
    each repository is checked out at the snapshot's commit with its recorded uncommitted
    changes. A failed clone leaves nothing behind.

    \b
    Examples:
      dws clone s3://team-bucket/projects/churn ./churn --snapshot v3
      dws clone /mnt/nas/churn-ws ./churn --map images=/data/imagenet
      dws clone /mnt/nas/churn-ws ./churn --repo git@github.com:org/churn.git
      dws clone /mnt/nas/churn-ws ./churn --repo lib=https://github.com/org/lib.git
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
    repo_urls = _parse_repos(repos, state)
    with out.progress() as progress:
        ws, report = Workspace.clone(
            source,
            target,
            snapshot=ref,
            maps=_parse_maps(maps, state),
            endpoint_url=endpoint_url,
            ask=ask if interactive else None,
            progress=progress,
            repos=repo_urls,
            relative_to=state.abspath("."),
            pull_images=list(pull_images),
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
                "notes": report.notes,
                "damaged": report.pull.damaged,
                "resources_not_added": report.pull.resources_not_added,
                "other_lines": [other_line_json(line) for line in report.other_lines],
                "leftovers_removed": report.leftovers,
            }
        )
    else:
        at = f" at snapshot {short(report.snapshot)}" if report.snapshot else " (no snapshots)"
        if report.other_lines:
            which = "the newest" if ref is None else "the one asked for"
            others = len(report.other_lines)
            at += f" ({which}; {others} other line{'' if others == 1 else 's'}, below)"
        out.line(f"Cloned {source} into {ws.root}{at}")
        for line in report.other_lines:
            tip = short(line.tip.id)
            out.line(f"  other line: {describe(line)}")
            out.line(f"    `dws pull --snapshot {tip}`, then `dws restore {tip}` goes there")
        for name, notes in report.notes.items():
            for note in notes:
                out.note(f"{name}: {note}", "cyan")
    for name, why in report.skipped.items():
        out.note(f"warning: resource {name!r} not restored: {why}")
    for note in damaged_notes(report.pull):
        out.note(f"warning: {note}")
    if report.leftovers:
        names = ", ".join(os.path.basename(path) for path in report.leftovers)
        out.note(f"Removed the staging directories of clones that no longer run: {names}", "cyan")
