"""dws fsck"""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from dws.cli.context import CliState, json_option, pass_state
from dws.errors import IntegrityError

if TYPE_CHECKING:
    from dws.api import FsckReport
    from dws.core.remote.maintenance import RemoteFsckReport


@click.command()
@click.option("--quick", is_flag=True, help="Check references only; do not re-hash objects.")
@click.option("--remote", metavar="NAME", help="Check remote NAME instead of this workspace.")
@json_option
@pass_state
def fsck(state: CliState, quick: bool, remote: str | None) -> None:
    """Check that every record is valid, every referenced object exists and every object's
    content matches its id. Exits 4 on any problem.

    \b
    Example:
      dws fsck
      dws fsck --remote origin
    """
    ws = state.open()
    report: FsckReport | RemoteFsckReport
    if remote is not None:
        with state.output.progress() as progress:
            ws.set_progress(progress)
            report = ws.fsck_remote(remote, verify_content=not quick)
    else:
        report = ws.fsck(verify_content=not quick)
    out = state.output
    if out.json:
        out.emit_json(
            {"snapshots": report.snapshots, "objects": report.objects, "problems": report.problems}
        )
    else:
        out.line(f"Checked {report.snapshots} snapshot(s) and {report.objects} object(s)")
    not_fetched = getattr(report, "not_fetched", 0)
    if not_fetched:
        out.note(
            f"{not_fetched} file(s) of snapshots pulled without their data are not here "
            "(`dws pull --all` fetches them)"
        )
    if report.problems:
        raise IntegrityError(
            f"{len(report.problems)} problem(s) found", details=report.problems[:50]
        )
    out.line("No problems found")
