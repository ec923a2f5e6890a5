"""Showing other lines of history (docs/remotes.md#divergent-lines): the JSON shape and the
one-line description push, pull, clone and status share."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dws.cli.output import short

if TYPE_CHECKING:
    from dws.model.lines import OtherLine


def other_line_json(line: OtherLine) -> dict[str, Any]:
    """An other line for --json: its tip's id, author and message, and where it forked."""
    tip = line.tip
    return {
        "id": tip.id,
        "created": tip.created,
        "user": tip.user,
        "hostname": tip.hostname,
        "message": tip.message,
        "fork": line.fork,
        "snapshots": line.snapshots,
    }


def describe(line: OtherLine) -> str:
    """'3f2a1b9c0d (Bob on host-2, 2026-01-02 10:00:00, "message"), 2 snapshots since
    9a8b7c6d5e'."""
    tip = line.tip
    who = f"{tip.user} on {tip.hostname}" if tip.hostname else tip.user
    parts = [who, tip.created[:19].replace("T", " ")]
    if tip.message:
        parts.append(f'"{tip.message}"')
    noun = "snapshot" if line.snapshots == 1 else "snapshots"
    since = (
        f"since {short(line.fork)}" if line.fork is not None else "sharing none with HEAD's line"
    )
    return f"{short(tip.id)} ({', '.join(parts)}), {line.snapshots} {noun} {since}"
