"""Tombstones of snapshots deleted on a remote: ``deleted/<id>.json`` (``layout.DELETED``),
written before the snapshot's record is removed and never removed themselves, so that a
teammate who still has the snapshot does not push it back, and a pull does not bring it.

Reading them costs one listing of ``deleted/``; a tombstone's content (who deleted the
snapshot, when) is read only where a message needs it.
"""

from __future__ import annotations

import getpass
import socket
from collections.abc import Collection
from datetime import UTC, datetime

import msgspec
from msgspec import Struct

from dws.core.remote import layout
from dws.errors import FormatError
from dws.model.records import decode_json, encode_record
from dws.store.remote_backend import RemoteBackend

TOMBSTONE_FORMAT = 1


class TombstoneRecord(msgspec.Struct, frozen=True):
    """The content of ``deleted/<id>.json``."""

    format: int
    id: str
    deleted_by: str  # user@host
    deleted_at: str  # UTC, ISO 8601 with Z
    tags: list[str] = []  # the remote tags deleted with it


class Deleted(Struct, frozen=True):
    """A snapshot deleted on the remote; ``record`` when its tombstone was read (and is
    readable)."""

    snapshot_id: str
    record: TombstoneRecord | None = None

    def describe(self) -> str:
        """``deleted on the remote (by …, at …)``."""
        if self.record is None:
            return "deleted on the remote"
        return f"deleted on the remote by {self.record.deleted_by} at {self.record.deleted_at}"


def deleted_snapshots(
    remote: RemoteBackend, *, details: Collection[str] = ()
) -> dict[str, Deleted]:
    """The snapshots deleted on the remote, by id (one listing); the tombstones of those in
    ``details`` are read for who deleted them and when."""
    out: dict[str, Deleted] = {}
    for file_name in remote.files.list(layout.DELETED):
        snapshot_id = layout.record_id(file_name)
        if snapshot_id is None:
            continue
        record = read_tombstone(remote, snapshot_id) if snapshot_id in details else None
        out[snapshot_id] = Deleted(snapshot_id, record)
    return out


def read_tombstone(remote: RemoteBackend, snapshot_id: str) -> TombstoneRecord | None:
    """A snapshot's tombstone, or None when it is absent or unreadable."""
    data = remote.files.read(layout.tombstone_key(snapshot_id))
    if data is None:
        return None
    try:
        record: TombstoneRecord = decode_json(data, TombstoneRecord, "tombstone")
    except FormatError:
        return None
    return record if record.id == snapshot_id else None


def write_tombstone(remote: RemoteBackend, snapshot_id: str, tags: list[str]) -> bool:
    """Write a snapshot's tombstone (False when it already had one, which is kept)."""
    record = TombstoneRecord(
        format=TOMBSTONE_FORMAT,
        id=snapshot_id,
        deleted_by=f"{_user()}@{socket.gethostname()}",
        deleted_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        tags=sorted(tags),
    )
    return remote.files.create(layout.tombstone_key(snapshot_id), encode_record(record) + b"\n")


def not_to_push(remote: RemoteBackend, snapshot_ids: Collection[str]) -> dict[str, str]:
    """Which of ``snapshot_ids`` (local snapshots a push would send) were deleted on the
    remote, each with why it is not pushed; nothing is listed when there are none."""
    if not snapshot_ids:
        return {}
    wanted = set(snapshot_ids)
    deleted = deleted_snapshots(remote, details=wanted)
    return {
        snapshot_id: (
            f"it was {entry.describe()}; `dws delete-snapshot {snapshot_id[:12]}` drops it here"
        )
        for snapshot_id, entry in sorted(deleted.items())
        if snapshot_id in wanted
    }


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
