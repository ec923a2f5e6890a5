"""Taking a snapshot: record every resource's state at once."""

from __future__ import annotations

import getpass
import json
import os
import shutil
from dataclasses import dataclass, field
from typing import Any

from msgspec import Struct

from dws.core.catalog import SnapshotCatalog
from dws.core.lineage.catalog import RunCatalog
from dws.core.workspace import Workspace, utc_now
from dws.errors import DwsError, RefusedError, UnreachableError, UsageError
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
    """What `snapshot` did: ``created`` is False when the state equalled HEAD's. With
    ``only``/``exclude``, ``kept`` names the resources whose state the record took from
    HEAD's snapshot and ``left_out`` those it does not record (HEAD's does not either)."""

    record: SnapshotRecord
    created: bool
    tag: str | None
    tag_moved: bool = False
    warnings: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    left_out: list[str] = field(default_factory=list)


def take_snapshot(
    ws: Workspace,
    tag: str | None = None,
    message: str = "",
    *,
    force: bool = False,
    strict: bool = False,
    only: list[str] | None = None,
    exclude: list[str] | None = None,
) -> SnapshotOutcome:
    """Record the state of every resource; the record is written only after all the
    objects it references are durable. Outputs of stale runs in the recorded state are
    listed in the record and warned about; with ``strict`` they refuse the snapshot.

    ``only``/``exclude`` (resource names) limit what is snapshotted, like
    ``git commit -- paths``: every other resource keeps, in the new record, the state
    HEAD's snapshot records for it (and its base), or is left out where HEAD's has none.
    A resource that cannot be reached refuses the snapshot before anything is stored."""
    if tag is not None:
        check_tag_name(tag)
    with ws.locked("snapshot"):
        catalog = SnapshotCatalog(ws.layout)
        head = ws.head()
        registered = ws.resources()
        resources = choose_resources(ws, registered, only, exclude)
        parent = head.snapshot if head.snapshot and catalog.exists(head.snapshot) else None
        previous = catalog.get(parent) if parent is not None else None
        kept = kept_from(previous, registered, resources)
        chosen = {r.name for r in resources}
        outcome = _Outcome(kept, [r.name for r in registered if r.name not in chosen | set(kept)])
        in_head = set(kept_from(previous, registered, []))
        _check_reachable(resources, in_head)  # before anything is stored
        # a tag naming HEAD may stay only if nothing changed, which a status pass tells
        # before anything is stored (a free tag needs no such pass)
        if (
            tag is not None
            and not force
            and _tag_needs_same_state(catalog, tag, head)
            and _changed_since(catalog, head.snapshot or "", resources, chosen | set(kept))
        ):
            catalog.check_tag_free(tag)
        if strict:
            _refuse_stale(_stale_now(ws, chosen))  # nothing stored yet
        bases = {r.name: _base(catalog, head, r) for r in resources}
        states = _snapshot_all(resources, bases, in_head)
        recorded = {**kept, **states}
        recorded = {r.name: recorded[r.name] for r in registered if r.name in recorded}
        warnings = [f"{r.name}: {w}" for r in resources for w in r.warnings]
        # unchanged as `dws status` sees it: HEAD records these states and every resource
        # snapshotted still matches its own base (see "Per-resource bases")
        if previous is not None and previous.same_state(recorded) and _at_bases(states, bases):
            warnings.extend(_stale_warning(previous.stale))
            ws.save_head(moved_head(head, previous.id, registered, resources))
            moved = catalog.set_tag(tag, previous.id, force=force) if tag else False
            for resource in resources:
                resource.committed()
            return outcome.of(previous, False, tag, moved, warnings)
        if tag is not None and not force:
            catalog.check_tag_free(tag)
        from dws.core.lineage.queries import recorded_lineage  # (not needed when unchanged)

        lineage = recorded_lineage(ws, registered, recorded)
        if strict:
            _refuse_stale(lineage.stale)  # the files changed since the first check
        warnings.extend(_stale_warning(lineage.stale))
        definitions = _definitions(registered, recorded, kept, previous)
        record = SnapshotRecord(
            format=SnapshotRecord.format_for(lineage.stale, definitions),
            created=utc_now(),
            hostname=os.uname().nodename,
            user=_user(ws.root),
            message=message[:MAX_MESSAGE],
            parent=parent,
            resources=recorded,
            runs=lineage.runs,
            metrics=_metrics(ws, resources, states) | _kept_metrics(previous, kept),
            stale=lineage.stale,
            definitions=definitions,
        ).with_id()
        ws.store.flush()  # one sync: everything the record references is durable first
        catalog.put(record)  # the commit point
        # head before tag: a rerun after a crash between the two finds HEAD at this record
        ws.save_head(moved_head(head, record.id, registered, resources))
        moved = catalog.set_tag(tag, record.id, force=force) if tag else False
        for resource in resources:
            resource.committed()
        return outcome.of(record, True, tag, moved, warnings)


class _Outcome(Struct):
    """What a snapshot kept from HEAD and left out, known before it records anything."""

    kept: dict[str, ResourceSnapshot]
    left_out: list[str]

    def of(
        self, record: SnapshotRecord, created: bool, tag: str | None, moved: bool, w: list[str]
    ) -> SnapshotOutcome:
        return SnapshotOutcome(record, created, tag, moved, w, list(self.kept), self.left_out)


def choose_resources(
    ws: Workspace, registered: list[Resource], only: list[str] | None, exclude: list[str] | None
) -> list[Resource]:
    """The resources a snapshot with ``only``/``exclude`` records now; unknown names are a
    NotFoundError naming the closest registered ones (as for restore)."""
    specs = [r.spec for r in registered]
    for name in (only or []) + (exclude or []):
        ws.resource_spec(name, specs)
    chosen = [
        r
        for r in registered
        if (not only or r.name in only) and not (exclude and r.name in exclude)
    ]
    if (only or exclude) and not chosen:
        raise UsageError("--only and --exclude leave no resource to snapshot")
    return chosen


def kept_from(
    previous: SnapshotRecord | None, registered: list[Resource], chosen: list[Resource]
) -> dict[str, ResourceSnapshot]:
    """The registered resources not ``chosen`` whose state ``previous`` (HEAD's snapshot)
    records for a resource of the same type: the new record keeps that state."""
    names = {r.name for r in chosen}
    kept: dict[str, ResourceSnapshot] = {}
    for resource in registered:
        entry = previous.resources.get(resource.name) if previous is not None else None
        if resource.name not in names and entry is not None and entry.type == resource.spec.type:
            kept[resource.name] = entry
    return kept


def moved_head(
    head: Head, snapshot_id: str, registered: list[Resource], chosen: list[Resource]
) -> Head:
    """HEAD at ``snapshot_id`` after a snapshot of ``chosen``: their base is that snapshot;
    every other resource keeps its base (and an unfinished restore), since its files were
    not looked at."""
    names = {r.name for r in chosen}
    others = {r.name for r in registered} - names
    bases = {name: base for name, base in head.bases.items() if name in others}
    bases.update(dict.fromkeys(sorted(names), snapshot_id))
    restoring = {name: target for name, target in head.restoring.items() if name in others}
    return Head(snapshot_id, bases, restoring)


def _check_reachable(resources: list[Resource], in_head: set[str]) -> None:
    """Refuse (exit 3) when any resource cannot be reached, naming each with its reason
    (``in_head``: the resources HEAD's snapshot records, which `--exclude` would keep)."""
    failed: dict[str, str] = {}
    for resource in resources:
        try:
            resource.check_reachable()
        except UnreachableError as exc:
            failed[resource.name] = exc.message
    if failed:
        raise _unreachable_refusal(failed, in_head)


def _unreachable_refusal(failed: dict[str, str], in_head: set[str]) -> RefusedError:
    """One line: which resources cannot be reached, why, and the `--exclude` that records
    the others."""
    names = list(failed)
    excludes = " ".join(f"--exclude {name}" for name in names)
    if len(names) == 1:
        name = names[0]
        what = f"resource {name!r} cannot be reached: {failed[name]}"
        held = name in in_head
        then = "it keeps its state in HEAD" if held else "HEAD does not record it: it is left out"
    else:
        reasons = "; ".join(f"{name!r}: {why}" for name, why in failed.items())
        what = f"{len(names)} resources cannot be reached ({reasons})"
        then = "each keeps its state in HEAD, or is left out where HEAD does not record it"
    return RefusedError(
        f"{what}; nothing was recorded. To snapshot the other resources, add `{excludes}` ({then})"
    )


def _snapshot_all(
    resources: list[Resource], bases: dict[str, State | None], in_head: set[str]
) -> dict[str, ResourceSnapshot]:
    """Each resource's state now; one that cannot be reached any more refuses the snapshot
    (objects stored by then are garbage for gc: no record names them)."""
    states = {}
    for resource in resources:
        try:
            states[resource.name] = _snapshot_one(resource, bases[resource.name])
        except UnreachableError as exc:  # reached by the check, lost since: still a refusal
            raise _unreachable_refusal({resource.name: exc.message}, in_head) from None
    return states


def _definitions(
    registered: list[Resource],
    recorded: dict[str, ResourceSnapshot],
    kept: dict[str, ResourceSnapshot],
    previous: SnapshotRecord | None,
) -> dict[str, dict[str, Any]]:
    """Each recorded resource's definition: resources.json's now, except for a state kept
    from HEAD, which keeps the definition HEAD's record has for it (where it has one)."""
    held = previous.definitions if previous is not None else {}
    out = {}
    for resource in registered:
        name = resource.name
        if name in recorded:
            out[name] = dict(held[name] if name in kept and name in held else resource.spec.params)
    return out


def _kept_metrics(
    previous: SnapshotRecord | None, kept: dict[str, ResourceSnapshot]
) -> dict[str, dict[str, float]]:
    """The metrics HEAD's record has for the results resources whose state is kept."""
    if previous is None:
        return {}
    return {key: dict(v) for key, v in previous.metrics.items() if key.split("/", 1)[0] in kept}


def _stale_now(ws: Workspace, names: set[str]) -> list[str]:
    """Outputs in resources ``names`` stale in the files as they are now (nothing read
    without run records)."""
    if not RunCatalog(ws.layout).ids():
        return []
    from dws.core.lineage.queries import lineage_context, stale_outputs

    stale = stale_outputs(lineage_context(ws))
    return sorted({item.key for item in stale if item.output.resource in names})


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


def _changed_since(
    catalog: SnapshotCatalog, snapshot_id: str, resources: list[Resource], names: set[str]
) -> bool:
    """True when a record of ``names`` (``resources`` snapshotted, the others kept) would
    differ from snapshot ``snapshot_id`` (a cheap status pass over ``resources``)."""
    if not catalog.exists(snapshot_id):
        return True
    recorded = catalog.get(snapshot_id).resources
    if set(recorded) != names:
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
