"""Remote gc and fsck: what the remote's own snapshots reach, checked or kept; removing
locks left by processes that are gone."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from dws.core.remote import layout
from dws.core.remote.config import get_remote
from dws.core.remote.locks import GC, RemoteLock, read_locks
from dws.core.remote.open import open_remote, remote_objects
from dws.core.remote.records import read_identity, read_resources, read_tag, snapshot_records
from dws.core.remote.walk import FetchingStore, snapshot_refs
from dws.core.workspace import Workspace
from dws.errors import DwsError, FormatError, NotFoundError
from dws.model.records import SnapshotRecord
from dws.model.runs import decode_run_record
from dws.store import transfer
from dws.store.base import CorruptObjectError, ObjectMissingError
from dws.store.memory import MemoryObjectStore
from dws.store.remote_backend import RemoteBackend


@dataclass
class RemoteGcReport:
    """What remote gc removed (or would remove)."""

    remote: str
    kept: int
    removed: int
    removed_bytes: int
    aborted_uploads: int = 0
    ignored_locks: list[str] = field(default_factory=list)


@dataclass
class RemoteFsckReport:
    """What remote fsck checked and found."""

    remote: str
    snapshots: int = 0
    objects: int = 0
    problems: list[str] = field(default_factory=list)


def _reader(remote: RemoteBackend) -> FetchingStore:
    """Trees straight from the remote, verified, kept in memory (never written locally)."""
    return FetchingStore(MemoryObjectStore(), remote.objects)


def gc_remote(ws: Workspace, name: str | None, *, dry_run: bool = False) -> RemoteGcReport:
    """Delete the remote's objects that none of its snapshots reaches, and abort the
    uploads killed pushes left unfinished. Holds the remote's gc lock throughout (a dry run
    too), so it refuses while anyone pushes or collects garbage there. Any invalid record
    stops it before anything is deleted."""
    config = get_remote(ws, name)
    remote = open_remote(config, local_dir=ws.layout.local)
    try:
        with RemoteLock(remote, GC, config.name) as lock:
            ignored = lock.acquire()
            with remote.locked():
                reachable: set[str] = set()
                reader = _reader(remote)
                for snapshot_id, record in snapshot_records(remote):
                    if isinstance(record, FormatError):
                        raise FormatError(
                            f"remote snapshot {snapshot_id[:12]}: {record.message}; nothing "
                            "was deleted (run `dws fsck --remote`)"
                        )
                    with remote_objects(config):
                        reachable.update(ref.oid for ref in snapshot_refs(ws, record, reader))
                lock.check()  # still ours: no push can have started meanwhile
                pruned = remote.objects.prune(reachable.__contains__, dry_run=dry_run)
                aborted = remote.abort_unfinished_uploads(dry_run=dry_run)
                if not dry_run:
                    remote.objects.clean_temporary()
        return RemoteGcReport(
            config.name,
            len(reachable),
            pruned.removed,
            pruned.removed_bytes,
            aborted_uploads=aborted,
            ignored_locks=ignored,
        )
    finally:
        remote.close()


@dataclass
class UnlockReport:
    """What ``unlock_remote`` removed, and the live locks it left."""

    remote: str
    removed: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)


def unlock_remote(ws: Workspace, name: str | None, locks: list[str]) -> UnlockReport:
    """Remove the remote's stale locks and those of processes of this machine that are
    gone; and the locks named in ``locks`` whatever their state (the caller vouches that
    their holders are gone). A named lock that does not exist is an error, and then
    nothing is removed."""
    config = get_remote(ws, name)
    report = UnlockReport(config.name)
    remote = open_remote(config, local_dir=ws.layout.local)
    try:
        seen = read_locks(remote)
        unknown = sorted(set(locks) - {lock.name for lock in seen})
        if unknown:
            present = ", ".join(lock.name for lock in seen) or "none"
            raise NotFoundError(
                f"the remote {config.name} has no lock {unknown[0]!r} (its locks: {present})"
            )
        now = time.time()
        for lock in seen:
            key = layout.lock_key(lock.name)
            if lock.name in locks:
                remote.files.delete(key)
            elif lock.state not in ("stale", "gone") or not remote.files.delete_if(key, lock.raw):
                report.kept.append(f"{lock.state} {lock.describe(now)}")
                continue  # live, or refreshed since it was read: its holder is alive
            report.removed.append(f"{lock.state} {lock.describe(now)}")
        return report
    finally:
        remote.close()


def fsck_remote(
    ws: Workspace, name: str | None, *, verify_content: bool = True
) -> RemoteFsckReport:
    """Check the remote's records, tags and lineage, and that every object its snapshots
    need is there (and, with ``verify_content``, hashes to its id)."""
    config = get_remote(ws, name)
    report = RemoteFsckReport(config.name)
    remote = open_remote(config, local_dir=ws.layout.local)
    try:
        _check_files(remote, report)
        needed: set[str] = set()
        reader = _reader(remote)
        snapshot_ids = set()
        for snapshot_id, record in snapshot_records(remote):
            report.snapshots += 1
            snapshot_ids.add(snapshot_id)
            if isinstance(record, FormatError):
                report.problems.append(f"snapshot {snapshot_id[:12]}: {record.message}")
                continue
            try:
                needed.update(ref.oid for ref in snapshot_refs(ws, record, reader))
            except (ObjectMissingError, CorruptObjectError) as exc:
                report.problems.append(f"snapshot {snapshot_id[:12]}: {exc.problem}")
            except DwsError as exc:
                report.problems.append(f"snapshot {snapshot_id[:12]}: {exc.message}")
            _check_runs(remote, record, report)
        _check_tags(remote, snapshot_ids, report)
        report.problems.extend(remote.objects.check_structure())
        report.objects = len(needed)
        _check_objects(remote, sorted(needed), verify_content, ws, report)
        return report
    finally:
        remote.close()


def _check_files(remote: RemoteBackend, report: RemoteFsckReport) -> None:
    try:
        if read_identity(remote) is None:
            report.problems.append("workspace.json is missing")
        read_resources(remote)
    except DwsError as exc:
        report.problems.append(exc.message)


def _check_runs(remote: RemoteBackend, record: SnapshotRecord, report: RemoteFsckReport) -> None:
    for run_id in record.runs:
        data = remote.files.read(layout.run_key(run_id))
        if data is None:
            continue
        try:
            decode_run_record(data, run_id)
        except FormatError as exc:
            report.problems.append(f"run {run_id[:12]}: {exc.message}")


def _check_tags(remote: RemoteBackend, snapshot_ids: set[str], report: RemoteFsckReport) -> None:
    for tag in sorted(remote.files.list(layout.TAGS)):
        try:
            found = read_tag(remote, tag)
        except DwsError as exc:
            report.problems.append(exc.message)
            continue
        if found is not None and found[0] not in snapshot_ids:
            report.problems.append(f"tag {tag!r} names missing snapshot {found[0][:12]}")


def _check_objects(
    remote: RemoteBackend, oids: list[str], verify: bool, ws: Workspace, report: RemoteFsckReport
) -> None:
    total = len(oids)
    report.problems.extend(
        transfer.check(remote, oids, verify, lambda done: ws.progress("checking", done, total))
    )
