"""Results across snapshots, without restoring anything."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field

from dws.core.catalog import SnapshotCatalog
from dws.core.lineage.locate import PathLocator
from dws.core.views import resource_for
from dws.core.workspace import Workspace
from dws.errors import DwsError, NotFoundError, UsageError
from dws.model.roles import Role


@dataclass
class ResultsRow:
    """One snapshot's metrics, flattened to 'resource/file:key' columns; ``stale`` lists
    the columns whose file was the output of a stale run when the snapshot was taken."""

    snapshot: str
    created: str
    tags: list[str]
    message: str
    metrics: dict[str, float]
    stale: list[str] = field(default_factory=list)


def results_table(ws: Workspace) -> list[ResultsRow]:
    """One row per snapshot (oldest first) holding the metrics found in its results."""
    catalog = SnapshotCatalog(ws.layout)
    tags = catalog.tags_by_snapshot()
    rows = []
    paths = _MetricPaths(ws)
    for record in catalog.all():
        flat: dict[str, float] = {}
        stale: list[str] = []
        for source, values in record.metrics.items():
            from_stale = bool(record.stale) and _under_any(paths.key(source), record.stale)
            for key, value in values.items():
                flat[f"{source}:{key}"] = value
                if from_stale:
                    stale.append(f"{source}:{key}")
        rows.append(
            ResultsRow(
                record.id, record.created, tags.get(record.id, []), record.message, flat, stale
            )
        )
    return rows


class _MetricPaths:
    """Workspace-relative paths of metrics files ('resource/path' in a record), as stale
    outputs are recorded; resources are only looked at when a snapshot lists any."""

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        self._locator: PathLocator | None = None

    def key(self, source: str) -> str:
        name, _, path = source.partition("/")
        if self._locator is None:
            try:
                resources = self.ws.resources()
            except DwsError:
                resources = []
            self._locator = PathLocator(self.ws, resources)
        resource = self._locator.resources.get(name)
        return source if resource is None else self._locator.key(resource, path)


def _under_any(path: str, stale: list[str]) -> bool:
    """True when ``path`` is one of ``stale`` or inside one of them (a stale directory)."""
    return any(path == item or path.startswith(item.rstrip("/") + "/") for item in stale)


def export_results(ws: Workspace, ref: str, dest: str) -> dict[str, int]:
    """Materialise the results resources of snapshot ``ref`` into ``dest/<resource>/``."""
    catalog = SnapshotCatalog(ws.layout)
    record = catalog.get(catalog.resolve(ref, ws.head().snapshot))
    chosen = {n: r for n, r in record.resources.items() if r.role is Role.RESULTS}
    if not chosen:
        raise NotFoundError(f"snapshot {record.id[:12]} records no results resource")
    target = os.path.abspath(dest)
    if os.path.exists(target) and (not os.path.isdir(target) or os.listdir(target)):
        raise UsageError(f"{dest} exists and is not an empty directory")
    created = not os.path.exists(target)
    os.makedirs(target, exist_ok=True)
    try:
        return {
            name: resource_for(ws, name, recorded).export(
                recorded.state, os.path.join(target, name)
            )
            for name, recorded in chosen.items()
        }
    except BaseException:
        if created:
            shutil.rmtree(target, ignore_errors=True)
        else:
            for name in chosen:
                shutil.rmtree(os.path.join(target, name), ignore_errors=True)
        raise
