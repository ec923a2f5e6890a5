"""dws clean"""

from __future__ import annotations

import click

from dws.cli.context import CliState, json_option, pass_state
from dws.errors import UsageError


@click.command()
@click.option("--stale", "stale", is_flag=True, help="Delete stale intermediate data.")
@click.option("--dry-run", is_flag=True, help="Show what would be deleted; delete nothing.")
@json_option
@pass_state
def clean(state: CliState, stale: bool, dry_run: bool) -> None:
    """Delete outputs that are out of date. Only intermediate data a recorded run
    produced is deleted (`dws rerun` makes it again); results, source data and code
    are never touched.

    \b
    Example:
      dws clean --stale --dry-run
    """
    if not stale:
        raise UsageError("say what to clean: `dws clean --stale`")
    outcome = state.open().clean_stale(dry_run=dry_run)
    out = state.output
    if out.json:
        out.emit_json(
            {
                "dry_run": dry_run,
                "removed": [item.key for item in outcome.removed],
                "kept": [{"path": item.key, "why": why} for item, why in outcome.kept],
            }
        )
        return
    verb = "would delete" if dry_run else "deleted"
    for item in outcome.removed:
        out.line(f"{verb} {item.key}  (step {item.run.step})")
    for item, why in outcome.kept:
        out.line(f"kept {item.key}: {why}", "dim")
    if not outcome.removed:
        out.line("nothing to clean")
