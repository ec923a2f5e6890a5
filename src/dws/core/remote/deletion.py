"""Deleting a snapshot on a remote: its tombstone first (``deleted/<id>.json``, so no
teammate's push brings it back), then the remote tags naming it (only with ``force``,
each only while it still names it), then its record. The workspace is not changed, and
the snapshot's objects stay until ``dws gc --remote`` frees them.

No lock is taken: removing a record while someone pushes (even a child snapshot: every
snapshot's trees are complete) or while gc runs (it then keeps a little more) is harmless.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dws.core.catalog import SnapshotCatalog
from dws.core.remote import layout
from dws.core.remote.config import get_remote
from dws.core.remote.open import check_same_workspace, open_remote
from dws.core.remote.records import read_tag, resolve_remote_ref, snapshot_ids
from dws.core.remote.tombstones import (
    Deleted,
    deleted_snapshots,
    read_tombstone,
    write_tombstone,
)
from dws.core.workspace import Workspace
from dws.errors import DwsError, FormatError, NotFoundError, RefusedError, UsageError
from dws.model.ids import check_tag_name, looks_like_id_prefix
from dws.store.remote_backend import RemoteBackend


@dataclass
class RemoteDeleteReport:
    """What deleting a snapshot on a remote did (or, in a dry run, would do)."""

    remote: str
    snapshot: str
    tags: list[str] = field(default_factory=list)  # remote tags deleted with it
    kept_tags: list[str] = field(default_factory=list)  # moved to another snapshot meanwhile
    local: bool = False  # this workspace has the snapshot too (and keeps it)
    dry_run: bool = False


def delete_remote_snapshot(
    ws: Workspace, name: str | None, ref: str, *, force: bool = False, dry_run: bool = False
) -> RemoteDeleteReport:
    """Delete snapshot ``ref`` (a remote tag or id prefix) on the remote. Remote tags
    naming it refuse the deletion unless ``force``, which deletes them too."""
    config = get_remote(ws, name)
    remote = open_remote(config, local_dir=ws.layout.local)
    try:
        check_same_workspace(ws, remote)
        remote_ids = set(snapshot_ids(remote))
        tags = _remote_tags(remote)
        try:
            snapshot_id = _resolve(remote, remote_ids, tags, ref)
        except NotFoundError:
            here = _resolve_here(ws, remote_ids, ref)
            if here is None:
                raise
            snapshot_id = here
        naming = sorted(tag for tag, (target, _) in tags.items() if target == snapshot_id)
        if naming and not force:
            raise RefusedError(
                f"remote tag(s) {', '.join(naming)} on {config.name} name snapshot "
                f"{snapshot_id[:12]}; nothing was deleted (--force deletes the tags too)"
            )
        report = RemoteDeleteReport(config.name, snapshot_id, dry_run=dry_run)
        report.local = snapshot_id in set(SnapshotCatalog(ws.layout).ids())
        if dry_run:
            report.tags = naming
            return report
        write_tombstone(remote, snapshot_id, naming)
        for tag in naming:
            if remote.files.delete_if(layout.tag_key(tag), tags[tag][1]):
                report.tags.append(tag)
            else:
                report.kept_tags.append(tag)
        remote.files.delete(layout.snapshot_key(snapshot_id))
        return report
    finally:
        remote.close()


def _remote_tags(remote: RemoteBackend) -> dict[str, tuple[str, bytes]]:
    """tag -> (snapshot id, raw bytes) of the remote's readable tags."""
    out = {}
    for tag in sorted(remote.files.list(layout.TAGS)):
        try:
            check_tag_name(tag)
            found = read_tag(remote, tag)
        except (UsageError, FormatError):
            continue  # not a tag, or not one naming any snapshot
        if found is not None:
            out[tag] = found
    return out


def _resolve_here(ws: Workspace, remote_ids: set[str], ref: str) -> str | None:
    """A ref the remote does not know (``HEAD``, a local tag) resolved in the workspace,
    when it names a snapshot the remote has; else None."""
    try:
        found: str | None = SnapshotCatalog(ws.layout).resolve(ref, ws.head().snapshot)
    except DwsError:
        return None
    return found if found in remote_ids else None


def _resolve(
    remote: RemoteBackend, remote_ids: set[str], tags: dict[str, tuple[str, bytes]], ref: str
) -> str:
    try:
        return resolve_remote_ref(remote_ids, {t: v[0] for t, v in tags.items()}, ref)
    except NotFoundError:
        lowered = ref.lower()
        if not looks_like_id_prefix(lowered):
            raise
        gone = [i for i in deleted_snapshots(remote) if i.startswith(lowered)]
        if len(gone) != 1:
            raise
        entry = Deleted(gone[0], read_tombstone(remote, gone[0]))
        raise NotFoundError(f"snapshot {gone[0][:12]} was already {entry.describe()}") from None
