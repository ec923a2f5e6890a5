"""Recording one run: hash the inputs before, the outputs after, write the run record.

Hashes are taken under the workspace lock (directory trees go to the store so later
queries can look inside them), but the command itself runs without it, so a long run
never blocks `dws status` or a snapshot. After the command, dws waits longer for the lock:
the run has happened and must be recorded.
"""

from __future__ import annotations

import getpass
import os
import platform
import re
import socket
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

from dws.core.lineage.catalog import RunCatalog
from dws.core.lineage.locate import CurrentIds, Located
from dws.core.workspace import Workspace, utc_now
from dws.errors import RefusedError, UsageError
from dws.model.argclass import looks_secret
from dws.model.roles import Role
from dws.model.runs import CodeVersion, PathVersion, RunRecord
from dws.resources.base import Resource

RECORD_WAIT_SECONDS = 600.0
DEFAULT_ENV_VARS = (
    "CUDA_VISIBLE_DEVICES",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "PYTHONHASHSEED",
)


def check_env_names(names: list[str]) -> list[str]:
    """Names of environment variables to record; secrets are refused."""
    for name in names:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise UsageError(f"invalid environment variable name {name!r}")
        if looks_secret(name):
            raise UsageError(f"{name} looks like a secret; dws does not record secrets")
    return names


def environment_summary(names: list[str]) -> dict[str, str]:
    """Python, platform, dws version and the chosen variables that are set."""
    try:
        version = metadata.version("dws")
    except metadata.PackageNotFoundError:
        version = "unknown"
    summary = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "dws": version,
    }
    for name in [*DEFAULT_ENV_VARS, *names]:
        if name in os.environ:
            summary[f"env.{name}"] = os.environ[name]
    return summary


def refuse_source_outputs(outputs: list[Located]) -> None:
    """Writing into source data is refused before anything runs (exit 3)."""
    bad = [o.key for o in outputs if o.resource.role is Role.SOURCE_DATA]
    if bad:
        raise RefusedError(
            "refusing to write outputs into source-data: " + ", ".join(bad),
            details=[
                "source data is only ever read; write outputs to intermediate-data or results"
            ],
        )


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


@dataclass
class RunRecorder:
    """Collects one run's record: ``begin`` before the work, ``finish`` after it."""

    ws: Workspace
    step: str
    via: str
    argv: list[str]
    cwd: str
    inputs: list[Located]
    outputs: list[Located]
    params: dict[str, Any]
    env_names: list[str] = field(default_factory=list)
    traced: bool = False
    metrics: dict[str, float] = field(default_factory=dict)
    started: str = ""
    code: list[CodeVersion] = field(default_factory=list)
    input_versions: list[PathVersion] = field(default_factory=list)

    def _versions(self, items: list[Located]) -> list[PathVersion]:
        # fresh resource objects: the ones planning used may hold a store since closed
        fresh: dict[str, Resource] = {r.name: r for r in self.ws.resources()}
        ids = CurrentIds(fresh, keep_trees=True)
        found = ids.get((i.resource.name, i.path) for i in items)
        seen: set[tuple[str, str]] = set()
        out = []
        for item in items:
            key = (item.resource.name, item.path)
            if key in seen:
                continue
            seen.add(key)
            kind, oid = found[key]
            out.append(PathVersion(key[0], key[1], oid, kind))
        return out

    def begin(self) -> None:
        """Hash the inputs and note the code versions (under the lock)."""
        refuse_source_outputs(self.outputs)
        with self.ws.locked("run"):
            self.input_versions = self._versions(self.inputs)
            self.code = []
            for resource in self.ws.resources():
                version = resource.code_version()
                if version is not None:
                    commit, branch, dirty = version
                    self.code.append(CodeVersion(resource.name, commit, branch, dirty[:1000]))
            self.ws.store.flush()  # make the input trees visible (an open pack is private)
            self.ws.release()
        self.started = utc_now()

    def finish(
        self, exit_code: int | None, *, failed: bool, late_inputs: list[PathVersion] | None = None
    ) -> RunRecord:
        """Hash the outputs and write the run record (waiting longer for the lock)."""
        ended = utc_now()
        with self.ws.locked("run", at_least=RECORD_WAIT_SECONDS):
            outputs = self._versions(self.outputs)
            record = RunRecord(
                step=self.step,
                via=self.via,  # type: ignore[arg-type]
                argv=self.argv,
                cwd=self._relative_cwd(),
                started=self.started,
                ended=ended,
                exit_code=exit_code,
                status="failed" if failed else "succeeded",
                hostname=socket.gethostname(),
                user=_user(),
                environment=environment_summary(self.env_names),
                code=self.code,
                inputs=[*self.input_versions, *(late_inputs or [])],
                outputs=outputs,
                params=self.params,
                metrics=self.metrics,
                traced=self.traced,
            ).with_id()
            self.ws.store.flush()  # trees the record names are durable first
            RunCatalog(self.ws.layout).put(record)
            self.ws.release()
        return record

    def _relative_cwd(self) -> str:
        rel = os.path.relpath(os.path.realpath(self.cwd), os.path.realpath(self.ws.root))
        if rel == "." or rel.startswith(".."):
            return "."
        return rel.replace(os.sep, "/")
