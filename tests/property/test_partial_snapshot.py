"""Property: after any sequence of changes and snapshots of some resources
(`snapshot(only=...)`, `snapshot(exclude=...)`), every record holds, for each resource,
the state it had when it was last snapshotted (HEAD's state for one left out), the bases
move for the resources snapshotted only, status shows exactly the changes no base holds,
and restoring any record brings back the content it describes."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import dws

NAMES = ("raw", "features", "results")
ROLES = {"raw": "source-data", "features": "intermediate-data", "results": "results"}
TMP_BASE = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None

subsets = st.sets(st.sampled_from(NAMES), min_size=1, max_size=len(NAMES) - 1)
selections = st.one_of(
    st.tuples(st.just("all"), st.just(frozenset[str]())),
    st.tuples(st.just("only"), subsets),
    st.tuples(st.just("exclude"), subsets),
)
steps = st.lists(st.tuples(st.sets(st.sampled_from(NAMES)), selections), min_size=1, max_size=5)


def write(project: Path, name: str, version: int) -> None:
    """The content of resource ``name`` at ``version`` (results: a metrics file)."""
    (project / name).mkdir(parents=True, exist_ok=True)
    if name == "results":
        (project / name / "metrics.json").write_text(json.dumps({"v": version}))
    else:
        (project / name / "f.txt").write_text(f"{name}-{version}")


def read(project: Path, name: str) -> str:
    return (project / name / "f.txt").read_text()


def bases_of(project: Path) -> dict[str, str]:
    head = json.loads((project / ".dataworkspace" / "local" / "head.json").read_text())
    return dict(head["bases"])


def chosen_by(mode: str, names: frozenset[str] | set[str]) -> set[str]:
    if mode == "only":
        return set(names)
    if mode == "exclude":
        return set(NAMES) - set(names)
    return set(NAMES)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(plan=steps, data=st.data())
def test_partial_snapshots_record_and_restore_what_they_say(
    plan: list[tuple[set[str], tuple[str, Any]]], data: st.DataObject
) -> None:
    with tempfile.TemporaryDirectory(dir=TMP_BASE) as tmp:
        project = Path(tmp) / "project"
        versions = dict.fromkeys(NAMES, 0)
        for name in NAMES:
            write(project, name, 0)
        ws = dws.Workspace.init(str(project))
        for name in NAMES:
            ws.add_resource("local-files", str(project / name), ROLES[name], name=name)
        first = ws.snapshot()
        head_id = first.record.id
        described = {head_id: dict(versions)}  # record -> the version of each resource
        states = {(n, 0): s.state for n, s in first.record.resources.items()}
        based = dict(versions)  # the version each resource's base records

        for changed, (mode, names) in plan:
            for name in changed:
                versions[name] += 1
                write(project, name, versions[name])
            chosen = chosen_by(mode, names)
            bases_before = bases_of(project)
            outcome = ws.snapshot(
                only=sorted(names) if mode == "only" else None,
                exclude=sorted(names) if mode == "exclude" else None,
            )
            expected = {n: versions[n] if n in chosen else described[head_id][n] for n in NAMES}
            unchanged = expected == described[head_id] and all(
                versions[n] == based[n] for n in chosen
            )
            record = outcome.record
            assert outcome.created is not unchanged
            assert sorted(outcome.kept) == sorted(set(NAMES) - chosen)
            assert outcome.left_out == []
            if outcome.created:
                assert record.parent == head_id
                described[record.id] = expected
            else:
                assert record.id == head_id
            for name in NAMES:
                state = record.resources[name].state
                known = states.setdefault((name, expected[name]), state)
                assert state == known, name
            assert record.metrics["results/metrics.json"] == {"v": float(expected["results"])}
            bases = bases_of(project)
            for name in NAMES:
                assert bases[name] == (record.id if name in chosen else bases_before[name])
            for name in chosen:
                based[name] = versions[name]
            status = {item.name: bool(item.visible) for item in ws.status()}
            assert status == {n: versions[n] != based[n] for n in NAMES}
            head_id = record.id

        target = data.draw(st.sampled_from(sorted(described)))
        ws.restore(target, force=True)
        for name in ("raw", "features"):  # results are never reverted
            assert read(project, name) == f"{name}-{described[target][name]}"
        assert json.loads((project / "results" / "metrics.json").read_text()) == {
            "v": versions["results"]
        }
