"""dws show"""

from __future__ import annotations

import click

from dws.cli.context import CliState, json_option, pass_state
from dws.cli.output import short
from dws.cli.render import MAX_LINES, record_json
from dws.model.summaries import state_summary


@click.command()
@click.argument("ref", metavar="[SNAPSHOT]", default="HEAD")
@json_option
@pass_state
def show(state: CliState, ref: str) -> None:
    """Show one snapshot: when, who, what each resource held, metrics.

    \b
    Example:
      dws show v1
    """
    record, tags = state.open().show(ref)
    out = state.output
    if out.json:
        out.emit_json(record_json(record, tags))
        return
    out.line(f"snapshot {record.id}", "bold")
    if tags:
        out.line(f"tags:     {', '.join(tags)}")
    out.line(f"created:  {record.created} by {record.user} on {record.hostname}")
    out.line(f"parent:   {short(record.parent)}")
    if record.message:
        out.line(f"message:  {record.message}")
    out.line("resources:")
    for name, recorded in record.resources.items():
        out.line(
            f"  {name} ({recorded.type}, {recorded.role.value}): {state_summary(recorded.state)}"
        )
    if record.metrics:
        out.line("metrics:")
        for source, values in record.metrics.items():
            for key, value in values.items():
                out.line(f"  {source}:{key} = {value:g}")
    if record.stale:
        out.line(
            f"stale outputs ({len(record.stale)}): an input or the code of the step that "
            "made them had changed when this snapshot was taken",
            "bold",
        )
        for path in record.stale[:MAX_LINES]:
            out.line(f"  {path}", "yellow")
        if len(record.stale) > MAX_LINES:
            out.line(f"  ... and {len(record.stale) - MAX_LINES} more (use --json for all)")
