"""Which recorded command lines this machine may run again (`dws rerun`).

Run records travel with pull and clone, so a record may hold a command line someone else
wrote. `dws rerun` runs a recorded command only when this machine ran it itself (`dws
run` approves what it records) or a person here approved it. An approval covers exactly
one command: its argv, its directory and the environment variables rerun sets for it.
Approvals live in ``local/approved-commands.json`` (machine-local, never shared)."""

from __future__ import annotations

import json
from typing import Any

import msgspec

from dws.core.layout import Layout
from dws.model.digest import hash_bytes
from dws.model.records import decode_json, encode_record
from dws.model.runs import RunRecord
from dws.store.fileio import write_atomic

APPROVALS_FILE = "approved-commands.json"


class Approvals(msgspec.Struct):
    """local/approved-commands.json."""

    format: int = 1
    commands: list[str] = []


def command_digest(run: RunRecord) -> str:
    """The identity of what rerunning ``run`` executes: argv, directory, environment."""
    env = sorted(run.recorded_env().items())
    body = json.dumps([run.argv, run.cwd, env], ensure_ascii=False)
    return hash_bytes(body.encode("utf-8", "surrogateescape"))


class CommandApprovals:
    """The approved command digests of this machine (callers hold the workspace lock to
    add)."""

    def __init__(self, layout: Layout) -> None:
        self.path = layout.local_file(APPROVALS_FILE)

    def _load(self) -> Approvals:
        try:
            with open(self.path, "rb") as handle:
                data = handle.read()
        except FileNotFoundError:
            return Approvals()
        approvals: Approvals = decode_json(data, Approvals, f"local/{APPROVALS_FILE}")
        return approvals

    def approved(self) -> set[str]:
        """Every approved digest."""
        return set(self._load().commands)

    def approve(self, digests: list[str]) -> None:
        """Remember ``digests`` as approved."""
        known = self._load()
        merged = sorted(set(known.commands) | set(digests))
        if merged != known.commands:
            write_atomic(self.path, encode_record(Approvals(commands=merged)) + b"\n")


def describe(run: RunRecord) -> dict[str, Any]:
    """What a person is asked to approve."""
    return {
        "step": run.step,
        "argv": list(run.argv),
        "cwd": run.cwd,
        "env": run.recorded_env(),
        "recorded_by": f"{run.user}@{run.hostname}",
        "run": run.id,
    }
