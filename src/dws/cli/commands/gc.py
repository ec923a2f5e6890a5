"""dws gc"""

from __future__ import annotations

import click

from dws.cli.context import CliState, json_option, pass_state
from dws.cli.output import human_bytes


@click.command()
@click.option("--dry-run", "-n", is_flag=True, help="Report what would be deleted.")
@json_option
@pass_state
def gc(state: CliState, dry_run: bool) -> None:
    """Delete stored objects that no snapshot references.

    \b
    Example:
      dws delete-snapshot v2 && dws gc
    """
    report = state.open().gc(dry_run=dry_run)
    if state.output.json:
        state.output.emit_json(
            {
                "kept": report.kept,
                "removed": report.removed,
                "removed_bytes": report.removed_bytes,
                "temporary_removed": report.temporary,
                "dry_run": dry_run,
            }
        )
        return
    verb = "Would remove" if dry_run else "Removed"
    state.output.line(
        f"{verb} {report.removed} object(s), {human_bytes(report.removed_bytes)}; "
        f"{report.kept} referenced object(s) kept"
    )
