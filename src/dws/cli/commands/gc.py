"""dws gc"""

from __future__ import annotations

import click

from dws.cli.context import CliState, json_option, pass_state
from dws.model.summaries import human_bytes


@click.command()
@click.option("--dry-run", "-n", is_flag=True, help="Report what would be deleted.")
@click.option(
    "--remote", metavar="NAME", help="Collect garbage on remote NAME instead (its snapshots)."
)
@json_option
@pass_state
def gc(state: CliState, dry_run: bool, remote: str | None) -> None:
    """Delete stored objects that no snapshot references.

    With --remote, delete the remote's objects that none of the remote's snapshots
    reaches, and abort uploads killed pushes left unfinished. It holds the remote's gc
    lock, so it refuses (exit 3) while someone pushes there, and pushes refuse meanwhile.

    \b
    Example:
      dws delete-snapshot v2 && dws gc
      dws gc --remote origin --dry-run
    """
    if remote is not None:
        _gc_remote(state, remote, dry_run)
        return
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


def _gc_remote(state: CliState, name: str, dry_run: bool) -> None:
    ws = state.open()
    with state.output.progress() as progress:
        ws.set_progress(progress)
        report = ws.gc_remote(name, dry_run=dry_run)
    if state.output.json:
        state.output.emit_json(
            {
                "remote": report.remote,
                "kept": report.kept,
                "removed": report.removed,
                "removed_bytes": report.removed_bytes,
                "aborted_uploads": report.aborted_uploads,
                "ignored_locks": report.ignored_locks,
                "dry_run": dry_run,
            }
        )
    else:
        verb = "Would remove" if dry_run else "Removed"
        uploads = ""
        if report.aborted_uploads:
            done = "would abort" if dry_run else "aborted"
            uploads = f"; {done} {report.aborted_uploads} unfinished upload(s)"
        state.output.line(
            f"{verb} {report.removed} object(s), {human_bytes(report.removed_bytes)} on "
            f"{report.remote}; {report.kept} referenced object(s) kept{uploads}"
        )
    for note in report.ignored_locks:
        state.output.note(f"note: {note}")
