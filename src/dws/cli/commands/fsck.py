"""dws fsck"""

from __future__ import annotations

import click

from dws.cli.context import CliState, json_option, pass_state
from dws.errors import IntegrityError


@click.command()
@click.option("--quick", is_flag=True, help="Check references only; do not re-hash objects.")
@json_option
@pass_state
def fsck(state: CliState, quick: bool) -> None:
    """Check that every record is valid, every referenced object exists and every object's
    content matches its id. Exits 4 on any problem.

    \b
    Example:
      dws fsck
    """
    report = state.open().fsck(verify_content=not quick)
    out = state.output
    if out.json:
        out.emit_json(
            {"snapshots": report.snapshots, "objects": report.objects, "problems": report.problems}
        )
    else:
        out.line(f"Checked {report.snapshots} snapshot(s) and {report.objects} object(s)")
    if report.problems:
        raise IntegrityError(
            f"{len(report.problems)} problem(s) found", details=report.problems[:50]
        )
    out.line("No problems found")
