"""Snapshot records and tags on disk: listing, resolving references, writing, deleting."""

from __future__ import annotations

import contextlib
import os

from dws.core.layout import Layout
from dws.errors import FormatError, NotFoundError, RefusedError, UsageError
from dws.model.ids import (
    check_object_id,
    check_tag_name,
    is_object_id,
    is_valid_tag_file_name,
    looks_like_id_prefix,
)
from dws.model.records import SnapshotRecord, decode_snapshot, encode_record
from dws.model.suggest import did_you_mean
from dws.store.fileio import fsync_dir, write_atomic

HEAD_REF = "HEAD"
UNFETCHED = "unfetched-snapshots"  # in local/: snapshots pulled without their data


class SnapshotCatalog:
    """The snapshots/ and tags/ directories of a workspace."""

    def __init__(self, layout: Layout) -> None:
        self.layout = layout

    # ---- records ----------------------------------------------------------------------

    def ids(self) -> list[str]:
        """Ids of every snapshot record present."""
        out = []
        for name in os.listdir(self.layout.snapshots):
            if name.endswith(".json") and is_object_id(name[:-5]):
                out.append(name[:-5])
        return out

    def get(self, snapshot_id: str) -> SnapshotRecord:
        """Load and verify one record."""
        check_object_id(snapshot_id, "snapshot id")
        path = os.path.join(self.layout.snapshots, snapshot_id + ".json")
        try:
            with open(path, "rb") as handle:
                data = handle.read()
        except FileNotFoundError:
            raise NotFoundError(f"snapshot {snapshot_id[:12]} does not exist") from None
        return decode_snapshot(data, snapshot_id)

    def exists(self, snapshot_id: str) -> bool:
        """True when the record is present."""
        return os.path.exists(os.path.join(self.layout.snapshots, snapshot_id + ".json"))

    def unfetched(self) -> set[str]:
        """Snapshots pulled without their blobs (``local/unfetched-snapshots``, one id a
        line, kept by pull: see core.remote.cache)."""
        try:
            with open(self.layout.local_file(UNFETCHED), encoding="ascii") as handle:
                return {line.strip() for line in handle if is_object_id(line.strip())}
        except (OSError, UnicodeDecodeError):
            return set()

    def all(self) -> list[SnapshotRecord]:
        """Every record, oldest first."""
        records = [self.get(i) for i in self.ids()]
        return sorted(records, key=lambda r: (r.created, r.id))

    def put(self, record: SnapshotRecord) -> None:
        """Write a record durably (the commit point of a snapshot). Write-once."""
        path = os.path.join(self.layout.snapshots, record.id + ".json")
        if os.path.exists(path):
            return
        write_atomic(path, encode_record(record) + b"\n", durable=True)

    def delete(self, snapshot_id: str) -> None:
        """Remove a record (its objects go at the next gc)."""
        with contextlib.suppress(FileNotFoundError):
            os.unlink(os.path.join(self.layout.snapshots, snapshot_id + ".json"))
        fsync_dir(self.layout.snapshots)

    # ---- tags -------------------------------------------------------------------------

    def tag_names(self) -> list[str]:
        """Names of the tag files present (their content unread), sorted."""
        return sorted(n for n in os.listdir(self.layout.tags) if is_valid_tag_file_name(n))

    def tags(self) -> dict[str, str]:
        """tag -> snapshot id, for every well-formed tag file."""
        out: dict[str, str] = {}
        for name in self.tag_names():
            value = self._read_tag(name)
            if value is not None:
                out[name] = value
        return out

    def _read_tag(self, tag: str) -> str | None:
        try:
            with open(os.path.join(self.layout.tags, tag), encoding="ascii") as handle:
                value = handle.read(200).strip()
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError):
            raise FormatError(f"tag file {tag!r} is unreadable") from None
        if not is_object_id(value):
            raise FormatError(f"tag {tag!r} does not hold a snapshot id")
        return value

    def tags_by_snapshot(self) -> dict[str, list[str]]:
        """snapshot id -> its tags."""
        out: dict[str, list[str]] = {}
        for tag, ident in self.tags().items():
            out.setdefault(ident, []).append(tag)
        return out

    def set_tag(self, tag: str, snapshot_id: str, *, force: bool = False) -> bool:
        """Point ``tag`` at ``snapshot_id``; moving an existing tag needs ``force``.
        Returns True when something changed."""
        check_tag_name(tag)
        current = self._read_tag(tag)
        if current == snapshot_id:
            return False
        if not force:
            self.check_tag_free(tag, allowed=snapshot_id)
        write_atomic(
            os.path.join(self.layout.tags, tag), (snapshot_id + "\n").encode(), durable=True
        )
        return True

    def check_tag_free(self, tag: str, allowed: str | None = None) -> None:
        """Refuse (exit 3) when ``tag`` names a snapshot other than ``allowed``."""
        current = self._read_tag(tag)
        if current is not None and current != allowed:
            raise RefusedError(
                f"tag {tag!r} already names snapshot {current[:12]}; use --force to move it"
            )

    def delete_tag(self, tag: str) -> None:
        """Remove a tag."""
        if self._read_tag(tag) is None:
            raise NotFoundError(f"no tag {tag!r}{did_you_mean(tag, self.tag_names())}")
        os.unlink(os.path.join(self.layout.tags, tag))

    # ---- references -------------------------------------------------------------------

    def resolve(self, ref: str, head: str | None = None) -> str:
        """A tag, an id or unique id prefix, or HEAD -> full snapshot id."""
        if ref == HEAD_REF:
            if head is None or not self.exists(head):
                raise NotFoundError("HEAD names no snapshot yet")
            return head
        if not ref or "/" in ref or "\x00" in ref:
            raise UsageError(f"invalid snapshot reference {ref!r}")
        tag_target = self._read_tag(ref) if is_valid_tag_file_name(ref) else None
        if tag_target is not None:
            if not self.exists(tag_target):
                raise NotFoundError(f"tag {ref!r} names snapshot {tag_target[:12]}, which is gone")
            return tag_target
        if looks_like_id_prefix(ref.lower()):
            matches = [i for i in self.ids() if i.startswith(ref.lower())]
            if len(matches) == 1:
                return matches[0]
            if len(matches) > 1:
                raise UsageError(f"snapshot prefix {ref!r} is ambiguous; give more digits")
        known = [*self.tag_names(), *([HEAD_REF] if head is not None else [])]
        hint = did_you_mean(ref, known) or " (see `dws history`)"
        raise NotFoundError(f"no snapshot or tag named {ref!r}{hint}")
