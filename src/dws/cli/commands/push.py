"""dws push"""

from __future__ import annotations

import click

from dws.cli.context import CliState, json_option, pass_state
from dws.cli.lines import describe, other_line_json
from dws.cli.output import short
from dws.errors import RefusedError
from dws.model.summaries import human_bytes


@click.command()
@click.argument("remote", required=False)
@click.option("--force", is_flag=True, help="Move tags that name other snapshots on the remote.")
@click.option(
    "--verify",
    is_flag=True,
    help="Also check that the remote holds every object of the snapshots it shares with "
    "this workspace, and send what it lacks (repairs a damaged remote).",
)
@json_option
@pass_state
def push(state: CliState, remote: str | None, force: bool, verify: bool) -> None:
    """Send snapshots the remote lacks: objects first (in parallel), then lineage, snapshot
    records, and tags last. Running it again after an interruption finishes the job.

    \b
    Example:
      dws push origin
    """
    ws = state.open()
    with state.output.progress() as progress:
        ws.set_progress(progress)
        report = ws.push(remote, force=force, verify=verify)
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
                "behind_tags": report.behind,
                "skipped": report.skipped,
                "verified": report.verified,
                "resources_merged": report.resources_merged,
                "resources_conflicting": report.resources_conflicting,
                "other_lines": [other_line_json(line) for line in report.other_lines],
            }
        )
    else:
        out.line(
            f"Pushed {len(report.snapshots)} snapshot(s), {report.objects} object(s) "
            f"({human_bytes(report.bytes)}), {len(report.tags)} tag(s) to {report.remote}"
        )
        if verify:
            out.line(f"Checked the objects of {report.verified} snapshot(s) the remote already had")
    for note in report.notes:
        out.note(f"note: {note}")
    for snapshot_id, why in report.skipped.items():
        out.note(f"warning: snapshot {short(snapshot_id)} not pushed: {why}")
    for line in report.other_lines:
        out.note(f"The remote has another line: {describe(line)}")
        out.note(
            "  `dws pull`, then `dws history --graph` shows both lines and "
            f"`dws diff HEAD {short(line.tip.id)}` compares them"
        )
    for name, how in report.resources_conflicting.items():
        out.note(
            f"warning: resource {name!r} is another resource on the remote ({how}); the "
            "remote's list keeps its own, your snapshots keep yours; give yours another "
            f"name (`dws remove {name}`, then `dws add ... --name NEW`) so nobody mixes them up"
        )
    for tag in report.behind:
        out.note(
            f"tag {tag!r} was moved on the remote since this workspace saw it; `dws pull` takes it"
        )
    if report.conflicts:
        why = (
            "were moved on the remote by someone else while this push ran; push again to move "
            "them to yours"
            if force
            else "were left as they are (`dws push --force` moves them to yours, "
            "`dws pull --force` takes the remote's)"
        )
        raise RefusedError(
            f"{len(report.conflicts)} tag(s) name other snapshots on the remote; everything "
            f"else was pushed, those tags {why}",
            details=[
                f"{c.tag}: remote {short(c.remote)}, here {short(c.local)}"
                for c in report.conflicts
            ],
        )
