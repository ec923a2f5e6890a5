"""dws restore"""

from __future__ import annotations

from itertools import islice

import click

from dws.cli.context import CliState, json_option, pass_state
from dws.cli.output import short
from dws.cli.render import MAX_LINES, change_json, print_changes
from dws.core.restore import RESULTS_NOT_REVERTED


@click.command()
@click.argument("ref", metavar="SNAPSHOT")
@click.option("--only", multiple=True, metavar="NAME", help="Restore only these resources.")
@click.option("--exclude", multiple=True, metavar="NAME", help="Leave these resources alone.")
@click.option(
    "--force",
    is_flag=True,
    help="Overwrite changes never snapshotted, after saving them (see `dws recover`).",
)
@click.option("--dry-run", "-n", is_flag=True, help="Print the plan; change nothing.")
@click.option(
    "--link",
    type=click.Choice(["copy", "hardlink"]),
    default="copy",
    show_default=True,
    help="hardlink: source data's large files become read-only hard links to the object "
    "store (no copy, no extra space); never edit such a file in place.",
)
@json_option
@pass_state
def restore(
    state: CliState,
    ref: str,
    only: tuple[str, ...],
    exclude: tuple[str, ...],
    force: bool,
    dry_run: bool,
    link: str,
) -> None:
    """Bring every resource except results back to SNAPSHOT (a tag or id).

    Refuses (exit 3) when it would overwrite changes not yet snapshotted, unless --force,
    which saves them first: files of data directories in a recovery record (`dws recover`
    gets them back), a git repository's uncommitted changes as a patch (the command says
    where and how to apply it). Content that only the store still holds (a deleted
    snapshot's) is overwritten without --force, and kept in a recovery record too.

    \b
    Example:
      dws restore v1 --dry-run
      dws restore v1 --only raw
      dws restore v1 --only raw --link hardlink
    """
    ws = state.open()
    with state.output.progress() as progress:
        ws.set_progress(progress)
        outcome = ws.restore(
            ref,
            only=list(only) or None,
            exclude=list(exclude) or None,
            force=force,
            dry_run=dry_run,
            link=link,
        )
    out = state.output
    for name, how in outcome.differing.items():
        out.note(
            f"warning: the snapshot's resource {name!r} is another resource than this "
            f"workspace's {name!r} ({how}); it was treated as this workspace's"
        )
    if out.json:
        out.emit_json(
            {
                "snapshot": outcome.record.id,
                "applied": outcome.applied,
                "resources": {
                    p.resource: [change_json(c) for c in p.visible_changes] for p in outcome.plans
                },
                "skipped": outcome.skipped,
                "conflicts": {p.resource: p.conflicts for p in outcome.plans if p.conflicts},
                "notes": {p.resource: p.notes for p in outcome.plans if p.notes},
                "recovery": outcome.recovery.id if outcome.recovery else None,
                "to_save": outcome.to_save,
                "added": outcome.added,
                "differing": outcome.differing,
            }
        )
        return
    conflicts = [f"{p.resource}/{path}" for p in outcome.plans for path in p.conflicts]
    if dry_run and conflicts and not force:
        out.note(
            f"restore would refuse: {len(conflicts)} file(s) have changes not yet snapshotted "
            "(snapshot them first, or use --force):"
        )
        for path in conflicts[:20]:
            out.note(f"  {path}")
    elif dry_run and outcome.to_save:
        out.note(
            f"restore would first save {outcome.to_save} path(s) that no snapshot holds "
            "(in a recovery record; a git repository's changes as a patch)"
        )
    if not outcome.plans:
        out.line(f"Nothing to restore from snapshot {short(outcome.record.id)}; nothing changed")
        for name, why in outcome.skipped.items():
            hint = "; `dws results export SNAPSHOT DIR` copies them out"
            out.line(f"{name}: skipped ({why}{hint if why == RESULTS_NOT_REVERTED else ''})")
        return
    verb = "Would restore" if dry_run else "Restored"
    out.line(f"{verb} snapshot {short(outcome.record.id)}")
    if outcome.added:
        added = "Would add" if dry_run else "Added"
        out.line(
            f"{added} resource(s) this workspace lacked, as the snapshot defines them: "
            f"{', '.join(outcome.added)}"
        )
    for plan in outcome.plans:
        count = plan.visible_count
        out.line(
            f"{plan.resource}: {count} change(s)"
            if count
            else f"{plan.resource}: already as recorded",
            "bold",
        )
        for note in plan.notes:
            out.note(f"  {note}", "cyan")
        if dry_run or out.verbose:
            shown = (change for change in plan.changes if change.visible)
            print_changes(out, list(islice(shown, MAX_LINES)), total=count)
    for name, why in outcome.skipped.items():
        out.line(f"{name}: skipped ({why})")
