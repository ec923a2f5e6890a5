"""Clone: a new, working workspace from a remote, built next to its destination and renamed
into place at the end, so a failed clone leaves nothing behind."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from dws.core.catalog import SnapshotCatalog
from dws.core.remote_config import RemoteConfig, add_remote, check_endpoint, normalize_url
from dws.core.remote_open import open_remote, remote_identity, remote_resources_bytes
from dws.core.remote_pull import PullReport, pull_from
from dws.core.restore import restore_snapshot
from dws.core.trust import trust_new_resources
from dws.core.workspace import Workspace
from dws.errors import IntegrityError, NotFoundError, RefusedError, UsageError
from dws.model.records import Head, ResourceSpec, SnapshotRecord, decode_resources
from dws.model.roles import Role
from dws.model.suggest import did_you_mean
from dws.store.fileio import write_atomic
from dws.store.remote_base import Remote

AskPath = Callable[[str, str], str | None]


@dataclass
class CloneReport:
    """What a clone did."""

    root: str
    snapshot: str | None
    pull: PullReport
    cloned: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)


def external_resources(specs: list[ResourceSpec]) -> dict[str, str]:
    """name -> recorded absolute path of resources that live outside the workspace."""
    out = {}
    for spec in specs:
        path = spec.params.get("path")
        if isinstance(path, str) and os.path.isabs(path):
            out[spec.name] = path
    return out


def _map_paths(
    specs: list[ResourceSpec], maps: dict[str, str], ask: AskPath | None
) -> list[ResourceSpec]:
    external = external_resources(specs)
    unknown = sorted(set(maps) - {s.name for s in specs})
    if unknown:
        hint = did_you_mean(unknown[0], [s.name for s in specs]) if len(unknown) == 1 else ""
        raise UsageError(f"--map names no resource of the remote: {', '.join(unknown)}{hint}")
    chosen = dict(maps)
    for name, recorded in external.items():
        if name not in chosen and ask is not None:
            answer = ask(name, recorded)
            if answer:
                chosen[name] = answer
    missing = [name for name in external if name not in chosen]
    if missing:
        listing = ", ".join(f"{n} (was {external[n]})" for n in missing)
        raise UsageError(
            f"resources outside the workspace need a local path: {listing}; "
            f"give --map NAME=PATH for each"
        )
    out = []
    for spec in specs:
        if spec.name in chosen:
            path = os.path.abspath(os.path.expanduser(chosen[spec.name]))
            spec = ResourceSpec(spec.name, spec.type, spec.role, {**spec.params, "path": path})
        out.append(spec)
    return out


def clone(
    url: str,
    directory: str,
    *,
    snapshot: str | None = None,
    maps: dict[str, str] | None = None,
    endpoint_url: str | None = None,
    ask: AskPath | None = None,
    configure: Callable[[Workspace], None] | None = None,
) -> tuple[Workspace, CloneReport]:
    """Make ``directory`` a copy of the workspace at ``url``, restored to ``snapshot`` (or
    the remote's latest snapshot); ``configure`` sees the workspace before anything is
    pulled (to attach progress reporting)."""
    dest = os.path.abspath(directory)
    if os.path.lexists(dest) and not (os.path.isdir(dest) and not os.listdir(dest)):
        raise UsageError(f"{directory} already exists and is not an empty directory")
    normalized = normalize_url(url, os.getcwd())
    config = RemoteConfig("origin", normalized, check_endpoint(endpoint_url, normalized))
    remote = open_remote(config)
    try:
        info_bytes = remote.files.read("workspace.json")
        if remote_identity(remote) is None or info_bytes is None:
            raise NotFoundError(f"{normalized} holds no workspace (nothing was pushed there)")
        specs = _map_paths(decode_resources(remote_resources_bytes(remote)), maps or {}, ask)
        parent = os.path.dirname(dest)
        os.makedirs(parent, exist_ok=True)
        staging = os.path.join(
            parent, f".{os.path.basename(dest)}.dws-clone-{uuid.uuid4().hex[:8]}"
        )
        os.makedirs(staging)
        try:
            fresh = Workspace.init(staging)  # then it takes the remote's identity
            write_atomic(fresh.layout.workspace_json, info_bytes, durable=True)
            ws = Workspace.open(staging)
            ws.save_resource_specs(specs)
            trust_new_resources(ws, ws.resources())  # the paths given with --map
            add_remote(ws, "origin", normalized, config.endpoint_url)
            if configure is not None:
                configure(ws)
            report = _fill(ws, config, remote, snapshot)
            ws.release()
            os.rename(staging, dest)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    finally:
        remote.close()
    report.root = dest
    return Workspace.open(dest), report


def _fill(ws: Workspace, config: RemoteConfig, remote: Remote, ref: str | None) -> CloneReport:
    with ws.locked("clone"):
        pulled = pull_from(ws, config, remote, everything=False, ref=ref, force=True)
    report = CloneReport(ws.root, pulled.fetched[0] if pulled.fetched else None, pulled)
    if report.snapshot is None:
        return report
    record = SnapshotCatalog(ws.layout).get(report.snapshot)
    for resource in ws.resources():
        if resource.local_path() is None:  # shared storage (a bucket): never changed by a clone
            report.skipped[resource.name] = (
                "it is not on this machine; `dws restore --only` it if you mean to change it"
            )
    _clone_repositories(ws, record, report)
    restore_snapshot(ws, record.id, exclude=list(report.skipped) or None)
    _restore_results(ws, record, report)
    return report


def _clone_repositories(ws: Workspace, record: SnapshotRecord, report: CloneReport) -> None:
    from dws.resources.git.setup import clone as git_clone

    for spec in ws.resource_specs():
        if spec.type != "git" or spec.name not in record.resources:
            continue
        state_url = record.resources[spec.name].state.get("url")
        url = spec.params.get("url") or state_url
        path = ws.resource(spec).local_path()
        assert path is not None
        if os.path.isdir(os.path.join(path, ".git")):
            continue
        if not isinstance(url, str) or not url:
            report.skipped[spec.name] = "no repository URL recorded; clone it yourself"
            continue
        if os.path.realpath(path) == os.path.realpath(ws.root):
            report.skipped[spec.name] = f"the workspace's own repository; clone {url} yourself"
            continue
        git_clone(url, path)
        report.cloned.append(spec.name)


def _restore_results(ws: Workspace, record: SnapshotRecord, report: CloneReport) -> None:
    """Restore never reverts results; a fresh clone still needs them once."""
    head = ws.head()
    for resource in ws.resources():
        recorded = record.resources.get(resource.name)
        if recorded is None or resource.role is not Role.RESULTS or resource.name in report.skipped:
            continue
        if recorded.type != resource.spec.type:
            continue
        plan = resource.plan_restore(recorded.state, [])
        if plan.verify_failures or plan.missing_objects:
            raise IntegrityError(
                f"results resource {resource.name!r} cannot be brought back "
                f"({len(plan.verify_failures) + len(plan.missing_objects)} file(s) differ or "
                "are missing)"
            )
        if plan.conflicts or plan.blocked:
            raise RefusedError(
                f"{resource.local_path()} already holds files; clone refuses to overwrite them"
            )
        resource.apply_restore(plan)
        head.bases[resource.name] = record.id
    head.snapshot = record.id
    ws.save_head(Head(head.snapshot, head.bases))
