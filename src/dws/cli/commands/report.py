"""dws report"""

from __future__ import annotations

import click

from dws.cli.context import CliState, pass_state
from dws.cli.files import write_output_file


@click.command()
@click.argument("refs", metavar="[SNAPSHOT]...", nargs=-1)
@click.option(
    "-o",
    "--output",
    "dest",
    default="dws-report.html",
    show_default=True,
    metavar="FILE",
    help="Where to write the report (replaced if it exists).",
)
@pass_state
def report(state: CliState, refs: tuple[str, ...], dest: str) -> None:
    """Write the history, metric charts and lineage graph into one HTML file that works
    offline (no server, no network, no script), to attach to a pull request or a CI run.

    With SNAPSHOTs, only those snapshots, and the lineage of the first; otherwise every
    snapshot and the lineage of HEAD.

    \b
    Example:
      dws report -o report.html
      dws report v1 v2 -o v1-v2.html
    """
    from dws.ui.report import build_report

    size = write_output_file(state.abspath(dest), build_report(state.open(), refs))
    state.output.note(f"wrote {dest} ({size / 1024:.0f} KiB)", "green")
