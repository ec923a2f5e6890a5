"""Taking a snapshot: record every resource's state at once."""

from __future__ import annotations

import getpass
import json
import shutil
import socket
from dataclasses import dataclass, field

from dws.core.catalog import SnapshotCatalog
from dws.core.lineage.catalog import RunCatalog
from dws.core.lineage.queries import lineage_context, recorded_lineage, stale_outputs
from dws.core.workspace import Workspace, utc_now
from dws.errors import DwsError, RefusedError
from dws.model.ids import check_tag_name
from dws.model.metrics import flatten_metrics
from dws.model.records import DEFAULT_METRICS_FILES, Head, ResourceSnapshot, SnapshotRecord
from dws.model.roles import Role
from dws.resources.base import Resource, State

MAX_MESSAGE = 10_000
MAX_IDENTITY = 200  # characters kept of git's user.name and of its user.email
SHOWN_STALE = 3  # stale paths named in a warning or refusal before "and N more"


@dataclass
class SnapshotOutcome:
    """What `snapshot` did: ``created`` is False when the state equalled HEAD's."""

    record: SnapshotRecord
    created: bool
    tag: str | None
    tag_moved: bool = False
    warnings: list[str] = field(default_factory=list)


def take_snapshot(
    ws: Workspace,
    tag: str | None = None,
    message: str = "",
    *,
    force: bool = False,
    strict: bool = False,
) -> SnapshotOutcome:
    """Record the state of every resource; the record is written only after all the
    objects it references are durable. Outputs of stale runs in the recorded state are
    listed in the record and warned about; with ``strict`` they refuse the snapshot."""
    if tag is not None:
        check_tag_name(tag)
    with ws.locked("snapshot"):
        catalog = SnapshotCatalog(ws.layout)
        head = ws.head()
        resources = ws.resources()
        # a tag naming HEAD may stay only if nothing changed, which a status pass tells
        # before anything is stored (a free tag needs no such pass)
        if (
            tag is not None
            and not force
            and _tag_needs_same_state(catalog, tag, head)
            and _changed_since(catalog, head.snapshot or "", resources)
        ):
            catalog.check_tag_free(tag)
        if strict:
            _refuse_stale(_stale_now(ws))  # before anything is stored
        bases = {r.name: _base(catalog, head, r) for r in resources}
        states = {r.name: _snapshot_one(r, bases[r.name]) for r in resources}
        warnings = [f"{r.name}: {w}" for r in resources for w in r.warnings]
        parent = head.snapshot if head.snapshot and catalog.exists(head.snapshot) else None
        if parent is not None:
            previous = catalog.get(parent)
            # unchanged as `dws status` sees it: HEAD records these states and every
            # resource still matches its own base (see "Per-resource bases")
            if previous.same_state(states) and _at_bases(states, bases):
                warnings.extend(_stale_warning(previous.stale))
                ws.save_head(Head(previous.id, {name: previous.id for name in states}))
                moved = catalog.set_tag(tag, previous.id, force=force) if tag else False
                for resource in resources:
                    resource.committed()
                return SnapshotOutcome(previous, False, tag, moved, warnings)
        if tag is not None and not force:
            catalog.check_tag_free(tag)
        lineage = recorded_lineage(ws, resources, states)
        if strict:
            _refuse_stale(lineage.stale)  # the files changed since the first check
        warnings.extend(_stale_warning(lineage.stale))
        definitions = {r.name: dict(r.spec.params) for r in resources}
        record = SnapshotRecord(
            format=SnapshotRecord.format_for(lineage.stale, definitions),
            created=utc_now(),
            hostname=socket.gethostname(),
            user=_user(ws.root),
            message=message[:MAX_MESSAGE],
            parent=parent,
            resources=states,
            runs=lineage.runs,
            metrics=_metrics(ws, resources, states),
            stale=lineage.stale,
            definitions=definitions,
        ).with_id()
        ws.store.flush()  # one sync: everything the record references is durable first
        catalog.put(record)  # the commit point
        # head before tag: a rerun after a crash between the two finds HEAD at this record
        ws.save_head(Head(record.id, {name: record.id for name in states}))
        moved = catalog.set_tag(tag, record.id, force=force) if tag else False
        for resource in resources:
            resource.committed()
        return SnapshotOutcome(record, True, tag, moved, warnings)


def _stale_now(ws: Workspace) -> list[str]:
    """Outputs stale in the files as they are now (nothing read without run records)."""
    if not RunCatalog(ws.layout).ids():
        return []
    return sorted({item.key for item in stale_outputs(lineage_context(ws))})


def _some(paths: list[str]) -> str:
    shown = ", ".join(paths[:SHOWN_STALE])
    more = len(paths) - SHOWN_STALE
    return shown + (f" and {more} more" if more > 0 else "")


def _stale_warning(stale: list[str]) -> list[str]:
    if not stale:
        return []
    return [
        f"{len(stale)} stale output(s) recorded ({_some(stale)}): an input or the code changed "
        "since they were made; `dws rerun PATH` brings one up to date, `dws status` lists them"
    ]


def _refuse_stale(stale: list[str]) -> None:
    if stale:
        raise RefusedError(
            f"not recording a snapshot with {len(stale)} stale output(s) ({_some(stale)}); "
            "bring them up to date with `dws rerun PATH` first (`dws status` lists them)"
        )


def _tag_needs_same_state(catalog: SnapshotCatalog, tag: str, head: Head) -> bool:
    """Refuse (exit 3) a tag naming another snapshot than HEAD; True when it names HEAD."""
    catalog.check_tag_free(tag, allowed=head.snapshot)
    return head.snapshot is not None and tag in catalog.tags()


def _changed_since(catalog: SnapshotCatalog, snapshot_id: str, resources: list[Resource]) -> bool:
    """True when any resource differs from snapshot ``snapshot_id`` (a cheap status pass)."""
    if not catalog.exists(snapshot_id):
        return True
    recorded = catalog.get(snapshot_id).resources
    if set(recorded) != {r.name for r in resources}:
        return True
    for resource in resources:
        before = recorded[resource.name]
        if before.type != resource.spec.type or resource.status(before.state):
            return True
    return False


def _base(catalog: SnapshotCatalog, head: Head, resource: Resource) -> State | None:
    """The state recorded for ``resource`` in its base snapshot (None: no usable base)."""
    base_id = head.bases.get(resource.name)
    if not base_id or not catalog.exists(base_id):
        return None
    previous = catalog.get(base_id).resources.get(resource.name)
    return previous.state if previous and previous.type == resource.spec.type else None


def _at_bases(states: dict[str, ResourceSnapshot], bases: dict[str, State | None]) -> bool:
    """True when every resource's new state is the one recorded in its base snapshot."""
    return all(bases[name] is not None and s.state == bases[name] for name, s in states.items())


def _snapshot_one(resource: Resource, base: State | None) -> ResourceSnapshot:
    state = resource.snapshot(base)
    return ResourceSnapshot(resource.spec.type, resource.role, state)


def _metrics(
    ws: Workspace, resources: list[Resource], states: dict[str, ResourceSnapshot]
) -> dict[str, dict[str, float]]:
    names = ws.config().get("results", {}).get("metrics", DEFAULT_METRICS_FILES)
    out: dict[str, dict[str, float]] = {}
    for resource in resources:
        if resource.role is not Role.RESULTS:
            continue
        for path, data in resource.read_files(states[resource.name].state, list(names)):
            try:
                values = flatten_metrics(json.loads(data))
            except ValueError:
                continue  # not JSON: not a metrics file, and not our business to reject
            if values:
                out[f"{resource.name}/{path}"] = values
    return out


def _user(root: str) -> str:
    """Who takes the snapshot: the git identity in effect in the workspace's directory (a
    repository's own config first, then the global one), else the login name."""
    identity = _git_identity(root)
    if identity:
        return identity
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def _git_identity(root: str) -> str:
    """``user.name <user.email>`` from `git config` (either alone when only one is set); ""
    without git or an identity. Never an error: a snapshot does not depend on it."""
    if shutil.which("git") is None:
        return ""
    name, email = (_git_config(root, key) for key in ("user.name", "user.email"))
    if name and email:
        return f"{name} <{email}>"
    return name or email


def _git_config(root: str, key: str) -> str:
    from dws.resources.git.gitcmd import Git  # imported only when git is installed

    try:
        code, out = Git(root).run_code("config", "--get", key, ok=tuple(range(256)))
    except (DwsError, OSError):
        return ""
    if code != 0:
        return ""
    text = out.decode("utf-8", "replace")
    return " ".join("".join(c if c.isprintable() else " " for c in text).split())[:MAX_IDENTITY]
