"""dws rerun"""

from __future__ import annotations

import shlex
import sys
from typing import TYPE_CHECKING

import click

from dws.cli.context import CliState, json_option, pass_state
from dws.cli.output import short
from dws.cli.render import run_json

if TYPE_CHECKING:
    from dws.model.runs import RunRecord


@click.command()
@click.argument("path")
@click.option("--dry-run", is_flag=True, help="Show the steps that would run.")
@click.option(
    "--approve",
    is_flag=True,
    help="Run command lines this machine has not run or approved before (records pulled "
    "from elsewhere), and remember them as approved.",
)
@json_option
@pass_state
def rerun(state: CliState, path: str, dry_run: bool, approve: bool) -> int:
    """Bring PATH up to date: run again, in order, every stale or cleaned step it
    depends on, with the command lines they were recorded with. Exits with the exit
    code of the first step that fails.

    A command line that came with run records from elsewhere (pull, clone) and that
    this machine has never run or approved is shown and asked about on a terminal,
    and refused otherwise unless --approve is given.

    \b
    Example:
      dws rerun results/metrics.json
      dws rerun --dry-run results/metrics.json
    """
    ws = state.open()
    plan = ws.plan_rerun(state.abspath(path))
    out = state.output
    strangers = {s.run.id for s in ws.unapproved(plan)}
    if not plan:
        if out.json:
            out.emit_json({"steps": [], "runs": []})
        else:
            out.line(f"{path} is up to date")
        return 0
    if dry_run:
        if out.json:
            out.emit_json(
                {
                    "steps": [
                        {
                            "step": s.run.step,
                            "argv": s.run.argv,
                            "reasons": s.reasons,
                            "conditional": s.conditional,
                            "approved": s.run.id not in strangers,
                        }
                        for s in plan
                    ]
                }
            )
            return 0
        for step in plan:
            if step.conditional:
                out.line(
                    f"then, only if what it reads comes out different, {step.run.step}: "
                    + " ".join(step.run.argv)
                )
            else:
                out.line(f"would run {step.run.step}: {' '.join(step.run.argv)}")
                out.line(f"  because {'; '.join(step.reasons)}", "dim")
            if step.run.id in strangers:
                out.line("  (recorded elsewhere; not yet approved on this machine)", "yellow")
        return 0
    if strangers and not approve:
        approve = _ask_approval(state, [s.run for s in plan if s.run.id in strangers])

    def announce(run: object) -> None:
        from dws.model.runs import RunRecord

        assert isinstance(run, RunRecord)
        out.note(f"dws: running {run.step}: {' '.join(run.argv)}", style="bold")

    def skipped(run: object) -> None:
        from dws.model.runs import RunRecord

        assert isinstance(run, RunRecord)
        out.note(f"dws: skipped {run.step}: what it reads came out the same")

    outcome = ws.rerun(plan, announce=announce, skipped=skipped, approve=approve)
    if out.json:
        out.emit_json(
            {
                "runs": [run_json(r) for r in outcome.records],
                "skipped": [s.run.id for s in outcome.skipped],
                "exit_code": outcome.exit_code,
            }
        )
    else:
        for record in outcome.records:
            out.note(
                f"dws: step {record.step!r} run {short(record.id)} {record.status}", style="dim"
            )
    return outcome.exit_code


def _ask_approval(state: CliState, runs: list[RunRecord]) -> bool:
    """Show the command lines recorded elsewhere and ask, on a terminal only."""
    out = state.output
    if out.batch or not (sys.stdin.isatty() and sys.stderr.isatty()):
        return False  # the core refuses, naming --approve
    out.note("these command lines came with run records from elsewhere:", style="yellow")
    for run in runs:
        env = [f"{k}={v}" for k, v in run.recorded_env().items()]
        command = shlex.join([*env, *run.argv]).replace("\n", "\\n").replace("\r", "\\r")
        out.note(f"  [{run.step}, by {run.user}@{run.hostname}, in {run.cwd}] {command}")
    return bool(click.confirm("run them (and remember them as approved)?", err=True))
