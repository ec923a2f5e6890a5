"""Which current versions restore made as copies of recorded ones (machine-local memory).

A server-side copy of an old version becomes a new version with a new id. So that status
and the next snapshot see the restored key as the recorded version rather than as a change,
restore remembers, per key, "current version C is a copy of version V"; the memory is used
only while C is still the key's current version and V still exists. Losing the file (another
machine, a removed local directory) costs only a spurious "modified" when ETags differ.
"""

from __future__ import annotations

import contextlib
import os

import msgspec

from dws.store.fileio import write_atomic

MAX_BYTES = 256 << 20


class CopyMemory:
    """path -> (copy version id, source version id) for one resource."""

    def __init__(self, local_dir: str, resource: str) -> None:
        self.path = os.path.join(local_dir, "s3-copies", f"{resource}.json")
        self.copies: dict[str, tuple[str, str]] = self._read()

    def _read(self) -> dict[str, tuple[str, str]]:
        try:
            with open(self.path, "rb") as handle:
                data = handle.read(MAX_BYTES + 1)
            raw = msgspec.json.decode(data, type=dict[str, tuple[str, str]])
        except (OSError, msgspec.DecodeError, msgspec.ValidationError):
            return {}  # a cache: a missing or damaged file only forgets copies
        return raw if len(data) <= MAX_BYTES else {}

    def source_of(self, path: str, current_version: str) -> str | None:
        """The version ``current_version`` of ``path`` was copied from, if restore made it."""
        found = self.copies.get(path)
        return found[1] if found is not None and found[0] == current_version else None

    def remember(self, made: dict[str, tuple[str, str]], current: dict[str, str]) -> None:
        """Record new copies, keeping of the old ones only those still current (``current``:
        path -> current version id before restore); written atomically."""
        kept = {p: c for p, c in self.copies.items() if current.get(p) == c[0]}
        self.copies = {**kept, **made}
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        write_atomic(self.path, msgspec.json.encode(self.copies))

    def forget_all(self) -> None:
        """Drop the memory (the resource was removed)."""
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)
