"""dws results / dws results export"""

from __future__ import annotations

import click

from dws.cli.context import CliState, json_option, pass_state
from dws.cli.output import short

STALE_MARK = "*"


@click.group(invoke_without_command=True)
@json_option
@click.pass_context
def results(ctx: click.Context) -> None:
    """Metrics found in results resources, one row per snapshot (nothing is restored).

    Metrics are the numeric leaves of metrics.json / results.json files (configurable in
    config.json under results.metrics), flattened to dotted keys. A * marks a metric
    whose file was a stale output when its snapshot was taken (--json: the row's "stale"
    lists those metric keys).

    \b
    Examples:
      dws results
      dws results export v1 /tmp/v1-results
    """
    if ctx.invoked_subcommand is None:
        _table(ctx.find_object(CliState))


def _table(state: CliState | None) -> None:
    assert state is not None
    rows = state.open().results()
    out = state.output
    if out.json:
        out.emit_json(
            [
                {
                    "snapshot": r.snapshot,
                    "created": r.created,
                    "tags": r.tags,
                    "message": r.message,
                    "metrics": r.metrics,
                    "stale": r.stale,
                }
                for r in rows
            ]
        )
        return
    if not rows:
        out.line("No snapshots yet")
        return
    columns = list(dict.fromkeys(key for row in rows for key in row.metrics))
    labels = _labels(columns)
    table = []
    for row in rows:
        stale = set(row.stale)
        cells = [_cell(row.metrics.get(c), c in stale) for c in columns]
        table.append([short(row.snapshot), ", ".join(row.tags), *cells])
    out.table(["snapshot", "tags", *[labels[c] for c in columns]], table)
    if any(row.stale for row in rows):
        out.line(
            f"{STALE_MARK} the file was a stale output when the snapshot was taken (its step's "
            "inputs or code had changed); `dws show SNAPSHOT` lists them"
        )


def _cell(value: float | None, stale: bool) -> str:
    if value is None:
        return ""
    return f"{value:g}{STALE_MARK}" if stale else f"{value:g}"


def _labels(columns: list[str]) -> dict[str, str]:
    """Drop the 'resource/file:' prefix when every metric comes from the same file."""
    sources = {c.split(":", 1)[0] for c in columns}
    if len(sources) == 1:
        return {c: c.split(":", 1)[1] for c in columns}
    return {c: c for c in columns}


@results.command("export")
@click.argument("ref", metavar="SNAPSHOT")
@click.argument("dest", metavar="DIR")
@json_option
@pass_state
def export(state: CliState, ref: str, dest: str) -> None:
    """Copy SNAPSHOT's results into DIR (one subdirectory per results resource).

    \b
    Example:
      dws results export v1 /tmp/v1-results
    """
    counts = state.open().export_results(ref, state.abspath(dest))
    if state.output.json:
        state.output.emit_json({"dest": state.abspath(dest), "files": counts})
        return
    for name, count in counts.items():
        state.output.line(f"Exported {count} file(s) of {name!r} to {dest}/{name}")
