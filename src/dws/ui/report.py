"""`dws report`: the history, the metric charts and the lineage graph of a workspace in one
self-contained HTML file, to attach to a pull request or a CI run.

The file works offline and needs no server: inline CSS, pictures as inline SVG
(``dws.pictures``), links between its own sections (a chart point opens its snapshot's row,
a graph node its run's details), and no script at all. Every text that comes from the
workspace (names, messages, commands, paths) is escaped, so hostile content shows as text.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from html import escape
from typing import Any

from dws.api import Workspace
from dws.model.metrics import metric_names
from dws.model.records import SnapshotRecord
from dws.model.runs import RunRecord
from dws.pictures.charts import metrics_svg
from dws.pictures.graph import legend, lineage_svg
from dws.ui.page import when
from dws.ui.runview import run_section

STYLE = """
body { font-family: sans-serif; margin: 2em; color: #202124; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em; }
table { border-collapse: collapse; font-size: 0.9em; }
th, td { border-bottom: 1px solid #dadce0; padding: 4px 10px; text-align: left;
  vertical-align: top; }
tr:target, section:target { background: #fef7e0; }
code { font-size: 0.95em; } .muted { color: #5f6368; } .stale { color: #d93025; }
.head { font-weight: bold; } .picture { overflow-x: auto; }
"""


def build_report(ws: Workspace, refs: Iterable[str] = ()) -> str:
    """The report of ``ws`` as one HTML document: every snapshot, or those ``refs`` name;
    the lineage graph of HEAD (or of the first of ``refs``)."""
    chosen = [ws.resolve(ref) for ref in refs]
    head = ws.head()
    history = [(r, tags) for r, tags in ws.history() if not chosen or r.id in chosen]
    rows = [row for row in ws.results() if not chosen or row.snapshot in chosen]
    focus = chosen[0] if chosen else head
    graph: dict[str, Any] = {"nodes": [], "edges": []}
    runs: list[RunRecord] = []
    if focus is not None:
        graph = ws.lineage_graph(snapshot=focus)
        runs = [ws.run_record(n["run"]) for n in graph["nodes"] if n["type"] == "step"]
    generated = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        # no script, no remote content: the page can only show what is in it
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'; img-src data:\">",
        f"<title>{escape(ws.name)}: dws report</title><style>{STYLE}</style></head><body>",
        f"<h1>{escape(ws.name)}</h1>",
        f'<p class="muted">{len(history)} snapshot(s), generated {generated}'
        + (f", HEAD {escape(head[:10])}" if head else "")
        + "</p>",
        _history(history, head),
        _results(rows),
        _lineage(graph, runs, focus),
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"


def _history(history: list[tuple[SnapshotRecord, list[str]]], head: str | None) -> str:
    out = ['<h2 id="history">History</h2>']
    if not history:
        return out[0] + "<p>No snapshots yet.</p>"
    out.append(
        "<table><tr><th>snapshot</th><th>tags</th><th>created</th><th>by</th>"
        "<th>message</th><th>resources</th><th>metrics</th></tr>"
    )
    for record, tags in history:
        mark = ' class="head"' if record.id == head else ""
        resources = "<br>".join(
            f"{escape(name)} <span class=muted>({escape(r.role.value)})</span>"
            for name, r in record.resources.items()
        )
        metrics = sum(len(values) for values in record.metrics.values())
        out.append(
            f'<tr id="snap-{record.id}"{mark}><td><code title="{escape(record.id)}">'
            f"{escape(record.id[:10])}</code>{' (HEAD)' if record.id == head else ''}"
            + (f' <span class="stale">{len(record.stale)} stale</span>' if record.stale else "")
            + "</td>"
            f"<td>{escape(', '.join(tags))}</td><td>{when(record.created)}</td>"
            f"<td>{escape(record.user)}</td><td>{escape(record.message)}</td>"
            f"<td>{resources}</td><td>{metrics}</td></tr>"
        )
    out.append("</table>")
    return "\n".join(out)


def _results(rows: list[Any]) -> str:
    out = ['<h2 id="results">Results</h2>']
    every = list(dict.fromkeys(key for row in rows for key in row.metrics))
    if not every:
        return out[0] + "<p>No metrics recorded.</p>"
    names = metric_names(every)
    labels = [", ".join(row.tags) or row.snapshot[:10] for row in rows]
    series = [
        (names[key], [row.metrics.get(key) for row in rows], [key in row.stale for row in rows])
        for key in every
    ]
    picture = metrics_svg(labels, [row.snapshot for row in rows], series, link="#snap-")
    out.append(f'<div class="picture">{picture}</div>')
    return "\n".join(out)


def _lineage(graph: dict[str, Any], runs: list[RunRecord], focus: str | None) -> str:
    title = f"Lineage of {escape(focus[:10])}" if focus else "Lineage"
    out = [f'<h2 id="lineage">{title}</h2>']
    if not graph["nodes"]:
        return out[0] + "<p>No recorded runs lead to this state.</p>"
    out.append(f'<div class="picture">{lineage_svg(graph, link="#run-")}</div>')
    out.append(legend())
    for run in runs:
        out.append(run_section(run, anchor=f"run-{run.id}"))
    return "\n".join(out)
