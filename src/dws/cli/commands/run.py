"""dws run"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

import click

from dws.cli.context import CliState, json_option, pass_state
from dws.cli.output import short
from dws.cli.render import run_json
from dws.errors import RefusedError

if TYPE_CHECKING:
    from dws.core.lineage.planning import RunPlan
    from dws.model.argclass import ArgKind, Classified
    from dws.model.runs import RunRecord


def _asker(state: CliState) -> object:
    """A question on the terminal for each ambiguous path, or None when not interactive."""
    out = state.output
    if out.batch or not (sys.stdin.isatty() and sys.stderr.isatty()):
        return None
    from dws.model.argclass import ArgKind

    def ask(item: Classified) -> ArgKind:
        assert item.facts is not None
        where = item.facts.role.value
        answer = click.prompt(
            f"{item.facts.key} exists in {where} and no step produced it: input or output?",
            type=click.Choice(["i", "o", "input", "output"]),
            err=True,
        )
        return ArgKind.INPUT if answer.startswith("i") else ArgKind.OUTPUT

    return ask


@click.command(context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
@click.option(
    "-n", "--name", "step", metavar="STEP", help="Step name (default: the script's name)."
)
@click.option("-i", "--input", "inputs", multiple=True, metavar="PATH", help="An input path.")
@click.option("-o", "--output", "outputs", multiple=True, metavar="PATH", help="An output path.")
@click.option("-p", "--param", "params", multiple=True, metavar="NAME=VALUE", help="A parameter.")
@click.option(
    "--env", "env", multiple=True, metavar="VAR", help="Record this environment variable."
)
@click.option(
    "--observe",
    "observer",
    type=click.Choice(["auto", "python", "strace", "none"]),
    default="auto",
    show_default=True,
    help="How to see what the command reads and writes: the Python recorder for Python "
    "commands and strace for others (auto), or the command line only (none).",
)
@click.option("--trace", is_flag=True, help="Same as --observe strace (Linux).")
@click.option("--dry-run", is_flag=True, help="Show how the arguments are classified; run nothing.")
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
@json_option
@pass_state
def run(
    state: CliState,
    step: str | None,
    inputs: tuple[str, ...],
    outputs: tuple[str, ...],
    params: tuple[str, ...],
    env: tuple[str, ...],
    observer: str,
    trace: bool,
    dry_run: bool,
    command: tuple[str, ...],
) -> int:
    """Run COMMAND and record its lineage: the files it read and wrote (with the
    versions read and left), the code it ran, and its parameters.

    What the command does is observed: a recorder inside every Python process, or
    strace for other programs; a scan of the data before and after catches any other
    change (recorded as writer unknown). -i/-o add what cannot be observed. With
    --observe none, arguments are classified by where they point instead (asked
    about on a terminal when that cannot tell). A step that writes into source data
    is recorded as failed (exit 3). Otherwise the command's exit code is dws's.

    \b
    Example:
      dws run -- python code/prepare.py data/raw/train.csv data/features/train.csv
      dws run -n train -- python code/train.py --epochs 5
      dws run --observe none -i data/raw -o results/out.csv -- ./tool data/raw
    """
    ws = state.open()
    cwd = state.abspath(".")
    observer = "strace" if trace else observer
    chosen = _chosen_observer(list(command), observer)
    observed = chosen != "none"
    plan = ws.plan_run(
        list(command),
        cwd=cwd,
        step=step,
        inputs=list(inputs),
        outputs=list(outputs),
        params=list(params),
        ask=None if (dry_run or observed) else _asker(state),  # type: ignore[arg-type]
        allow_undecided=dry_run or observed,
        observed=observed and not dry_run,
    )
    out = state.output
    if dry_run:
        _show_plan(state, plan, chosen)
        return 0
    outcome = ws.run(plan, env=list(env), observer=observer)
    record = outcome.record
    if outcome.source_writes:
        names = ", ".join(i.label for i in outcome.source_writes[:5])
        raise RefusedError(
            f"step {record.step!r} wrote into source data ({names}); its run is recorded as failed",
            details=[
                "source data is only ever read: bring it back with "
                "`dws restore HEAD --only <resource>` and write outputs elsewhere"
            ],
        )
    if out.json:
        out.emit_json(run_json(record))
    else:
        status = "failed" if not record.succeeded else "recorded"
        code = outcome.exit_code
        out.note(
            f"dws: step {record.step!r} run {short(record.id)} {status} (exit {code}): "
            f"{len(record.inputs)} input(s), {len(record.outputs)} output(s)",
            style="dim" if record.succeeded else "yellow",
        )
    _warn_about_gaps(state, record)
    return outcome.exit_code


def _warn_about_gaps(state: CliState, record: RunRecord) -> None:
    """What the record could not vouch for, said once on stderr."""
    out = state.output
    if record.unobserved:
        out.note(
            "dws: not observed: "
            + ", ".join(record.unobserved[:5])
            + (" (--observe strace sees every program)" if record.observer == "python" else ""),
            style="yellow",
        )
    if record.unexplained:
        names = ", ".join(i.label for i in record.unexplained[:5])
        more = f" and {len(record.unexplained) - 5} more" if len(record.unexplained) > 5 else ""
        out.note(
            f"dws: changed during the run by no observed process: {names}{more} "
            "(recorded as writer unknown; if this step wrote it, name it with -o PATH"
            + (
                ", or observe every write with --observe strace)"
                if record.observer == "python"
                else ")"
            ),
            style="yellow",
        )
    if record.unstable:
        names = ", ".join(i.label for i in record.unstable[:5])
        out.note(
            f"dws: changed while the step could read it: {names} (its outputs are stale)",
            style="yellow",
        )


def _chosen_observer(argv: list[str], wanted: str) -> str:
    from dws.core.lineage.observe import choose_observer

    return choose_observer(argv, wanted)


def _show_plan(state: CliState, plan: RunPlan, observer: str) -> None:
    """How the arguments read; with an observer, the record's inputs and outputs will be
    what the command is seen to do, so only -i/-o are listed as given."""
    out = state.output
    observed = observer != "none"
    inputs = plan.given_inputs if observed else plan.inputs
    outputs = plan.given_outputs if observed else plan.outputs
    rows = [[str(c.index), _shown(c), c.kind.value, c.reason] for c in plan.classified]
    if out.json:
        out.emit_json(
            {
                "step": plan.step,
                "cwd": os.path.relpath(plan.cwd),
                "arguments": [
                    {
                        "index": c.index,
                        "token": c.token,
                        "value": c.value,
                        "kind": c.kind.value,
                        "reason": c.reason,
                    }
                    for c in plan.classified
                ],
                "observer": observer if observed else "declared",
                "inputs": [i.key for i in inputs],
                "outputs": [o.key for o in outputs],
                "params": plan.params,
            }
        )
        return
    out.line(f"step {plan.step}")
    if observed:
        out.line(
            f"observed with {observer}: the record will name what the command reads and "
            "writes; the arguments below are only how they read"
        )
    out.table(["#", "argument", "kind", "why"], rows)
    prefix = "declared " if observed else ""
    for label, items in (("inputs", inputs), ("outputs", outputs)):
        out.line(f"{prefix}{label}: " + (", ".join(i.key for i in items) or "none"))
    out.line("params: " + (", ".join(f"{k}={v}" for k, v in plan.params.items()) or "none"))


def _shown(item: Classified) -> str:
    """The argument, and the part classified when that is not all of it (a glob's match,
    one entry of a comma-separated list)."""
    return item.token if item.value in item.token else f"{item.token} → {item.value}"
