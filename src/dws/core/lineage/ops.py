"""Acting on lineage: clean stale intermediate data, rerun stale steps."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field

from dws.core.lineage.approvals import CommandApprovals, command_digest
from dws.core.lineage.graph import LineageGraph
from dws.core.lineage.locate import Located
from dws.core.lineage.planning import RunPlan
from dws.core.lineage.queries import LineageContext, StaleOutput, lineage_context, stale_outputs
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
    """One run to repeat, and why. A ``conditional`` step runs only if what an upstream
    step makes again comes out different from what it read."""

    run: RunRecord
    reasons: list[str]
    conditional: bool = False


@dataclass
class RerunOutcome:
    """The plan, the records of the runs made (in order), and the steps skipped because
    their inputs came out the same."""

    plan: list[RerunStep]
    records: list[RunRecord] = field(default_factory=list)
    skipped: list[RerunStep] = field(default_factory=list)
    exit_code: int = 0


def _missing_outputs(ctx: LineageContext, run: RunRecord) -> list[str]:
    """Outputs of ``run`` that are gone, not counting those a later run consumed (moved
    or removed exactly those bytes): those are where the pipeline left them."""
    now = ctx.ids.get((o.resource, o.path) for o in run.outputs)
    consumed = {
        (item.resource, item.path, item.id)
        for other in ctx.graph.runs
        if other.id != run.id and other.ended >= run.ended
        for item in other.removed
    }
    return [
        o.label
        for o in run.outputs
        if now[(o.resource, o.path)][1] is None and (o.resource, o.path, o.id) not in consumed
    ]


def plan_rerun(ws: Workspace, token: str, cwd: str) -> list[RerunStep]:
    """The stale (or cleaned) runs upstream of ``token``, producers before consumers.
    Refuses, before anything runs, a plan with a step dws cannot repeat safely."""
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
            for producer in _input_producers(graph, item, run):
                upstream = visit(producer) or upstream
        state = graph.staleness(run, ctx.ids)
        missing = [f"{label} is missing" for label in _missing_outputs(ctx, run)]
        reasons = [*state.reasons, *missing]
        conditional = upstream and not missing and (not state.reasons or state.only_inherited)
        if upstream and not reasons:
            reasons.append("an upstream step runs again")
        if reasons:
            plan.append(RerunStep(run, reasons, conditional))
        return bool(reasons)

    for run in target:
        visit(run)
    _refuse_unsafe(ctx, plan)
    return plan


def _input_producers(graph: LineageGraph, item: PathVersion, run: RunRecord) -> list[RunRecord]:
    found = graph.producers(item, run)
    if found:
        return found
    last = graph.last_producer_of_path((item.resource, item.path))
    return [last] if last is not None and last.ended <= run.started else []


def _refuse_unsafe(ctx: LineageContext, plan: list[RerunStep]) -> None:
    """Every reason a planned step cannot be repeated, found before anything runs."""
    problems: list[str] = []
    made_earlier: set[tuple[str, str]] = set()
    for step in plan:
        run = step.run
        if run.via != "command":
            problems.append(f"step {run.step!r} was recorded from Python code; run that code again")
        for item in run.inputs:
            key = (item.resource, item.path)
            left = run.left(*key)
            if left is None or key in made_earlier:
                continue
            if ctx.ids.one(key)[1] != item.id:
                what = "moved or removed" if left.id is None else "updates in place"
                problems.append(
                    f"step {run.step!r} {what} {ctx.locator.label(item)}, which no longer "
                    "holds the version it read: running it again would not repeat it "
                    "(bring that version back first, e.g. with dws restore)"
                )
        made_earlier.update((o.resource, o.path) for o in run.outputs)
    if problems:
        raise RefusedError(problems[0], details=problems[1:6])


def unapproved(ws: Workspace, plan: list[RerunStep]) -> list[RerunStep]:
    """The planned steps whose command line this machine neither ran nor approved (a
    record pulled from a remote, say)."""
    approved = CommandApprovals(ws.layout).approved()
    return [step for step in plan if command_digest(step.run) not in approved]


def rerun(
    ws: Workspace,
    plan: list[RerunStep],
    *,
    announce: Callable[[RunRecord], None] | None = None,
    skipped: Callable[[RunRecord], None] | None = None,
    approve: bool = False,
) -> RerunOutcome:
    """Run the planned steps in order with their recorded command lines, observed as
    they were; a conditional step whose inputs came out the same is skipped. Stops at
    the first failure (its exit code is returned). A command line this machine has not
    run or approved is refused before anything runs, unless ``approve`` (then it is
    remembered as approved)."""
    from dws.core.lineage.execution import execute

    strangers = unapproved(ws, plan)
    if strangers and not approve:
        raise RefusedError(
            f"not running {len(strangers)} command line(s) this machine has not run or "
            "approved: " + "; ".join(" ".join(s.run.argv)[:200] for s in strangers[:3]),
            details=[
                "they came with run records from elsewhere; read them, then run "
                "`dws rerun --approve PATH` (or answer the question on a terminal)"
            ],
        )
    if strangers:
        with ws.locked("rerun"):
            CommandApprovals(ws.layout).approve([command_digest(s.run) for s in strangers])
    outcome = RerunOutcome(plan)
    for step in plan:
        if step.conditional and not _still_stale(ws, step.run):
            outcome.skipped.append(step)
            if skipped is not None:
                skipped(step.run)
            continue
        if announce is not None:
            announce(step.run)
        done = execute(
            ws,
            _replay_plan(ws, step.run),
            env_names=list(step.run.recorded_env()),
            observer=_recorded_observer(step.run),
            extra_env=step.run.recorded_env(),
        )
        outcome.records.append(done.record)
        if done.exit_code != 0 or not done.record.succeeded:
            outcome.exit_code = done.exit_code or 1
            break
    return outcome


def _still_stale(ws: Workspace, run: RunRecord) -> bool:
    ctx = lineage_context(ws)
    return ctx.graph.staleness(run, ctx.ids).stale or bool(_missing_outputs(ctx, run))


def _recorded_observer(run: RunRecord) -> str:
    if run.observer in ("python", "strace"):
        return run.observer
    return "strace" if run.traced else "none"


def _replay_plan(ws: Workspace, run: RunRecord) -> RunPlan:
    resources = {r.name: r for r in ws.resources()}
    declared = run.observer in ("", "declared") and not run.traced
    inputs = _relocate(resources, run.inputs) if declared else []
    outputs = _relocate(resources, run.outputs) if declared else []
    cwd = os.path.join(ws.root, run.cwd)
    return RunPlan(run.step, list(run.argv), cwd, inputs, outputs, dict(run.params), [])


def _relocate(resources: dict[str, Resource], items: list[PathVersion]) -> list[Located]:
    out = []
    for item in items:
        resource = resources.get(item.resource)
        if resource is None:
            raise UsageError(f"resource {item.resource!r} of {item.label} is no longer registered")
        out.append(Located(resource, item.path, item.label))
    return out
