"""dws swap"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import click

from dws.cli.context import CliState, json_option, pass_state
from dws.cli.render import change_json, print_changes, print_stale, stale_json
from dws.errors import UsageError

if TYPE_CHECKING:
    pass


@click.command()
@click.argument("name")
@click.argument("target", required=False, metavar="DIR|NAME@SNAPSHOT")
@click.option("--back", is_flag=True, help="Bring back the content from before the last swap.")
@click.option("--dry-run", "-n", is_flag=True, help="Print the changes; change nothing.")
@json_option
@pass_state
def swap(state: CliState, name: str, target: str | None, back: bool, dry_run: bool) -> None:
    """Put other data behind source-data resource NAME, which keeps its path: the content
    of directory DIR (only read; its files are copied into the object store and into
    NAME's directory), or NAME's content in a snapshot with NAME@SNAPSHOT. Only files
    that differ are written; files DIR lacks are removed. What was there is saved in the
    object store first, so `--back` brings it back (repeat it to go further back).
    Lists the outputs that are stale afterwards (`dws rerun` brings them up to date).

    Refused, with nothing changed: a resource that keeps hashes only (exit 3), a DIR
    inside the resource or the workspace's metadata (exit 2). See docs/swap.md.

    \b
    Example:
      dws swap raw /data/raw-2026-11 --dry-run
      dws swap raw /data/raw-2026-11
      dws swap raw raw@v1
      dws swap raw --back
    """
    if back == (target is not None):
        raise UsageError("give DIR or NAME@SNAPSHOT to swap in, or --back (not both)")
    if target is not None and ("@" not in target or os.path.exists(state.abspath(target))):
        target = state.abspath(target)
    ws = state.open()
    with state.output.progress() as progress:
        ws.set_progress(progress)
        outcome = ws.swap(name, target, back=back, dry_run=dry_run)
    out = state.output
    if out.json:
        out.emit_json(
            {
                "resource": outcome.resource,
                "path": outcome.path,
                "source": outcome.source,
                "applied": outcome.applied,
                "changes": [change_json(c) for c in outcome.changes],
                "back": outcome.back,
                "stale": [stale_json(s) for s in outcome.stale],
                "warnings": outcome.warnings,
            }
        )
        return
    for warning in outcome.warnings:
        out.note(f"{name}: {warning}")
    verb = "would now hold" if dry_run else "now holds"
    out.line(f"{name} ({outcome.path}) {verb} {outcome.source}", "bold")
    count = len(outcome.changes)
    out.line(f"{count} change(s)" if count else "no file changes")
    print_changes(out, outcome.changes)
    if dry_run:
        return
    if outcome.back:
        out.line(f"`dws swap {name} --back` brings back what was there before")
    if not outcome.stale:
        out.line("no recorded output depends on it")
    print_stale(out, outcome.stale)
