"""dws lineage show | graph | runs | export"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

import click

from dws.cli.context import CliState, json_option, pass_state
from dws.cli.graphformats import to_dot, to_mermaid
from dws.cli.output import Output, short
from dws.cli.render import run_json
from dws.model.summaries import human_bytes
from dws.pictures.graph import lineage_svg

if TYPE_CHECKING:
    from dws.api import Workspace
    from dws.core.lineage.graph import Upstream
    from dws.core.lineage.queries import PathLineage


@click.group()
def lineage() -> None:
    """Where results came from: steps, inputs, code and parameters.

    \b
    Example:
      dws lineage show results/metrics.json
      dws lineage graph --format mermaid
    """


def _open(state: CliState) -> Workspace:
    """The workspace, after warning about run records left out as damaged."""
    ws = state.open()
    for warning in ws.lineage_warnings():
        state.output.note(f"warning: {warning}")
    return ws


def _upstream_json(tree: Upstream, view: PathLineage) -> dict[str, Any]:
    run = tree.run
    return {
        "step": run.step,
        "run": run.id,
        "argv": run.argv,
        "ended": run.ended,
        "params": run.params,
        "code": [
            {"resource": c.resource, "commit": c.commit, "dirty": bool(c.dirty)} for c in run.code
        ],
        "images": [
            {"ref": i.ref, "id": i.id, "digests": i.digests, "resource": i.resource}
            for i in run.images
        ],
        "inputs": [
            {
                "resource": item.resource,
                "path": item.path,
                "id": item.id,
                "kind": item.kind,
                "produced_by": [_upstream_json(p, view) for p in producers],
                "origin": None if producers else view.origin(item),
            }
            for item, producers in tree.inputs
        ],
    }


def _print_tree(out: Output, view: PathLineage, tree: Upstream, indent: str) -> None:
    run = tree.run
    params = ", ".join(f"{k}={v}" for k, v in run.params.items())
    out.line(
        f"{indent}step {run.step}  run {short(run.id)}  {run.ended[:19]}Z"
        + (f"  [{params}]" if params else ""),
        "bold",
    )
    for code in run.code:
        dirty = " +uncommitted changes" if code.dirty else ""
        out.line(f"{indent}  code {code.resource} @ {short(code.commit)}{dirty}")
    for image in run.images:
        out.line(f"{indent}  image {image.ref} @ {image.id[:19]}")
    for item, producers in tree.inputs:
        origin = "" if producers else f"  ({view.origin(item)})"
        listing = "  (its list of names)" if item.kind == "listing" else ""
        out.line(f"{indent}  ← {view.label(item)}  {short(item.id)}{listing}{origin}")
        for producer in producers:
            _print_tree(out, view, producer, indent + "      ")


def _show_text(out: Output, view: PathLineage) -> None:
    out.line(f"{view.key}  {short(view.current[1])}")
    if not view.trees:
        if view.failed_writer is not None:
            out.line(
                f"  left by a failed run of step {view.failed_writer.step} "
                f"(run {short(view.failed_writer.id)}): no successful run produced it"
            )
        elif view.unobserved_writer is not None:
            run = view.unobserved_writer
            out.line(
                f"  appeared during a run of step {run.step} (run {short(run.id)}), written by "
                "something dws did not observe: name it with -o PATH, or run with "
                "--observe strace"
            )
        elif view.last_writer is not None:
            out.line(
                f"  not what any run produced: step {view.last_writer.step} wrote it last "
                f"(run {short(view.last_writer.id)}), and it has changed since"
            )
        else:
            out.line("  no recorded run produced it (source data, or made outside `dws run`)")
        return
    for tree in view.trees:
        _print_tree(out, view, tree, "  ")


@lineage.command("show")
@click.argument("path")
@click.option("--snapshot", "snapshot", metavar="REF", help="As recorded in snapshot REF.")
@json_option
@pass_state
def show(state: CliState, path: str, snapshot: str | None) -> None:
    """The upstream tree of PATH: the steps that made it, their inputs with versions,
    code commits and parameters, down to source data.

    \b
    Example:
      dws lineage show results/metrics.json --snapshot v1
    """
    ws = _open(state)
    view = ws.lineage(state.abspath(path), snapshot=snapshot)
    out = state.output
    if out.json:
        out.emit_json(
            {
                "path": view.key,
                "id": view.current[1],
                "produced_by": [_upstream_json(t, view) for t in view.trees],
                "failed_writer": view.failed_writer.id if view.failed_writer else None,
                "unobserved_writer": (
                    view.unobserved_writer.id if view.unobserved_writer else None
                ),
            }
        )
        return
    _show_text(out, view)


_TEXT_FORMATS = {"dot": to_dot, "mermaid": to_mermaid, "svg": lineage_svg}


@lineage.command("graph")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["dot", "mermaid", "svg", "png", "json"]),
    default="dot",
    show_default=True,
    help="png: the svg picture as PNG (needs the plot extra and -o).",
)
@click.option(
    "-o",
    "--output",
    "dest",
    metavar="FILE",
    help="Write the graph to FILE (replaced if it exists) instead of standard output.",
)
@click.option(
    "--all",
    "everything",
    is_flag=True,
    help="Every successful run, not only those behind the current state.",
)
@click.option("--snapshot", "snapshot", metavar="REF", help="The lineage of snapshot REF.")
@pass_state
def graph(
    state: CliState, fmt: str, everything: bool, snapshot: str | None, dest: str | None
) -> None:
    """The lineage graph: data → step → data.

    \b
    Examples:
      dws lineage graph --format svg > lineage.svg
      dws lineage graph --format png -o lineage.png
    """
    if fmt == "png":
        if dest is None:
            raise click.UsageError("--format png writes a file: give it with -o FILE")
        from dws.pictures.raster import require_png

        require_png()
    doc = _open(state).lineage_graph(snapshot=snapshot, everything=everything)
    if dest is None:
        if fmt == "json" or state.output.json:
            state.output.emit_json(doc)
        else:
            sys.stdout.write(_TEXT_FORMATS[fmt](doc))
        return
    from dws.cli.files import write_output_file

    size = write_output_file(state.abspath(dest), _graph_file(doc, fmt))
    state.output.note(f"wrote {dest} ({human_bytes(size)})", "green")


def _graph_file(doc: dict[str, Any], fmt: str) -> str | bytes:
    """The graph document in format ``fmt``, as written to a file."""
    if fmt == "png":
        from dws.pictures.raster import png_of

        return png_of(lineage_svg(doc))
    if fmt == "json":
        return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
    return _TEXT_FORMATS[fmt](doc)


@lineage.command("runs")
@click.option(
    "--all",
    "everything",
    is_flag=True,
    help="Include failed runs and runs not behind the current state.",
)
@json_option
@pass_state
def runs(state: CliState, everything: bool) -> None:
    """List recorded runs, oldest first (by default those behind the current state).

    \b
    Example:
      dws lineage runs --all --json
    """
    ws = _open(state)
    records = ws.runs() if everything else ws.lineage_runs()
    out = state.output
    if out.json:
        out.emit_json([run_json(r) for r in records])
        return
    rows = [
        [short(r.id), r.step, r.status, str(r.exit_code), r.ended[:19], " ".join(r.argv)[:80]]
        for r in records
    ]
    out.table(["run", "step", "status", "exit", "ended", "command"], rows)


@lineage.command("export")
@click.option(
    "--format", "fmt", type=click.Choice(["openlineage"]), default="openlineage", show_default=True
)
@click.option(
    "--namespace", default=None, help="OpenLineage job namespace (default: the workspace name)."
)
@click.option(
    "--all", "everything", is_flag=True, help="Every run, not only those behind the current state."
)
@pass_state
def export(state: CliState, fmt: str, namespace: str | None, everything: bool) -> None:
    """Write run events, one JSON object per line, for an OpenLineage consumer.

    \b
    Example:
      dws lineage export --format openlineage --all > events.jsonl
    """
    ws = _open(state)
    for event in ws.openlineage_events(namespace=namespace, everything=everything):
        sys.stdout.write(json.dumps(event, ensure_ascii=False, sort_keys=True) + "\n")
