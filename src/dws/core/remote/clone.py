"""Clone: a new, working workspace from a remote, built next to its destination and renamed
into place at the end, so a failed clone leaves nothing behind. When the workspace's own
directory is a git resource, its repository is cloned first and the workspace is made
inside it."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from dws.core.catalog import SnapshotCatalog
from dws.core.definitions import as_recorded
from dws.core.layout import Layout
from dws.core.lines import cloned_lines
from dws.core.remote import layout
from dws.core.remote.config import RemoteConfig, check_endpoint, normalize_url, point_remote
from dws.core.remote.open import open_remote
from dws.core.remote.pull import PullReport, pull_from
from dws.core.remote.records import read_identity, read_resources, remote_snapshot
from dws.core.restore import restore_snapshot
from dws.core.trust import trust_new_resources
from dws.core.workspace import DEFAULT_CONFIG, GITIGNORE, Workspace
from dws.errors import FormatError, IntegrityError, NotFoundError, RefusedError, UsageError
from dws.model.lines import OtherLine
from dws.model.paths import META_DIR_NAME
from dws.model.records import (
    Head,
    ResourceSpec,
    SnapshotRecord,
    decode_resources,
    decode_workspace_info,
)
from dws.model.roles import Role
from dws.model.suggest import did_you_mean
from dws.resources.registry import resource_type
from dws.store.fileio import process_running, write_atomic
from dws.store.remote_backend import RemoteBackend

AskPath = Callable[[str, str], str | None]
OWN_REPOSITORY = "."  # the key of ``repos`` naming the workspace's own repository


@dataclass
class CloneReport:
    """What a clone did."""

    root: str
    snapshot: str | None
    pull: PullReport
    cloned: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    notes: dict[str, list[str]] = field(default_factory=dict)
    other_lines: list[OtherLine] = field(default_factory=list)  # see core.lines
    leftovers: list[str] = field(default_factory=list)  # killed clones' staging, removed


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


def _sourced(spec: ResourceSpec) -> bool:
    """True for a resource whose content a clone fetches from its own source (a
    repository), not from the remote's store."""
    return resource_type(spec.type).fetched_from_source


def _is_own(spec: ResourceSpec) -> bool:
    """True for a fetched-from-source resource whose directory is the workspace's own."""
    path = spec.params.get("path")
    return (
        _sourced(spec)
        and isinstance(path, str)
        and not os.path.isabs(path)
        and os.path.normpath(path) == "."
    )


def _check_repos(
    specs: list[ResourceSpec], repos: dict[str, str], relative_to: str | None = None
) -> dict[str, str]:
    """Resource name -> URL for each repository ``repos`` gives (``"."``: the workspace's
    own); a name that is no repository resource of the remote is a UsageError."""
    kinds = {s.name: resource_type(s.type) for s in specs if _sourced(s)}
    own = next((s.name for s in specs if _is_own(s)), None)
    out: dict[str, str] = {}
    for key, url in repos.items():
        name = own if key == OWN_REPOSITORY else key
        if name is None:
            listed = ", ".join(kinds) or "none"
            raise UsageError(
                "--repo URL is for the workspace's own repository, and the remote's workspace "
                f"has no repository resource at its top directory (its repositories: {listed})"
            )
        if name not in kinds:
            hint = did_you_mean(key, list(kinds))
            raise UsageError(f"--repo names no repository resource of the remote: {key!r}{hint}")
        if name in out:
            raise UsageError(f"--repo gives the repository of {name!r} twice")
        if not url or "\x00" in url:
            raise UsageError(f"--repo needs a URL for {name!r}")
        local = kinds[name].is_local_location(url)
        where = os.path.join(relative_to or os.getcwd(), os.path.expanduser(url))
        out[name] = os.path.abspath(where) if local else url
    return out


def _own_repository(
    remote: RemoteBackend, specs: list[ResourceSpec], urls: dict[str, str], ref: str | None
) -> tuple[str | None, str | None, str | None]:
    """(name, URL to clone it from) of the workspace's own repository (None when it is no
    resource or no URL is known), and the snapshot to pull: its id when the URL had to be
    read from the snapshot's record, so the repository and the data agree."""
    own = next((s for s in specs if _is_own(s)), None)
    if own is None:
        return None, None, ref
    kind = resource_type(own.type)
    given = urls.get(own.name) or kind.source_url(own.params, None)
    if given:
        return own.name, given, ref
    record = remote_snapshot(remote, ref)
    if record is None:
        return own.name, None, ref
    recorded = record.resources.get(own.name)
    url = kind.source_url(own.params, recorded.state if recorded is not None else None)
    return own.name, url, record.id


def _write_missing(path: str, data: bytes) -> None:
    if not os.path.lexists(path):
        write_atomic(path, data, durable=True)


def _take_identity(layout: Layout, info_bytes: bytes, shown: str) -> None:
    """Give the workspace in a cloned repository (``shown``: its URL as messages show it)
    the remote's workspace.json; refuse one whose committed workspace.json names another
    workspace."""
    try:
        with open(layout.workspace_json, "rb") as handle:
            committed: bytes | None = handle.read()
    except FileNotFoundError:
        committed = None
    if committed == info_bytes:
        return
    if committed is not None:
        wanted = decode_workspace_info(info_bytes)
        try:
            info = decode_workspace_info(committed)
        except FormatError as exc:
            raise FormatError(f"the repository {shown}: {exc.message}") from None
        if info.id != wanted.id:
            raise UsageError(
                f"the repository {shown} holds workspace {info.name!r} "
                f"({info.id}), not the remote's {wanted.name!r} ({wanted.id}); give the "
                "workspace's own repository with --repo URL"
            )
    write_atomic(layout.workspace_json, info_bytes, durable=True)


def _make_workspace(
    staging: str, info_bytes: bytes, own: ResourceSpec | None, url: str | None
) -> Workspace:
    """The workspace in the empty ``staging``, or, given the URL of its own repository, in
    a clone of it (which may already hold .dataworkspace/ files committed there)."""
    layout = Layout(staging)
    kind = resource_type(own.type) if own is not None else None
    if kind is not None and url is not None:
        kind.fetch_source(url, staging)
    if not os.path.lexists(layout.meta):
        Workspace.init(staging)  # then it takes the remote's identity
        write_atomic(layout.workspace_json, info_bytes, durable=True)
        return Workspace.open(staging)
    if kind is None or url is None or not os.path.isdir(layout.meta):
        raise UsageError(f"{layout.meta} is in the way of the clone")
    _take_identity(layout, info_bytes, kind.shown_source(url))
    config = json.dumps(DEFAULT_CONFIG, indent=2, sort_keys=True) + "\n"
    _write_missing(layout.config_json, config.encode())
    _write_missing(os.path.join(layout.meta, ".gitignore"), GITIGNORE.encode())
    return Workspace.open(staging)  # makes objects/ and local/, which git does not hold


def _clear_checked_out_data(root: str, specs: list[ResourceSpec]) -> None:
    """Data never comes through git: remove what the checkout of the workspace's own
    repository wrote where its other resources live (in a fresh clone nothing else is
    there); restore writes their snapshot's content."""
    real_root = os.path.realpath(root)
    for spec in specs:
        path = spec.params.get("path")
        if _is_own(spec) or not isinstance(path, str) or os.path.isabs(path) or "\x00" in path:
            continue
        if os.path.normpath(path).split(os.sep)[0] in (META_DIR_NAME, os.pardir):
            continue
        target = os.path.normpath(os.path.join(real_root, path))
        parent = os.path.realpath(os.path.dirname(target))
        if target == real_root or not (parent + os.sep).startswith(real_root + os.sep):
            continue
        if os.path.islink(target) or os.path.isfile(target):
            os.unlink(target)
        elif os.path.isdir(target):
            shutil.rmtree(target)


# .<dest>.dws-clone-<pid>-<host>-<random>: the clone process and its machine, so a later
# clone can tell the staging directory of a killed clone from that of one still running
_STAGING = re.compile(r"\..+\.dws-clone-(?P<pid>\d+)-(?P<host>[A-Za-z0-9-]*)-[0-9a-f]{8}")


def _host() -> str:
    """This machine's name as staging directories carry it."""
    return re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname())[:32]


def _staging_directory(dest: str) -> tuple[str, list[str]]:
    """A new, empty, hidden directory next to ``dest``; and the staging directories found
    there of clones killed on this machine (their process is gone), which are removed. A
    directory whose process runs (a concurrent clone), or that another machine made, stays."""
    parent = os.path.dirname(dest)
    os.makedirs(parent, exist_ok=True)
    removed = []
    for name in sorted(os.listdir(parent)):
        found = _STAGING.fullmatch(name)
        path = os.path.join(parent, name)
        if found is None or found["host"] != _host() or os.path.islink(path):
            continue
        pid = int(found["pid"])
        if pid == os.getpid() or process_running(pid) or not os.path.isdir(path):
            continue
        shutil.rmtree(path, ignore_errors=True)
        if not os.path.lexists(path):
            removed.append(path)
    mine = f"{os.getpid()}-{_host()}-{uuid.uuid4().hex[:8]}"
    staging = os.path.join(parent, f".{os.path.basename(dest)}.dws-clone-{mine}")
    os.makedirs(staging)
    return staging, removed


def clone(
    url: str,
    directory: str,
    *,
    snapshot: str | None = None,
    maps: dict[str, str] | None = None,
    endpoint_url: str | None = None,
    ask: AskPath | None = None,
    configure: Callable[[Workspace], None] | None = None,
    repos: dict[str, str] | None = None,
    relative_to: str | None = None,
    pull_images: list[str] | None = None,
) -> tuple[Workspace, CloneReport]:
    """Make ``directory`` a copy of the workspace at ``url``, restored to ``snapshot`` (or
    the remote's latest snapshot); ``repos`` gives the URLs to clone git resources from
    (key: resource name, or ``"."`` for the workspace's own repository) instead of the
    recorded ones; ``configure`` sees the workspace before anything is pulled (to attach
    progress reporting); ``pull_images`` names the container resources whose recorded
    image is pulled by digest (by default a clone leaves them alone)."""
    dest = os.path.abspath(directory)
    if os.path.lexists(dest) and not (os.path.isdir(dest) and not os.listdir(dest)):
        raise UsageError(f"{directory} already exists and is not an empty directory")
    normalized = normalize_url(url, os.getcwd())
    config = RemoteConfig("origin", normalized, check_endpoint(endpoint_url, normalized))
    remote = open_remote(config)
    try:
        info_bytes = remote.files.read(layout.WORKSPACE_JSON)
        if read_identity(remote) is None or info_bytes is None:
            raise NotFoundError(f"{normalized} holds no workspace (nothing was pushed there)")
        specs = _map_paths(decode_resources(read_resources(remote)), maps or {}, ask)
        urls = _check_repos(specs, repos or {}, relative_to)
        own, own_url, ref = _own_repository(remote, specs, urls, snapshot)
        staging, leftovers = _staging_directory(dest)
        try:
            own_spec = next((s for s in specs if s.name == own), None)
            ws = _make_workspace(staging, info_bytes, own_spec, own_url)
            ws.save_resource_specs(specs)  # the remote's list, whatever git brought
            if own_url is not None:
                _clear_checked_out_data(staging, specs)
            trust_new_resources(ws, ws.resources())  # the paths given with --map
            point_remote(ws, "origin", normalized, config.endpoint_url)
            if configure is not None:
                configure(ws)
            report = _fill(ws, config, remote, ref, urls, pull_images or [])
            report.leftovers = leftovers
            if own is not None and own_url is not None:
                report.cloned.insert(0, own)
            ws.release()
            os.rename(staging, dest)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    finally:
        remote.close()
    report.root = dest
    return Workspace.open(dest), report


def _fill(
    ws: Workspace,
    config: RemoteConfig,
    remote: RemoteBackend,
    ref: str | None,
    urls: dict[str, str],
    pull_images: list[str],
) -> CloneReport:
    with ws.locked("clone"):
        pulled = pull_from(
            ws, config, remote, everything=False, ref=ref, force=True, tag_data=False
        )
    report = CloneReport(ws.root, pulled.fetched[0] if pulled.fetched else None, pulled)
    if report.snapshot is None:
        return report
    record = SnapshotCatalog(ws.layout).get(report.snapshot)
    specs = ws.resource_specs()
    recorded = as_recorded(specs, record)  # the remote's list may name another resource so
    if recorded != specs:
        ws.save_resource_specs(recorded)
    resources = ws.resources()
    shared = {r.name: note for r in resources if (note := r.shared_note()) is not None}
    images = [r.name for r in resources if type(r).pulled_on_request and r.name in record.resources]
    for name in pull_images:
        if name not in images:
            hint = did_you_mean(name, images)
            raise UsageError(
                f"--pull-image names no container resource of the snapshot: {name!r}{hint}"
            )
    for name, note in shared.items():  # shared storage: never changed by a clone unless asked
        if name not in pull_images:
            report.skipped[name] = note
    _clone_repositories(ws, record, report, urls)
    outcome = restore_snapshot(ws, record.id, exclude=list(report.skipped) or None)
    report.notes = {plan.resource: list(plan.notes) for plan in outcome.plans if plan.notes}
    _restore_results(ws, record, report)
    report.other_lines = cloned_lines(ws, record.id)
    return report


def _clone_repositories(
    ws: Workspace, record: SnapshotRecord, report: CloneReport, urls: dict[str, str]
) -> None:
    """Fetch the repository resources not yet on disk (the workspace's own was first)."""
    for spec in ws.resource_specs():
        if not _sourced(spec) or spec.name not in record.resources:
            continue
        resource = ws.resource(spec)
        path = resource.local_path()
        assert path is not None
        if resource.is_fetched():
            continue
        kind = type(resource)
        url = urls.get(spec.name) or kind.source_url(spec.params, record.resources[spec.name].state)
        if not url:
            own = os.path.realpath(path) == os.path.realpath(ws.root)
            option = "--repo URL" if own else f"--repo {spec.name}=URL"
            report.skipped[spec.name] = f"no repository URL recorded; give one with {option}"
            continue
        kind.fetch_source(url, path)
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
