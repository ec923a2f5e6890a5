"""Push: objects the remote lacks, then run records, snapshot records, and tags last.

Everything is idempotent (objects and records are named by their content and written
once), so an interrupted push is finished by running it again. Tags are the commit point;
an existing remote tag naming another snapshot is moved only with ``force``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from dws.core.catalog import SnapshotCatalog
from dws.core.definitions import difference
from dws.core.lines import remote_lines
from dws.core.remote import layout
from dws.core.remote.cache import RemoteCache, read_unfetched
from dws.core.remote.config import RemoteConfig, get_remote
from dws.core.remote.locks import PUSH, RemoteLock
from dws.core.remote.open import check_same_workspace, open_remote
from dws.core.remote.records import (
    TagConflict,
    read_resources,
    read_snapshot,
    read_tag,
    snapshot_ids,
    tag_bytes,
)
from dws.core.remote.tombstones import not_to_push
from dws.core.remote.walk import snapshot_refs
from dws.core.workspace import Workspace
from dws.errors import DwsError, RefusedError
from dws.model.digest import hash_bytes
from dws.model.lines import OtherLine
from dws.model.records import (
    WORKSPACE_FORMAT,
    ResourceSpec,
    SnapshotRecord,
    decode_resources,
    encode_record,
    encode_resources,
    upgraded_workspace_info,
)
from dws.model.runs import decode_run_record
from dws.store import transfer
from dws.store.remote_backend import RemoteBackend, RemoteChangedError


@dataclass
class PushReport:
    """What a push did."""

    remote: str
    url: str
    snapshots: list[str] = field(default_factory=list)
    objects: int = 0
    bytes: int = 0
    runs: int = 0
    steps: int = 0
    tags: list[str] = field(default_factory=list)
    conflicts: list[TagConflict] = field(default_factory=list)
    behind: list[str] = field(default_factory=list)  # tags moved on the remote only
    skipped: dict[str, str] = field(default_factory=dict)
    verified: int = 0  # snapshots already on the remote whose objects were checked
    resources_merged: list[str] = field(default_factory=list)  # added to the remote's list
    resources_conflicting: dict[str, str] = field(default_factory=dict)  # name -> how
    other_lines: list[OtherLine] = field(default_factory=list)  # see core.lines
    notes: list[str] = field(default_factory=list)


def push(
    ws: Workspace, name: str | None = None, *, force: bool = False, verify: bool = False
) -> PushReport:
    """Send every snapshot the remote lacks, with its objects and lineage, then the tags.
    With ``verify``, also check that the remote holds every object of the snapshots it
    shares with this workspace, and send those it lacks."""
    config = get_remote(ws, name)
    with ws.locked("push"):
        remote = open_remote(config, create=True, local_dir=ws.layout.local)
        lock = RemoteLock(remote, PUSH, config.name)  # taken only to send snapshots
        try:
            return _Push(ws, config, remote, force, lock, verify).run()
        finally:
            lock.release()
            remote.close()


class _Push:
    def __init__(
        self,
        ws: Workspace,
        config: RemoteConfig,
        remote: RemoteBackend,
        force: bool,
        lock: RemoteLock,
        verify: bool = False,
    ) -> None:
        self.ws = ws
        self.lock = lock
        self.remote = remote
        self.force = force
        self.verify = verify
        self.catalog = SnapshotCatalog(ws.layout)
        self.cache = RemoteCache(ws, config.name, config.url)
        self.report = PushReport(config.name, config.url)

    def run(self) -> PushReport:
        merged = self._identity()
        remote_snapshots = set(snapshot_ids(self.remote))
        missing = set(self.catalog.ids()) - remote_snapshots
        if missing or self.verify:  # no remote gc until the records are written (locks)
            self.report.notes.extend(self.lock.acquire())
            remote_snapshots = set(snapshot_ids(self.remote))  # as of the lock
            missing = set(self.catalog.ids()) - remote_snapshots
            self.report.skipped.update(not_to_push(self.remote, missing))  # deleted there
            missing -= set(self.report.skipped)
            if missing and not merged:  # the remote may have changed since it was confirmed
                self._check_identity()
        new = sorted((self.catalog.get(i) for i in missing), key=lambda r: (r.created, r.id))
        if self.verify:
            new.extend(self._shared(remote_snapshots))
        if new:
            # verifying trusts no list of what was sent: the remote is asked
            known = set() if self.verify else self.cache.known_objects(remote_snapshots)
            complete, objects = self._collect(new, known)
            verified = [r.id for r in complete if r.id in remote_snapshots]
            self.report.verified = len(verified)
            complete = [r for r in complete if r.id not in remote_snapshots]
            self._send_objects(objects - known)
            for record in complete:
                self._send_runs(record)
            self.lock.check()  # still held: no gc ran since the objects were looked up
            for record in complete:
                self.remote.files.create(layout.snapshot_key(record.id), _record_bytes(record))
                self.report.snapshots.append(record.id)
            remote_snapshots.update(self.report.snapshots)
            if self.verify:
                self.cache.reset()  # what it knew is replaced by what was just checked
            self.cache.add(self.report.snapshots + verified, objects - known)
        self.lock.release()
        self._send_steps()
        self._send_tags(remote_snapshots)
        self.cache.save()
        self.report.other_lines = remote_lines(
            self.ws, remote_snapshots, lambda i: read_snapshot(self.remote, i)
        )
        return self.report

    def _shared(self, remote_snapshots: set[str]) -> list[SnapshotRecord]:
        """The snapshots on the remote whose objects this workspace has (not those pulled
        without their data): the ones a verifying push checks."""
        unfetched = read_unfetched(self.ws)
        shared = (set(self.catalog.ids()) & remote_snapshots) - unfetched
        return sorted((self.catalog.get(i) for i in shared), key=lambda r: (r.created, r.id))

    # ---- identity ---------------------------------------------------------------------

    def _identity(self) -> bool:
        """The remote must hold this workspace; an empty one gets its identity first.
        The local resources are merged into the remote's resources.json (again whenever
        snapshots are sent: others may have changed it since)."""
        resources = _read(self.ws.layout.resources_json)
        stamp = f"{self.ws.info.id} {hash_bytes(resources)} {self.remote.url} {WORKSPACE_FORMAT}"
        if self.cache.identity() == stamp:
            return False
        self._check_identity()
        self.cache.confirm_identity(stamp)
        return True

    def _check_identity(self) -> None:
        """Read the remote's workspace.json: refuse another workspace's, write it to an
        empty remote, mark a format-1 one as format 2 (before a version-2 pack goes
        there); then merge resources.json."""
        info = check_same_workspace(self.ws, self.remote)
        self.ws.mark_current_format()
        if info is None:
            self.remote.files.create(layout.WORKSPACE_JSON, _read(self.ws.layout.workspace_json))
        elif info.format < WORKSPACE_FORMAT:
            old = self.remote.files.read(layout.WORKSPACE_JSON)
            self.remote.files.replace(layout.WORKSPACE_JSON, upgraded_workspace_info(info), old)
        self._merge_resources()

    def _merge_resources(self) -> None:
        merged = merge_resources(self.remote, self.ws.resource_specs())
        self.report.resources_merged, self.report.resources_conflicting = merged

    # ---- objects ----------------------------------------------------------------------

    def _collect(
        self, new: list[SnapshotRecord], known: set[str]
    ) -> tuple[list[SnapshotRecord], set[str]]:
        """The snapshots whose objects are all here, and the objects they need."""
        store = self.ws.store
        complete: list[SnapshotRecord] = []
        needed: set[str] = set()
        for done, record in enumerate(new, 1):
            self.ws.progress("finding objects", done, len(new))
            try:
                refs = {ref.oid for ref in snapshot_refs(self.ws, record, store)}
                absent = [oid for oid in refs - known if not store.has(oid)]
            except DwsError as exc:
                self.report.skipped[record.id] = exc.message
                continue
            if absent:
                self.report.skipped[record.id] = (
                    f"{len(absent)} of its objects are not in this workspace (it was pulled "
                    "without them; `dws pull --snapshot` it first)"
                )
                continue
            complete.append(record)
            needed |= refs
        return complete, needed

    def _send_objects(self, candidates: set[str]) -> None:
        missing = transfer.missing(self.remote, sorted(candidates))
        store = self.ws.store
        total = len(missing)
        self.ws.progress("pushing objects", 0, total)
        self.report.bytes = transfer.send(
            self.remote,
            store,
            missing,
            lambda done: self.ws.progress("pushing objects", done, total),
        )
        self.report.objects = total
        self.remote.objects.flush()  # durable before any record names them

    # ---- lineage ----------------------------------------------------------------------

    def _send_runs(self, record: SnapshotRecord) -> None:
        for run_id in record.runs:
            path = os.path.join(self.ws.layout.lineage, "runs", run_id + ".json")
            try:
                data = _read(path)
            except FileNotFoundError:
                continue  # a run the record names but this workspace never had
            decode_run_record(data, run_id)
            if self.remote.files.create(layout.run_key(run_id), data):
                self.report.runs += 1

    def _send_steps(self) -> None:
        directory = os.path.join(self.ws.layout.lineage, "steps")
        try:
            local = sorted(n for n in os.listdir(directory) if n.endswith(".json"))
        except FileNotFoundError:
            return
        if not local:
            return
        remote = self.remote.files.list(layout.STEPS)
        for file_name in local:
            if file_name in remote or layout.step_name(file_name) is None:
                continue
            data = _read(os.path.join(directory, file_name))
            if self.remote.files.create(layout.step_key(file_name), data):
                self.report.steps += 1

    # ---- tags -------------------------------------------------------------------------

    def _send_tags(self, remote_snapshots: set[str]) -> None:
        local_tags = self.catalog.tags()
        if not local_tags:
            return
        listed = self.remote.files.list(layout.TAGS)
        wrote = False
        for tag, snapshot_id in local_tags.items():
            if snapshot_id not in remote_snapshots:
                continue
            data = tag_bytes(snapshot_id)
            token = listed.get(tag)
            if token is None:
                if self.remote.files.create(layout.tag_key(tag), data):
                    self.report.tags.append(tag)
                    wrote = True
                else:
                    self._conflict(tag, snapshot_id)
                continue
            cached = self.cache.tags.get(tag)
            # the remote held this tag's local value when this machine last saw it: the
            # remote moved it since, nobody moved it here; pull takes the move
            behind = cached is not None and cached[0] == snapshot_id
            if cached is not None and cached[1] == token:
                current, raw = cached[0], tag_bytes(cached[0])
            else:
                found = read_tag(self.remote, tag)
                if found is None:
                    continue
                current, raw = found
                if not behind or current == snapshot_id:
                    self.cache.tags[tag] = (current, token)
            if current == snapshot_id:
                continue
            if behind and not self.force:
                self.report.behind.append(tag)
                continue
            if not self.force:
                self.report.conflicts.append(TagConflict(tag, snapshot_id, current))
                continue
            try:
                self.remote.files.replace(layout.tag_key(tag), data, raw)
            except RemoteChangedError:
                self._conflict(tag, snapshot_id)
                continue
            self.report.tags.append(tag)
            wrote = True
        if wrote:
            listed = self.remote.files.list(layout.TAGS)
            for tag in self.report.tags:
                if tag in listed:
                    self.cache.tags[tag] = (local_tags[tag], listed[tag])

    def _conflict(self, tag: str, snapshot_id: str) -> None:
        found = read_tag(self.remote, tag)
        if found is not None and found[0] != snapshot_id:
            self.report.conflicts.append(TagConflict(tag, snapshot_id, found[0]))


MERGE_ATTEMPTS = 10


def merge_resources(
    remote: RemoteBackend, local: list[ResourceSpec]
) -> tuple[list[str], dict[str, str]]:
    """Merge ``local`` into the remote's resources.json with a compare-and-swap, so pushers
    never remove each other's resources: the remote's entries stay, names only the pusher
    has are added, and a name both have takes the pusher's definition unless the two are
    different resources (``difference``): then the remote's stays. Returns the names added
    and the conflicting ones (name -> how they differ). Retried while others change it."""
    for _ in range(MERGE_ATTEMPTS):
        raw = remote.files.read(layout.RESOURCES_JSON)
        theirs = [] if raw is None else decode_resources(read_resources(remote, raw))
        mine = {spec.name: spec for spec in local}
        conflicting: dict[str, str] = {}
        merged = []
        for spec in theirs:
            ours = mine.pop(spec.name, None)
            why = None if ours is None else difference(ours, spec)
            if why is not None:
                conflicting[spec.name] = why
            merged.append(spec if ours is None or why is not None else ours)
        merged.extend(mine.values())
        data = encode_resources(merged) + b"\n"
        if data == raw:
            return [], conflicting
        try:
            remote.files.replace(layout.RESOURCES_JSON, data, raw)
        except RemoteChangedError:
            continue
        return list(mine), conflicting
    raise RefusedError(
        "the remote's resources.json kept changing while this push merged it; push again"
    )


def _record_bytes(record: SnapshotRecord) -> bytes:
    return encode_record(record) + b"\n"


def _read(path: str) -> bytes:
    with open(path, "rb") as handle:
        return handle.read()
