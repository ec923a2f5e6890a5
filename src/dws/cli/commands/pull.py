"""dws pull"""

from __future__ import annotations

import click

from dws.cli.context import CliState, json_option, pass_state
from dws.cli.output import human_bytes, short


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
                "objects": report.objects,
                "bytes": report.bytes,
                "runs": report.runs,
                "steps": report.steps,
                "tags": report.tags,
                "kept_tags": [
                    {"tag": c.tag, "local": c.local, "remote": c.remote} for c in report.conflicts
                ],
                "deleted_on_remote": sorted(report.deleted),
            }
        )
    else:
        out.line(
            f"Pulled {len(report.snapshots)} new snapshot(s), {report.objects} object(s) "
            f"({human_bytes(report.bytes)}), {len(report.tags)} tag(s) from {report.remote}"
        )
    for snapshot_id, how in sorted(report.deleted.items()):
        out.note(
            f"snapshot {short(snapshot_id)} was {how}; `dws delete-snapshot "
            f"{short(snapshot_id)}` deletes it here too"
        )
    for conflict in report.conflicts:
        out.note(
            f"tag {conflict.tag!r} kept at {short(conflict.local)} (the remote's names "
            f"{short(conflict.remote)}; pull --force to take it)"
        )
