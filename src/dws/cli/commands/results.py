"""dws results / dws results export"""

from __future__ import annotations

import textwrap
from typing import TYPE_CHECKING

import click

from dws.cli.context import CliState, json_option, pass_state
from dws.cli.output import Output, align, clip, short
from dws.model.metrics import shown_number as number

if TYPE_CHECKING:
    from dws.core.results import ResultsRow

STALE_MARK = "*"
STALE_LEGEND = (
    f"{STALE_MARK} the file was a stale output when the snapshot was taken (its step's "
    "inputs or code had changed); `dws show SNAPSHOT` lists them"
)


@click.group(invoke_without_command=True)
@click.option(
    "-m",
    "--metric",
    "patterns",
    multiple=True,
    metavar="PATTERN",
    help="Only the metrics PATTERN matches (repeatable; * ? [..] wildcards): by the name "
    "shown ('a/acc', 'a/*'), the key alone ('acc', 'eval.*') or in full "
    "('results/a/metrics.json:acc').",
)
@click.option(
    "--plot",
    metavar="FILE",
    help="Also draw one chart per metric across snapshots into FILE: standalone SVG for "
    "FILE.svg, the same picture as PNG for FILE.png (needs the plot extra).",
)
@json_option
@click.pass_context
def results(ctx: click.Context, patterns: tuple[str, ...], plot: str | None) -> None:
    """Metrics found in results resources, one row per snapshot (nothing is restored).

    Metrics are the numeric leaves of metrics.json / results.json files (configurable in
    config.json under results.metrics), flattened to dotted keys. On a terminal they are
    named by what tells them apart ('a/acc' for results/a/metrics.json:acc next to
    results/b/metrics.json) and, when one row per snapshot would be wider than the terminal
    (COLUMNS if set), shown one row per metric instead. Piped elsewhere, the table is
    tab-separated with the full names. A * marks a metric whose file was a stale output
    when its snapshot was taken (--json: the row's "stale" lists those metric keys).

    \b
    Examples:
      dws results
      dws results --metric 'a/*' --metric loss
      dws results --plot metrics.svg
      dws results --plot metrics.png
      dws results export v1 /tmp/v1-results
    """
    if plot is not None:
        _plot_kind(plot)
    if ctx.invoked_subcommand is None:
        state = ctx.find_object(CliState)
        assert state is not None
        _table(state, list(patterns), plot)


def _table(state: CliState, patterns: list[str], plot: str | None = None) -> None:
    from dws.model.metrics import metric_names, select_metrics

    rows = state.open().results()
    out = state.output
    every = list(dict.fromkeys(key for row in rows for key in row.metrics))
    columns = select_metrics(every, patterns) if patterns and rows else every
    if plot is not None:
        _plot(state, rows, columns, metric_names(every), plot)
    if out.json:
        chosen = set(columns)
        out.emit_json(
            [
                {
                    "snapshot": r.snapshot,
                    "created": r.created,
                    "tags": r.tags,
                    "message": r.message,
                    "metrics": {k: v for k, v in r.metrics.items() if k in chosen},
                    "stale": [k for k in r.stale if k in chosen],
                }
                for r in rows
            ]
        )
        return
    if not rows:
        out.line("No snapshots yet")
        return
    width = out.width()
    if width is None:
        _tab_separated(out, rows, columns)
    else:
        names = metric_names(every)
        _fitted(out, rows, columns, [names[c] for c in columns], width)
    if any(set(row.stale) & set(columns) for row in rows):
        legend = textwrap.wrap(STALE_LEGEND, width) if width else [STALE_LEGEND]
        for line in legend:
            out.line(line)


def _plot_kind(path: str) -> str:
    """``svg`` or ``png`` from the extension of ``path`` (for PNG, once the plot extra is
    known to be installed); a usage error otherwise."""
    kind = path.lower().rsplit(".", 1)[-1] if "." in path else ""
    if kind not in ("svg", "png"):
        raise click.UsageError(
            f"--plot writes SVG or PNG: give a file name ending in .svg or .png, not {path!r}"
        )
    if kind == "png":
        from dws.pictures.raster import require_png

        require_png()
    return kind


def _plot(
    state: CliState, rows: list[ResultsRow], columns: list[str], names: dict[str, str], path: str
) -> None:
    """Write the charts of ``columns`` to ``path`` as SVG, or as PNG for a .png name
    (atomically: a temporary file renamed)."""
    from dws.cli.files import write_output_file
    from dws.pictures.charts import metrics_svg

    labels = [", ".join(row.tags) or short(row.snapshot) for row in rows]
    series = [
        (names[c], [row.metrics.get(c) for row in rows], [c in row.stale for row in rows])
        for c in columns
    ]
    picture = metrics_svg(labels, [row.snapshot for row in rows], series)
    if _plot_kind(path) == "png":
        from dws.pictures.raster import png_of

        write_output_file(state.abspath(path), png_of(picture))
    else:
        write_output_file(state.abspath(path), picture)
    state.output.note(f"wrote {len(series)} chart(s) to {path}", "green")


def _tab_separated(out: Output, rows: list[ResultsRow], columns: list[str]) -> None:
    """For other programs: one row per snapshot, full names (unless one file holds them all)."""
    labels = _labels(columns)
    table = [[short(row.snapshot), ", ".join(row.tags), *_cells(row, columns)] for row in rows]
    out.table(["snapshot", "tags", *[labels[c] for c in columns]], table)


def _fitted(
    out: Output, rows: list[ResultsRow], columns: list[str], names: list[str], width: int
) -> None:
    """One row per snapshot if that fits in ``width``, else one row per metric (the
    snapshots in as many blocks of columns as it takes)."""
    cells = [_cells(row, columns) for row in rows]
    header = ["snapshot", "tags", *names]
    body = [
        [short(row.snapshot), ", ".join(row.tags), *line]
        for row, line in zip(rows, cells, strict=True)
    ]
    lines = align(_marks_aside([header, *body], 2), [False, False, *[True] * len(columns)])
    if max(len(line) for line in lines) <= width:
        out.line(lines[0], "bold")
        for line in lines[1:]:
            out.line(line)
        return
    name_width = min(max([len("metric"), *(len(n) for n in names)]), max(16, width // 3))
    blocks: list[list[int]] = [[]]
    used = name_width
    for index, values in enumerate(cells):
        column = max([len(short(rows[index].snapshot)), *(len(cell) for cell in values)])
        column += any(cell.endswith(STALE_MARK) for cell in values)  # see _marks_aside
        if blocks[-1] and used + 2 + column > width:
            blocks.append([])
            used = name_width
        blocks[-1].append(index)
        used += 2 + column
    for block_no, block in enumerate(blocks):
        if block_no:
            out.line()
        ids = [short(rows[i].snapshot) for i in block]
        widths = [max([len(ids[k]), *(len(c) for c in cells[i])]) for k, i in enumerate(block)]
        tags = [
            clip(", ".join(rows[i].tags), w, keep="start")
            for i, w in zip(block, widths, strict=True)
        ]
        table = [["metric", *ids]]
        if any(tags):
            table.append(["", *tags])
        table += [
            [clip(name, name_width), *(cells[i][m] for i in block)] for m, name in enumerate(names)
        ]
        lines = align(_marks_aside(table, 1), [False, *[True] * len(block)])
        heading = 2 if any(tags) else 1
        for k, line in enumerate(lines):
            out.line(line, "bold" if k < heading else None)


def _marks_aside(table: list[list[str]], first: int) -> list[list[str]]:
    """``table`` with a blank after the values of columns (from ``first`` on) that hold a
    stale mark, so the digits of right-aligned values line up."""
    marked = {
        i for row in table for i, cell in enumerate(row) if i >= first and cell.endswith(STALE_MARK)
    }
    return [
        [
            cell + " " if i in marked and cell and not cell.endswith(STALE_MARK) else cell
            for i, cell in enumerate(row)
        ]
        for row in table
    ]


def _cells(row: ResultsRow, columns: list[str]) -> list[str]:
    stale = set(row.stale)
    return [_cell(row.metrics.get(c), c in stale) for c in columns]


def _cell(value: float | None, stale: bool) -> str:
    if value is None:
        return ""
    return f"{number(value)}{STALE_MARK}" if stale else number(value)


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
