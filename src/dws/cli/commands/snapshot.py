"""dws snapshot"""

from __future__ import annotations

import click

from dws.cli.context import CliState, json_option, pass_state
from dws.cli.output import short
from dws.cli.render import record_json
from dws.model.summaries import state_summary


@click.command()
@click.argument("tag", required=False)
@click.option("-m", "--message", default="", help="What this snapshot is.")
@click.option("--force", is_flag=True, help="Move TAG if it already names another snapshot.")
@click.option(
    "--strict",
    is_flag=True,
    help="Refuse (exit 3) when an output is stale (its step's inputs or code changed).",
)
@click.option("--only", multiple=True, metavar="NAME", help="Snapshot only these resources.")
@click.option(
    "--exclude", multiple=True, metavar="NAME", help="Keep these resources' state from HEAD."
)
@json_option
@pass_state
def snapshot(
    state: CliState,
    tag: str | None,
    message: str,
    force: bool,
    strict: bool,
    only: tuple[str, ...],
    exclude: tuple[str, ...],
) -> None:
    """Record the state of every resource, optionally naming it TAG.

    Outputs whose step is stale (an input or the code changed since they were made) are
    listed in the snapshot, with a warning; --strict refuses to record them. A resource
    that cannot be reached (an S3 endpoint down, credentials refused) refuses the snapshot
    (exit 3) before anything is stored. With --only/--exclude, the resources not
    snapshotted keep in the new snapshot the state HEAD records for them (like
    `git commit -- PATHS`); one HEAD does not record is left out.

    \b
    Example:
      dws snapshot v1 -m "baseline"
      dws snapshot v2 --strict
      dws snapshot v3 --exclude events
    """
    ws = state.open()
    with state.output.progress() as progress:
        ws.set_progress(progress)
        outcome = ws.snapshot(
            tag,
            message,
            force=force,
            strict=strict,
            only=list(only) or None,
            exclude=list(exclude) or None,
        )
    out = state.output
    for warning in outcome.warnings:
        out.note(f"warning: {warning}")
    record = outcome.record
    if out.json:
        doc = record_json(record, [tag] if tag else [])
        doc["created_new"] = outcome.created
        doc["kept_from_head"] = outcome.kept
        doc["left_out"] = outcome.left_out
        out.emit_json(doc)
        return
    tag_text = f" [{tag}]" if tag else ""
    if outcome.created:
        out.line(f"Snapshot {short(record.id)}{tag_text} recorded")
        for name, recorded in record.resources.items():
            kept = " (not snapshotted: kept from HEAD)" if name in outcome.kept else ""
            out.line(f"  {name} ({recorded.role.value}): {state_summary(recorded.state)}{kept}")
        if record.stale:
            out.line(f"  stale outputs: {len(record.stale)} (see `dws show`)", "yellow")
    else:
        out.line(f"Nothing changed since snapshot {short(record.id)}; no new snapshot recorded")
        if tag:
            out.line(f"Tag {tag!r} names {short(record.id)}")
        if outcome.kept:
            out.line(f"Not snapshotted, kept from HEAD: {', '.join(outcome.kept)}")
    if outcome.left_out:
        out.line(
            f"Not snapshotted, left out (HEAD does not record them): {', '.join(outcome.left_out)}"
        )
