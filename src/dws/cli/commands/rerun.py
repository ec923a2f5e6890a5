"""dws rerun"""

from __future__ import annotations

import click

from dws.cli.context import CliState, json_option, pass_state
from dws.cli.output import short
from dws.cli.render import run_json


@click.command()
@click.argument("path")
@click.option("--dry-run", is_flag=True, help="Show the steps that would run.")
@json_option
@pass_state
def rerun(state: CliState, path: str, dry_run: bool) -> int:
    """Bring PATH up to date: run again, in order, every stale or cleaned step it
    depends on, with the command lines they were recorded with. Exits with the exit
    code of the first step that fails.

    \b
    Example:
      dws rerun results/metrics.json
    """
    ws = state.open()
    plan = ws.plan_rerun(state.abspath(path))
    out = state.output
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
        return 0

    def announce(run: object) -> None:
        from dws.model.runs import RunRecord

        assert isinstance(run, RunRecord)
        out.note(f"dws: running {run.step}: {' '.join(run.argv)}", style="bold")

    def skipped(run: object) -> None:
        from dws.model.runs import RunRecord

        assert isinstance(run, RunRecord)
        out.note(f"dws: skipped {run.step}: what it reads came out the same")

    outcome = ws.rerun(plan, announce=announce, skipped=skipped)
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
