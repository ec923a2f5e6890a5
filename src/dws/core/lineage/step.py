"""The step context manager of the Python API: the same run record `dws run` writes,
for code in a notebook or script."""

from __future__ import annotations

import json
import os
import sys
from types import TracebackType
from typing import Any

from dws.core.lineage.inprocess import caller_code, observing
from dws.core.lineage.locate import Located, PathLocator
from dws.core.lineage.recording import RunRecorder
from dws.core.workspace import Workspace
from dws.errors import UsageError
from dws.model.metrics import flatten_metrics
from dws.model.roles import Role
from dws.model.runs import RunRecord, check_step_name
from dws.store.fileio import write_atomic

METRICS_FILE = "metrics.json"


class Step:
    """``with ws.step("train", inputs=[...], outputs=[...], params={...}) as step:``

    Inputs are hashed on entry, outputs on exit; an exception marks the run failed (it
    is recorded, but never counts as the producer of its outputs) and is re-raised."""

    def __init__(
        self,
        ws: Workspace,
        name: str,
        inputs: list[str],
        outputs: list[str],
        params: dict[str, Any],
        cwd: str | None = None,
    ) -> None:
        check_step_name(name)
        self.ws = ws
        self.cwd = os.path.abspath(cwd or os.getcwd())
        self.locator = PathLocator(ws, ws.resources())
        self.recorder = RunRecorder(
            ws,
            name,
            "python",
            list(sys.argv),
            self.cwd,
            [self._locate(p, "input") for p in inputs],
            [self._locate(p, "output") for p in outputs],
            dict(json.loads(json.dumps(params, default=str))),
            observer="python",
        )
        self.record: RunRecord | None = None
        self._metrics_path: str | None = None

    def _locate(self, path: str, what: str) -> Located:
        located = self.locator.locate(os.fspath(path), self.cwd)
        if located is None:
            raise UsageError(f"{what} {path}: not inside any resource of this workspace")
        return located

    def __enter__(self) -> Step:
        self.recorder.begin()
        self._code = caller_code(sys._getframe(1))
        self._observing = observing()
        self._seen = self._observing.__enter__()
        return self

    def log_metrics(self, metrics: dict[str, Any], path: str | None = None) -> str:
        """Merge ``metrics`` into ``<results resource>/<step>/metrics.json`` (or ``path``),
        which becomes an output of the step; numeric leaves also go into the run record.
        Returns the file's path."""
        target = self._metrics_target(path)
        current: dict[str, Any] = {}
        if os.path.exists(target):
            try:
                with open(target, encoding="utf-8") as handle:
                    loaded = json.load(handle)
                current = loaded if isinstance(loaded, dict) else {}
            except (OSError, ValueError):
                current = {}
        current.update(metrics)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        data = json.dumps(current, indent=2, sort_keys=True, default=str) + "\n"
        write_atomic(target, data.encode())
        self.recorder.metrics.update(flatten_metrics(current))
        located = self._locate(target, "metrics file")
        if located.key not in {o.key for o in self.recorder.outputs}:
            self.recorder.outputs.append(located)
        return target

    def _metrics_target(self, path: str | None) -> str:
        if path is not None:
            return os.path.join(self.cwd, path)
        if self._metrics_path is None:
            results = [r for r in self.ws.resources() if r.role is Role.RESULTS]
            root = results[0].local_path() if results else None
            if root is None:
                raise UsageError("log_metrics needs a results resource (or a path=...)")
            self._metrics_path = os.path.join(root, self.recorder.step, METRICS_FILE)
        return self._metrics_path

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        failed = kind is not None
        self._observing.__exit__(None, None, None)
        seen = self._seen
        if self._code is not None:
            name, source = self._code
            if source:
                seen.sources[name] = source
            else:
                seen.executed.add(os.path.abspath(name))
        self.record = self.recorder.finish(1 if failed else 0, failed=failed, seen=seen)
