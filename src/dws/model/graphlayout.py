"""Laying out a directed graph left to right in layers (a small Sugiyama-style layout), for
pictures of the lineage graph that need no Graphviz.

1. Layers: each node's layer is the longest path to it from a node without predecessors
   (edges that close a cycle are ignored, so any graph lays out).
2. Order: nodes start in the order given; then several sweeps, alternately left to right and
   right to left, sort each layer by the mean position of its neighbours in the layer before
   (the barycenter heuristic), which removes most crossings.
3. Coordinates: layers are columns as wide as their widest node; a layer's nodes are spread
   down its column, the column centred on the tallest.

An edge that spans several layers passes through a small placeholder in each layer between
(ordered with the nodes, so it takes a slot of its own): ``layout_routes`` gives the points
it bends at, so it is drawn between the boxes of those layers, never through them.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from msgspec import Struct, field

SWEEPS = 8
GAP_X = 70.0
GAP_Y = 18.0
PASSAGE = 4.0  # the height a long edge takes where it crosses a layer
Point = tuple[float, float]


class Box(Struct, frozen=True):
    """Where one node goes: its layer, its place in it, and its rectangle."""

    layer: int
    order: int
    x: float
    y: float
    width: float
    height: float


def _layers(nodes: Sequence[str], edges: Sequence[tuple[str, str]]) -> dict[str, int]:
    successors: dict[str, list[str]] = {n: [] for n in nodes}
    for source, target in edges:
        if source in successors and target in successors and source != target:
            successors[source].append(target)
    state: dict[str, int] = {}  # 1 visiting, 2 done
    order: list[str] = []
    kept: dict[str, list[str]] = {n: [] for n in nodes}
    for start in nodes:  # depth-first, without recursion: back edges are left out
        if start in state:
            continue
        stack = [(start, iter(successors[start]))]
        state[start] = 1
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                state[node] = 2
                order.append(node)
                stack.pop()
            elif state.get(child) == 1:
                continue  # closes a cycle
            else:
                kept[node].append(child)
                if child not in state:
                    state[child] = 1
                    stack.append((child, iter(successors[child])))
    layer = dict.fromkeys(nodes, 0)
    for node in reversed(order):  # a topological order of the kept edges
        for child in kept[node]:
            layer[child] = max(layer[child], layer[node] + 1)
    return layer


def _by_barycenter(
    column: list[str], reference: list[str], neighbours: dict[str, list[str]]
) -> list[str]:
    """``column`` sorted by the mean place of each node's neighbours in ``reference`` (a
    node without any keeps its place)."""
    where = {n: p for p, n in enumerate(reference)}

    def centre(node: str, place: int) -> float:
        seen = [where[n] for n in neighbours[node] if n in where]
        return sum(seen) / len(seen) if seen else float(place)

    return [n for _, _, n in sorted((centre(n, p), p, n) for p, n in enumerate(column))]


class Layout(Struct):
    """Boxes of the nodes and, for each edge (in the order given), the points where it
    crosses the layers it spans (empty for an edge between neighbouring layers)."""

    boxes: dict[str, Box]
    bends: list[list[Point]] = field(default_factory=list)


def layout(
    nodes: Sequence[str],
    edges: Sequence[tuple[str, str]],
    sizes: dict[str, tuple[float, float]],
) -> dict[str, Box]:
    """A box per node (``sizes``: node -> (width, height)); see the module docstring."""
    return layout_routes(nodes, edges, sizes).boxes


def layout_routes(
    nodes: Sequence[str],
    edges: Sequence[tuple[str, str]],
    sizes: dict[str, tuple[float, float]],
) -> Layout:
    """The boxes and the bends of the edges; see the module docstring."""
    layer = _layers(nodes, edges)
    sizes = dict(sizes)
    chains: list[list[str]] = []  # per edge: the placeholders it passes through
    links: list[tuple[str, str]] = []
    for index, (source, target) in enumerate(edges):
        chain: list[str] = []
        if source in layer and target in layer and layer[target] - layer[source] > 1:
            for step in range(layer[source] + 1, layer[target]):
                passage = f"\x00edge{index}:{step}"  # no node id holds NUL
                layer[passage] = step
                sizes[passage] = (0.0, PASSAGE)
                chain.append(passage)
            path = [source, *chain, target]
            links.extend(itertools.pairwise(path))
        else:
            links.append((source, target))
        chains.append(chain)
    every = [*nodes, *(p for chain in chains for p in chain)]
    count = max(layer.values(), default=-1) + 1
    columns: list[list[str]] = [[] for _ in range(count)]
    for node in every:
        columns[layer[node]].append(node)
    before: dict[str, list[str]] = {n: [] for n in every}
    after: dict[str, list[str]] = {n: [] for n in every}
    for source, target in links:
        if source in layer and target in layer and layer[source] < layer[target]:
            after[source].append(target)
            before[target].append(source)
    for sweep in range(SWEEPS):
        forward = sweep % 2 == 0
        indexes = range(1, count) if forward else range(count - 2, -1, -1)
        for i in indexes:
            reference = columns[i - 1] if forward else columns[i + 1]
            neighbours = before if forward else after
            columns[i] = _by_barycenter(columns[i], reference, neighbours)
    heights = [sum(sizes[n][1] for n in c) + GAP_Y * max(len(c) - 1, 0) for c in columns]
    tallest = max(heights, default=0.0)
    boxes: dict[str, Box] = {}
    spans: dict[str, tuple[float, float]] = {}  # a placeholder's column, left to right
    x = 0.0
    for i, column in enumerate(columns):
        width = max((sizes[n][0] for n in column), default=0.0)
        y = (tallest - heights[i]) / 2
        for place, node in enumerate(column):
            w, h = sizes[node]
            boxes[node] = Box(i, place, x + (width - w) / 2, y, w, h)
            spans[node] = (x, x + width)
            y += h + GAP_Y
        x += width + GAP_X
    bends = []
    for chain in chains:
        points: list[Point] = []
        for passage in chain:
            box = boxes.pop(passage)
            middle = box.y + box.height / 2
            left, right = spans[passage]
            points.extend([(left, middle), (right, middle)])
        bends.append(points)
    return Layout(boxes, bends)
