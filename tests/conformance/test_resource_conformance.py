"""One conformance suite for the Resource interface, run over every resource type.

Types are listed in ``conftest.RESOURCE_KINDS``; each is driven through a harness, so git and
s3 resources join by adding a harness there.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import msgspec
import pytest

from dws.errors import IntegrityError, NotFoundError, UsageError
from dws.model.digest import hash_bytes
from dws.model.treediff import Change
from dws.resources.base import State
from helpers.common import manifest

from .conftest import HarnessFactory, ResourceHarness

INITIAL: dict[str, bytes] = {
    "a.txt": b"alpha",
    "b.csv": b"1,2,3\n",
    "dir/c.bin": bytes(range(256)),
    "dir/sub/d.json": b'{"acc": 0.5}',
    "metrics.json": b'{"loss": 1.0}',
    "with space/日本 é.txt": b"unicode",
    "empty.txt": b"",
}


INVERSE = {"modified": "modified", "added": "deleted", "deleted": "added"}


def visible(changes: list[Change]) -> dict[str, str]:
    return {change.path: change.status for change in changes if change.visible}


def mutate(harness: ResourceHarness) -> dict[str, str]:
    """Modify, delete and add; return the expected visible changes."""
    harness.write({"a.txt": b"alpha, changed", "new/deep/e.txt": b"new file"})
    harness.delete("dir/c.bin")
    harness.write({"dir/sub/d.json": b'{"acc": 0.75}'})
    return {
        "a.txt": "modified",
        "dir/c.bin": "deleted",
        "dir/sub/d.json": "modified",
        "new/deep/e.txt": "added",
    }


def snapshot_initial(harness: ResourceHarness) -> State:
    harness.write(INITIAL)
    state = harness.resource.snapshot(None)
    harness.resource.committed()
    return state


# ---- snapshot and status ------------------------------------------------------------------


def test_snapshot_returns_a_json_state(harness: ResourceHarness) -> None:
    state = snapshot_initial(harness)
    assert isinstance(state, dict)
    assert state
    assert json.loads(msgspec.json.encode(state)) == state


def test_snapshot_of_an_unchanged_state_is_identical(harness: ResourceHarness) -> None:
    state = snapshot_initial(harness)
    assert harness.resource.snapshot(state) == state
    assert harness.fresh().snapshot(None) == state


def test_snapshots_of_different_states_differ(harness: ResourceHarness) -> None:
    state = snapshot_initial(harness)
    harness.write({"a.txt": b"other"})
    assert harness.resource.snapshot(state) != state


def test_status_against_its_own_snapshot_is_empty(harness: ResourceHarness) -> None:
    state = snapshot_initial(harness)
    assert harness.resource.status(state) == []
    assert harness.fresh().status(state) == []


def test_status_without_a_base_lists_everything_as_added(harness: ResourceHarness) -> None:
    harness.write(INITIAL)
    changes = visible(harness.resource.status(None))
    assert changes == {path: "added" for path in INITIAL}


def test_status_lists_exactly_the_changed_paths(harness: ResourceHarness) -> None:
    state = snapshot_initial(harness)
    expected = mutate(harness)
    assert visible(harness.resource.status(state)) == expected
    assert visible(harness.fresh().status(state)) == expected


def test_status_changes_carry_the_recorded_and_current_entries(harness: ResourceHarness) -> None:
    state = snapshot_initial(harness)
    mutate(harness)
    by_path = {c.path: c for c in harness.resource.status(state)}
    modified = by_path["a.txt"]
    assert modified.old is not None and modified.old.id == hash_bytes(b"alpha")
    assert modified.new is not None and modified.new.id == hash_bytes(b"alpha, changed")
    assert by_path["dir/c.bin"].new is None
    assert by_path["new/deep/e.txt"].old is None


def test_status_reverting_a_change_is_clean_again(harness: ResourceHarness) -> None:
    state = snapshot_initial(harness)
    harness.write({"a.txt": b"temporary"})
    assert visible(harness.resource.status(state)) == {"a.txt": "modified"}
    harness.write({"a.txt": b"alpha"})
    assert harness.resource.status(state) == []


def test_status_does_not_store_anything(harness: ResourceHarness) -> None:
    harness.write(INITIAL)
    harness.resource.status(None)
    assert not any(harness.store.has(hash_bytes(data)) for data in INITIAL.values())


# ---- restore ------------------------------------------------------------------------------


def test_plan_restore_touches_nothing(harness: ResourceHarness) -> None:
    state = snapshot_initial(harness)
    mutate(harness)
    before = harness.working_manifest()
    stored = sorted(harness.store.iter_ids())
    plan = harness.resource.plan_restore(state, [state])
    assert plan.changes
    assert harness.working_manifest() == before
    assert sorted(harness.store.iter_ids()) == stored


def test_plan_restore_describes_the_changes(harness: ResourceHarness) -> None:
    state = snapshot_initial(harness)
    expected = mutate(harness)
    plan = harness.resource.plan_restore(state, [state])
    assert plan.resource == harness.resource.name
    assert visible(plan.changes) == {path: INVERSE[status] for path, status in expected.items()}
    assert plan.missing_objects == []
    assert plan.verify_failures == []


def test_unsaved_changes_are_conflicts(harness: ResourceHarness) -> None:
    state = snapshot_initial(harness)
    mutate(harness)
    plan = harness.resource.plan_restore(state, [state])
    # a deleted file comes back without loss; modified and new files would be lost
    assert sorted(plan.conflicts) == ["a.txt", "dir/sub/d.json", "new/deep/e.txt"]


def test_saved_changes_are_not_conflicts(harness: ResourceHarness) -> None:
    first = snapshot_initial(harness)
    mutate(harness)
    second = harness.resource.snapshot(first)
    plan = harness.resource.plan_restore(first, [second])
    assert plan.conflicts == []
    assert plan.changes


def test_without_a_base_every_overwritten_file_is_a_conflict(harness: ResourceHarness) -> None:
    state = snapshot_initial(harness)
    mutate(harness)
    plan = harness.resource.plan_restore(state, [])
    assert sorted(plan.conflicts) == ["a.txt", "dir/sub/d.json", "new/deep/e.txt"]


def test_content_the_store_holds_is_not_a_conflict(harness: ResourceHarness) -> None:
    first = snapshot_initial(harness)
    mutate(harness)
    harness.resource.snapshot(first)  # the store now holds the changed files
    harness.resource.committed()
    plan = harness.fresh().plan_restore(first, [])  # ... but no saved state does
    if harness.fresh().save_paths([]) is None:
        pytest.skip("the type keeps overwritten content its own way (a patch, versions)")
    assert plan.conflicts == []
    assert sorted(plan.recoverable) == ["a.txt", "dir/sub/d.json", "new/deep/e.txt"]


def test_saved_paths_come_back_byte_for_byte(harness: ResourceHarness, tmp_path: Path) -> None:
    state = snapshot_initial(harness)
    mutate(harness)
    changed = harness.working_manifest()
    resource = harness.fresh()
    plan = resource.plan_restore(state, [])
    saved = resource.save_paths(plan.conflicts)
    if saved is None:
        pytest.skip("the type keeps overwritten content its own way (a patch, versions)")
    resource.apply_restore(plan)
    put_back = harness.fresh().plan_put_back(saved, str(tmp_path / "out"))
    assert put_back.clashes == [] and sorted(put_back.writes) == sorted(plan.conflicts)
    harness.fresh().apply_put_back(put_back)
    got = {p: v for p, v in manifest(tmp_path / "out").items() if v[0] != "dir"}
    assert got == {p: changed[p] for p in plan.conflicts}
    in_place = harness.fresh().plan_put_back(saved, None)
    assert sorted(in_place.clashes) == ["a.txt", "dir/sub/d.json"]  # restored versions


def test_apply_restore_brings_back_identical_bytes(harness: ResourceHarness) -> None:
    state = snapshot_initial(harness)
    recorded = harness.working_manifest()
    mutate(harness)
    resource = harness.fresh()
    resource.apply_restore(resource.plan_restore(state, [state]))
    assert harness.working_manifest() == recorded
    assert harness.fresh().status(state) == []


def test_restore_back_and_forth(harness: ResourceHarness) -> None:
    first = snapshot_initial(harness)
    first_manifest = harness.working_manifest()
    mutate(harness)
    second = harness.resource.snapshot(first)
    harness.resource.committed()
    second_manifest = harness.working_manifest()
    for target, expected in [(first, first_manifest), (second, second_manifest)] * 2:
        resource = harness.fresh()
        plan = resource.plan_restore(target, [])
        resource.apply_restore(plan)
        assert harness.working_manifest() == expected
        assert harness.fresh().snapshot(None) == target


def test_restore_of_an_unchanged_state_is_empty(harness: ResourceHarness) -> None:
    state = snapshot_initial(harness)
    plan = harness.resource.plan_restore(state, [state])
    assert list(plan.changes) == []
    assert plan.conflicts == []
    before = harness.working_manifest()
    harness.resource.apply_restore(plan)
    assert harness.working_manifest() == before


def test_restore_reports_missing_objects_before_touching_anything(
    harness: ResourceHarness,
) -> None:
    state = snapshot_initial(harness)
    harness.delete("a.txt")
    harness.store.delete(hash_bytes(b"alpha"))
    before = harness.working_manifest()
    plan = harness.resource.plan_restore(state, [state])
    assert plan.missing_objects == ["a.txt"]
    assert harness.working_manifest() == before


# ---- reading recorded states --------------------------------------------------------------


def test_diff_states(harness: ResourceHarness) -> None:
    first = snapshot_initial(harness)
    expected = mutate(harness)
    second = harness.resource.snapshot(first)
    assert visible(harness.resource.diff_states(first, second)) == expected
    assert visible(harness.resource.diff_states(second, first)) == {
        path: INVERSE[status] for path, status in expected.items()
    }
    assert harness.resource.diff_states(first, first) == []


def test_diff_against_the_working_state(harness: ResourceHarness) -> None:
    first = snapshot_initial(harness)
    expected = mutate(harness)
    assert visible(harness.resource.diff_states(first, None)) == expected
    assert visible(harness.resource.diff_states(first, None)) == visible(
        harness.resource.status(first)
    )


def referenced(harness: ResourceHarness, state: State) -> dict[str, bool]:
    return {ref.oid: ref.tree for ref in harness.resource.references(state)}


def test_references_include_every_blob_when_keeping_content(harness: ResourceHarness) -> None:
    state = snapshot_initial(harness)
    refs = referenced(harness, state)
    blobs = {oid for oid, is_tree in refs.items() if not is_tree}
    assert blobs == {hash_bytes(data) for data in INITIAL.values()}
    assert any(refs.values())  # and the structure that holds them
    for oid in refs:
        assert harness.store.has(oid), oid


def test_references_include_no_blob_when_keeping_hashes(make_harness: HarnessFactory) -> None:
    harness = make_harness(keep="hashes")
    state = snapshot_initial(harness)
    refs = referenced(harness, state)
    assert refs
    assert all(refs.values())
    for data in INITIAL.values():
        assert hash_bytes(data) not in refs
        assert not harness.store.has(hash_bytes(data))
    for oid in refs:
        assert harness.store.has(oid), oid


def test_referenced_objects_suffice_to_restore(harness: ResourceHarness) -> None:
    """What gc keeps (the references of live states) is enough to restore each of them."""
    first = snapshot_initial(harness)
    first_manifest = harness.working_manifest()
    mutate(harness)
    harness.resource.snapshot(first)  # stores objects only the second state needs
    live = set(referenced(harness, first))
    garbage = [oid for oid in harness.store.iter_ids() if oid not in live]
    assert garbage
    for oid in garbage:
        harness.store.delete(oid)
    resource = harness.fresh()
    resource.apply_restore(resource.plan_restore(first, []))
    assert harness.working_manifest() == first_manifest


def test_export_writes_the_recorded_files(harness: ResourceHarness, tmp_path: Path) -> None:
    state = snapshot_initial(harness)
    recorded = harness.working_manifest()
    mutate(harness)
    dest = tmp_path / "export"
    count = harness.resource.export(state, str(dest))
    assert count == len(INITIAL)
    assert manifest(dest) == recorded
    assert harness.resource.status(state) != []  # the working state was left alone


def test_read_files_returns_recorded_bytes_of_matching_paths(harness: ResourceHarness) -> None:
    state = snapshot_initial(harness)
    mutate(harness)
    found = dict(harness.resource.read_files(state, ["*.json"]))
    assert found == {"metrics.json": b'{"loss": 1.0}', "dir/sub/d.json": b'{"acc": 0.5}'}
    assert dict(harness.resource.read_files(state, ["dir/*.bin"])) == {
        "dir/c.bin": bytes(range(256))
    }
    assert dict(harness.resource.read_files(state, ["nothing*"])) == {}
    assert dict(harness.resource.read_files(state, ["metrics.json", "a.txt"])) == {
        "metrics.json": b'{"loss": 1.0}',
        "a.txt": b"alpha",
    }


def test_read_files_never_returns_corrupt_bytes(harness: ResourceHarness) -> None:
    """Metrics come from read_files: a damaged stored blob must be an error, not data."""
    state = snapshot_initial(harness)
    harness.corrupt(hash_bytes(b'{"loss": 1.0}'), b'{"loss": 0.0}')
    with pytest.raises(IntegrityError):
        dict(harness.resource.read_files(state, ["metrics.json"]))


def test_recorded_view_reads_back_what_was_recorded(harness: ResourceHarness) -> None:
    """What `dws ls`/`cat`/`get` read: the recorded state, whatever the files hold now."""
    state = snapshot_initial(harness)
    mutate(harness)
    view = harness.fresh().recorded_view(state)
    for path, data in INITIAL.items():
        with view.open(path) as handle:
            assert handle.read() == data, path
        entry = view.entry(path)
        assert entry is not None and entry.kind == "file" and entry.size == len(data)
    top = {entry.name: entry.kind for entry in view.listdir("")}
    assert top.items() >= {"a.txt": "file", "dir": "dir", "with space": "dir"}.items()
    assert [entry.name for entry in view.listdir("dir")] == ["c.bin", "sub"]
    assert view.entry("new") is None and view.entry("dir/zzz") is None
    with pytest.raises(UsageError):
        view.open("dir")
    with pytest.raises(NotFoundError):
        view.open("new/deep/e.txt")


def test_recorded_view_never_returns_corrupt_bytes(harness: ResourceHarness) -> None:
    state = snapshot_initial(harness)
    harness.corrupt(hash_bytes(b"alpha"), b"omega")
    with pytest.raises(IntegrityError), harness.fresh().recorded_view(state).open("a.txt") as f:
        f.read()


def test_export_of_a_corrupt_blob_fails(harness: ResourceHarness, tmp_path: Path) -> None:
    state = snapshot_initial(harness)
    harness.corrupt(hash_bytes(b"alpha"), b"omega")
    with pytest.raises(IntegrityError):
        harness.resource.export(state, str(tmp_path / "export"))
    assert not (tmp_path / "export" / "a.txt").exists()


def test_restore_never_writes_a_corrupt_blob(harness: ResourceHarness) -> None:
    state = snapshot_initial(harness)
    harness.delete("a.txt")
    harness.corrupt(hash_bytes(b"alpha"), b"omega")
    resource = harness.fresh()
    with pytest.raises(IntegrityError):
        resource.apply_restore(resource.plan_restore(state, [state]))
    assert "a.txt" not in harness.working_manifest()


def test_describe_is_json_friendly(harness: ResourceHarness) -> None:
    state = snapshot_initial(harness)
    for description in (harness.resource.describe(), harness.resource.describe(state)):
        assert isinstance(description, dict)
        assert json.loads(json.dumps(description)) == description


def test_states_survive_a_json_round_trip(harness: ResourceHarness) -> None:
    """Snapshot records store states as JSON: a decoded state must work like the original."""
    state = snapshot_initial(harness)
    recorded = harness.working_manifest()
    decoded: dict[str, Any] = json.loads(json.dumps(state))
    mutate(harness)
    resource = harness.fresh()
    resource.apply_restore(resource.plan_restore(decoded, []))
    assert harness.working_manifest() == recorded


# ---- lineage -------------------------------------------------------------------------------


def test_listing_ids_follow_names_not_contents(harness: ResourceHarness) -> None:
    """A listing id changes when a directory's names change, not when a file's bytes do;
    a type that cannot tell answers None for every path, never a wrong id."""
    snapshot_initial(harness)
    first = harness.fresh().listing_ids(["dir", "", "a.txt", "nowhere"])
    if first["dir"] is None:
        assert set(first.values()) == {None}
        return
    assert first["a.txt"] is None and first["nowhere"] is None and first[""] is not None
    harness.write({"dir/c.bin": b"other bytes"})
    assert harness.fresh().listing_ids(["dir"])["dir"] == first["dir"]
    harness.write({"dir/added.txt": b"x"})
    assert harness.fresh().listing_ids(["dir"])["dir"] != first["dir"]
