"""`dws run --trace`: let strace tell which files inside resources a command read and
wrote, instead of classifying its arguments (see docs/trace.md for the limits).

Before the command, every data resource is scanned once (stat cache; its trees kept in
the store), so the version of any file the command turns out to have read can be looked
up afterwards, even if the command overwrote it."""

from __future__ import annotations

import contextlib
import os

from dws.core.lineage.locate import Located, PathLocator
from dws.core.lineage.recording import RunRecorder
from dws.core.lineage.runner import RunPlan, run_command, temp_log
from dws.core.workspace import Workspace
from dws.errors import UsageError
from dws.model.roles import Role
from dws.model.runs import PathVersion, RunRecord
from dws.model.treediff import lookup
from dws.store.trees import store_loader

_NOISE_PARTS = ("__pycache__",)


def _noise(located: Located) -> bool:
    """Interpreter caches and hidden directories are not inputs anybody means."""
    parts = located.path.split("/")
    return any(p.startswith(".") or p in _NOISE_PARTS for p in parts) or located.path.endswith(
        ".pyc"
    )


class TracedRun:
    """One command under strace, recorded with what it actually touched."""

    def __init__(self, ws: Workspace, plan: RunPlan, recorder: RunRecorder) -> None:
        self.ws, self.plan, self.recorder = ws, plan, recorder
        self.locator = PathLocator(ws, ws.resources())
        self.record: RunRecord

    def _before(self) -> dict[str, str]:
        """Root tree id of every data resource now (trees kept in the store)."""
        roots: dict[str, str] = {}
        with self.ws.locked("run"):
            for resource in self.ws.resources():
                if resource.role is Role.CODE:
                    continue
                kind, oid = resource.content_ids([""], keep_trees=True)[""]
                if kind == "dir" and oid is not None:
                    roots[resource.name] = oid
            self.ws.store.flush()
            self.ws.release()
        return roots

    def run(self) -> int:
        """Trace the command, then record its reads as inputs and writes as outputs."""
        from dws.core.lineage.trace import (
            parse_strace_log,
            strace_argv,
            strace_unavailable_reason,
        )

        reason = strace_unavailable_reason()
        if reason is not None:
            raise UsageError(f"--trace cannot work here: {reason}")
        log = temp_log(self.ws)
        try:
            argv = strace_argv(self.plan.argv, log)
            roots = self._before()
            self.recorder.begin()
            exit_code = run_command(argv, self.plan.cwd)
            trace = parse_strace_log(log, self.plan.cwd)
        finally:
            with contextlib.suppress(OSError):
                os.unlink(log)
        # a file read before it was rewritten in place is an input (its version before
        # the run) and an output
        written = self._located(trace.written)
        read = self._located(trace.read)
        known_out = {o.key for o in self.recorder.outputs}
        self.recorder.outputs += [w for w in written if w.key not in known_out]
        late = self._versions_before(read, roots)
        self.record = self.recorder.finish(exit_code, failed=exit_code != 0, late_inputs=late)
        return exit_code

    def _located(self, paths: set[str]) -> list[Located]:
        out: dict[str, Located] = {}
        for path in sorted(paths):
            located = self.locator.locate(path, "/")
            if located is None or _noise(located) or not located.path:
                continue
            out.setdefault(located.key, located)
        return list(out.values())

    def _versions_before(self, read: list[Located], roots: dict[str, str]) -> list[PathVersion]:
        """The versions the command read: looked up in the trees taken before it ran
        (code files are hashed now; commands rarely rewrite their own code)."""
        known = {(i.resource, i.path) for i in self.recorder.input_versions}
        load = store_loader(self.ws.store)
        out = []
        for item in read:
            key = (item.resource.name, item.path)
            if key in known:
                continue
            root = roots.get(item.resource.name)
            if root is None:
                kind, oid = item.resource.content_ids([item.path])[item.path]
            else:
                entry = lookup(load, root, item.path)
                if entry is None:
                    continue  # created during the run: not an input
                kind, oid = entry.kind, entry.id
            if kind in ("file", "symlink") and oid is not None:
                out.append(PathVersion(key[0], key[1], oid, kind))
        return out
