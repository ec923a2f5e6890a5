"""dws delete-snapshot"""

from __future__ import annotations

import click

from dws.cli.context import CliState, json_option, pass_state
from dws.cli.output import short
from dws.errors import UsageError


@click.command("delete-snapshot")
@click.argument("ref", metavar="SNAPSHOT")
@click.option(
    "--force",
    is_flag=True,
    help="Also when it is the snapshot the workspace is at; with --remote, also when "
    "remote tags name it (they are deleted too).",
)
@click.option(
    "--remote",
    metavar="NAME",
    help="Delete it on remote NAME instead (SNAPSHOT: a remote tag or id prefix).",
)
@click.option("--dry-run", "-n", is_flag=True, help="With --remote: report what would be deleted.")
@json_option
@pass_state
def delete_snapshot(
    state: CliState, ref: str, force: bool, remote: str | None, dry_run: bool
) -> None:
    """Delete SNAPSHOT's record and tags; `dws gc` then frees its data.

    With --remote NAME, delete it on the remote instead: a tombstone there keeps
    teammates' pushes from bringing it back, and `dws gc --remote NAME` then frees its
    data. This workspace keeps its copy.

    \b
    Example:
      dws delete-snapshot v2 && dws gc
      dws delete-snapshot v2 --remote origin --force && dws gc --remote origin
    """
    if remote is not None:
        _delete_remote(state, ref, remote, force, dry_run)
        return
    if dry_run:
        raise UsageError("--dry-run goes with --remote NAME")
    ident, tags = state.open().delete_snapshot(ref, force=force)
    if state.output.json:
        state.output.emit_json({"deleted": ident, "tags": tags})
        return
    tag_text = f" and tag(s) {', '.join(tags)}" if tags else ""
    state.output.line(f"Deleted snapshot {short(ident)}{tag_text}; run `dws gc` to free space")


def _delete_remote(state: CliState, ref: str, name: str, force: bool, dry_run: bool) -> None:
    report = state.open().delete_remote_snapshot(ref, name, force=force, dry_run=dry_run)
    out = state.output
    if out.json:
        out.emit_json(
            {
                "remote": report.remote,
                "deleted": report.snapshot,
                "tags": report.tags,
                "kept_tags": report.kept_tags,
                "local": report.local,
                "dry_run": report.dry_run,
            }
        )
    else:
        verb = "Would delete" if dry_run else "Deleted"
        tag_text = f" and tag(s) {', '.join(report.tags)}" if report.tags else ""
        then = "" if dry_run else f"; run `dws gc --remote {report.remote}` to free its data"
        out.line(f"{verb} snapshot {short(report.snapshot)}{tag_text} on {report.remote}{then}")
    for tag in report.kept_tags:
        out.note(f"tag {tag!r} was moved to another snapshot meanwhile and was kept")
    if report.local:
        out.note(
            f"this workspace keeps snapshot {short(report.snapshot)}: `dws delete-snapshot "
            f"{short(report.snapshot)}` deletes it here too"
        )
