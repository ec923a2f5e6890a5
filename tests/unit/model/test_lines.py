"""Lines of history: tips, other lines than HEAD's, and the lane drawing of
`dws history --graph`, checked by following every lane of the drawing from top to bottom."""

from __future__ import annotations

from collections.abc import Sequence

from hypothesis import given, settings
from hypothesis import strategies as st

from dws.model.lines import draw, line_of, other_lines, tips, topological
from dws.model.records import SnapshotRecord


def rec(name: str, parent: str | None, second: int) -> SnapshotRecord:
    return SnapshotRecord(
        id=name,
        created=f"2025-01-01T00:{second // 60:02}:{second % 60:02}.000000Z",
        hostname="host",
        user="someone",
        message=f"snapshot {name}",
        parent=parent,
        resources={},
    )


def by_id(*records: SnapshotRecord) -> dict[str, SnapshotRecord]:
    return {r.id: r for r in records}


# A restore of an old snapshot and a snapshot after it, twice: S0 - S1 - S2, then restore
# S1 and take E1, then restore S0 and take F1.
HISTORY = by_id(
    rec("S0", None, 1),
    rec("S1", "S0", 2),
    rec("S2", "S1", 3),
    rec("E1", "S1", 4),
    rec("F1", "S0", 5),
)


def test_tips_are_the_snapshots_no_one_follows_newest_first() -> None:
    assert [r.id for r in tips(HISTORY)] == ["F1", "E1", "S2"]
    assert line_of(HISTORY, "E1") == ["E1", "S1", "S0"]


def test_other_lines_than_head() -> None:
    lines = other_lines(HISTORY, "F1")
    assert [(o.tip.id, o.fork, o.snapshots) for o in lines] == [("E1", "S0", 2), ("S2", "S0", 2)]

    lines = other_lines(HISTORY, "E1")
    assert [(o.tip.id, o.fork, o.snapshots) for o in lines] == [("F1", "S0", 1), ("S2", "S1", 1)]


def test_a_tip_that_continues_from_head_is_no_other_line() -> None:
    # restored to S1: S2 and E1 continue from it; F1 forked before it
    assert [o.tip.id for o in other_lines(HISTORY, "S1")] == ["F1"]
    assert other_lines(HISTORY, "S0") == []


def test_no_head_no_other_lines() -> None:
    assert other_lines(HISTORY, None) == []
    assert other_lines(HISTORY, "gone") == []


def test_unrelated_roots_share_no_fork() -> None:
    records = {**HISTORY, "R1": rec("R1", None, 9)}
    (line,) = [o for o in other_lines(records, "F1") if o.tip.id == "R1"]
    assert line.fork is None and line.snapshots == 1


def test_a_parent_not_known_ends_the_line() -> None:
    records = by_id(rec("A", "missing", 1), rec("B", "A", 2))
    assert line_of(records, "B") == ["B", "A"]
    assert [r.id for r in tips(records)] == ["B"]


def test_topological_puts_a_child_before_its_parent_whatever_the_clocks() -> None:
    skewed = by_id(rec("P", None, 50), rec("C", "P", 10), rec("D", None, 30))
    assert [r.id for r in topological(skewed)] == ["D", "C", "P"]


def test_graph_of_a_hand_built_history() -> None:
    rows = draw(HISTORY.values(), head="F1")
    text = [(row.lanes, row.snapshot) for row in rows]
    assert text == [
        ("@", "F1"),
        ("| *", "E1"),
        ("| | *", "S2"),
        ("| |/", None),
        ("| *", "S1"),
        ("|/", None),
        ("*", "S0"),
    ]
    check_drawing(HISTORY, rows)


def test_graph_of_a_straight_history_is_one_lane() -> None:
    records = by_id(rec("A", None, 1), rec("B", "A", 2), rec("C", "B", 3))
    assert [(r.lanes, r.snapshot) for r in draw(records.values(), head="B")] == [
        ("*", "C"),
        ("@", "B"),
        ("*", "A"),
    ]


def test_a_new_line_between_two_lanes_moves_the_right_one_aside() -> None:
    records = by_id(
        rec("S0", None, 0),
        rec("A1", "S0", 1),
        rec("D1", "A1", 7),
        rec("A2", "A1", 4),
        rec("B1", "S0", 5),
    )
    rows = draw(records.values())
    assert [r.lanes for r in rows] == ["*", "| *", "|  \\", "| * |", "|/ /", "* |", "|/", "*"]
    check_drawing(records, rows)


# ---- following the lanes ------------------------------------------------------------


def check_drawing(records: dict[str, SnapshotRecord], rows: Sequence[object]) -> None:
    """Follow every lane down the drawing: each snapshot is drawn once; every lane a
    snapshot starts (toward its parent) arrives at its parent's row, and nothing else
    does; each glyph belongs to exactly one lane; no lane is left over at the bottom."""
    drawn = [row.snapshot for row in rows if row.snapshot is not None]  # type: ignore[attr-defined]
    assert sorted(drawn) == sorted(records), "every snapshot exactly once"
    lanes: dict[int, set[str]] = {}  # column -> the snapshots whose edge runs in it
    for row in rows:
        text: str = row.lanes  # type: ignore[attr-defined]
        snapshot: str | None = row.snapshot  # type: ignore[attr-defined]
        assert set(text) <= set("*@|/\\ "), text
        if snapshot is None:
            lanes = _move(lanes, text, records)
            continue
        glyphs = {n // 2 for n, ch in enumerate(text) if ch != " "}
        assert all(n % 2 == 0 for n, ch in enumerate(text) if ch != " "), text
        (column,) = [n // 2 for n, ch in enumerate(text) if ch in "*@"]
        assert glyphs == set(lanes) | {column}, (text, sorted(lanes))
        arriving = lanes.pop(column, set())
        children = {i for i, r in records.items() if r.parent == snapshot}
        assert arriving == children, (snapshot, arriving, children)
        for other in lanes:
            assert text[2 * other] == "|"
        if records[snapshot].parent in records:
            lanes[column] = {snapshot}
    assert not lanes, "a lane goes nowhere"


def _move(
    lanes: dict[int, set[str]], text: str, records: dict[str, SnapshotRecord]
) -> dict[int, set[str]]:
    used: set[int] = set()
    moved: dict[int, set[str]] = {}
    for column, edges in lanes.items():
        at = 2 * column
        options = []
        if at < len(text) and text[at] == "|":
            options.append((at, column))
        if 0 < at <= len(text) and text[at - 1] == "/":
            options.append((at - 1, column - 1))
        if at + 1 < len(text) and text[at + 1] == "\\":
            options.append((at + 1, column + 1))
        assert len(options) == 1, (text, column)
        glyph, target = options[0]
        used.add(glyph)
        if target in moved:  # lanes meet: only edges going to the same parent may
            assert len({records[e].parent for e in moved[target] | edges}) == 1
        moved.setdefault(target, set()).update(edges)
    assert used == {n for n, ch in enumerate(text) if ch != " "}, ("stray glyph", text)
    return moved


@st.composite
def forests(draw_: st.DrawFn) -> dict[str, SnapshotRecord]:
    """Up to 40 snapshots, each the child of an earlier one (or of a snapshot that is not
    there, or of none), dated at random, so clocks may even put a child before its
    parent."""
    count = draw_(st.integers(1, 40))
    records: dict[str, SnapshotRecord] = {}
    for n in range(count):
        name = f"s{n:02}"
        choice = draw_(st.integers(-2, n - 1)) if n else draw_(st.integers(-2, -1))
        parent = None if choice == -1 else "absent" if choice == -2 else f"s{choice:02}"
        records[name] = rec(name, parent, draw_(st.integers(0, 3599)))
    return records


@settings(max_examples=300, deadline=None)
@given(forests(), st.data())
def test_every_random_forest_is_drawn_with_connected_lanes(
    records: dict[str, SnapshotRecord], data: st.DataObject
) -> None:
    head = data.draw(st.sampled_from(sorted(records)))
    rows = draw(records.values(), head=head)
    check_drawing(records, rows)
    assert [r.lanes.count("@") for r in rows if r.snapshot == head] == [1]
    order = [r.snapshot for r in rows if r.snapshot is not None]
    for snapshot, record in records.items():
        if record.parent in records:
            assert order.index(record.parent) > order.index(snapshot)


@settings(max_examples=200, deadline=None)
@given(forests(), st.data())
def test_other_lines_are_the_tips_off_heads_line(
    records: dict[str, SnapshotRecord], data: st.DataObject
) -> None:
    head = data.draw(st.sampled_from(sorted(records)))
    head_line = set(line_of(records, head))
    found = {o.tip.id: o for o in other_lines(records, head)}
    for tip in tips(records):
        line = line_of(records, tip.id)
        related = tip.id in head_line or head in line
        assert (tip.id in found) != related
        if tip.id in found:
            other = found[tip.id]
            assert other.fork == next((i for i in line if i in head_line), None)
            assert line[other.snapshots : other.snapshots + 1] == (
                [other.fork] if other.fork else []
            )
