"""The lineage graph: which run produced which content, upstream trees, staleness.

Everything is decided by content ids, never by timestamps: a run is the producer of an
input when one of its outputs had exactly the content the input had (the same path and
id, or a file inside a directory whose tree holds that file's id). The only use of time
is that a producer must have ended before its consumer started.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from msgspec import Struct, field

from dws.core.lineage.images import UNKNOWN
from dws.core.lineage.locate import CurrentIds, PathKey
from dws.model.runs import PathVersion, RunRecord
from dws.model.treediff import TreeLoader, lookup, walk_tree
from dws.resources.pathhash import PathId


def _under(inner: str, outer: str) -> str | None:
    """``inner`` relative to ``outer`` when it lies strictly inside it, else None."""
    if outer == "":
        return inner or None
    if inner.startswith(outer + "/"):
        return inner[len(outer) + 1 :]
    return None


class Staleness(Struct):
    """Why a run's outputs are out of date (empty: up to date)."""

    reasons: list[str] = field(default_factory=list)
    inherited: list[str] = field(default_factory=list)  # the reasons that lie upstream

    @property
    def only_inherited(self) -> bool:
        """True when the run's own inputs are as it read them and only an upstream step
        is stale (rerunning that step may make the same bytes again)."""
        return bool(self.reasons) and len(self.inherited) == len(self.reasons)

    @property
    def stale(self) -> bool:
        """True when anything upstream changed."""
        return bool(self.reasons)


class Upstream(Struct, frozen=True):
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
        every = list(runs)
        self.runs = [run for run in every if run.succeeded]
        self.load_tree = load_tree
        self.label = label
        self.by_id = {run.id: run for run in self.runs}
        self.outputs = _outputs_by_resource(self.runs, load_tree)
        self.failed_outputs = _outputs_by_resource([r for r in every if not r.succeeded], load_tree)
        self._stale: dict[str, Staleness] = {}
        self._prefetched: CurrentIds | None = None  # whose answers were asked for at once

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

    def producers(
        self, seen: PathVersion, consumer: RunRecord | None = None, *, any_time: bool = False
    ) -> list[RunRecord]:
        """The runs whose outputs make up content ``seen`` (the latest per output path),
        excluding ``consumer`` and (unless ``any_time``) runs that ended after it
        started."""
        latest: dict[str, RunRecord] = {}
        for run, out in self.outputs.get(seen.resource, []):
            if consumer is not None and run.id == consumer.id:
                continue
            if consumer is not None and not any_time and run.ended > consumer.started:
                continue
            if self.consistent(out, seen):
                previous = latest.get(out.path)
                if previous is None or (previous.ended, previous.id) < (run.ended, run.id):
                    latest[out.path] = run
        unique = {run.id: run for run in latest.values()}
        return sorted(unique.values(), key=lambda r: (r.ended, r.id))

    def failed_writer(self, seen: PathVersion) -> RunRecord | None:
        """The latest failed run that left exactly content ``seen``, if any."""
        found = [
            run
            for run, out in self.failed_outputs.get(seen.resource, [])
            if out.path == seen.path and out.id == seen.id and out.id is not None
        ]
        return max(found, key=lambda r: (r.ended, r.id)) if found else None

    def unobserved_writer(self, seen: PathVersion) -> RunRecord | None:
        """The latest run during which content ``seen`` appeared at its path with no
        observed process writing it (a write the run's observer could not see)."""
        found = [
            run
            for run in self.runs
            for item in run.unexplained
            if item.resource == seen.resource
            and item.path == seen.path
            and item.id == seen.id
            and item.id is not None
        ]
        return max(found, key=lambda r: (r.ended, r.id)) if found else None

    def producers_of_current(self, key: PathKey, current: PathId) -> list[RunRecord]:
        """The runs that produced what is at ``key`` now (or in the snapshot looked at)."""
        kind, oid = current
        if oid is None:
            return []
        return self.producers(PathVersion(key[0], key[1], oid, kind))

    def last_producer_of_path(self, key: PathKey) -> RunRecord | None:
        """The latest run that wrote exactly ``key`` (whatever its content is now)."""
        found = [
            run
            for run, out in self.outputs.get(key[0], [])
            if out.path == key[1] or _under(out.path, key[1]) is not None
        ]
        return max(found, key=lambda r: (r.ended, r.id)) if found else None

    def steps_writing(self, key: PathKey) -> set[str]:
        """The steps whose runs wrote ``key``, a path inside it, or a directory above it
        (whatever content is there now)."""
        return {
            run.step
            for run, out in self.outputs.get(key[0], [])
            if out.path == key[1]
            or _under(out.path, key[1]) is not None
            or _under(key[1], out.path) is not None
        }

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
        """Whether ``run``'s outputs are out of date: an input (code included) no longer
        has the content the run read, or, where the run itself rewrote or removed it, no
        longer what the run left; an input changed while the run could read it; or an
        input's content comes only from stale or failed runs (transitively). An input
        that some up-to-date run produced again, byte for byte, is current."""
        known = self._stale.get(run.id)
        if known is not None:
            return known
        if self._prefetched is not current:
            self._prefetch(current)
        result = self._stale[run.id] = Staleness()  # a cycle reads as "not stale"
        now = current.get((i.resource, i.path) for i in run.inputs if i.kind != "listing")
        for item in run.unstable:
            result.reasons.append(f"{self.label(item)} changed while the step could read it")
        for item in run.inputs:
            expected = run.left(item.resource, item.path) or item
            if item.kind == "listing":
                oid = current.listing((item.resource, item.path))
            else:
                oid = now[(item.resource, item.path)][1]
            if oid != expected.id:
                change = "is missing" if oid is None else "changed"
                result.reasons.append(f"{self.label(item)} {change}")
                continue
            if item.kind == "listing":
                continue
            reason, inherited = self._upstream_reason(run, item, current)
            if reason:
                result.reasons.append(reason)
                if inherited:
                    result.inherited.append(reason)
        for code in run.external_code:
            if code.path.startswith("/") and current.external(code.path) != code.id:
                result.reasons.append(f"{code.path} changed")
        for image in run.images:
            now_id = current.image(image)
            if now_id is None:
                result.reasons.append(f"image {image.ref} is gone")
            elif now_id not in (image.id, UNKNOWN):
                result.reasons.append(f"image {image.ref} changed")
        return result

    def _prefetch(self, current: CurrentIds) -> None:
        """Ask ``current`` about every input of every run at once, so that checking many
        runs scans each resource once instead of once per run."""
        self._prefetched = current
        inputs = [item for run in self.runs for item in run.inputs]
        current.get((i.resource, i.path) for i in inputs if i.kind != "listing")
        current.prefetch_listings((i.resource, i.path) for i in inputs if i.kind == "listing")

    def _upstream_reason(
        self, run: RunRecord, item: PathVersion, current: CurrentIds
    ) -> tuple[str, bool]:
        """Why ``item`` is out of date upstream ("" if it is not), and whether a stale
        producer (rather than a failed one) is the reason."""
        makers = self.producers(item, run, any_time=True)
        if makers:
            if all(self.staleness(p, current).stale for p in makers):
                steps = ", ".join(dict.fromkeys(p.step for p in makers))
                return f"{self.label(item)} comes from stale step {steps}", True
            return "", False
        failed = self.failed_writer(item)
        if failed is not None:
            return f"{self.label(item)} comes from a failed run of step {failed.step}", False
        return "", False

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


def _outputs_by_resource(
    runs: list[RunRecord], load_tree: TreeLoader
) -> dict[str, list[tuple[RunRecord, PathVersion]]]:
    """Every run's outputs by resource. A directory output is taken file by file (a run
    produced the files it wrote, not whatever is later added beside them)."""
    found: dict[str, list[tuple[RunRecord, PathVersion]]] = {}
    for run in runs:
        for out in run.outputs:
            if out.id is not None:
                found.setdefault(out.resource, []).extend((run, f) for f in _files(out, load_tree))
    return found


def _files(out: PathVersion, load_tree: TreeLoader) -> list[PathVersion]:
    if out.kind != "dir" or out.id is None:
        return [out]
    try:
        entries = list(walk_tree(load_tree, out.id, out.path))
    except Exception:  # tree no longer stored (gc) or damaged: the directory as recorded
        return [out]
    return [
        PathVersion(out.resource, path, entry.id, entry.kind)
        for path, entry in entries
        if not entry.is_dir
    ]
