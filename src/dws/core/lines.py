"""Which other lines of history each command tells about (the rules are in
docs/remotes.md#divergent-lines; the graph logic in ``model.lines``).

A line is *other* when it neither holds HEAD nor continues from it. Worth telling are:

* ``status``: other lines whose tip is newer than HEAD (what a clone would now take, or
  work that came in since the workspace's last snapshot);
* ``push``: other lines on the remote whose tip this workspace did not have (someone
  else's work, not yet pulled) or is newer than HEAD;
* ``pull``: other lines whose tip the pull brought;
* ``clone``: every line but the restored snapshot's.

So a user's own experiments (restore an old snapshot, snapshot again) never nag: the old
line's tip is older than the new HEAD and was made here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from dws.core.catalog import SnapshotCatalog
from dws.core.workspace import Workspace
from dws.errors import DwsError
from dws.model.lines import OtherLine, is_newer, other_lines
from dws.model.records import SnapshotRecord

ReadRecord = Callable[[str], SnapshotRecord | None]


def local_records(ws: Workspace) -> dict[str, SnapshotRecord]:
    """Every snapshot record of the workspace that reads and checks (fsck reports the
    others; telling about lines never fails a command)."""
    catalog = SnapshotCatalog(ws.layout)
    out = {}
    for snapshot_id in catalog.ids():
        try:
            out[snapshot_id] = catalog.get(snapshot_id)
        except DwsError:
            continue
    return out


def newer_lines(ws: Workspace) -> list[OtherLine]:
    """Other lines whose tip is newer than HEAD (what `dws status` names)."""
    head = ws.head().snapshot
    if head is None:
        return []
    records = local_records(ws)
    if head not in records:
        return []
    return [o for o in other_lines(records, head) if is_newer(o.tip, records[head])]


def pulled_lines(ws: Workspace, pulled: Iterable[str]) -> list[OtherLine]:
    """Other lines whose tip is one of the snapshots just pulled."""
    brought = set(pulled)
    head = ws.head().snapshot
    if not brought or head is None:
        return []
    return [o for o in other_lines(local_records(ws), head) if o.tip.id in brought]


def cloned_lines(ws: Workspace, restored: str | None) -> list[OtherLine]:
    """The lines other than the restored snapshot's."""
    return other_lines(local_records(ws), restored)


def remote_lines(ws: Workspace, remote_ids: Iterable[str], read: ReadRecord) -> list[OtherLine]:
    """Other lines on a remote holding ``remote_ids`` whose tip this workspace lacks or
    is newer than HEAD; ``read`` reads one of the remote's records (those this workspace
    lacks are read, the others come from here)."""
    head = ws.head().snapshot
    if head is None:
        return []
    records = local_records(ws)
    if head not in records:
        return []
    on_remote = set(remote_ids)
    unseen = on_remote - set(records)
    for snapshot_id in sorted(unseen):
        try:
            record = read(snapshot_id)
        except DwsError:
            record = None
        if record is not None:
            records[snapshot_id] = record
    return [
        o
        for o in other_lines(records, head)
        if o.tip.id in on_remote and (o.tip.id in unseen or is_newer(o.tip, records[head]))
    ]
