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
import time
from collections.abc import Mapping
from importlib import metadata
from typing import Any

from msgspec import Struct, field

from dws.core.lineage.accounting import RunAccounting, account_observation, signature_of
from dws.core.lineage.approvals import CommandApprovals, command_digest
from dws.core.lineage.catalog import RunCatalog
from dws.core.lineage.census import Census, take_census
from dws.core.lineage.images import command_image, resolve
from dws.core.lineage.locate import Located
from dws.core.lineage.observe import Observation, Signature
from dws.core.workspace import Workspace, utc_now
from dws.errors import DwsError, RefusedError, UsageError
from dws.model.argclass import looks_secret
from dws.model.distribution import DISTRIBUTION
from dws.model.roles import Role
from dws.model.runs import DEFAULT_ENV_VARS, CodeVersion, ImageVersion, PathVersion, RunRecord
from dws.resources.base import Resource

RECORD_WAIT_SECONDS = 600.0


def check_env_names(names: list[str]) -> list[str]:
    """Names of environment variables to record; secrets are refused."""
    for name in names:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise UsageError(f"invalid environment variable name {name!r}")
        if looks_secret(name):
            raise UsageError(f"{name} looks like a secret; dws does not record secrets")
    return names


def environment_summary(
    names: list[str], environ: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Python, platform, dws version and the chosen variables that are set (in the
    command's environment ``environ``, by default dws's own)."""
    environ = os.environ if environ is None else environ
    try:
        version = metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        version = "unknown"
    summary = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "dws": version,
    }
    for name in [*DEFAULT_ENV_VARS, *names]:
        if name in environ:
            summary[f"env.{name}"] = environ[name]
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


def _full(located: Located) -> str:
    return os.path.join(located.resource.local_path() or "", located.path)


def _exists(located: Located) -> bool:
    if located.resource.local_path() is None:
        return True  # not on this disk (an S3 prefix): its type answers when hashed
    return os.path.lexists(_full(located))


def _more(items: list[str]) -> str:
    return f" (and {len(items) - 1} more)" if len(items) > 1 else ""


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


class RunRecorder(Struct):
    """Collects one run's record: ``begin`` before the work, ``finish`` after it.

    ``inputs`` and ``outputs`` are what the command line (or the Python step) declared;
    ``finish`` adds what the observer saw, and credits a declared output only where the
    run changed something (see accounting.py)."""

    ws: Workspace
    step: str
    via: str
    argv: list[str]
    cwd: str
    inputs: list[Located]
    outputs: list[Located]
    params: dict[str, Any]
    env_names: list[str] = field(default_factory=list)
    observer: str = "declared"
    environ: dict[str, str] | None = None  # the command's environment (None: dws's)
    metrics: dict[str, float] = field(default_factory=dict)
    started: str = ""
    started_ns: int = 0
    code: list[CodeVersion] = field(default_factory=list)
    images: list[ImageVersion] = field(default_factory=list)
    census: Census = field(default_factory=dict)
    output_signatures: dict[str, Signature | None] = field(default_factory=dict)
    source_writes: list[PathVersion] = field(default_factory=list)

    def begin(self) -> None:
        """Take the census, note the code versions and the declared outputs' signatures
        (under the lock)."""
        refuse_source_outputs(self.outputs)
        missing = [i.key for i in self.inputs if not _exists(i)]
        if missing:
            raise UsageError(f"input {missing[0]} does not exist" + _more(missing))
        with self.ws.locked("run"):
            resources = self.ws.resources()
            self.census = take_census(self.ws, resources)
            self.output_signatures = {o.key: signature_of(_full(o)) for o in self.outputs}
            self.code = []
            for resource in resources:
                version = resource.code_version()
                if version is not None:
                    commit, branch, dirty = version
                    self.code.append(CodeVersion(resource.name, commit, branch, dirty[:1000]))
            self.images = self._images(resources)
            self.ws.release()
        self.started = utc_now()
        self.started_ns = time.time_ns()

    def finish(
        self, exit_code: int | None, *, failed: bool, seen: Observation | None = None
    ) -> RunRecord:
        """Take the census again, account for what happened, write the run record
        (waiting longer for the lock). A run that wrote into source data is failed."""
        ended = utc_now()
        with self.ws.locked("run", at_least=RECORD_WAIT_SECONDS):
            resources = self.ws.resources()
            after = take_census(self.ws, resources)
            accounting = RunAccounting(self.ws, resources, self.census, after, self.started_ns)
            for item in accounting.declared_versions(self.inputs):
                accounting.result.add_input(item)
            if seen is not None:
                account_observation(accounting, seen)
            accounting.add_declared_outputs(self.outputs, self.output_signatures)
            accounting.add_unexplained()
            facts = accounting.result
            self.source_writes = facts.touched_source({r.name: r.role for r in resources})
            record = RunRecord(
                step=self.step,
                via=self.via,  # type: ignore[arg-type]
                argv=self.argv,
                cwd=self._relative_cwd(),
                started=self.started,
                ended=ended,
                exit_code=exit_code,
                status="failed" if failed or self.source_writes else "succeeded",
                hostname=os.uname().nodename,
                user=_user(),
                environment=environment_summary(self.env_names, self.environ),
                code=self.code,
                inputs=facts.inputs,
                outputs=facts.outputs,
                params=self.params,
                metrics=self.metrics,
                traced=self.observer == "strace",
                observer=self.observer,
                removed=facts.removed,
                unexplained=facts.unexplained,
                unstable=facts.unstable,
                unobserved=facts.unobserved,
                external_code=facts.external_code,
                images=self._command_image_after(),
            ).with_id()
            self.ws.store.flush()  # trees and code the record names are durable first
            RunCatalog(self.ws.layout).put(record)
            if self.via == "command":  # this machine ran it: `dws rerun` may run it again
                CommandApprovals(self.ws.layout).approve([command_digest(record)])
            self.ws.release()
        return record

    def _images(self, resources: list[Resource]) -> list[ImageVersion]:
        """The image of every container code resource, and the image a ``docker run`` /
        ``podman run`` command line runs, as they are when the run starts."""
        images = []
        for resource in resources:
            try:
                version = resource.image_version()
            except DwsError:
                continue  # its tool cannot be asked here: nothing to pin
            if version is not None:
                images.append(version)
        named = command_image(self.argv) if self.via == "command" else None
        if named is not None:
            tool, ref = named
            owner = next((i.resource for i in images if i.ref == ref), None)
            found = resolve(tool, ref, owner)
            if found is not None and found not in images:
                images.append(found)
        return images

    def _command_image_after(self) -> list[ImageVersion]:
        """The images of ``begin``; an image the command line names that was not local
        when the run started (``run`` pulled it) is resolved now."""
        named = command_image(self.argv) if self.via == "command" else None
        if named is None or any(
            i.ref == named[1] and i.options == list(named[0].options) for i in self.images
        ):
            return self.images
        found = resolve(*named)
        return [*self.images, found] if found is not None else self.images

    def _relative_cwd(self) -> str:
        rel = os.path.relpath(os.path.realpath(self.cwd), os.path.realpath(self.ws.root))
        if rel == "." or rel.startswith(".."):
            return "."
        return rel.replace(os.sep, "/")
