"""An in-memory object store, for tests and dry runs."""

from __future__ import annotations

from collections.abc import Iterator

from dws.model.digest import hash_bytes
from dws.store.base import CorruptObjectError, ObjectMissingError, ObjectStore
from dws.store.fileio import write_new_file


class MemoryObjectStore(ObjectStore):
    """Objects held in a dict; nothing survives the process."""

    def __init__(self) -> None:
        self._objects: dict[str, bytes] = {}

    def has(self, oid: str) -> bool:
        return oid in self._objects

    def put_bytes(self, data: bytes) -> str:
        oid = hash_bytes(data)
        self._objects.setdefault(oid, bytes(data))
        return oid

    def put_file(self, path: str, similar_to: str | None = None) -> tuple[str, int]:
        with open(path, "rb") as handle:
            data = handle.read()
        return self.put_bytes(data), len(data)

    def get_bytes(self, oid: str) -> bytes:
        try:
            return self._objects[oid]
        except KeyError:
            raise ObjectMissingError(oid) from None

    def materialize(self, oid: str, dest: str, mode: int = 0o644) -> None:
        data = self.get_bytes(oid)
        if hash_bytes(data) != oid:
            raise CorruptObjectError(oid)
        write_new_file(dest, data, mode)

    def size(self, oid: str) -> int:
        return len(self.get_bytes(oid))

    def iter_ids(self) -> Iterator[str]:
        return iter(list(self._objects))

    def delete(self, oid: str) -> None:
        self._objects.pop(oid, None)

    def corrupt(self, oid: str, data: bytes) -> None:
        """Test hook: replace an object's bytes without changing its id."""
        self._objects[oid] = data
