"""Charts of metrics across snapshots as standalone SVG (no plotting library): one small
panel per metric, snapshots in history order along x, a point per snapshot that has the
metric (a hollow red point when its file was a stale output), each point's snapshot and
value as its tooltip."""

from __future__ import annotations

from xml.sax.saxutils import escape, quoteattr

from dws.model.metrics import shown_number as number

PANEL_WIDTH = 380.0
PANEL_HEIGHT = 200.0
PER_ROW = 2
PAD_LEFT, PAD_RIGHT, PAD_TOP, PAD_BOTTOM = 56.0, 16.0, 28.0, 40.0
LINE = "#1a73e8"
STALE = "#d93025"


def metrics_svg(
    labels: list[str],
    snapshots: list[str],
    series: list[tuple[str, list[float | None], list[bool]]],
    *,
    link: str | None = None,
) -> str:
    """The picture of ``series`` (name, one value or None per snapshot, stale flags) over
    the snapshots named ``labels`` (ids in ``snapshots``, for tooltips; with ``link``, each
    point links to ``link`` + its snapshot id)."""
    panels = max(len(series), 1)
    rows = (panels + PER_ROW - 1) // PER_ROW
    columns = min(panels, PER_ROW)
    width, height = columns * PANEL_WIDTH, rows * PANEL_HEIGHT
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" font-family="sans-serif" font-size="11">'
    ]
    for index, (name, values, stale) in enumerate(series):
        x0 = (index % PER_ROW) * PANEL_WIDTH
        y0 = (index // PER_ROW) * PANEL_HEIGHT
        out.append(
            f'<g class="chart" data-metric={quoteattr(name)} '
            f'transform="translate({x0:.0f},{y0:.0f})">'
        )
        out.extend(_panel(name, labels, snapshots, values, stale, link))
        out.append("</g>")
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _panel(
    name: str,
    labels: list[str],
    snapshots: list[str],
    values: list[float | None],
    stale: list[bool],
    link: str | None,
) -> list[str]:
    inner_w = PANEL_WIDTH - PAD_LEFT - PAD_RIGHT
    inner_h = PANEL_HEIGHT - PAD_TOP - PAD_BOTTOM
    present = [v for v in values if v is not None]
    low, high = (min(present), max(present)) if present else (0.0, 1.0)
    if high == low:
        low, high = low - 1, high + 1
    count = len(labels)

    def x_of(i: int) -> float:
        return PAD_LEFT + (inner_w * i / (count - 1) if count > 1 else inner_w / 2)

    def y_of(v: float) -> float:
        return PAD_TOP + inner_h * (1 - (v - low) / (high - low))

    out = [
        f'<text x="{PAD_LEFT:.0f}" y="16" font-weight="bold">{escape(name)}</text>',
        f'<line x1="{PAD_LEFT}" y1="{PAD_TOP + inner_h}" x2="{PAD_LEFT + inner_w}" '
        f'y2="{PAD_TOP + inner_h}" stroke="#9aa0a6"/>',
        f'<line x1="{PAD_LEFT}" y1="{PAD_TOP}" x2="{PAD_LEFT}" y2="{PAD_TOP + inner_h}" '
        'stroke="#9aa0a6"/>',
        f'<text x="{PAD_LEFT - 6}" y="{PAD_TOP + 4}" text-anchor="end">'
        f"{escape(number(high))}</text>",
        f'<text x="{PAD_LEFT - 6}" y="{PAD_TOP + inner_h}" text-anchor="end">'
        f"{escape(number(low))}</text>",
    ]
    step = max(1, count // 8)  # at most about 8 labels along x
    for i, label in enumerate(labels):
        if i % step == 0 or i == count - 1:
            shown = label if len(label) <= 12 else label[:11] + "…"
            # the last label ends at its point, so it stays inside the panel
            anchor = "end" if i == count - 1 and count > 1 else "middle"
            out.append(
                f'<text x="{x_of(i):.1f}" y="{PANEL_HEIGHT - PAD_BOTTOM + 16:.1f}" '
                f'text-anchor="{anchor}">{escape(shown)}</text>'
            )
    points = [(x_of(i), y_of(v)) for i, v in enumerate(values) if v is not None]
    if len(points) > 1:
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
        out.append(f'<polyline points="{path}" fill="none" stroke="{LINE}" stroke-width="1.5"/>')
    for i, value in enumerate(values):
        if value is None:
            continue
        fill = "#ffffff" if stale[i] else LINE
        stroke = STALE if stale[i] else LINE
        tip = f"{labels[i]} ({snapshots[i][:10]}): {number(value)}" + (" stale" if stale[i] else "")
        point = (
            f'<circle class="point" data-snapshot={quoteattr(snapshots[i])} cx="{x_of(i):.1f}" '
            f'cy="{y_of(value):.1f}" r="3.5" fill="{fill}" stroke="{stroke}" stroke-width="1.5">'
            f"<title>{escape(tip)}</title></circle>"
        )
        if link is not None:
            point = f"<a href={quoteattr(link + snapshots[i])}>{point}</a>"
        out.append(point)
    return out
