"""The pages of `dws ui` about the history: the snapshot timeline, results and their
charts, the lineage graph and one run's details. (Files, previews and diffs are in
``dws.ui.browse``.)"""

from __future__ import annotations

from collections import deque
from html import escape
from typing import Any

from dws.errors import UsageError
from dws.model.metrics import metric_names, shown_number
from dws.model.records import SnapshotRecord
from dws.pictures.charts import metrics_svg
from dws.pictures.graph import legend, lineage_svg
from dws.ui.page import last_page, page, short, size, table, when
from dws.ui.runview import run_section
from dws.ui.server import Context

HISTORY_PAGE = 100  # snapshots per history page
RESULTS_ROWS = 200  # newest snapshots in the results table
DEFAULT_CHARTS = 8  # metrics charted when none is chosen
METRICS_SHOWN = 3  # metrics named in a history row


def history(ctx: Context) -> str:
    """Snapshots newest first, HEAD marked, filtered by a text in tags, id, message or
    author; 100 a page."""
    ws, links = ctx.ws, ctx.links
    wanted = ctx.request.one("q").strip()
    start = ctx.request.number("from")
    head = ws.head()
    every = ws.history()
    chosen = [(r, tags) for r, tags in every if _matches(r, tags, wanted.lower())]
    start = min(start, last_page(len(chosen), HISTORY_PAGE))
    shown = chosen[start : start + HISTORY_PAGE]
    body = [
        f'<form method="get" action="/">{links.hidden_token()}'
        f'<input name="q" value="{escape(wanted)}" placeholder="tag, id, text or author" '
        'size="30"> <button type="submit">Filter</button></form>',
        f'<p class="muted">{len(chosen)} of {len(every)} snapshot(s)'
        + (f", HEAD {short(head)}" if head else ", no HEAD")
        + "</p>",
    ]
    rows = []
    for record, tags in shown:
        is_head = record.id == head
        snapshot = (
            f'<a href="{links.to("/snapshot", id=record.id)}"><code>{short(record.id)}</code>'
            f"</a>{' <b>HEAD</b>' if is_head else ''}"
            + (
                f' <span class="stale" title="outputs whose inputs or code had changed">'
                f"{len(record.stale)} stale</span>"
                if record.stale
                else ""
            )
        )
        compare = (
            f'<a href="{links.to("/diff", a=record.parent, b=record.id)}">diff</a>'
            if record.parent
            else ""
        )
        rows.append(
            [
                snapshot,
                escape(", ".join(tags)),
                when(record.created),
                escape(record.user),
                escape(record.message),
                _resources(record),
                _metrics(record),
                compare,
            ]
        )
    if rows:
        headers = ["snapshot", "tags", "created", "by", "message", "resources", "metrics", ""]
        body.append(table(headers, rows, attrs=' class="history"'))
    else:
        body.append("<p>No snapshots" + (" match." if wanted else " yet.") + "</p>")
    body.append(_pager(ctx, "/", start, len(chosen), HISTORY_PAGE, q=wanted or None))
    return page("History", ws.name, links, body)


def _matches(record: SnapshotRecord, tags: list[str], wanted: str) -> bool:
    if not wanted:
        return True
    text = " ".join([record.id, record.message, record.user, *tags]).lower()
    return wanted in text


def _resources(record: SnapshotRecord) -> str:
    parts = []
    for name, recorded in record.resources.items():
        state = recorded.state
        amount = state.get("bytes")
        files = state.get("files")
        detail = size(amount) if isinstance(amount, int) else ""
        if isinstance(files, int):
            detail += f", {files} files" if detail else f"{files} files"
        parts.append(
            f"{escape(name)} <span class=muted>{escape(recorded.role.value)}"
            + (f" · {escape(detail)}" if detail else "")
            + "</span>"
        )
    return "<br>".join(parts)


def _metrics(record: SnapshotRecord) -> str:
    flat = [(key, value) for values in record.metrics.values() for key, value in values.items()]
    shown = [f"{escape(key)}={escape(shown_number(v))}" for key, v in flat[:METRICS_SHOWN]]
    if len(flat) > METRICS_SHOWN:
        shown.append(f"… {len(flat) - METRICS_SHOWN} more")
    return "<br>".join(shown)


def _pager(ctx: Context, route: str, start: int, total: int, step: int, **keep: Any) -> str:
    links = []
    if start > 0:
        links.append(
            f'<a href="{ctx.links.to(route, **keep, **{"from": max(0, start - step)})}">newer</a>'
        )
    if start + step < total:
        links.append(f'<a href="{ctx.links.to(route, **keep, **{"from": start + step})}">older</a>')
    return f"<p>{' · '.join(links)}</p>" if links else ""


def results(ctx: Context) -> str:
    """The metrics of every snapshot as a table, and a chart per chosen metric (a point
    per snapshot, linking to it; its value as the tooltip)."""
    ws, links = ctx.ws, ctx.links
    rows = ws.results()
    every = list(dict.fromkeys(key for row in rows for key in row.metrics))
    if not every:
        return page("Results", ws.name, links, ["<p>No metrics recorded.</p>"])
    names = metric_names(every)
    asked = ctx.request.many("metric")
    unknown = [m for m in asked if m not in names]
    if unknown:
        raise UsageError(f"no metric {unknown[0]!r} in any snapshot")
    chosen = asked or every[:DEFAULT_CHARTS]
    boxes = "".join(
        f'<label><input type="checkbox" name="metric" value="{escape(key)}"'
        f"{' checked' if key in chosen else ''}> {escape(names[key])}</label> "
        for key in every
    )
    body = [
        f'<form method="get" action="/results">{links.hidden_token()}{boxes}'
        '<button type="submit">Show</button></form>'
    ]
    labels = [", ".join(row.tags) or row.snapshot[:10] for row in rows]
    series = [
        (names[k], [row.metrics.get(k) for row in rows], [k in row.stale for row in rows])
        for k in chosen
    ]
    link = links.raw("/snapshot") + "&id="
    picture = metrics_svg(labels, [row.snapshot for row in rows], series, link=link)
    body.append(f'<div class="picture">{picture}</div>')
    newest = rows[::-1][:RESULTS_ROWS]
    cells = [
        [
            f'<a href="{links.to("/snapshot", id=row.snapshot)}"><code>{short(row.snapshot)}'
            "</code></a>",
            escape(", ".join(row.tags)),
            *(
                (
                    escape(shown_number(row.metrics[k]))
                    + (
                        ' <span class="stale" title="from a stale output">*</span>'
                        if k in row.stale
                        else ""
                    )
                )
                if k in row.metrics
                else ""
                for k in chosen
            ),
        ]
        for row in newest
    ]
    body.append("<h2>Values</h2>")
    body.append(table(["snapshot", "tags", *(names[k] for k in chosen)], cells))
    if len(rows) > RESULTS_ROWS:
        body.append(f'<p class="muted">the newest {RESULTS_ROWS} of {len(rows)}</p>')
    return page("Results", ws.name, links, body)


def lineage(ctx: Context) -> str:
    """The lineage graph of a snapshot (HEAD unless one is named), or of the working files
    (``state=now``: every run is read and the files are checked), or of one output in it,
    left to right; a step links to its run, a data node to its own upstream graph."""
    ws, links = ctx.ws, ctx.links
    ref = ctx.request.one("snapshot").strip()
    now = ctx.request.one("state") == "now"
    snapshot = None if now else ws.resolve(ref) if ref else ws.head()
    node = ctx.request.one("node")
    graph = ws.lineage_graph(snapshot=snapshot)
    if node:
        graph = _upstream(graph, node)
    if snapshot is None:
        where = "the working files now"
    else:
        where = f"snapshot {short(snapshot)}" + (" (HEAD)" if snapshot == ws.head() else "")
    keep: dict[str, str | None] = {"snapshot": ref or None, "state": "now" if now else None}
    body = [
        f'<form method="get" action="/lineage">{links.hidden_token()}'
        f'<input name="snapshot" value="{escape(ref)}" placeholder="snapshot (empty: HEAD)"> '
        '<button type="submit">Show</button> · '
        f'<a href="{links.to("/lineage", state="now")}">the working files now</a> '
        '<span class="muted">(reads every run and checks the files)</span></form>',
        f"<p>Lineage of {where}"
        + (f", upstream of <code>{escape(node.removeprefix('data:'))}</code>" if node else "")
        + (f' · <a href="{links.to("/lineage", **keep)}">whole graph</a>' if node else "")
        + "</p>",
    ]
    if not graph["nodes"]:
        body.append("<p>No recorded runs lead to this state.</p>")
        return page("Lineage", ws.name, links, body)
    picture = lineage_svg(
        graph,
        link=links.raw("/run") + "&id=",
        data_link=links.raw("/lineage", **keep) + "&node=",
    )
    body.append(f'<div class="picture">{picture}</div>')
    body.append(legend())
    steps = [n for n in graph["nodes"] if n["type"] == "step"]
    rows = [
        [
            f'<a href="{links.to("/run", id=n["run"])}">{escape(n["step"])}</a>',
            f"<code>{short(n['run'])}</code>",
            when(str(n.get("ended", ""))),
            '<span class="stale">stale</span>' if n.get("stale") else "up to date",
        ]
        for n in steps
    ]
    body.append("<h2>Steps</h2>")
    if rows:
        body.append(table(["step", "run", "ended", "state"], rows))
    else:
        body.append(
            "<p>No recorded step wrote it: it is source data, or was made outside "
            "<code>dws run</code>.</p>"
        )
    return page("Lineage", ws.name, links, body)


def _upstream(graph: dict[str, Any], node: str) -> dict[str, Any]:
    """The part of ``graph`` that leads to ``node`` (itself included)."""
    if node not in {n["id"] for n in graph["nodes"]}:
        raise UsageError(f"{node!r} is not in this lineage graph")
    feeding: dict[str, list[str]] = {}
    for edge in graph["edges"]:
        feeding.setdefault(edge["to"], []).append(edge["from"])
    keep, queue = {node}, deque([node])
    while queue:
        for source in feeding.get(queue.popleft(), []):
            if source not in keep:
                keep.add(source)
                queue.append(source)
    return {
        "nodes": [n for n in graph["nodes"] if n["id"] in keep],
        "edges": [e for e in graph["edges"] if e["from"] in keep and e["to"] in keep],
    }


def run(ctx: Context) -> str:
    """One run: command, status, duration, parameters, code, images, environment, and the
    versions of what it read and wrote; found by its id or a unique prefix of it."""
    ws, links = ctx.ws, ctx.links
    record = ws.run_record(ctx.request.one("id"))
    body = [
        run_section(record),
        f'<p><a href="{links.to("/lineage", state="now")}">lineage of the working files</a>'
        f' · <a href="{links.to("/lineage")}">lineage of HEAD</a></p>',
    ]
    return page(f"Run of {record.step}", ws.name, links, body)
