"""Turning API results into JSON documents and text lines, shared by several commands."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dws.cli.output import Output, align, count, short

if TYPE_CHECKING:
    from dws.api import ResourceChanges
    from dws.core.lineage.queries import StaleOutput
    from dws.model.records import SnapshotRecord
    from dws.model.treediff import Change

STATUS_STYLE = {"added": "green", "deleted": "red", "modified": "yellow"}
MAX_LINES = 200
FOLD_LINES = 40  # what `dws status` lists at most, all resources together, unless --all
FOLD_MIN = 8  # lines each resource gets at least when the listing is folded


def change_json(change: Change) -> dict[str, Any]:
    """One changed path for --json."""
    entry = change.new or change.old
    assert entry is not None
    return {
        "path": change.path,
        "status": change.status,
        "kind": entry.kind,
        "old": change.old.id if change.old else None,
        "new": change.new.id if change.new else None,
        "size": change.new.size if change.new else None,
    }


def resource_changes_json(item: ResourceChanges) -> dict[str, Any]:
    """A resource's changes for --json."""
    return {
        "name": item.name,
        "type": item.type,
        "role": item.role.value,
        "base": item.base,
        "note": item.note,
        "changes": [change_json(c) for c in item.visible],
        "notes": item.notes,
        "warnings": item.warnings,
    }


def print_changes(
    output: Output,
    changes: list[Change],
    indent: str = "  ",
    limit: int | None = MAX_LINES,
    total: int | None = None,
) -> None:
    """List changed paths, one per line, at most ``limit`` of them (None: all); ``total``:
    how many there are when ``changes`` holds only the first ones."""
    for change in changes if limit is None else changes[:limit]:
        entry = change.new or change.old
        suffix = "/" if entry is not None and entry.is_dir else ""
        output.line(
            f"{indent}{_label(change):<9} {change.path}{suffix}", STATUS_STYLE.get(change.status)
        )
    total = len(changes) if total is None else total
    if limit is not None and total > limit:
        output.line(f"{indent}... and {count(total - limit)} more (use --json for all)")


def fold_budgets(sizes: list[int], total: int = FOLD_LINES) -> list[int | None]:
    """How many lines each of several listings (of ``sizes`` changes) may take so that
    together they take about ``total``: a listing that fits its share is shown whole (None),
    the others share what is left (at least FOLD_MIN lines each)."""
    budgets: list[int | None] = [None] * len(sizes)
    left, waiting = total, sorted((n, i) for i, n in enumerate(sizes) if n)
    while waiting:
        share = max(FOLD_MIN, left // len(waiting))
        if waiting[0][0] > share:
            for _, i in waiting:
                budgets[i] = share
            break
        size, _ = waiting.pop(0)
        left -= size
    return budgets


def print_folded_changes(
    output: Output, changes: list[Change], budget: int | None, indent: str = "  "
) -> None:
    """Every changed path when ``budget`` is None or they fit in it; else counts per
    directory ('imgs/  99,800 added'), directories split into their subdirectories for as
    long as the listing stays within ``budget`` lines."""
    if budget is None or len(changes) <= budget:
        print_changes(output, changes, indent, limit=None)
        return
    items = _fold(changes, budget)
    shown = items if len(items) <= budget else items[: budget - 1]
    rows = []
    for item in shown:
        if isinstance(item, _Group):
            rows.append([f"{indent}{'/'.join(item.prefix) or '.'}/", _counts(item.members)])
        else:
            entry = item.new or item.old
            suffix = "/" if entry is not None and entry.is_dir else ""
            rows.append([f"{indent}{item.path}{suffix}", _label(item)])
    for item, line in zip(shown, align(rows, [False, False]), strict=True):
        statuses = {c.status for c in (item.members if isinstance(item, _Group) else [item])}
        output.line(line, STATUS_STYLE.get(statuses.pop()) if len(statuses) == 1 else None)
    rest = items[len(shown) :]
    hidden = sum(len(item.members) if isinstance(item, _Group) else 1 for item in rest)
    more = f"... and {count(hidden)} more changes " if hidden else ""
    output.line(f"{indent}{more}(by directory; `dws status --all` lists every path)")


class _Group:
    """Changes below directory ``prefix`` (``direct``: only those directly in it)."""

    __slots__ = ("children", "direct", "members", "prefix")

    def __init__(self, prefix: tuple[str, ...], members: list[Change], direct: bool) -> None:
        self.prefix = prefix
        self.members = members
        self.direct = direct
        self.children: list[_Group | Change] | None = None

    def split(self) -> list[_Group | Change]:
        """What the group becomes one level down: its subdirectories' groups and a group of
        the changes directly in it, or (a direct group) its changes one by one."""
        if self.children is None:
            self.children = list(self.members) if self.direct else self._partition()
        return self.children

    def _partition(self) -> list[_Group | Change]:
        depth = len(self.prefix)
        below: dict[str, list[Change]] = {}
        here: list[Change] = []
        for change in self.members:
            parts = change.path.split("/")
            if len(parts) - 1 > depth:
                below.setdefault(parts[depth], []).append(change)
            else:
                here.append(change)
        if not below:
            return list(here)
        out: list[_Group | Change] = [
            members[0] if len(members) == 1 else _Group((*self.prefix, name), members, False)
            for name, members in below.items()
        ]
        if here:
            out.append(here[0] if len(here) == 1 else _Group(self.prefix, here, True))
        return out


def _fold(changes: list[Change], budget: int) -> list[_Group | Change]:
    """The changes as groups and single changes, sorted by path. From the top level down,
    every group is split one level while the total stays within ``budget`` lines; when
    not all of them fit, the shallowest ones are, fewest new lines first. The top level is
    split into directories even beyond ``budget`` (the caller cuts the listing), unless
    every change is at the top."""
    root = _Group((), changes, False)
    items: list[_Group | Change] = [root]
    if any("/" in change.path for change in changes):
        items = root.split()
    while True:
        groups = {i: item for i, item in enumerate(items) if isinstance(item, _Group)}
        if not groups:
            break
        costs = {i: len(group.split()) - 1 for i, group in groups.items()}
        if len(items) + sum(costs.values()) <= budget:
            chosen = set(groups)
        else:
            chosen = {i for i, cost in costs.items() if cost == 0}
            shallowest = min(len(group.prefix) for group in groups.values())
            lines = len(items)
            for i in sorted(groups, key=costs.__getitem__):
                if len(groups[i].prefix) == shallowest and 0 < costs[i] <= budget - lines:
                    chosen.add(i)
                    lines += costs[i]
        if not chosen:
            break
        items = [
            part
            for i, item in enumerate(items)
            for part in (groups[i].split() if i in chosen else [item])
        ]
    return sorted(items, key=_item_key)


def _item_key(item: _Group | Change) -> tuple[str, ...]:
    return item.prefix if isinstance(item, _Group) else tuple(item.path.split("/"))


def _label(change: Change) -> str:
    if change.old and change.new and change.old.id == change.new.id:
        return "mode"
    return change.status


def _counts(changes: list[Change]) -> str:
    """'3 modified, 1 deleted'."""
    tally = {"added": 0, "modified": 0, "deleted": 0}
    for change in changes:
        tally[change.status] += 1
    return ", ".join(f"{count(n)} {status}" for status, n in tally.items() if n)


def record_json(record: SnapshotRecord, tags: list[str]) -> dict[str, Any]:
    """A snapshot record (plus tags) for --json."""
    return {
        "id": record.id,
        "tags": tags,
        "created": record.created,
        "hostname": record.hostname,
        "user": record.user,
        "message": record.message,
        "parent": record.parent,
        "resources": {
            name: {"type": r.type, "role": r.role.value, "state": r.state}
            for name, r in record.resources.items()
        },
        "runs": record.runs,
        "metrics": record.metrics,
        "stale": record.stale,
    }


def record_summary(record: SnapshotRecord, tags: list[str], shown_id: str | None = None) -> str:
    """'abc1234567 [v1] 2026-... message' in one line (``shown_id``: the id's abbreviation)."""
    tag_text = f" [{', '.join(tags)}]" if tags else ""
    message = f"  {record.message}" if record.message else ""
    when = record.created[:19].replace("T", " ")
    return f"{shown_id or short(record.id)}{tag_text}  {when}{message}"


def print_notes(output: Output, notes: list[str], indent: str = "  ") -> None:
    """A resource's notes (a repository's branch, commits, uncommitted paths)."""
    for note in notes:
        output.line(f"{indent}{note}", "cyan")


def run_json(record: Any) -> dict[str, Any]:
    """A run record for --json (the record as stored)."""
    import msgspec

    result: dict[str, Any] = msgspec.to_builtins(record)
    return result


def stale_json(item: StaleOutput) -> dict[str, Any]:
    """A stale output for --json."""
    return {
        "path": item.key,
        "resource": item.output.resource,
        "role": item.role.value,
        "step": item.run.step,
        "run": item.run.id,
        "reasons": item.reasons,
    }


def print_stale(output: Output, stale: list[StaleOutput]) -> None:
    """The stale outputs section of `dws status`."""
    if not stale:
        return
    output.line(
        f"stale outputs ({len(stale)}): an input or the code changed since they were made", "bold"
    )
    for item in stale[:MAX_LINES]:
        why = "; ".join(item.reasons[:3]) + ("; ..." if len(item.reasons) > 3 else "")
        output.line(f"  {item.key}  (step {item.run.step}: {why})", "yellow")
    output.line(
        "  rerun with `dws rerun PATH`; `dws clean --stale` deletes stale intermediate data"
    )
