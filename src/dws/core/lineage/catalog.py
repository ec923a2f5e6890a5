"""Run records and remembered step answers on disk (lineage/runs/, lineage/steps/)."""

from __future__ import annotations

import os

from dws.core.layout import Layout
from dws.errors import DwsError, NotFoundError, UsageError
from dws.model.ids import MIN_PREFIX, check_object_id, is_object_id, shown
from dws.model.records import encode_record
from dws.model.runs import (
    RunRecord,
    StepMemory,
    check_step_name,
    decode_run_record,
    decode_step_memory,
)
from dws.store.base import ObjectStore
from dws.store.fileio import write_atomic
from dws.store.trees import get_tree

# run records decoded in this process: path -> (the bytes decoded, the record)
_DECODED: dict[str, tuple[bytes, RunRecord]] = {}
DECODED_LIMIT = 200_000


class RunCatalog:
    """The lineage/ directory of a workspace. Run records are write-once; step files
    are replaced atomically."""

    def __init__(self, layout: Layout) -> None:
        self.runs_dir = os.path.join(layout.lineage, "runs")
        self.steps_dir = os.path.join(layout.lineage, "steps")
        self.warnings: list[str] = []

    def ids(self) -> list[str]:
        """Ids of every run record present."""
        try:
            names = os.listdir(self.runs_dir)
        except FileNotFoundError:
            return []
        return [n[:-5] for n in names if n.endswith(".json") and is_object_id(n[:-5])]

    def get(self, run_id: str) -> RunRecord:
        """Load and verify one run record. Bytes this process has decoded before are not
        decoded again (a long-running reader such as `dws ui`, or a command that asks twice,
        pays for each record once); any other bytes at that path are decoded and checked."""
        check_object_id(run_id, "run id")
        path = os.path.join(self.runs_dir, run_id + ".json")
        try:
            with open(path, "rb") as handle:
                data = handle.read()
        except FileNotFoundError:
            raise NotFoundError(f"run {run_id[:12]} does not exist") from None
        known = _DECODED.get(path)
        if known is not None and known[0] == data:
            return known[1]
        record = decode_run_record(data, run_id)
        if len(_DECODED) >= DECODED_LIMIT:
            _DECODED.clear()
        _DECODED[path] = (data, record)
        return record

    def find(self, given: str) -> RunRecord:
        """The record whose id is ``given`` or starts with it (at least 4 lower-case hex
        digits); NotFoundError for none, UsageError for several."""
        if is_object_id(given):
            return self.get(given)
        if len(given) < MIN_PREFIX or not all(c in "0123456789abcdef" for c in given):
            raise UsageError(
                f"{shown(given)} is not a run id (give at least {MIN_PREFIX} hex digits)"
            )
        matches = [run_id for run_id in self.ids() if run_id.startswith(given)]
        if not matches:
            raise NotFoundError(f"no run {given}")
        if len(matches) > 1:
            raise UsageError(f"run id {given} is ambiguous: {len(matches)} runs start with it")
        return self.get(matches[0])

    def some(self, run_ids: list[str]) -> tuple[list[RunRecord], set[str]]:
        """The valid records of ``run_ids``, oldest first, and the ids with no valid record
        here; a damaged one is skipped with a warning, as in ``all``."""
        records, absent = [], set()
        for run_id in dict.fromkeys(run_ids):
            try:
                records.append(self.get(run_id))
            except NotFoundError:
                absent.add(run_id)
            except DwsError as exc:
                absent.add(run_id)
                self.warnings.append(f"run record {run_id[:12]} skipped: {exc.message}")
        return sorted(records, key=lambda r: (r.ended, r.started, r.id)), absent

    def all(self) -> list[RunRecord]:
        """Every valid run record, oldest first; a damaged one is skipped with a warning
        (it must not hide the rest of the lineage)."""
        records = []
        for run_id in self.ids():
            try:
                records.append(self.get(run_id))
            except DwsError as exc:
                self.warnings.append(f"run record {run_id[:12]} skipped: {exc.message}")
        return sorted(records, key=lambda r: (r.ended, r.started, r.id))

    def put(self, record: RunRecord) -> None:
        """Write a run record durably; write-once."""
        os.makedirs(self.runs_dir, exist_ok=True)
        path = os.path.join(self.runs_dir, record.id + ".json")
        if not os.path.exists(path):
            write_atomic(path, encode_record(record) + b"\n", durable=True)

    def step_memory(self, step: str) -> StepMemory:
        """The remembered answers for ``step`` (empty if none)."""
        check_step_name(step)
        try:
            with open(os.path.join(self.steps_dir, step + ".json"), "rb") as handle:
                return decode_step_memory(handle.read(), step)
        except FileNotFoundError:
            return StepMemory(step=step)

    def save_step_memory(self, memory: StepMemory) -> None:
        """Replace lineage/steps/<step>.json."""
        check_step_name(memory.step)
        os.makedirs(self.steps_dir, exist_ok=True)
        path = os.path.join(self.steps_dir, memory.step + ".json")
        write_atomic(path, encode_record(memory) + b"\n", durable=True)


def run_trees(layout: Layout, store: ObjectStore, code_resources: frozenset[str]) -> set[str]:
    """Objects the run records need: the trees of their directory inputs and outputs
    (and the stored trees below them), so lineage can still look inside those
    directories (their file blobs need not be stored), and the code they ran (files of
    ``code_resources`` and external code), so a run can be reproduced."""
    records = RunCatalog(layout).all()
    roots = [
        item.id
        for record in records
        for item in [*record.inputs, *record.outputs]
        if item.kind == "dir" and item.id is not None
    ]
    found: set[str] = {
        oid
        for record in records
        for oid in [
            *(c.id for c in record.external_code),
            *(i.id for i in record.inputs if i.resource in code_resources and i.kind == "file"),
        ]
        if oid is not None and store.has(oid)
    }
    while roots:
        oid = roots.pop()
        if oid in found or not store.has(oid):
            continue
        found.add(oid)
        try:
            tree = get_tree(store, oid)
        except DwsError:
            continue
        roots.extend(entry.id for entry in tree.entries if entry.is_dir)
    return found
