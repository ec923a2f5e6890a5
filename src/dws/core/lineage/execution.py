"""What `dws run` does once the plan is made (``planning``): start the command with its
observer (the Python recorder, strace or none; ``observe.choose_observer``), wait for it,
and have ``RunRecorder`` record what it did; the ``RunOutcome``."""

from __future__ import annotations

import contextlib
import os
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field

from msgspec import Struct

from dws.core.lineage.observe import (
    Observation,
    choose_observer,
    from_trace,
    parse_python_log,
    python_environment,
)
from dws.core.lineage.planning import RunPlan, remember_answers
from dws.core.lineage.recording import RunRecorder, check_env_names
from dws.core.workspace import Workspace
from dws.errors import UsageError
from dws.model.runs import PathVersion, RunRecord


@dataclass
class RunOutcome:
    """The finished run: the command's exit code, its record, and what it wrote into
    source data (which makes it a failed run)."""

    exit_code: int
    record: RunRecord
    plan: RunPlan
    source_writes: list[PathVersion] = field(default_factory=list)


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


class ObservedCommand(Struct):
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
        from dws.core.lineage.strace.parse import parse_strace_log

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
            from dws.core.lineage.strace.tracer import strace_argv, strace_unavailable_reason

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
    # named after this process: gc collects the logs of processes that are gone
    prefix = f"trace-{os.getpid()}-"
    handle, path = tempfile.mkstemp(prefix=prefix, suffix=".log", dir=ws.layout.local)
    os.close(handle)
    return path
