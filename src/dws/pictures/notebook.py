"""How the Python API's results show in Jupyter: lists and dicts that render as tables and
pictures (``_repr_html_``) and are otherwise the plain lists and dicts they always were.
Everything from the workspace is escaped."""

from __future__ import annotations

from html import escape
from typing import Any

from dws.model.metrics import metric_names, shown_number

MAX_ROWS = 200


def _table(headers: list[str], rows: list[list[str]], more: int = 0) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    tail = f"<p>… and {more} more</p>" if more > 0 else ""
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{tail}"


class ResultsTable(list[Any]):
    """``ws.results()``: ResultsRows, oldest first; in a notebook, a table and a chart per
    metric."""

    def _repr_html_(self) -> str:
        every = list(dict.fromkeys(key for row in self for key in row.metrics))
        names = metric_names(every)
        rows = [
            [escape(row.snapshot[:10]), escape(", ".join(row.tags))]
            + [
                escape(shown_number(row.metrics[k])) + ("*" if k in row.stale else "")
                if k in row.metrics
                else ""
                for k in every
            ]
            for row in self[-MAX_ROWS:]
        ]
        table = _table(["snapshot", "tags", *(names[k] for k in every)], rows)
        if not every:
            return table
        from dws.pictures.charts import metrics_svg  # only when a notebook shows it

        series = [
            (names[k], [row.metrics.get(k) for row in self], [k in row.stale for row in self])
            for k in every
        ]
        labels = [", ".join(row.tags) or row.snapshot[:10] for row in self]
        return table + metrics_svg(labels, [row.snapshot for row in self], series)


class History(list[Any]):
    """``ws.history()``: (SnapshotRecord, tags) pairs, newest first; a table in a notebook."""

    def _repr_html_(self) -> str:
        rows = [
            [
                f"<code>{escape(record.id[:10])}</code>",
                escape(", ".join(tags)),
                escape(record.created[:19]),
                escape(record.user),
                escape(record.message),
            ]
            for record, tags in self[:MAX_ROWS]
        ]
        return _table(["snapshot", "tags", "created", "by", "message"], rows, len(self) - MAX_ROWS)


class Changes(list[Any]):
    """``ws.diff()`` and ``ws.status()``: ResourceChanges; in a notebook, each resource's
    visible changes."""

    def _repr_html_(self) -> str:
        rows = []
        for item in self:
            visible = item.visible
            if not visible:
                rows.append([escape(item.name), escape(item.note or "unchanged"), ""])
            for change in visible[:MAX_ROWS]:
                rows.append([escape(item.name), escape(change.status), escape(change.path)])
        return _table(["resource", "change", "path"], rows)


class LineageGraph(dict[str, Any]):
    """``ws.lineage_graph()``: the JSON document (nodes, edges); a picture in a notebook."""

    def _repr_html_(self) -> str:
        if not self.get("nodes"):
            return "<p>No recorded runs.</p>"
        from dws.pictures.graph import lineage_svg  # only when a notebook shows it

        return lineage_svg(self)
