"""The lineage graph as a standalone SVG picture, laid out with ``model.graphlayout`` (no
Graphviz): for `dws lineage graph --format svg`, `dws report` and the web UI."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote
from xml.sax.saxutils import escape, quoteattr

from dws.model.graphlayout import Point, layout_routes


def _node_label(node: dict[str, Any]) -> str:
    if node["type"] == "step":
        suffix = " (stale)" if node.get("stale") else ""
        return f"{node['step']}{suffix}"
    return str(node.get("label") or node["id"])


NODE_HEIGHT = 28.0
CHAR_WIDTH = 7.0
MAX_LABEL = 48
_FILLS = {
    "source-data": "#e6f4ea",
    "intermediate-data": "#e8f0fe",
    "results": "#fef7e0",
    "code": "#f3e8fd",
}


def _clipped(text: str) -> str:
    return text if len(text) <= MAX_LABEL else "…" + text[-(MAX_LABEL - 1) :]


def lineage_svg(
    doc: dict[str, Any], *, link: str | None = None, data_link: str | None = None
) -> str:
    """A standalone SVG picture of the graph, laid out left to right (source data, steps,
    outputs) with no Graphviz: steps as boxes, data as rounded boxes coloured by role,
    stale steps dashed in red; every node carries its full name as a tooltip. With ``link``,
    a step links to ``link`` + its run id; with ``data_link``, a data node links to
    ``data_link`` + its node id (URL-quoted)."""
    nodes = [node["id"] for node in doc["nodes"]]
    by_id = {node["id"]: node for node in doc["nodes"]}
    labels = {n: _clipped(_node_label(by_id[n])) for n in nodes}
    sizes = {n: (16 + CHAR_WIDTH * len(labels[n]), NODE_HEIGHT) for n in nodes}
    edges = [(edge["from"], edge["to"]) for edge in doc["edges"]]
    placed = layout_routes(nodes, edges, sizes)
    boxes = placed.boxes
    margin = 12.0
    width = max((b.x + b.width for b in boxes.values()), default=0.0) + 2 * margin
    lowest = max((y for bends in placed.bends for _, y in bends), default=0.0)
    height = max(max((b.y + b.height for b in boxes.values()), default=0.0), lowest)
    height += 2 * margin
    out = [
        '<svg xmlns="http://www.w3.org/2000/svg" '
        f'width="{width:.0f}" height="{height:.0f}" viewBox="0 0 {width:.0f} {height:.0f}" '
        'font-family="sans-serif" font-size="12">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" '
        'markerWidth="7" markerHeight="7" orient="auto-start-reverse">'
        '<path d="M 0 0 L 10 5 L 0 10 z" fill="#5f6368"/></marker></defs>',
        f'<g transform="translate({margin:.0f},{margin:.0f})">',
    ]
    for edge, bends in zip(doc["edges"], placed.bends, strict=True):
        a, b = boxes.get(edge["from"]), boxes.get(edge["to"])
        if a is None or b is None:
            continue
        start, end = (a.x + a.width, a.y + a.height / 2), (b.x, b.y + b.height / 2)
        if b.layer <= a.layer:  # an edge that closes a cycle: leave from the bottom
            start, end = (a.x + a.width / 2, a.y + a.height), (b.x + b.width / 2, b.y + b.height)
        dotted = edge.get("kind") == "part-of"
        style = 'stroke-dasharray="2 3"' if dotted else 'marker-end="url(#arrow)"'
        out.append(
            f'<path class="edge" d="{_route([start, *bends, end])}" fill="none" '
            f'stroke="#5f6368" {style}/>'
        )
    for node_id in nodes:
        node, box = by_id[node_id], boxes[node_id]
        step = node["type"] == "step"
        stale = bool(node.get("stale"))
        fill = "#ffffff" if step else _FILLS.get(str(node.get("role")), "#f1f3f4")
        stroke = "#d93025" if stale else ("#3367d6" if step else "#5f6368")
        dash = ' stroke-dasharray="5 3"' if stale else ""
        full = " ".join(node.get("argv") or []) if step else str(node.get("label") or node_id)
        drawn = (
            f'<g class="node {node["type"]}{" stale" if stale else ""}" '
            f"data-id={quoteattr(node_id)}><title>{escape(full)}</title>"
            f'<rect x="{box.x:.1f}" y="{box.y:.1f}" width="{box.width:.1f}" '
            f'height="{box.height:.1f}" rx="{3 if step else 12}" fill="{fill}" '
            f'stroke="{stroke}" stroke-width="1.5"{dash}/>'
            f'<text x="{box.x + box.width / 2:.1f}" y="{box.y + box.height / 2 + 4:.1f}" '
            f'text-anchor="middle">{escape(labels[node_id])}</text></g>'
        )
        if link is not None and step and node.get("run"):
            drawn = f"<a href={quoteattr(link + str(node['run']))}>{drawn}</a>"
        elif data_link is not None and not step:
            drawn = f"<a href={quoteattr(data_link + quote(node_id, safe=''))}>{drawn}</a>"
        out.append(drawn)
    out.append("</g></svg>")
    return "\n".join(out) + "\n"


def _route(points: list[Point]) -> str:
    """An SVG path through ``points``: a curve leaving and entering each point
    horizontally, and a straight line where two points share a height (an edge crossing a
    layer between its boxes)."""
    (x, y), rest = points[0], points[1:]
    parts = [f"M {x:.1f} {y:.1f}"]
    for nx, ny in rest:
        if ny == y and nx > x:
            parts.append(f"L {nx:.1f} {ny:.1f}")
        else:
            bend = max(abs(nx - x) / 2, 20.0)
            parts.append(f"C {x + bend:.1f} {y:.1f} {nx - bend:.1f} {ny:.1f} {nx:.1f} {ny:.1f}")
        x, y = nx, ny
    return " ".join(parts)


def legend() -> str:
    """An HTML line naming what the lineage picture's fills and outlines mean."""
    swatch = (
        '<span style="display:inline-block;width:1.4em;height:0.9em;vertical-align:middle;'
        'border:1.5px {style} {stroke};border-radius:{radius};background:{fill}"></span>'
    )
    items = [
        (swatch.format(style="solid", stroke="#5f6368", radius="6px", fill=fill), role)
        for role, fill in _FILLS.items()
    ]
    items.append(
        (swatch.format(style="solid", stroke="#3367d6", radius="2px", fill="#fff"), "step")
    )
    items.append(
        (swatch.format(style="dashed", stroke="#d93025", radius="2px", fill="#fff"), "stale step")
    )
    shown = " ".join(f"{mark} {escape(text)} " for mark, text in items)
    return f'<p class="legend muted">{shown}</p>'
