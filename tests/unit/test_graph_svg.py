"""The lineage graph as a picture without Graphviz: the layered layout
(``model.graphlayout``) and the SVG writer (``cli.graphformats.to_svg``)."""

from __future__ import annotations

from itertools import pairwise
from xml.etree import ElementTree

from hypothesis import given
from hypothesis import strategies as st

from dws.model.graphlayout import layout, layout_routes
from dws.pictures.graph import lineage_svg as to_svg

SVG = "{http://www.w3.org/2000/svg}"


@given(
    count=st.integers(1, 12),
    pairs=st.lists(st.tuples(st.integers(0, 11), st.integers(0, 11)), max_size=30),
)
def test_edges_go_left_to_right_and_boxes_never_overlap(
    count: int, pairs: list[tuple[int, int]]
) -> None:
    nodes = [f"n{i}" for i in range(count)]
    edges = [(f"n{a}", f"n{b}") for a, b in pairs if a < count and b < count and a < b]
    boxes = layout(nodes, edges, {n: (40.0 + 3 * int(n[1:]), 20.0) for n in nodes})
    assert set(boxes) == set(nodes)
    for a, b in edges:  # an acyclic graph: every edge moves right
        assert boxes[a].layer < boxes[b].layer and boxes[a].x + boxes[a].width < boxes[b].x
    placed = sorted(boxes.values(), key=lambda box: (box.layer, box.y))
    for upper, lower in pairwise(placed):
        if upper.layer == lower.layer:
            assert upper.y + upper.height <= lower.y


@given(
    count=st.integers(2, 12),
    pairs=st.lists(st.tuples(st.integers(0, 11), st.integers(0, 11)), max_size=30),
)
def test_a_long_edge_crosses_each_layer_between_its_boxes(
    count: int, pairs: list[tuple[int, int]]
) -> None:
    nodes = [f"n{i}" for i in range(count)]
    edges = [(f"n{a}", f"n{b}") for a, b in pairs if a < count and b < count and a < b]
    placed = layout_routes(nodes, edges, {n: (40.0 + 3 * int(n[1:]), 20.0) for n in nodes})
    boxes = placed.boxes
    assert set(boxes) == set(nodes) and len(placed.bends) == len(edges)
    for (a, b), bends in zip(edges, placed.bends, strict=True):
        spanned = boxes[b].layer - boxes[a].layer - 1
        assert len(bends) == 2 * spanned  # in and out of each layer between
        for (left, y), (right, y_out) in zip(bends[::2], bends[1::2], strict=True):
            assert y == y_out and boxes[a].x + boxes[a].width < left < right < boxes[b].x
            for box in boxes.values():  # no box of that layer is in the way
                if box.x >= left and box.x + box.width <= right:
                    assert not box.y <= y <= box.y + box.height


def test_a_cycle_still_lays_out() -> None:
    boxes = layout(
        ["a", "b", "c"], [("a", "b"), ("b", "c"), ("c", "a")], dict.fromkeys("abc", (10.0, 10.0))
    )
    assert sorted(box.layer for box in boxes.values()) == [0, 1, 2]


def test_hostile_names_are_text_in_the_picture() -> None:
    hostile = '<script>alert(1)</script>" onload="alert(2)'
    doc = {
        "nodes": [
            {"id": f"data:raw/{hostile}", "type": "data", "label": hostile, "role": "source-data"},
            {
                "id": "run:1",
                "type": "step",
                "step": "s&t",
                "argv": ["echo", hostile],
                "stale": True,
            },
        ],
        "edges": [{"from": f"data:raw/{hostile}", "to": "run:1", "kind": "in"}],
    }
    picture = to_svg(doc)
    assert "<script" not in picture
    drawn = ElementTree.fromstring(picture)
    assert not [a for e in drawn.iter() for a in e.attrib if a.lower().startswith("on")]
    texts = [t.text for t in drawn.iter(f"{SVG}text")]
    assert "s&t (stale)" in texts
    assert any(hostile[-20:] in (t or "") for t in texts)
    assert not [e for e in drawn.iter() if e.tag.endswith("script")]
