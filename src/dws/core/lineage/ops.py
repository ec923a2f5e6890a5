"""Acting on lineage: clean stale intermediate data, rerun stale steps."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field

from dws.core.lineage.graph import LineageGraph
from dws.core.lineage.locate import Located
from dws.core.lineage.queries import LineageContext, StaleOutput, lineage_context, stale_outputs
from dws.core.lineage.recording import RunRecorder
from dws.core.lineage.runner import run_command
from dws.core.lineage.swap import SwapOutcome, swap_source  # noqa: F401
from dws.core.trust import check_writable
from dws.core.workspace import Workspace
from dws.errors import RefusedError, UsageError
from dws.model.roles import Role
from dws.model.runs import PathVersion, RunRecord
from dws.resources.base import Resource

# ---- clean ---------------------------------------------------------------------------------


@dataclass
class CleanOutcome:
    """Stale outputs removed, and the ones left alone with the reason."""

    removed: list[StaleOutput] = field(default_factory=list)
    kept: list[tuple[StaleOutput, str]] = field(default_factory=list)


def clean_stale(ws: Workspace, *, dry_run: bool = False) -> CleanOutcome:
    """Delete stale outputs in intermediate-data resources; results, source data and code
    are never touched. Only content a run produced is deleted (it matches the run's
    output hash), so it can be made again with `dws rerun`."""
    outcome = CleanOutcome()
    with ws.locked("clean"):
        check_writable(ws, [r for r in ws.resources() if r.role is Role.INTERMEDIATE_DATA])
        ctx = lineage_context(ws)
        for item in stale_outputs(ctx):
            if item.role is not Role.INTERMEDIATE_DATA:
                outcome.kept.append((item, f"{item.role.value} is never cleaned"))
                continue
            resource = ctx.resources[item.output.resource]
            root = resource.local_path()
            if root is None or not item.output.path:
                outcome.kept.append((item, "the whole resource is the output; left in place"))
                continue
            outcome.removed.append(item)
            if not dry_run:
                _remove(os.path.join(root, item.output.path))
    return outcome


def _remove(path: str) -> None:
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    elif os.path.lexists(path):
        os.unlink(path)


# ---- rerun ---------------------------------------------------------------------------------


@dataclass
class RerunStep:
    """One run to repeat, and why."""

    run: RunRecord
    reasons: list[str]


@dataclass
class RerunOutcome:
    """The plan, and the records of the runs made (in order)."""

    plan: list[RerunStep]
    records: list[RunRecord] = field(default_factory=list)
    exit_code: int = 0


def _missing_outputs(ctx: LineageContext, run: RunRecord) -> list[str]:
    now = ctx.ids.get((o.resource, o.path) for o in run.outputs)
    return [o.label for o in run.outputs if now[(o.resource, o.path)][1] is None]


def plan_rerun(ws: Workspace, token: str, cwd: str) -> list[RerunStep]:
    """The stale (or cleaned) runs upstream of ``token``, producers before consumers."""
    ctx = lineage_context(ws)
    located = ctx.locator.locate(token, cwd)
    if located is None:
        raise UsageError(f"{token} is not inside any resource of this workspace")
    key = (located.resource.name, located.path)
    graph = ctx.graph
    target = graph.producers_of_current(key, ctx.ids.one(key)) or [
        run for run in [graph.last_producer_of_path(key)] if run is not None
    ]
    if not target:
        raise UsageError(f"no recorded run produced {located.key}; nothing to rerun")
    plan: list[RerunStep] = []
    visited: set[str] = set()

    def visit(run: RunRecord) -> bool:
        """Add the run (after its producers) if it must run again; True if it will."""
        if run.id in visited:
            return any(step.run.id == run.id for step in plan)
        visited.add(run.id)
        upstream = False
        for item in run.inputs:
            for producer in _input_producers(graph, ctx, item, run):
                upstream = visit(producer) or upstream
        reasons = list(graph.staleness(run, ctx.ids).reasons)
        reasons += [f"{label} is missing" for label in _missing_outputs(ctx, run)]
        if upstream and not reasons:
            reasons.append("an upstream step runs again")
        if reasons:
            plan.append(RerunStep(run, reasons))
        return bool(reasons)

    for run in target:
        visit(run)
    return plan


def _input_producers(
    graph: LineageGraph, ctx: LineageContext, item: PathVersion, run: RunRecord
) -> list[RunRecord]:
    found = graph.producers(item, run)
    if found:
        return found
    last = graph.last_producer_of_path((item.resource, item.path))
    return [last] if last is not None and last.ended <= run.started else []


def rerun(
    ws: Workspace, plan: list[RerunStep], *, announce: Callable[[RunRecord], None] | None = None
) -> RerunOutcome:
    """Run the planned steps in order with their recorded command lines; stop at the first
    failure (its exit code is returned)."""
    outcome = RerunOutcome(plan)
    resources = {r.name: r for r in ws.resources()}
    for step in plan:
        run = step.run
        if run.via != "command":
            raise RefusedError(
                f"step {run.step!r} was recorded from Python code; run that code again"
            )
        if announce is not None:
            announce(run)
        recorder = RunRecorder(
            ws,
            run.step,
            "command",
            run.argv,
            os.path.join(ws.root, run.cwd),
            _relocate(resources, run.inputs),
            _relocate(resources, run.outputs),
            dict(run.params),
        )
        recorder.begin()
        code = run_command(run.argv, recorder.cwd)
        outcome.records.append(recorder.finish(code, failed=code != 0))
        if code != 0:
            outcome.exit_code = code
            break
    return outcome


def _relocate(resources: dict[str, Resource], items: list[PathVersion]) -> list[Located]:
    out = []
    for item in items:
        resource = resources.get(item.resource)
        if resource is None:
            raise UsageError(f"resource {item.resource!r} of {item.label} is no longer registered")
        out.append(Located(resource, item.path, item.label))
    return out
