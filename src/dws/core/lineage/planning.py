"""`dws run`: classify a command's arguments, run it, record what it read and wrote."""

from __future__ import annotations

import contextlib
import glob
import os
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from dws.core.lineage.catalog import RunCatalog
from dws.core.lineage.graph import LineageGraph, _under
from dws.core.lineage.locate import Located, PathLocator
from dws.core.lineage.observe import (
    Observation,
    choose_observer,
    from_trace,
    is_python_command,
    parse_python_log,
    python_environment,
)
from dws.core.lineage.recording import RunRecorder, check_env_names
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
from dws.model.runs import PathVersion, RunRecord, check_step_name
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


@dataclass
class RunOutcome:
    """The finished run: the command's exit code, its record, and what it wrote into
    source data (which makes it a failed run)."""

    exit_code: int
    record: RunRecord
    plan: RunPlan
    source_writes: list[PathVersion] = field(default_factory=list)


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
        self, locator: PathLocator, graph: LineageGraph, step: str, cwd: str, memory: Any
    ) -> None:
        self.locator, self.graph, self.step, self.cwd = locator, graph, step, cwd
        self.memory = memory
        self.located: dict[str, Located] = {}

    def _writers(self, resource: str, path: str) -> set[str]:
        steps = set()
        for run, out in self.graph.outputs.get(resource, []):
            if (
                out.path == path
                or _under(out.path, path) is not None
                or _under(path, out.path) is not None
            ):
                steps.add(run.step)
        return steps

    def __call__(self, token: str) -> PathFacts | None:
        located = self.locator.locate(token, self.cwd)
        if located is None:
            return None
        self.located[token] = located
        writers = self._writers(located.resource.name, located.path)
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


def execute(
    ws: Workspace,
    plan: RunPlan,
    *,
    env_names: list[str] = (),  # type: ignore[assignment]
    observer: str = "auto",
    extra_env: dict[str, str] | None = None,
) -> RunOutcome:
    """Run the planned command with the terminal's stdin/stdout/stderr, observed (see
    ``choose_observer``), and record what it did."""
    chosen = choose_observer(plan.argv, observer)
    observed = chosen != "none"
    recorder = RunRecorder(
        ws,
        plan.step,
        "command",
        plan.argv,
        plan.cwd,
        plan.given_inputs if observed else plan.inputs,
        plan.given_outputs if observed else plan.outputs,
        plan.params,
        env_names=check_env_names(list(env_names)),
        observer=chosen if observed else "declared",
    )
    if not observed:
        remember_answers(ws, plan)
    with observation(ws, chosen, plan.argv) as session:
        recorder.begin()
        env = {**(session.env or os.environ), **extra_env} if extra_env else session.env
        recorder.environ = env
        exit_code, pid = run_command(session.argv, plan.cwd, env=env)
        seen = session.result(pid, plan.cwd) if observed else None
    record = recorder.finish(exit_code, failed=exit_code != 0, seen=seen)
    return RunOutcome(exit_code, record, plan, recorder.source_writes)


@dataclass
class ObservedCommand:
    """How to start a command so its observer sees it, and how to read what it saw."""

    argv: list[str]
    env: dict[str, str] | None
    log: str | None
    observer: str

    def result(self, pid: int, cwd: str) -> Observation:
        """What the observer saw (after the command ended); ``cwd`` is where it started."""
        assert self.log is not None
        if self.observer == "python":
            return parse_python_log(self.log, pid)
        from dws.core.lineage.trace import parse_strace_log

        return from_trace(parse_strace_log(self.log, cwd))


@contextlib.contextmanager
def observation(ws: Workspace, observer: str, argv: list[str]) -> Iterator[ObservedCommand]:
    """The command line and environment for ``observer``; its log is removed after."""
    if observer == "none":
        yield ObservedCommand(list(argv), None, None, observer)
        return
    log = temp_log(ws)
    try:
        if observer == "python":
            yield ObservedCommand(list(argv), python_environment(log), log, observer)
        else:
            from dws.core.lineage.trace import strace_argv, strace_unavailable_reason

            reason = strace_unavailable_reason()
            if reason is not None:
                raise UsageError(f"--trace cannot work here: {reason}")
            yield ObservedCommand(strace_argv(argv, log), None, log, observer)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(log)


def run_command(argv: list[str], cwd: str, env: dict[str, str] | None = None) -> tuple[int, int]:
    """Run ``argv`` in ``cwd`` with inherited stdio; return its exit code (128+N when it
    was killed by signal N) and process id. Ctrl-C reaches the command, and dws waits."""
    try:
        process = subprocess.Popen(argv, cwd=cwd, env=env)
    except FileNotFoundError:
        raise UsageError(f"command not found: {argv[0]}") from None
    except PermissionError:
        raise UsageError(f"cannot execute {argv[0]}: permission denied") from None
    while True:
        try:
            code = process.wait()
            break
        except KeyboardInterrupt:
            continue  # the command got the same SIGINT; wait for it to finish
    return (128 - code if code < 0 else code), process.pid


def temp_log(ws: Workspace) -> str:
    """A fresh file in local/ for a trace log."""
    handle, path = tempfile.mkstemp(prefix="trace-", suffix=".log", dir=ws.layout.local)
    os.close(handle)
    return path
