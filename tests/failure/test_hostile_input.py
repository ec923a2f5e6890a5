"""Hostile `.dataworkspace/` content through the real CLI, beyond the hand-edited records
and crafted trees of test_malicious_metadata.py: symlinks planted where restore writes,
crafted records that pass their checksum but break a later rule (unknown format, run ids
that are paths, resource paths that escape, huge sizes, deep trees, invalid UTF-8), hostile
run records and step answers read by the lineage commands, and a damaged stat cache.

Every refusal is a one-line error with its exit code, leaves the workspace as it was and
writes nothing outside it; a damaged run record is skipped and never executed."""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import pytest

from dws.model.digest import hash_bytes
from dws.model.records import ResourceSnapshot, SnapshotRecord, encode_record
from dws.model.roles import Role
from dws.model.runs import RunRecord
from dws.model.tree import Tree, TreeEntry, encode_tree
from helpers.failure import (
    assert_clean_error,
    assert_ok,
    copy_workspace,
    disk_state,
    manifest,
    meta,
    object_path,
    run_dws,
    tag_target,
    write_files,
)

PAYLOAD = b"alpha\n"
STEP_ARGV = ["sh", "-c", "cat data/raw/a.txt > data/features/f.txt"]


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace with raw/features/results, one recorded run (prep) and snapshot v1."""
    root = tmp_path_factory.mktemp("hostile-template") / "project"
    write_files(root / "data/raw", {"a.txt": PAYLOAD, "sub/b.txt": "bravo\n"})
    (root / "data/features").mkdir(parents=True)
    (root / "results").mkdir()
    for args in (
        ("init",),
        ("add", "local-files", "data/raw", "--role", "source-data"),
        ("add", "local-files", "data/features", "--role", "intermediate-data"),
        ("add", "local-files", "results", "--role", "results"),
        (
            "run",
            "-n",
            "prep",
            "-i",
            "data/raw/a.txt",
            "-o",
            "data/features/f.txt",
            "--",
            *STEP_ARGV,
        ),
        ("snapshot", "v1"),
    ):
        assert_ok(run_dws(*args, cwd=root))
    return root


@pytest.fixture
def ws(template: Path, tmp_path: Path) -> Path:
    """A fresh copy of the template; an `outside` directory next to it holds a file
    nothing may touch."""
    write_files(tmp_path / "outside", {"precious.txt": "not yours\n"})
    return copy_workspace(template, tmp_path / "project")


def _outside(ws: Path) -> Path:
    return ws.parent / "outside"


def _canonical(doc: Any) -> bytes:
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _put(ws: Path, data: bytes) -> str:
    oid = hash_bytes(data)
    handle = object_path(ws, oid)
    if not handle.exists():
        handle.parent.mkdir(exist_ok=True)
        handle.write_bytes(data)
    return oid


def _tree(ws: Path, *entries: TreeEntry) -> str:
    return _put(ws, encode_tree(Tree(sorted(entries, key=lambda e: e.name))))


def _file(ws: Path, name: str, size: int | None = None) -> TreeEntry:
    return TreeEntry(name, "file", _put(ws, PAYLOAD), len(PAYLOAD) if size is None else size)


def _snapshot(ws: Path, raw_tree: str, resource: str = "raw", **fields: Any) -> str:
    """A crafted record with a correct id whose only resource (raw, or results) has the
    tree ``raw_tree``."""
    role = Role.RESULTS if resource == "results" else Role.SOURCE_DATA
    record = SnapshotRecord(
        created="2030-01-01T00:00:00.000000Z",
        hostname="evil",
        user="mallory",
        message="crafted",
        parent=tag_target(ws, "v1"),
        resources={
            resource: ResourceSnapshot(
                "local-files",
                role,
                {"tree": raw_tree, "files": 1, "bytes": len(PAYLOAD), "keep": "content"},
            )
        },
        **fields,
    ).with_id()
    meta(ws, "snapshots", record.id + ".json").write_bytes(encode_record(record) + b"\n")
    return record.id


def _refused_without_trace(ws: Path, args: tuple[str, ...], code: int, *needles: str) -> None:
    """`dws ARGS` fails with ``code`` and a one-line message; nothing changes anywhere next
    to or inside the workspace (machine-local state aside)."""
    before = disk_state(ws.parent)
    result = run_dws(*args, cwd=ws)
    assert_clean_error(result, code, *needles)
    if args[0] != "fsck":  # fsck lists every problem it found
        assert len(result.err.strip().splitlines()) <= 2, result.err
    assert disk_state(ws.parent) == before


# ---- symlinks on disk where restore will write ----------------------------------------


def test_restore_replaces_a_planted_directory_symlink_instead_of_writing_through(
    ws: Path,
) -> None:
    """data/raw/sub (a directory in v1) is replaced by a link to a directory outside; a
    forced restore must put back a real directory and leave the outside alone."""
    outside = _outside(ws)
    before_outside = manifest(outside)
    sub = ws / "data/raw/sub"
    (sub / "b.txt").unlink()
    sub.rmdir()
    sub.symlink_to(outside)
    assert_ok(run_dws("restore", "v1", "--force", cwd=ws))
    assert manifest(outside) == before_outside
    assert not sub.is_symlink() and (sub / "b.txt").read_text() == "bravo\n"


def test_restore_replaces_a_planted_file_symlink_instead_of_writing_through(ws: Path) -> None:
    """data/raw/a.txt is replaced by a link to a file outside; restore replaces the link."""
    outside = _outside(ws)
    target = outside / "precious.txt"
    link = ws / "data/raw/a.txt"
    link.unlink()
    link.symlink_to(target)
    assert_ok(run_dws("restore", "v1", "--force", cwd=ws))
    assert target.read_text() == "not yours\n"
    assert not link.is_symlink() and link.read_bytes() == PAYLOAD


def test_a_crafted_symlink_out_then_files_under_its_name_never_reach_outside(ws: Path) -> None:
    """Snapshot A holds `link -> <outside>`; snapshot B holds a directory `link` with
    `evil` in it (a tree cannot hold both at once: names are unique and have no '/').
    Restoring A then B, and B over a link planted by hand, writes nothing outside."""
    outside = _outside(ws)
    before_outside = manifest(outside)
    target = str(outside)
    link = TreeEntry("link", "symlink", hash_bytes(target.encode()), len(target), target=target)
    with_link = _snapshot(ws, _tree(ws, _file(ws, "a.txt"), link))
    evil_dir = TreeEntry("link", "dir", _tree(ws, _file(ws, "evil")), len(PAYLOAD))
    through = _snapshot(ws, _tree(ws, _file(ws, "a.txt"), evil_dir))
    assert_ok(run_dws("restore", with_link, "--force", cwd=ws))
    assert os.readlink(ws / "data/raw/link") == target
    assert_ok(run_dws("restore", through, "--force", cwd=ws))
    assert manifest(outside) == before_outside
    assert (ws / "data/raw/link/evil").read_bytes() == PAYLOAD
    assert not (ws / "data/raw/link").is_symlink()


# ---- crafted snapshot records that pass their checksum ----------------------------------

RECORD_COMMANDS = [
    ("show", "{id}"),
    ("history",),
    ("restore", "{id}", "--force"),
    ("diff", "{id}"),
    ("fsck",),
    ("gc",),
    ("lineage", "show", "--snapshot", "{id}", "data/raw/a.txt"),
]


def _crafted_record(ws: Path, case: str) -> tuple[str, str]:
    """(snapshot id, expected words of the error) of a sealed record that breaks a rule."""
    tree = _tree(ws, _file(ws, "a.txt"))
    if case == "format-3":
        return _snapshot(ws, tree, format=3), "format version 3"
    return _snapshot(ws, tree, runs=["../../lineage/steps/prep"]), "run id"


@pytest.mark.parametrize("case", ["format-3", "run-id-is-a-path"])
def test_a_sealed_but_invalid_record_is_refused_by_every_reader(ws: Path, case: str) -> None:
    snapshot_id, words = _crafted_record(ws, case)
    for command in RECORD_COMMANDS:
        args = tuple(part.format(id=snapshot_id) for part in command)
        _refused_without_trace(ws, args, 4, words)


def test_gc_never_deletes_when_a_record_cannot_be_read(ws: Path) -> None:
    """A garbage record must stop gc (it cannot know what that record keeps alive)."""
    (meta(ws, "snapshots") / ("0" * 64 + ".json")).write_bytes(b"\xff\xfe garbage")
    objects_before = manifest(meta(ws, "objects"))
    assert_clean_error(run_dws("gc", cwd=ws), 4)
    assert manifest(meta(ws, "objects")) == objects_before


@pytest.mark.parametrize(
    "damage",
    [
        lambda data: data.replace(b"crafted", b"craf\xffted"),
        lambda data: data.replace(
            b'"message"', b'"x":' + b"[" * 5000 + b"]" * 5000 + b',"message"'
        ),
    ],
    ids=["invalid-utf8", "nested-5000-deep"],
)
def test_undecodable_records_are_format_errors_not_internal_errors(
    ws: Path, damage: Callable[[bytes], bytes]
) -> None:
    snapshot_id = _snapshot(ws, _tree(ws, _file(ws, "a.txt")))
    path = meta(ws, "snapshots", snapshot_id + ".json")
    path.write_bytes(damage(path.read_bytes()))
    for args in (("show", snapshot_id), ("restore", snapshot_id, "--force"), ("fsck",)):
        _refused_without_trace(ws, args, 4, "snapshot")


def test_huge_declared_sizes_are_not_trusted(ws: Path) -> None:
    """Sizes just below the 2^62 limit: nothing is allocated or preallocated by them."""
    huge = (1 << 62) - 1
    sub = TreeEntry("d", "dir", _tree(ws, _file(ws, "y", size=huge)), huge)
    snapshot_id = _snapshot(ws, _tree(ws, _file(ws, "a.txt", size=huge), sub))
    for args in (("show", snapshot_id), ("diff", snapshot_id), ("history",)):
        assert_ok(run_dws(*args, cwd=ws))
    assert_ok(run_dws("restore", snapshot_id, "--force", cwd=ws))
    assert (ws / "data/raw/a.txt").read_bytes() == PAYLOAD
    assert (ws / "data/raw/d/y").read_bytes() == PAYLOAD


def test_a_tree_too_large_in_size_is_refused(ws: Path) -> None:
    entry = TreeEntry("a.txt", "file", hash_bytes(PAYLOAD), 1 << 62)
    snapshot_id = _snapshot(ws, _tree(ws, entry))
    _refused_without_trace(ws, ("restore", snapshot_id, "--force"), 4, "size")


def test_a_tree_thousands_of_directories_deep_is_handled(ws: Path) -> None:
    """Walking a tree once recursed per directory level: 1,500 levels were an internal
    error (RecursionError) in restore, diff and fsck."""
    current = _tree(ws, _file(ws, "x.txt"))
    for _ in range(1500):
        current = _tree(ws, TreeEntry("d", "dir", current, len(PAYLOAD)))
    snapshot_id = _snapshot(ws, current)
    chain = [ws / "data/raw" / ("d/" * depth) for depth in range(1, 1501)]
    try:
        for args in (("diff", snapshot_id), ("fsck",), ("restore", snapshot_id, "--force")):
            assert_ok(run_dws(*args, cwd=ws))
        assert (chain[-1] / "x.txt").read_bytes() == PAYLOAD
        assert_ok(run_dws("status", cwd=ws))
    finally:
        # pytest removes its temporary directories recursively: take the chain apart here
        (chain[-1] / "x.txt").unlink(missing_ok=True)
        for directory in reversed(chain):
            if directory.is_dir():
                directory.rmdir()


def test_results_export_refuses_a_crafted_tree_and_a_planted_destination(ws: Path) -> None:
    escape = _snapshot(ws, _tree(ws, _file(ws, "../escape")), resource="results")
    destination = ws.parent / "export"
    _refused_without_trace(ws, ("results", "export", escape, str(destination)), 4)
    assert not destination.exists() and not (ws.parent / "escape").exists()
    planted = ws.parent / "planted"
    planted.mkdir()
    (planted / "results").symlink_to(_outside(ws))
    _refused_without_trace(ws, ("results", "export", "v1", str(planted)), 2)


# ---- resources.json pointing a resource where it must not be ------------------------------

ESCAPING_PATHS = {
    "metadata": ".dataworkspace",
    "metadata-tags": ".dataworkspace/tags",
    "relative-outside": "../outside",
    "dotdot-inside": "data/raw/../../../outside",
}


@pytest.mark.parametrize("path", ESCAPING_PATHS.values(), ids=ESCAPING_PATHS.keys())
def test_a_resource_path_escaping_into_metadata_or_out_is_refused(ws: Path, path: str) -> None:
    """Before, a forced restore with `"path": ".dataworkspace"` deleted the workspace's
    records, objects and tags, and `"../outside"` deleted files outside the workspace."""
    resources = meta(ws, "resources.json")
    doc = json.loads(resources.read_bytes())
    doc[0]["path"] = path
    resources.write_text(json.dumps(doc, indent=2))
    for command in (("restore", "v1", "--force"), ("status",), ("snapshot", "v2"), ("diff", "v1")):
        _refused_without_trace(ws, command, 4, "resources.json", "path")


# ---- tags ------------------------------------------------------------------------------


def test_tag_files_with_invalid_names_are_ignored(ws: Path) -> None:
    """tags/HEAD or tags/-rf could shadow HEAD or look like options; they are not tags."""
    other = _snapshot(ws, _tree(ws, _file(ws, "a.txt"), _file(ws, "planted.txt")))
    for name in ("HEAD", "-rf", "latest", "a b"):
        meta(ws, "tags", name).write_text(other + "\n")
    result = run_dws("--json", "history", cwd=ws)
    assert_ok(result)
    for name in ("HEAD", "-rf", "a b"):
        assert f'"{name}"' not in result.out
    assert_ok(run_dws("restore", "HEAD", "--force", cwd=ws))
    assert not (ws / "data/raw/planted.txt").exists()


# ---- hostile run records and step answers --------------------------------------------------


def _run_record_path(ws: Path) -> Path:
    """The genuine record of the prep run."""
    (path,) = [
        path
        for path in meta(ws, "lineage", "runs").iterdir()
        if json.loads(path.read_bytes())["argv"] == STEP_ARGV
    ]
    return path


def _craft_run(ws: Path, change: Callable[[dict[str, Any]], None]) -> str:
    """A copy of the prep run, edited by ``change`` and re-sealed (its id recomputed the
    way dws does, so only the later checks can refuse it). Its command would create
    PWNED next to the workspace."""
    doc = json.loads(_run_record_path(ws).read_bytes())
    doc["argv"] = ["sh", "-c", f"touch {ws.parent}/PWNED"]
    doc["started"], doc["ended"] = "2030-01-01T00:00:00.000000Z", "2030-01-01T00:00:01.000000Z"
    change(doc)
    try:
        doc["id"] = msgspec.convert(doc, RunRecord).with_id().id
    except msgspec.ValidationError:
        doc["id"] = hash_bytes(_canonical(doc))
    meta(ws, "lineage", "runs", doc["id"] + ".json").write_bytes(_canonical(doc) + b"\n")
    return str(doc["id"])


def _set_output(key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    return lambda doc: doc["outputs"][0].__setitem__(key, value)


HOSTILE_RUNS: dict[str, Callable[[dict[str, Any]], None]] = {
    "output-dotdot": _set_output("path", "../../../outside/precious.txt"),
    "output-absolute": _set_output("path", "/tmp/evil"),
    "output-in-metadata": _set_output("path", ".dataworkspace/tags/v1"),
    "output-resource-path": _set_output("resource", "../raw"),
    "step-is-a-path": lambda doc: doc.__setitem__("step", "../../x"),
    "cwd-escapes": lambda doc: doc.__setitem__("cwd", "../.."),
    "format-3": lambda doc: doc.__setitem__("format", 3),
    "argv-nul": lambda doc: doc["argv"].append("a\x00b"),
    "id-mismatch": lambda doc: doc.__setitem__("user", "mallory"),
}

LINEAGE_READERS = [
    ("lineage", "runs", "--all"),
    ("lineage", "show", "data/features/f.txt"),
    ("lineage", "graph", "--all", "--format", "json"),
    ("lineage", "export", "--format", "openlineage", "--all"),
    ("status",),
    ("fsck",),
    ("gc", "--dry-run"),
]


def test_hostile_run_records_are_skipped_by_every_reader(ws: Path) -> None:
    crafted = {case: _craft_run(ws, change) for case, change in HOSTILE_RUNS.items()}
    # sealed first, then edited: the checksum fails
    path = meta(ws, "lineage", "runs", crafted["id-mismatch"] + ".json")
    path.write_bytes(path.read_bytes().replace(b"mallory", b"eve"))
    before = disk_state(ws.parent)
    for args in LINEAGE_READERS:
        result = run_dws(*args, cwd=ws)
        assert_ok(result)
        assert "Traceback" not in result.err and "internal error" not in result.err
        for case, run_id in crafted.items():
            assert run_id[:10] not in result.out, (case, args, result.out)
        assert "prep" in result.out or args[0] in ("status", "fsck", "gc")
    assert disk_state(ws.parent) == before


def test_rerun_never_runs_a_hostile_record(ws: Path) -> None:
    for case in ("output-dotdot", "step-is-a-path", "cwd-escapes", "output-in-metadata"):
        _craft_run(ws, HOSTILE_RUNS[case])
    write_files(ws / "data/raw", {"a.txt": "changed input\n"})
    outside_before = manifest(_outside(ws))
    result = run_dws("rerun", "data/features/f.txt", cwd=ws)
    assert_ok(result)
    assert not (ws.parent / "PWNED").exists()
    assert manifest(_outside(ws)) == outside_before
    assert (ws / "data/features/f.txt").read_text() == "changed input\n"


def test_damaged_run_records_do_not_hide_the_rest_of_the_lineage(ws: Path) -> None:
    damaged = [b"", b"{", b"not json", b"\xff\xfe\x00", b"[" * 5000 + b"]" * 5000]
    for index, content in enumerate(damaged):
        meta(ws, "lineage", "runs", f"{index:064x}.json").write_bytes(content)
    result = run_dws("lineage", "show", "data/features/f.txt", cwd=ws)
    assert_ok(result)
    assert "prep" in result.out
    assert_ok(run_dws("lineage", "runs", "--all", cwd=ws))


def test_a_skipped_run_record_is_reported_with_a_warning(ws: Path) -> None:
    """docs/lineage.md: 'a damaged record is skipped with a warning'."""
    crafted = _craft_run(ws, HOSTILE_RUNS["output-dotdot"])
    result = run_dws("lineage", "runs", "--all", cwd=ws)
    assert_ok(result)
    assert crafted[:12] in result.err and "skipped" in result.err


STEP_FILES = {
    "answer-dotdot": b'{"format":1,"step":"prep","answers":{"../../x":"output"}}',
    "answer-in-metadata": b'{"format":1,"step":"prep","answers":{".dataworkspace/x":"input"}}',
    "other-step": b'{"format":1,"step":"other","answers":{}}',
    "format-2": b'{"format":2,"step":"prep","answers":{}}',
    "not-json": b"answers: all",
    "invalid-utf8": b'{"format":1,"step":"prep","answers":{"\xff":"input"}}',
}


@pytest.mark.parametrize("content", STEP_FILES.values(), ids=STEP_FILES.keys())
def test_hostile_step_answers_are_refused_before_the_command_runs(ws: Path, content: bytes) -> None:
    meta(ws, "lineage", "steps").mkdir(exist_ok=True)
    meta(ws, "lineage", "steps", "prep.json").write_bytes(content)
    args = ("run", "-n", "prep", "--", "sh", "-c", f"touch {ws.parent}/PWNED")
    _refused_without_trace(ws, args, 4)
    assert not (ws.parent / "PWNED").exists()


# ---- the stat cache (machine-local, disposable) --------------------------------------------


def test_a_stat_cache_row_with_a_malformed_id_is_refused(ws: Path) -> None:
    path = meta(ws, "local", "statcache.sqlite")
    assert_ok(run_dws("status", cwd=ws))
    with sqlite3.connect(path) as db:
        db.execute("UPDATE file_stat SET id = '../../x'")
    result = run_dws("snapshot", "v2", cwd=ws)
    assert result.code in (0, 4), result
    assert "internal error" not in result.err and "Traceback" not in result.err


def test_a_stat_cache_that_is_not_a_database_is_rebuilt_or_refused(ws: Path) -> None:
    meta(ws, "local", "statcache.sqlite").write_bytes(b"this is not a database" * 100)
    result = run_dws("status", cwd=ws)
    assert result.code in (0, 4), result
    assert "internal error" not in result.err
