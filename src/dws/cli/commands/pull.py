"""dws pull"""

from __future__ import annotations

import click

from dws.cli.context import CliState, json_option, pass_state
from dws.cli.lines import describe, other_line_json
from dws.cli.output import Output, short
from dws.core.remote.pull import PullReport, damaged_notes
from dws.errors import RefusedError, UsageError
from dws.model.summaries import human_bytes


@click.command()
@click.argument("remote", required=False)
@click.option("--all", "all_snapshots", is_flag=True, help="Fetch the objects of every snapshot.")
@click.option("--snapshot", "ref", metavar="REF", help="Fetch the objects of this snapshot.")
@click.option("--force", is_flag=True, help="Move local tags to where the remote's point.")
@json_option
@pass_state
def pull(
    state: CliState, remote: str | None, all_snapshots: bool, ref: str | None, force: bool
) -> None:
    """Fetch the remote's new snapshots, tags and lineage, and the objects of its latest
    snapshot (or --snapshot REF, or --all). Nothing is restored; run `dws restore` next.

    \b
    Example:
      dws pull origin && dws restore latest-tag
    """
    if all_snapshots and ref is not None:
        raise UsageError("--all and --snapshot cannot be used together")
    ws = state.open()
    with state.output.progress() as progress:
        ws.set_progress(progress)
        report = ws.pull(remote, all_snapshots=all_snapshots, snapshot=ref, force=force)
    out = state.output
    if out.json:
        out.emit_json(
            {
                "remote": report.remote,
                "snapshots": report.snapshots,
                "fetched": report.fetched,
                "without_data": report.without_data,
                "objects": report.objects,
                "bytes": report.bytes,
                "runs": report.runs,
                "steps": report.steps,
                "tags": report.tags,
                "kept_tags": [
                    {"tag": c.tag, "local": c.local, "remote": c.remote} for c in report.conflicts
                ],
                "damaged": report.damaged,
                "resources_added": report.resources_added,
                "resources_not_added": report.resources_not_added,
                "other_lines": [other_line_json(line) for line in report.other_lines],
                "deleted_on_remote": sorted(report.deleted),
            }
        )
    else:
        out.line(
            f"Pulled {len(report.snapshots)} new snapshot(s), {report.objects} object(s) "
            f"({human_bytes(report.bytes)}), {len(report.tags)} tag(s) from {report.remote}"
        )
        render_pull_notes(out, report)
    for note in damaged_notes(report):
        out.note(f"warning: {note}")
    for snapshot_id, how in sorted(report.deleted.items()):
        out.note(
            f"snapshot {short(snapshot_id)} was {how}; `dws delete-snapshot "
            f"{short(snapshot_id)}` deletes it here too"
        )
    if report.conflicts:
        raise RefusedError(
            f"{len(report.conflicts)} tag(s) name other snapshots here than on the remote; "
            "they were kept here (`dws pull --force` takes the remote's, "
            "`dws push --force` moves the remote's to yours)",
            details=[
                f"{c.tag}: here {short(c.local)}, remote {short(c.remote)}"
                for c in report.conflicts
            ],
        )


def render_pull_notes(out: Output, report: PullReport) -> None:
    """What a pull fetched data for, the resources it added, the other lines it brought."""
    if report.fetched and len(report.fetched) <= 3:
        out.line(f"Fetched the data of snapshot(s) {', '.join(short(i) for i in report.fetched)}")
    if report.without_data:
        out.line(
            f"{len(report.without_data)} snapshot(s) pulled without their data "
            "(`dws pull --snapshot REF` fetches them)"
        )
    if report.resources_added:
        out.line(
            "Added resource(s) the pulled snapshots record: " + ", ".join(report.resources_added)
        )
    for name, why in report.resources_not_added.items():
        out.note(f"resource {name!r} not added: {why}; `dws add TYPE PATH --name {name}` adds it")
    for line in report.other_lines:
        tip = short(line.tip.id)
        fetch = "" if line.tip.id in report.fetched else f"`dws pull --snapshot {tip}`, then "
        out.note(f"Pulled another line, which HEAD is not on: {describe(line)}")
        out.note(f"  {fetch}`dws restore {tip}` goes there; `dws diff HEAD {tip}` compares them")
