"""The lineage graph: which run produced which content, upstream trees, staleness.

Everything is decided by content ids, never by timestamps: a run is the producer of an
input when one of its outputs had exactly the content the input had (the same path and
id, or a file inside a directory whose tree holds that file's id). The only use of time
is that a producer must have ended before its consumer started.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from dws.core.lineage.locate import CurrentIds, PathKey
from dws.model.runs import PathVersion, RunRecord
from dws.model.treediff import TreeLoader, lookup
from dws.resources.pathhash import PathId


def _under(inner: str, outer: str) -> str | None:
    """``inner`` relative to ``outer`` when it lies strictly inside it, else None."""
    if outer == "":
        return inner or None
    if inner.startswith(outer + "/"):
        return inner[len(outer) + 1 :]
    return None


@dataclass
class Staleness:
    """Why a run's outputs are out of date (empty: up to date)."""

    reasons: list[str] = field(default_factory=list)

    @property
    def stale(self) -> bool:
        """True when anything upstream changed."""
        return bool(self.reasons)


@dataclass(frozen=True)
class Upstream:
    """A run and, for each of its inputs, the runs that produced it (recursively)."""

    run: RunRecord
    inputs: list[tuple[PathVersion, list[Upstream]]]


class LineageGraph:
    """Successful runs indexed by what they produced."""

    def __init__(
        self,
        runs: Iterable[RunRecord],
        load_tree: TreeLoader,
        label: Callable[[PathVersion], str] = lambda item: item.label,
    ) -> None:
        self.runs = [run for run in runs if run.succeeded]
        self.load_tree = load_tree
        self.label = label
        self.by_id = {run.id: run for run in self.runs}
        self.outputs: dict[str, list[tuple[RunRecord, PathVersion]]] = {}
        for run in self.runs:
            for out in run.outputs:
                if out.id is not None:
                    self.outputs.setdefault(out.resource, []).append((run, out))
        self._stale: dict[str, Staleness] = {}

    # ---- matching content -------------------------------------------------------------

    def _id_inside(self, tree_id: str, rel: str) -> str | None:
        try:
            entry = lookup(self.load_tree, tree_id, rel)
        except Exception:  # tree no longer stored (gc) or damaged: cannot vouch
            return None
        return entry.id if entry is not None else None

    def consistent(self, out: PathVersion, seen: PathVersion) -> bool:
        """True when output ``out`` is (part of) the content ``seen`` records."""
        if out.resource != seen.resource or out.id is None or seen.id is None:
            return False
        if out.path == seen.path:
            return out.id == seen.id
        inside = _under(out.path, seen.path)
        if inside is not None:
            return seen.kind == "dir" and self._id_inside(seen.id, inside) == out.id
        inside = _under(seen.path, out.path)
        if inside is not None:
            return out.kind == "dir" and self._id_inside(out.id, inside) == seen.id
        return False

    def producers(self, seen: PathVersion, consumer: RunRecord | None = None) -> list[RunRecord]:
        """The runs whose outputs make up content ``seen`` (the latest per output path),
        excluding ``consumer`` and runs that ended after it started."""
        latest: dict[str, RunRecord] = {}
        for run, out in self.outputs.get(seen.resource, []):
            if consumer is not None and (run.id == consumer.id or run.ended > consumer.started):
                continue
            if self.consistent(out, seen):
                previous = latest.get(out.path)
                if previous is None or (previous.ended, previous.id) < (run.ended, run.id):
                    latest[out.path] = run
        unique = {run.id: run for run in latest.values()}
        return sorted(unique.values(), key=lambda r: (r.ended, r.id))

    def producers_of_current(self, key: PathKey, current: PathId) -> list[RunRecord]:
        """The runs that produced what is at ``key`` now (or in the snapshot looked at)."""
        kind, oid = current
        if oid is None:
            return []
        return self.producers(PathVersion(key[0], key[1], oid, kind))

    def last_producer_of_path(self, key: PathKey) -> RunRecord | None:
        """The latest run that wrote exactly ``key`` (whatever its content is now)."""
        found = [run for run, out in self.outputs.get(key[0], []) if out.path == key[1]]
        return max(found, key=lambda r: (r.ended, r.id)) if found else None

    # ---- queries ----------------------------------------------------------------------

    def upstream(self, run: RunRecord, _seen: frozenset[str] = frozenset()) -> Upstream:
        """``run`` with the producers of each input, down to source data."""
        seen = _seen | {run.id}
        inputs = []
        for item in run.inputs:
            makers = [p for p in self.producers(item, run) if p.id not in seen]
            inputs.append((item, [self.upstream(p, seen) for p in makers]))
        return Upstream(run, inputs)

    def staleness(self, run: RunRecord, current: CurrentIds) -> Staleness:
        """Whether ``run``'s outputs are out of date: an input's content is no longer what
        the run read, or an input came from a run that is itself stale (transitively)."""
        known = self._stale.get(run.id)
        if known is not None:
            return known
        result = self._stale[run.id] = Staleness()  # a cycle reads as "not stale"
        now = current.get((i.resource, i.path) for i in run.inputs)
        for item in run.inputs:
            oid = now[(item.resource, item.path)][1]
            if oid != item.id:
                change = "is missing" if oid is None else "changed"
                result.reasons.append(f"{self.label(item)} {change}")
                continue
            for producer in self.producers(item, run):
                if self.staleness(producer, current).stale:
                    result.reasons.append(
                        f"{self.label(item)} comes from stale step {producer.step}"
                    )
        return result

    def current_outputs(self, current: CurrentIds) -> list[tuple[PathVersion, RunRecord, PathId]]:
        """For every path some run wrote: (the output, the latest run whose output is what
        is there now, what is there now). Paths whose content no run produced are left
        out."""
        keys = {(out.resource, out.path) for outs in self.outputs.values() for _, out in outs}
        now = current.get(sorted(keys))
        found: dict[PathKey, tuple[PathVersion, RunRecord]] = {}
        for outs in self.outputs.values():
            for run, out in outs:
                key = (out.resource, out.path)
                if now[key][1] != out.id:
                    continue
                previous = found.get(key)
                if previous is None or (previous[1].ended, previous[1].id) < (run.ended, run.id):
                    found[key] = (out, run)
        return [(out, run, now[key]) for key, (out, run) in sorted(found.items())]

    def explaining(self, current: CurrentIds) -> list[str]:
        """Ids of the runs that explain a state: producers of content present, and every
        run upstream of them."""
        wanted: set[str] = set()
        pending = [run for _, run, _ in self.current_outputs(current)]
        while pending:
            run = pending.pop()
            if run.id in wanted:
                continue
            wanted.add(run.id)
            for item in run.inputs:
                pending.extend(self.producers(item, run))
        return sorted(wanted)
