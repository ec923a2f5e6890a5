"""Read-only lineage views: the upstream tree of a path, the whole graph, stale outputs."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from dws.core.catalog import SnapshotCatalog
from dws.core.lineage.catalog import RunCatalog
from dws.core.lineage.graph import LineageGraph, Staleness, Upstream
from dws.core.lineage.locate import CurrentIds, PathLocator, RecordedIds
from dws.core.workspace import Workspace
from dws.errors import NotFoundError, UsageError
from dws.model.records import ResourceSnapshot, SnapshotRecord
from dws.model.roles import Role
from dws.model.runs import PathVersion, RunRecord
from dws.resources.base import Resource
from dws.resources.pathhash import PathId
from dws.store.trees import store_loader


@dataclass
class LineageContext:
    """What every lineage query needs: the resources, the graph, and where content ids
    come from (the files now, or a snapshot)."""

    ws: Workspace
    resources: dict[str, Resource]
    locator: PathLocator
    graph: LineageGraph
    ids: CurrentIds
    snapshot: SnapshotRecord | None = None
    warnings: list[str] = field(default_factory=list)


def lineage_context(ws: Workspace, snapshot_ref: str | None = None) -> LineageContext:
    """Load runs and resources; with ``snapshot_ref``, answer from that snapshot's state
    and only its recorded runs (if it lists any)."""
    resources = ws.resources()
    by_name = {r.name: r for r in resources}
    catalog = RunCatalog(ws.layout)
    record = None
    ids: CurrentIds = CurrentIds(by_name)
    if snapshot_ref is not None:
        snapshots = SnapshotCatalog(ws.layout)
        record = snapshots.get(snapshots.resolve(snapshot_ref, ws.head().snapshot))
        ids = RecordedIds(by_name, record.resources)
    if record is None or not record.runs:
        runs = catalog.all()
    else:  # only the runs the snapshot lists are read
        runs, missing = catalog.some(record.runs)
        if missing:
            catalog.warnings.append(
                f"{len(missing)} run record(s) this snapshot lists are not here "
                "(pull them from the remote it came from)"
            )
    locator = PathLocator(ws, resources)
    graph = LineageGraph(runs, store_loader(ws.store), locator.label)
    return LineageContext(ws, by_name, locator, graph, ids, record, catalog.warnings)


# ---- one path's upstream -----------------------------------------------------------------


@dataclass
class PathLineage:
    """The producers of what is at a path (now, or in a snapshot) and their upstream."""

    key: str
    resource: str
    path: str
    current: PathId
    trees: list[Upstream]
    last_writer: RunRecord | None  # when no run produced the current content
    labels: dict[tuple[str, str], str] = field(default_factory=dict)
    origins: dict[tuple[str, str, str | None], str] = field(default_factory=dict)
    failed_writer: RunRecord | None = None  # a failed run left the current content
    # the current content appeared during this run, written by nothing its observer saw
    unobserved_writer: RunRecord | None = None

    def origin(self, item: PathVersion) -> str:
        """Where an input no run produced came from: ``source``, ``a failed run of step
        S``, ``made outside any recorded run`` or ``was missing``."""
        return self.origins.get((item.resource, item.path, item.id), "source")

    def label(self, item: PathVersion) -> str:
        """How to show a recorded path (workspace-relative when possible)."""
        return self.labels.get((item.resource, item.path), item.label)


def show_path(ctx: LineageContext, token: str, cwd: str) -> PathLineage:
    """The upstream tree of ``token`` (a path relative to ``cwd``)."""
    located = ctx.locator.locate(token, cwd)
    if located is None:
        raise UsageError(f"{token} is not inside any resource of this workspace")
    key = (located.resource.name, located.path)
    current = ctx.ids.one(key)
    if current[1] is None and ctx.snapshot is None and not os.path.lexists(token):
        raise NotFoundError(f"{located.key} does not exist")
    producers = ctx.graph.producers_of_current(key, current)
    trees = [ctx.graph.upstream(run) for run in producers]
    last = None if producers else ctx.graph.last_producer_of_path(key)
    labels: dict[tuple[str, str], str] = {}
    origins: dict[tuple[str, str, str | None], str] = {}
    pending = list(trees)
    while pending:
        tree = pending.pop()
        for item, producers_of_item in tree.inputs:
            labels[(item.resource, item.path)] = ctx.locator.label(item)
            if not producers_of_item:
                origins[(item.resource, item.path, item.id)] = _origin(ctx, item)
            pending.extend(producers_of_item)
    failed = unobserved = None
    if not producers and current[1] is not None:
        seen = PathVersion(key[0], key[1], current[1], current[0])
        failed = ctx.graph.failed_writer(seen)
        unobserved = ctx.graph.unobserved_writer(seen)
    return PathLineage(
        located.key, key[0], key[1], current, trees, last, labels, origins, failed, unobserved
    )


def _origin(ctx: LineageContext, item: PathVersion) -> str:
    if item.id is None:
        return "was missing"
    failed = ctx.graph.failed_writer(item)
    if failed is not None:
        return f"from a failed run of step {failed.step}"
    unobserved = ctx.graph.unobserved_writer(item)
    if unobserved is not None:
        return f"appeared during a run of step {unobserved.step}, by an unobserved write"
    resource = ctx.resources.get(item.resource)
    if resource is not None and resource.role in (Role.SOURCE_DATA, Role.CODE):
        return "source" if resource.role is Role.SOURCE_DATA else "code"
    return "made outside any recorded run"


# ---- staleness ----------------------------------------------------------------------------


@dataclass(frozen=True)
class StaleOutput:
    """An output whose producing run is out of date."""

    key: str
    output: PathVersion
    role: Role
    run: RunRecord
    reasons: list[str]


def stale_outputs(ctx: LineageContext) -> list[StaleOutput]:
    """Every output present now whose producer is stale (hash-based, transitive)."""
    out = []
    for output, run, _ in ctx.graph.current_outputs(ctx.ids):
        state: Staleness = ctx.graph.staleness(run, ctx.ids)
        resource = ctx.resources.get(output.resource)
        if state.stale and resource is not None:
            key = ctx.locator.key(resource, output.path)
            out.append(StaleOutput(key, output, resource.role, run, state.reasons))
    return out


# ---- the whole graph -----------------------------------------------------------------------


def graph_runs(ctx: LineageContext, everything: bool) -> list[RunRecord]:
    """The runs to draw: those explaining the current state (or the snapshot's), or all."""
    if everything:
        return list(ctx.graph.runs)
    wanted = set(ctx.graph.explaining(ctx.ids))
    return [run for run in ctx.graph.runs if run.id in wanted]


def graph_document(ctx: LineageContext, runs: list[RunRecord]) -> dict[str, Any]:
    """Nodes (steps and data) and edges (data → step → data) as plain JSON."""
    nodes: dict[str, dict[str, Any]] = {}
    edges: list[dict[str, str]] = []
    stale = {run.id for run in runs if ctx.graph.staleness(run, ctx.ids).stale}
    for run in runs:
        step_node = f"run:{run.id}"
        nodes[step_node] = {
            "id": step_node,
            "type": "step",
            "step": run.step,
            "run": run.id,
            "argv": run.argv,
            "ended": run.ended,
            "stale": run.id in stale,
        }
        for item, direction in [
            *((i, "in") for i in run.inputs),
            *((o, "out") for o in run.outputs),
        ]:
            resource = ctx.resources.get(item.resource)
            data_node = f"data:{item.resource}/{item.path}"
            nodes.setdefault(
                data_node,
                {
                    "id": data_node,
                    "type": "data",
                    "resource": item.resource,
                    "path": item.path,
                    "label": ctx.locator.label(item),
                    "role": resource.role.value if resource is not None else None,
                },
            )
            edge = (data_node, step_node) if direction == "in" else (step_node, data_node)
            edges.append(
                {"from": edge[0], "to": edge[1], "kind": direction, "version": item.id or ""}
            )
    data = [n for n in nodes.values() if n["type"] == "data"]
    for inner in data:
        for outer in data:
            same = inner["resource"] == outer["resource"] and inner is not outer
            if same and (outer["path"] == "" or inner["path"].startswith(outer["path"] + "/")):
                edges.append(
                    {"from": inner["id"], "to": outer["id"], "kind": "part-of", "version": ""}
                )
    return {"nodes": list(nodes.values()), "edges": edges}


def runs_explaining(
    ws: Workspace, resources: list[Resource], states: dict[str, ResourceSnapshot]
) -> list[str]:
    """Ids of the runs that explain a snapshot's ``states`` (recorded in its ``runs``)."""
    catalog = RunCatalog(ws.layout)
    if not catalog.ids():
        return []
    graph = LineageGraph(catalog.all(), store_loader(ws.store))
    return graph.explaining(RecordedIds({r.name: r for r in resources}, states))


@dataclass(frozen=True)
class RecordedLineage:
    """What a snapshot records about lineage: the runs that explain its states, and the
    outputs in those states whose producing run is stale (workspace-relative, sorted)."""

    runs: list[str]
    stale: list[str]


def recorded_lineage(
    ws: Workspace, resources: list[Resource], states: dict[str, ResourceSnapshot]
) -> RecordedLineage:
    """``runs_explaining`` and ``stale_in_states`` over one graph and one set of recorded
    ids, so the runs are loaded once; nothing is read when there are no run records."""
    catalog = RunCatalog(ws.layout)
    if not catalog.ids():
        return RecordedLineage([], [])
    graph = LineageGraph(catalog.all(), store_loader(ws.store))
    ids = RecordedIds({r.name: r for r in resources}, states)
    return RecordedLineage(graph.explaining(ids), stale_in_states(ws, resources, graph, ids))


def stale_in_states(
    ws: Workspace, resources: list[Resource], graph: LineageGraph, ids: RecordedIds
) -> list[str]:
    """Workspace-relative paths of the outputs in recorded states (``ids``) whose producing
    run is stale there: an input or the code it read differs from what the states record,
    or comes from a stale run."""
    by_name = {r.name: r for r in resources}
    locator = PathLocator(ws, resources)
    stale = set()
    for output, run, _ in graph.current_outputs(ids):
        resource = by_name.get(output.resource)
        if resource is not None and graph.staleness(run, ids).stale:
            stale.add(locator.key(resource, output.path))
    return sorted(stale)
