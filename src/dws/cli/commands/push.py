"""dws push"""

from __future__ import annotations

import click

from dws.cli.context import CliState, json_option, pass_state
from dws.cli.output import human_bytes, short
from dws.errors import RefusedError


@click.command()
@click.argument("remote", required=False)
@click.option("--force", is_flag=True, help="Move tags that name other snapshots on the remote.")
@json_option
@pass_state
def push(state: CliState, remote: str | None, force: bool) -> None:
    """Send snapshots the remote lacks: objects first (in parallel), then lineage, snapshot
    records, and tags last. Running it again after an interruption finishes the job.

    \b
    Example:
      dws push origin
    """
    ws = state.open()
    with state.output.progress() as progress:
        ws.set_progress(progress)
        report = ws.push(remote, force=force)
    out = state.output
    if out.json:
        out.emit_json(
            {
                "remote": report.remote,
                "snapshots": report.snapshots,
                "objects": report.objects,
                "bytes": report.bytes,
                "runs": report.runs,
                "steps": report.steps,
                "tags": report.tags,
                "refused_tags": [
                    {"tag": c.tag, "local": c.local, "remote": c.remote} for c in report.conflicts
                ],
                "skipped": report.skipped,
            }
        )
    else:
        out.line(
            f"Pushed {len(report.snapshots)} snapshot(s), {report.objects} object(s) "
            f"({human_bytes(report.bytes)}), {len(report.tags)} tag(s) to {report.remote}"
        )
    for note in report.notes:
        out.note(f"note: {note}")
    for snapshot_id, why in report.skipped.items():
        out.note(f"warning: snapshot {short(snapshot_id)} not pushed: {why}")
    if report.conflicts:
        raise RefusedError(
            f"{len(report.conflicts)} tag(s) name other snapshots on the remote; they were "
            "left as they are (pull to see them, or push --force to move them)",
            details=[
                f"{c.tag}: remote {short(c.remote)}, here {short(c.local)}"
                for c in report.conflicts
            ],
        )
