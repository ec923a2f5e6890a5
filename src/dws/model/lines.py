"""Lines of history. Every snapshot names one parent (the snapshot the workspace was at when
it was taken), so the snapshots form a forest that only ever forks: there are no branches
and no merges. A *tip* is a snapshot no other snapshot names as its parent; each tip ends
one *line* (the tip and its ancestors). This module holds the pure rules: the tips, how a
tip relates to HEAD, and the lane drawing of ``dws history --graph``. Which of the other
lines a command tells about is decided in ``core.lines``."""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from msgspec import Struct

from dws.model.records import SnapshotRecord

NODE = "*"
HEAD_NODE = "@"


def newest_first(records: Iterable[SnapshotRecord]) -> list[SnapshotRecord]:
    """``records`` newest first, by (created, id): the order history lists them in."""
    return sorted(records, key=lambda r: (r.created, r.id), reverse=True)


def tips(records: Mapping[str, SnapshotRecord]) -> list[SnapshotRecord]:
    """The snapshots no snapshot of ``records`` names as its parent, newest first."""
    named = {r.parent for r in records.values() if r.parent is not None}
    return newest_first(r for i, r in records.items() if i not in named)


def line_of(records: Mapping[str, SnapshotRecord], snapshot_id: str) -> list[str]:
    """``snapshot_id`` and its ancestors among ``records``, newest first (a parent that is
    not in ``records`` ends the line)."""
    out: list[str] = []
    seen: set[str] = set()
    current: str | None = snapshot_id
    while current is not None and current in records and current not in seen:
        seen.add(current)
        out.append(current)
        current = records[current].parent
    return out


@dataclass(frozen=True)
class OtherLine:
    """A line that does not hold HEAD and does not continue from it: ``tip`` is its newest
    snapshot, ``fork`` the newest snapshot it shares with HEAD's line (None when they share
    none), ``snapshots`` how many of its snapshots come after the fork."""

    tip: SnapshotRecord
    fork: str | None
    snapshots: int


def other_lines(records: Mapping[str, SnapshotRecord], head: str | None) -> list[OtherLine]:
    """The lines of ``records`` that neither hold ``head`` nor continue from it, newest tip
    first. A tip that continues from HEAD (the workspace was restored to an older snapshot
    of its own line) is no other line. Nothing when there is no HEAD among ``records``."""
    if head is None or head not in records:
        return []
    head_line = set(line_of(records, head))
    out = []
    for tip in tips(records):
        line = line_of(records, tip.id)
        if head in line or tip.id in head_line:
            continue
        shared = next((i for i in line if i in head_line), None)
        since = line.index(shared) if shared is not None else len(line)
        out.append(OtherLine(tip, shared, since))
    return out


def is_newer(record: SnapshotRecord, than: SnapshotRecord) -> bool:
    """True when ``record`` was taken after ``than`` (by their recorded times)."""
    return record.created > than.created


# ---- the graph -----------------------------------------------------------------------


class GraphRow(Struct, frozen=True):
    """One line of a history graph: ``lanes`` is the lane column ('*' the snapshot, '@'
    when it is HEAD, '|' a lane going on, '/' and '\\' a lane moving one place left or
    right), ``snapshot`` the snapshot the line shows (None: the line only moves lanes)."""

    lanes: str
    snapshot: str | None


def topological(records: Mapping[str, SnapshotRecord]) -> list[SnapshotRecord]:
    """``records`` newest first, except that a snapshot always comes before its parent (a
    clock that was behind could date a child before its parent)."""
    order = newest_first(records.values())
    rank = {r.id: n for n, r in enumerate(order)}
    waiting = {r.id: 0 for r in order}
    for record in order:
        if record.parent in waiting:
            waiting[record.parent] += 1
    ready = [rank[i] for i, n in waiting.items() if n == 0]
    heapq.heapify(ready)
    out = []
    while ready:
        record = order[heapq.heappop(ready)]
        out.append(record)
        parent = record.parent
        if parent in waiting:
            waiting[parent] -= 1
            if waiting[parent] == 0:
                heapq.heappush(ready, rank[parent])
    return out


def _lane_keys(rows: list[SnapshotRecord], records: Mapping[str, SnapshotRecord]) -> dict[str, int]:
    """The left-to-right order of the lanes: each tip's place in a depth-first walk of the
    forest (children with the newest snapshots first), and for any other snapshot the key of
    its child whose subtree holds the newest snapshot (that child's lane goes on through
    it). Lanes kept in this order never cross: the lanes that meet at a snapshot are
    neighbours when it is drawn."""
    position = {r.id: n for n, r in enumerate(rows)}
    children: dict[str, list[str]] = {}
    newest: dict[str, int] = {}
    roots = []
    for record in rows:  # children come first: their newest is known
        own = min([position[record.id], *(newest[c] for c in children.get(record.id, []))])
        newest[record.id] = own
        if record.parent is not None and record.parent in records:
            children.setdefault(record.parent, []).append(record.id)
        else:
            roots.append(record.id)
    for siblings in children.values():
        siblings.sort(key=newest.__getitem__)
    roots.sort(key=newest.__getitem__)
    keys: dict[str, int] = {}
    stack = list(reversed(roots))
    while stack:
        node = stack.pop()
        kids = children.get(node, [])
        if kids:
            stack.extend(reversed(kids))
        else:
            keys[node] = len(keys)
    for record in rows:  # a snapshot takes the key of its first child
        if record.id not in keys:
            keys[record.id] = keys[children[record.id][0]]
    return keys


def draw(records: Iterable[SnapshotRecord], head: str | None = None) -> list[GraphRow]:
    """The lines of ``dws history --graph``: every snapshot once, in ``topological`` order,
    in a lane that runs down to its parent's row. A line that forks shows as lanes that
    meet ('|/') just above the snapshot they fork from."""
    by_id = {r.id: r for r in records}
    rows = topological(by_id)
    keys = _lane_keys(rows, by_id)
    lanes: list[tuple[int, str]] = []  # (key, the snapshot the lane goes down to)
    out: list[GraphRow] = []
    for record in rows:
        block = [n for n, (_, target) in enumerate(lanes) if target == record.id]
        if block:
            column = block[0]
            for _ in block[1:]:  # the lanes meeting here are neighbours: fold them in
                out.append(GraphRow(_shift(len(lanes), column + 1, -1), None))
                del lanes[column + 1]
        else:
            key = keys[record.id]
            column = sum(1 for k, _ in lanes if k < key)
            if column < len(lanes):
                out.append(GraphRow(_shift(len(lanes), column, +1), None))
            lanes.insert(column, (key, record.id))
        glyph = HEAD_NODE if record.id == head else NODE
        cells = [glyph if n == column else "|" for n in range(len(lanes))]
        out.append(GraphRow(" ".join(cells), record.id))
        if record.parent in by_id:
            lanes[column] = (lanes[column][0], record.parent)
        else:
            del lanes[column]
            if column < len(lanes):
                out.append(GraphRow(_shift(len(lanes) + 1, column + 1, -1, ended=column), None))
    return out


def _shift(count: int, start: int, step: int, ended: int | None = None) -> str:
    """A line where, of ``count`` lanes, those from ``start`` on move one place (``step``
    -1: left, +1: right), lane ``ended`` (which ended on the row above) is blank and the
    others go straight on."""
    chars = [" "] * (2 * count + 1)
    for n in range(count):
        if n == ended:
            continue
        if n < start:
            chars[2 * n] = "|"
        elif step < 0:
            chars[2 * n - 1] = "/"
        else:
            chars[2 * n + 1] = "\\"
    return "".join(chars).rstrip()
