"""Writing a lineage graph document as Graphviz dot or Mermaid text."""

from __future__ import annotations

import json
from typing import Any


def _node_label(node: dict[str, Any]) -> str:
    if node["type"] == "step":
        suffix = " (stale)" if node.get("stale") else ""
        return f"{node['step']}{suffix}"
    return str(node.get("label") or node["id"])


def to_dot(doc: dict[str, Any]) -> str:
    """Graphviz: steps as boxes, data as ellipses (stale steps dashed)."""
    ids = {node["id"]: f"n{i}" for i, node in enumerate(doc["nodes"])}
    lines = ["digraph lineage {", "  rankdir=LR;"]
    for node in doc["nodes"]:
        shape = "box" if node["type"] == "step" else "ellipse"
        style = ', style="dashed"' if node.get("stale") else ""
        lines.append(
            f"  {ids[node['id']]} [label={json.dumps(_node_label(node))}, shape={shape}{style}];"
        )
    for edge in doc["edges"]:
        style = ' [style="dotted", arrowhead="none"]' if edge.get("kind") == "part-of" else ""
        lines.append(f"  {ids[edge['from']]} -> {ids[edge['to']]}{style};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _mermaid_text(text: str) -> str:
    return text.replace('"', "#quot;")


def to_mermaid(doc: dict[str, Any]) -> str:
    """Mermaid flowchart: steps as rectangles, data as rounded nodes."""
    ids = {node["id"]: f"n{i}" for i, node in enumerate(doc["nodes"])}
    lines = ["flowchart LR"]
    for node in doc["nodes"]:
        label = _mermaid_text(_node_label(node))
        if node["type"] == "step":
            lines.append(f'  {ids[node["id"]]}["{label}"]')
        else:
            lines.append(f'  {ids[node["id"]]}("{label}")')
    for edge in doc["edges"]:
        arrow = "-.-" if edge.get("kind") == "part-of" else "-->"
        lines.append(f"  {ids[edge['from']]} {arrow} {ids[edge['to']]}")
    return "\n".join(lines) + "\n"
