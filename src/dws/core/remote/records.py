"""Reading what a remote holds beside its objects, validated: its identity and resources,
the snapshot ids it lists, snapshot records, tags, run records and step files. Push, pull,
clone and the remote's gc and fsck all read through here (keys from ``layout``)."""

from __future__ import annotations

from collections.abc import Iterator

from msgspec import Struct

from dws.core.remote import layout
from dws.errors import FormatError, NotFoundError, UsageError
from dws.model.ids import check_tag_name, is_object_id, looks_like_id_prefix
from dws.model.records import (
    SnapshotRecord,
    WorkspaceInfo,
    decode_resources,
    decode_snapshot,
    decode_workspace_info,
)
from dws.model.suggest import did_you_mean
from dws.store.remote_backend import RemoteBackend


class TagConflict(Struct):
    """A tag naming different snapshots here and on the remote."""

    tag: str
    local: str
    remote: str


def read_identity(remote: RemoteBackend) -> WorkspaceInfo | None:
    """The remote's workspace.json (validated), or None for an empty remote."""
    data = remote.files.read(layout.WORKSPACE_JSON)
    if data is None:
        return None
    try:
        return decode_workspace_info(data)
    except FormatError as exc:
        raise FormatError(f"the remote's {exc.message}") from None


def read_resources(remote: RemoteBackend, data: bytes | None = None) -> bytes:
    """The remote's resources.json (``data``: as already read), validated."""
    if data is None:
        data = remote.files.read(layout.RESOURCES_JSON)
    if data is None:
        raise FormatError(f"the remote {remote.url} has no resources.json")
    try:
        decode_resources(data)
    except FormatError as exc:
        raise FormatError(f"the remote's {exc.message}") from None
    return data


def snapshot_ids(remote: RemoteBackend) -> dict[str, str]:
    """id -> listing token of the snapshot records on the remote."""
    listed = remote.files.list(layout.SNAPSHOTS)
    return {
        snapshot_id: token
        for name, token in listed.items()
        if (snapshot_id := layout.record_id(name)) is not None
    }


def read_snapshot(remote: RemoteBackend, snapshot_id: str) -> SnapshotRecord | None:
    """A snapshot record, checked against its id (FormatError naming the remote), or None
    when it is not there."""
    data = remote.files.read(layout.snapshot_key(snapshot_id))
    if data is None:
        return None
    try:
        return decode_snapshot(data, snapshot_id)
    except FormatError as exc:
        raise FormatError(f"the remote's {exc.message}") from None


def snapshot_records(remote: RemoteBackend) -> Iterator[tuple[str, SnapshotRecord | FormatError]]:
    """Every snapshot record the remote lists, in id order, or the error decoding it gave
    (records that vanish while listed are left out)."""
    for snapshot_id in sorted(snapshot_ids(remote)):
        data = remote.files.read(layout.snapshot_key(snapshot_id))
        if data is None:
            continue
        try:
            yield snapshot_id, decode_snapshot(data, snapshot_id)
        except FormatError as exc:
            yield snapshot_id, exc


def read_tag(remote: RemoteBackend, tag: str) -> tuple[str, bytes] | None:
    """(snapshot id, raw bytes) of a remote tag, or None when it is gone."""
    data = remote.files.read(layout.tag_key(tag))
    if data is None:
        return None
    try:
        value = data[:200].decode("ascii").strip()
    except UnicodeDecodeError:
        value = ""
    if not is_object_id(value):
        raise FormatError(f"the remote's tag {tag!r} does not hold a snapshot id")
    return value, data


def tag_bytes(snapshot_id: str) -> bytes:
    """What a tag file naming ``snapshot_id`` holds."""
    return (snapshot_id + "\n").encode()


def resolve_remote_ref(remote_ids: set[str], tags: dict[str, str], ref: str) -> str:
    """A remote tag, or a unique id prefix of a remote snapshot."""
    if ref in tags:
        return tags[ref]
    lowered = ref.lower()
    if looks_like_id_prefix(lowered):
        matches = [i for i in remote_ids if i.startswith(lowered)]
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise UsageError(f"snapshot prefix {ref!r} is ambiguous on the remote")
    raise NotFoundError(f"the remote has no snapshot or tag named {ref!r}{did_you_mean(ref, tags)}")


def _read_listed_snapshot(remote: RemoteBackend, snapshot_id: str) -> SnapshotRecord:
    record = read_snapshot(remote, snapshot_id)
    if record is None:
        raise FormatError(f"the remote's snapshot {snapshot_id[:12]} cannot be read")
    return record


def remote_snapshot(remote: RemoteBackend, ref: str | None) -> SnapshotRecord | None:
    """The remote's snapshot a clone restores, read before anything is pulled: ``ref`` (a
    remote tag or id prefix, as pull resolves it), else the latest (None: there is none)."""
    ids = set(snapshot_ids(remote))
    if ref is None:
        if not ids:
            return None
        records = [_read_listed_snapshot(remote, i) for i in sorted(ids)]
        return max(records, key=lambda r: (r.created, r.id))
    tags = remote.files.list(layout.TAGS)
    found = None
    if ref in tags:
        try:
            found = read_tag(remote, check_tag_name(ref))
        except UsageError:
            found = None  # pull ignores a tag with an invalid name too
    others = dict.fromkeys((tag for tag in tags if tag != ref), "")  # for did-you-mean
    chosen = found[0] if found else resolve_remote_ref(ids, others, ref)
    return _read_listed_snapshot(remote, chosen)
