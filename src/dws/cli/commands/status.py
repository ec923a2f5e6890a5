"""dws status"""

from __future__ import annotations

import click

from dws.cli.context import CliState, json_option, pass_state
from dws.cli.lines import describe, other_line_json
from dws.cli.output import count, short
from dws.cli.render import (
    fold_budgets,
    print_folded_changes,
    print_notes,
    print_stale,
    resource_changes_json,
    stale_json,
)


@click.command()
@click.option(
    "-a",
    "--all",
    "-v",
    "--verbose",
    "every",
    is_flag=True,
    help="List every changed path (also `dws -v status`).",
)
@json_option
@pass_state
def status(state: CliState, every: bool) -> None:
    """Show what changed in each resource since its last snapshot.

    Changed paths are listed one per line when they are few; when there are more than about
    40 in all, they are counted per directory instead ("imgs/  99,800 added"), at the
    deepest level that keeps the listing that short. --all lists every path; --json always
    does.

    \b
    Examples:
      dws status
      dws status --all
      dws status --json
    """
    ws = state.open()
    with state.output.progress() as progress:
        ws.set_progress(progress)
        items = ws.status()
        stale = ws.stale()
        lines = ws.other_lines()
        for warning in ws.lineage_warnings():
            state.output.note(f"warning: {warning}")
    out = state.output
    if out.json:
        out.emit_json(
            {
                "head": items.head,
                "resources": [resource_changes_json(i) for i in items],
                "stale": [stale_json(s) for s in stale],
                "unreadable_names": [
                    {"resource": i.name, "path": path} for i in items for path in i.unreadable
                ],
                "other_lines": [other_line_json(line) for line in lines],
            }
        )
        return
    if not items:
        out.line("No resources yet (add one with `dws add local-files DIR --role ROLE`)")
        return
    head = items.head
    out.line(f"HEAD: {short(head)}" if head else "No snapshot yet")
    for line in lines:
        out.line(f"A newer line: {describe(line)}", "yellow")
        out.line(
            f"  `dws history --graph` shows both lines, `dws diff HEAD {short(line.tip.id)}` "
            "compares them"
        )
    every = every or out.verbose
    listings = [item.visible for item in items]
    budgets = fold_budgets([len(v) for v in listings])
    for item, visible, budget in zip(items, listings, budgets, strict=True):
        summary = f"{count(len(visible))} change(s)" if visible else "unchanged"
        if item.note:
            summary += f" ({item.note})"
        out.line(f"{item.name} ({item.role.value}): {summary}", "bold")
        print_notes(out, item.notes)
        print_folded_changes(out, visible, None if every else budget)
        if visible and item.role.value == "source-data" and item.base:
            out.note(f"  warning: source data {item.name!r} changed since the last snapshot")
        for warning in item.warnings:
            out.note(f"  warning: {warning}")
        if item.unreadable:
            out.note(
                f"  warning: {count(len(item.unreadable))} file name(s) not valid UTF-8, left "
                "out above; `dws snapshot` refuses them (rename them or list them in .dwsignore):"
            )
            for path in item.unreadable:
                out.note(f"    {path}")
    print_stale(out, stale)
