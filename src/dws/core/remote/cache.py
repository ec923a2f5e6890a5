"""What this machine knows a remote holds, so a push need not ask about every object.

``local/remotes/<name>/known-objects`` holds raw 32-byte ids of objects known to be on the
remote; ``state.json`` the remote's URL, the snapshot ids those objects belong to, and the
tags last seen there with their version tokens; ``identity`` what a push last confirmed
the remote holds (workspace id, hash of resources.json, URL). The knowledge is trusted
only while every one of those snapshots is still listed on the remote: a remote snapshot
record implies its objects are there (they are uploaded before it), and remote gc keeps
what snapshots reach.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections.abc import Iterable
from typing import Any

from dws.core.catalog import UNFETCHED, SnapshotCatalog
from dws.core.workspace import Workspace
from dws.model.ids import is_object_id
from dws.store.fileio import write_atomic

ID_BYTES = 32


class RemoteCache:
    """The local record of one remote."""

    def __init__(self, ws: Workspace, name: str, url: str) -> None:
        self.directory = os.path.join(ws.layout.local, "remotes", name)
        self.url = url
        self._objects_path = os.path.join(self.directory, "known-objects")
        self._state_path = os.path.join(self.directory, "state.json")
        self._identity_path = os.path.join(self.directory, "identity")
        self.snapshots: set[str] = set()
        self.tags: dict[str, tuple[str, str]] = {}
        self._load_state()

    def _load_state(self) -> None:
        try:
            with open(self._state_path, "rb") as handle:
                state: Any = json.loads(handle.read())
        except (OSError, ValueError):
            return
        if not isinstance(state, dict) or state.get("url") != self.url:
            return
        snapshots = state.get("snapshots", [])
        tags = state.get("tags", {})
        if isinstance(snapshots, list):
            self.snapshots = {s for s in snapshots if is_object_id(s)}
        if isinstance(tags, dict):
            for tag, value in tags.items():
                if isinstance(value, list) and len(value) == 2 and is_object_id(value[0]):
                    self.tags[str(tag)] = (value[0], str(value[1]))

    def known_objects(self, remote_snapshots: set[str]) -> set[str]:
        """Objects known to be on the remote, or nothing when a snapshot they came from is
        gone from it (the knowledge is then dropped)."""
        if not self.snapshots or not self.snapshots <= remote_snapshots:
            self.reset()
            return set()
        try:
            with open(self._objects_path, "rb") as handle:
                data = handle.read()
        except FileNotFoundError:
            return set()
        usable = len(data) - len(data) % ID_BYTES
        return {data[i : i + ID_BYTES].hex() for i in range(0, usable, ID_BYTES)}

    def reset(self) -> None:
        """Forget the objects (tags stay: they are compared by token anyway)."""
        self.snapshots = set()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._objects_path)

    def add(self, snapshot_ids: Iterable[str], oids: Iterable[str]) -> None:
        """Record that ``oids`` (belonging to ``snapshot_ids``) are on the remote."""
        os.makedirs(self.directory, exist_ok=True)
        with open(self._objects_path, "ab") as handle:
            handle.write(b"".join(bytes.fromhex(oid) for oid in oids))
        self.snapshots.update(snapshot_ids)
        self.save()

    def identity(self) -> str | None:
        """The stamp ``confirm_identity`` last wrote, if any."""
        try:
            with open(self._identity_path, encoding="ascii") as handle:
                return handle.read()
        except (OSError, UnicodeDecodeError):
            return None

    def confirm_identity(self, stamp: str) -> None:
        """Remember that the remote was found to hold what ``stamp`` describes."""
        os.makedirs(self.directory, exist_ok=True)
        with open(self._identity_path, "w", encoding="ascii") as handle:
            handle.write(stamp)

    def save(self) -> None:
        """Write state.json."""
        os.makedirs(self.directory, exist_ok=True)
        state = {
            "url": self.url,
            "snapshots": sorted(self.snapshots),
            "tags": {tag: list(value) for tag, value in sorted(self.tags.items())},
        }
        write_atomic(self._state_path, (json.dumps(state, indent=1) + "\n").encode())


def forget_remote(ws: Workspace, name: str) -> None:
    """Drop everything known about remote ``name``."""
    shutil.rmtree(os.path.join(ws.layout.local, "remotes", name), ignore_errors=True)


def read_unfetched(ws: Workspace) -> set[str]:
    """Snapshots pulled without their blobs (``local/unfetched-snapshots``, one id a line)."""
    return SnapshotCatalog(ws.layout).unfetched()


def write_unfetched(ws: Workspace, snapshot_ids: set[str]) -> None:
    """Replace the list of snapshots pulled without their blobs."""
    path = ws.layout.local_file(UNFETCHED)
    if not snapshot_ids:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        return
    write_atomic(path, "".join(i + "\n" for i in sorted(snapshot_ids)).encode())
