"""Results across snapshots, without restoring anything (DESIGN §2, results role)."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass

from dws.core.catalog import SnapshotCatalog
from dws.core.inspect import resource_for
from dws.core.workspace import Workspace
from dws.errors import NotFoundError, UsageError
from dws.model.roles import Role


@dataclass
class ResultsRow:
    """One snapshot's metrics, flattened to 'resource/file:key' columns."""

    snapshot: str
    created: str
    tags: list[str]
    message: str
    metrics: dict[str, float]


def results_table(ws: Workspace) -> list[ResultsRow]:
    """One row per snapshot (oldest first) holding the metrics found in its results."""
    catalog = SnapshotCatalog(ws.layout)
    tags = catalog.tags_by_snapshot()
    rows = []
    for record in catalog.all():
        flat: dict[str, float] = {}
        for source, values in record.metrics.items():
            for key, value in values.items():
                flat[f"{source}:{key}"] = value
        rows.append(
            ResultsRow(record.id, record.created, tags.get(record.id, []), record.message, flat)
        )
    return rows


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
