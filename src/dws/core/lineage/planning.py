"""What `dws run` decides before the command starts: the step's name, what each argument
is (input, output, code or parameter; docs/lineage.md, "How `dws run` classifies
arguments"), the answers remembered for the step, and the resulting ``RunPlan``.
``execution`` runs the plan."""

from __future__ import annotations

import glob
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from dws.core.lineage.catalog import RunCatalog
from dws.core.lineage.graph import LineageGraph
from dws.core.lineage.locate import Located, PathLocator
from dws.core.lineage.observe import is_python_command
from dws.core.workspace import Workspace
from dws.errors import UsageError
from dws.model.argclass import (
    ArgKind,
    Classified,
    PathFacts,
    classify_argv,
    parameters,
    secret_arguments,
)
from dws.model.roles import Role
from dws.model.runs import StepMemory, check_step_name
from dws.store.trees import store_loader

Ask = Callable[[Classified], ArgKind]


@dataclass
class RunPlan:
    """Everything decided before the command starts."""

    step: str
    argv: list[str]
    cwd: str
    inputs: list[Located]
    outputs: list[Located]
    params: dict[str, Any]
    classified: list[Classified]
    undecided: list[Classified] = field(default_factory=list)
    new_answers: dict[str, ArgKind] = field(default_factory=dict)
    given_inputs: list[Located] = field(default_factory=list)
    given_outputs: list[Located] = field(default_factory=list)


def default_step_name(argv: list[str], locator: PathLocator, cwd: str) -> str:
    """The name of the first code file on the command line (``code/train.py`` → ``train``),
    the module of ``python -m pkg.mod`` (``pkg.mod``), else the program's name."""
    if "-m" in argv[1:-1] and is_python_command(argv[:1]):
        return _step_from(argv[argv.index("-m", 1) + 1] + ".py")
    for token in argv:
        located = locator.locate(token, cwd)
        in_code = located is not None and located.resource.role is Role.CODE and located.path
        if in_code and os.path.isfile(os.path.join(cwd, token)):
            return _step_from(os.path.basename(token))
    return _step_from(os.path.basename(argv[0]))


def _step_from(name: str) -> str:
    stem = name.rsplit(".", 1)[0] if "." in name.strip(".") else name
    cleaned = "".join(ch if ch.isalnum() or ch in "._-" else "-" for ch in stem).strip(".-_")
    return cleaned[:100] or "step"


class _Facts:
    """Answers the classifier's questions about one path."""

    def __init__(
        self,
        locator: PathLocator,
        graph: LineageGraph,
        step: str,
        cwd: str,
        memory: StepMemory,
    ) -> None:
        self.locator, self.graph, self.step, self.cwd = locator, graph, step, cwd
        self.memory = memory
        self.located: dict[str, Located] = {}

    def __call__(self, token: str) -> PathFacts | None:
        located = self.locator.locate(token, self.cwd)
        if located is None:
            return None
        self.located[token] = located
        writers = self.graph.steps_writing((located.resource.name, located.path))
        answer = self.memory.answers.get(located.key)
        return PathFacts(
            key=located.key,
            resource=located.resource.name,
            path=located.path,
            role=located.resource.role,
            exists=os.path.lexists(os.path.join(self.cwd, token)),
            produced_by_other_step=bool(writers - {self.step}),
            output_of_this_step=self.step in writers,
            remembered=ArgKind(answer) if answer else None,
        )


def _locate_flag(locator: PathLocator, token: str, cwd: str, flag: str) -> Located:
    located = locator.locate(token, cwd)
    if located is None:
        raise UsageError(f"{flag} {token}: not inside any resource of this workspace")
    return located


def plan_run(
    ws: Workspace,
    argv: list[str],
    cwd: str,
    *,
    step: str | None = None,
    inputs: list[str] = (),  # type: ignore[assignment]
    outputs: list[str] = (),  # type: ignore[assignment]
    params: list[str] = (),  # type: ignore[assignment]
    ask: Ask | None = None,
    allow_undecided: bool = False,
    observed: bool = False,
) -> RunPlan:
    """Classify ``argv``; ``ask`` settles ambiguous paths (None: refuse them, unless
    ``allow_undecided``, which leaves them for a trace to decide)."""
    if not argv:
        raise UsageError("give the command to run after `--`, e.g. dws run -- python train.py")
    resources = ws.resources()
    locator = PathLocator(ws, resources)
    catalog = RunCatalog(ws.layout)
    # an observed run needs no guesses from earlier runs: reading them all costs time
    graph = LineageGraph([] if observed else catalog.all(), store_loader(ws.store))
    step = check_step_name(step) if step else default_step_name(argv, locator, cwd)
    memory = catalog.step_memory(step)
    overrides: dict[str, ArgKind] = {}
    given_in: list[Located] = [_locate_flag(locator, p, cwd, "-i") for p in inputs]
    given_out: list[Located] = [_locate_flag(locator, p, cwd, "-o") for p in outputs]
    overrides.update({loc.key: ArgKind.INPUT for loc in given_in})
    overrides.update({loc.key: ArgKind.OUTPUT for loc in given_out})
    facts = _Facts(locator, graph, step, cwd, memory)

    def expand(token: str) -> list[str]:
        return sorted(glob.glob(token, root_dir=cwd, recursive=True))

    classified = classify_argv(argv, facts, overrides, expand=expand)
    secrets = secret_arguments(classified)
    if secrets:
        raise UsageError(
            "refusing to record what looks like a secret on the command line: "
            + ", ".join(dict.fromkeys(secrets)),
            details=[
                "dws records the command line so `dws rerun` can repeat it; pass the secret "
                "in an environment variable the command reads instead"
            ],
        )
    plan = RunPlan(step, list(argv), cwd, [], [], {}, classified)
    plan.given_inputs, plan.given_outputs = given_in, given_out
    for index, item in enumerate(classified):
        if item.kind is not ArgKind.AMBIGUOUS:
            continue
        if ask is not None:
            kind = ask(item)
            assert item.facts is not None
            plan.new_answers[item.facts.key] = kind
            classified[index] = Classified(
                item.index, item.token, item.value, item.option, kind, item.facts, "your answer"
            )
        elif allow_undecided:
            plan.undecided.append(item)
        else:
            names = ", ".join(c.value for c in classified if c.kind is ArgKind.AMBIGUOUS)
            raise UsageError(
                f"cannot tell whether these are inputs or outputs: {names}; "
                "say so with -i PATH or -o PATH (or run on a terminal to be asked)"
            )
    for item in classified:
        located = facts.located.get(item.value)
        if located is None:
            continue
        if item.kind in (ArgKind.INPUT, ArgKind.CODE):
            plan.inputs.append(located)
        elif item.kind is ArgKind.OUTPUT:
            plan.outputs.append(located)
            # remembered before the command runs: if dws is stopped before it records
            # the run, the next attempt still knows this path is the step's output
            if memory.answers.get(located.key) != "output":
                plan.new_answers.setdefault(located.key, ArgKind.OUTPUT)
    plan.inputs = _unique([*plan.inputs, *given_in])
    plan.outputs = _unique([*plan.outputs, *given_out])
    plan.params = {**parameters(classified), **_parse_params(params)}
    return plan


def _unique(items: list[Located]) -> list[Located]:
    seen: dict[str, Located] = {}
    for item in items:
        seen.setdefault(item.key, item)
    return list(seen.values())


def _parse_params(items: list[str]) -> dict[str, str]:
    out = {}
    for item in items:
        name, equals, value = item.partition("=")
        if not equals or not name:
            raise UsageError(f"-p {item!r}: give parameters as NAME=VALUE")
        out[name] = value
    return out


def remember_answers(ws: Workspace, plan: RunPlan) -> None:
    """Store the answers given for ambiguous paths in lineage/steps/<step>.json."""
    if not plan.new_answers:
        return
    catalog = RunCatalog(ws.layout)
    with ws.locked("run"):
        memory = catalog.step_memory(plan.step)
        memory.answers.update({k: v.value for k, v in plan.new_answers.items()})  # type: ignore[misc]
        catalog.save_step_memory(memory)
