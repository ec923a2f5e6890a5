"""Finding the objects a snapshot needs, in any store (the remote's included)."""

from __future__ import annotations

from collections.abc import Iterator

from dws.core.workspace import Workspace
from dws.model.records import ResourceSpec, SnapshotRecord
from dws.resources.base import ObjectRef, ResourceContext
from dws.resources.registry import resource_type
from dws.store.base import ObjectMissingError, ObjectStore


def snapshot_refs(ws: Workspace, record: SnapshotRecord, store: ObjectStore) -> Iterator[ObjectRef]:
    """Every object ``record`` needs, its trees read (and validated) from ``store``."""
    context = ResourceContext(ws.root, ws.layout.local, store, ws.store_generation())
    for name, recorded in record.resources.items():
        spec = ResourceSpec(name, recorded.type, recorded.role, {})
        yield from resource_type(recorded.type)(spec, context).references(recorded.state)


class FetchingStore(ObjectStore):
    """Reads from the local store, else from the remote (verified), keeping what it fetched
    in memory until ``commit`` writes it locally: trees of records that fail validation
    never reach the workspace."""

    def __init__(self, local: ObjectStore, remote: ObjectStore) -> None:
        self.local = local
        self.remote = remote
        self.pending: dict[str, bytes] = {}

    def has(self, oid: str) -> bool:
        return oid in self.pending or self.local.has(oid)

    def get_bytes(self, oid: str) -> bytes:
        if oid in self.pending:
            return self.pending[oid]
        if self.local.has(oid):
            return self.local.get_bytes(oid)
        data = self.remote.get_verified(oid)
        self.pending[oid] = data
        return data

    def discard_since(self, count: int) -> None:
        """Forget the objects fetched after the first ``count`` (``len(pending)`` when a
        walk began): the trees of a snapshot found damaged are not kept."""
        for oid in list(self.pending)[count:]:
            del self.pending[oid]

    def commit(self) -> tuple[int, int]:
        """Store the fetched objects locally; return how many, and their bytes."""
        for data in self.pending.values():
            self.local.put_bytes(data)
        moved = len(self.pending), sum(len(data) for data in self.pending.values())
        self.pending.clear()
        return moved

    def put_bytes(self, data: bytes) -> str:
        raise NotImplementedError

    def put_file(self, path: str, similar_to: str | None = None) -> tuple[str, int]:
        raise NotImplementedError

    def materialize(self, oid: str, dest: str, mode: int = 0o644) -> None:
        raise NotImplementedError

    def size(self, oid: str) -> int:
        return len(self.get_bytes(oid))

    def iter_ids(self) -> Iterator[str]:
        yield from self.pending

    def delete(self, oid: str) -> None:
        raise NotImplementedError


__all__ = [
    "FetchingStore",
    "ObjectMissingError",
    "snapshot_refs",
]
