"""dws recover"""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from dws.cli.context import CliState, json_option, pass_state
from dws.cli.output import Output, short
from dws.errors import UsageError

if TYPE_CHECKING:  # loaded only by the command itself, not by every dws start
    from dws.core.recovery import PutBackOutcome, RecoveryRecord


def _record_json(record: RecoveryRecord) -> dict[str, object]:
    return {
        "id": record.id,
        "created": record.created,
        "restoring": record.restoring,
        "head": record.head,
        "files": record.files,
        "resources": {
            name: {"path": saved.path, "paths": saved.paths}
            for name, saved in record.resources.items()
        },
    }


def _list(out: Output, records: list[RecoveryRecord]) -> None:
    if out.json:
        out.emit_json({"records": [_record_json(r) for r in records]})
        return
    if not records:
        out.line("No recovery records (a restore makes one when it overwrites unsaved files)")
        return
    for record in records:
        names = ", ".join(f"{n} ({len(s.paths)})" for n, s in record.resources.items())
        out.line(
            f"{short(record.id)}  {record.created}  before restoring "
            f"{short(record.restoring)}: {names}"
        )
        for name, saved in record.resources.items():
            for path in saved.paths[:5]:
                out.note(f"  {name}/{path}")
            if len(saved.paths) > 5:
                out.note(f"  ... and {len(saved.paths) - 5} more in {name}")


def _report(out: Output, outcome: PutBackOutcome, dry_run: bool) -> None:
    if out.json:
        out.emit_json(
            {
                "id": outcome.record.id,
                "applied": outcome.applied,
                "resources": {
                    p.resource: {"root": p.root, "written": p.writes, "present": p.present}
                    for p in outcome.plans
                },
            }
        )
        return
    verb = "Would write" if dry_run else "Wrote"
    for plan in outcome.plans:
        where = f"{plan.root}"
        out.line(f"{plan.resource}: {verb.lower()} {len(plan.writes)} file(s) into {where}")
        for path in plan.writes if dry_run or out.verbose else []:
            out.note(f"  {path}")
        if plan.present:
            out.note(f"  {len(plan.present)} already there with the saved content")
    if not dry_run:
        out.line(
            f"Recovery record {short(outcome.record.id)} is kept; "
            f"`dws recover --drop {short(outcome.record.id)}` deletes it"
        )


@click.command()
@click.argument("ref", metavar="[RECORD]", required=False)
@click.option("--to", "to", metavar="DIR", help="Write the files under DIR/<resource>/ instead.")
@click.option("--drop", is_flag=True, help="Delete the record (gc then frees its data).")
@click.option("--dry-run", "-n", is_flag=True, help="Print what would be written; write nothing.")
@json_option
@pass_state
def recover(state: CliState, ref: str | None, to: str | None, drop: bool, dry_run: bool) -> None:
    """Get back what a restore overwrote that no snapshot held.

    Without RECORD, lists the recovery records. With it, writes the saved files back
    where they were; refuses (exit 3, nothing written) where a path now holds other
    content, unless --to DIR puts them elsewhere.

    \b
    Example:
      dws recover
      dws recover 3fa9c2d1e0 --dry-run
      dws recover 3fa9c2d1e0 --to ../saved && dws recover --drop 3fa9c2d1e0
    """
    ws = state.open()
    out = state.output
    if ref is None:
        if to or drop or dry_run:
            raise UsageError("--to, --drop and --dry-run need a RECORD")
        _list(out, ws.recoveries())
        return
    if drop:
        if to or dry_run:
            raise UsageError("--drop takes no --to or --dry-run")
        record = ws.drop_recovery(ref)
        if out.json:
            out.emit_json({"dropped": record.id})
        else:
            out.line(f"Dropped recovery record {short(record.id)}; run `dws gc` to free space")
        return
    with out.progress() as progress:
        ws.set_progress(progress)
        outcome = ws.recover(ref, to=state.abspath(to) if to else None, dry_run=dry_run)
    _report(out, outcome, dry_run)
