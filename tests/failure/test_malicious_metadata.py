"""Hostile or damaged metadata: refused with a clear message (exit 4), never a traceback,
and nothing written anywhere (docs/format.md: everything read from disk is validated before
use; unknown format versions are refused)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import dws
from dws.model.digest import hash_bytes
from dws.model.records import ResourceSnapshot, SnapshotRecord, encode_record
from dws.model.roles import Role
from dws.model.tree import Tree, TreeEntry, encode_tree
from helpers.failure import (
    assert_clean_error,
    assert_ok,
    disk_state,
    meta,
    object_path,
    run_dws,
    tag_target,
    write_files,
)

PAYLOAD = b"written by a crafted snapshot\n"


@pytest.fixture
def ws(project: Path, workspace: dws.Workspace) -> Path:
    """The standard workspace, snapshotted as v1 with a little content."""
    write_files(project / "data/raw", {"a.txt": "alpha\n", "sub/b.txt": "bravo\n"})
    write_files(project / "data/features", {"f.bin": b"\x01\x02"})
    write_files(project / "results", {"metrics.json": '{"acc": 1}'})
    workspace.snapshot("v1")
    return project


# ---- hand-edited snapshot records -------------------------------------------------------


def _record_path(ws: Path) -> Path:
    return meta(ws, "snapshots", tag_target(ws, "v1") + ".json")


def _edit_message(doc: dict[str, Any]) -> None:
    doc["message"] = "edited by hand"


def _edit_tree(doc: dict[str, Any]) -> None:
    resources = doc["resources"]
    resources["raw"]["state"]["tree"] = resources["features"]["state"]["tree"]


def _edit_role(doc: dict[str, Any]) -> None:
    doc["resources"]["raw"]["role"] = "results"


EDITS = {"message": _edit_message, "tree-id": _edit_tree, "role": _edit_role}


@pytest.mark.parametrize("edit", EDITS.values(), ids=EDITS.keys())
@pytest.mark.parametrize(
    "command", [("restore", "v1"), ("show", "v1"), ("diff", "v1"), ("fsck",), ("status",)]
)
def test_hand_edited_record_fails_its_checksum(
    ws: Path, edit: Callable[[dict[str, Any]], None], command: tuple[str, ...]
) -> None:
    path = _record_path(ws)
    doc = json.loads(path.read_bytes())
    edit(doc)
    path.write_bytes(json.dumps(doc, sort_keys=True, separators=(",", ":")).encode() + b"\n")
    write_files(ws / "data/raw", {"a.txt": "changed since v1\n"})
    before = disk_state(ws.parent)
    assert_clean_error(run_dws(*command, cwd=ws), 4, tag_target(ws, "v1")[:12])
    assert disk_state(ws.parent) == before


def test_record_with_recomputed_id_under_the_old_name_is_refused(ws: Path) -> None:
    """Editing a record and recomputing its id is not enough: the id must also be its name."""
    path = _record_path(ws)
    doc = json.loads(path.read_bytes())
    doc["message"] = "forged"
    doc["id"] = ""
    doc["id"] = hash_bytes(json.dumps(doc, sort_keys=True, separators=(",", ":")).encode())
    path.write_bytes(json.dumps(doc, sort_keys=True, separators=(",", ":")).encode() + b"\n")
    before = disk_state(ws.parent)
    assert_clean_error(run_dws("restore", "v1", cwd=ws), 4)
    assert disk_state(ws.parent) == before


@pytest.mark.parametrize(
    "damage",
    [b"", b"{", b"not json at all", b'{"id": 5}', b"[]", b"\xff\xfe\x00garbage"],
    ids=["empty", "truncated", "not-json", "wrong-types", "array", "binary"],
)
def test_malformed_record_gives_a_clear_error(ws: Path, damage: bytes) -> None:
    _record_path(ws).write_bytes(damage)
    before = disk_state(ws.parent)
    assert_clean_error(run_dws("restore", "v1", cwd=ws), 4, "snapshot record")
    assert_clean_error(run_dws("fsck", cwd=ws), 4)
    assert disk_state(ws.parent) == before


def test_truncated_record_mid_json(ws: Path) -> None:
    path = _record_path(ws)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    assert_clean_error(run_dws("show", "v1", cwd=ws), 4, "snapshot record")


# ---- crafted trees under their correct hash, referenced by a well-formed record -------------


def _put(ws: Path, data: bytes) -> str:
    oid = hash_bytes(data)
    path = object_path(ws, oid)
    path.parent.mkdir(exist_ok=True)
    if not path.exists():
        path.write_bytes(data)
    return oid


def _tree(ws: Path, *entries: TreeEntry) -> str:
    """Store a tree with exactly these entries (canonical encoding, no validation)."""
    return _put(ws, encode_tree(Tree(sorted(entries, key=lambda e: e.name))))


def _file(ws: Path, name: str) -> TreeEntry:
    return TreeEntry(name, "file", _put(ws, PAYLOAD), len(PAYLOAD))


def _dir(ws: Path, name: str, *entries: TreeEntry) -> TreeEntry:
    return TreeEntry(name, "dir", _tree(ws, *entries), sum(e.size for e in entries))


def _crafted_record(ws: Path, raw_tree: str) -> str:
    """Write a record with a correct id whose raw resource is ``raw_tree``; return its id."""
    record = SnapshotRecord(
        created="2030-01-01T00:00:00.000000Z",
        hostname="evil",
        user="mallory",
        message="crafted",
        parent=tag_target(ws, "v1"),
        resources={
            "raw": ResourceSnapshot(
                "local-files",
                Role.SOURCE_DATA,
                {"tree": raw_tree, "files": 1, "bytes": len(PAYLOAD), "keep": "content"},
            )
        },
    ).with_id()
    meta(ws, "snapshots", record.id + ".json").write_bytes(encode_record(record) + b"\n")
    return record.id


def _hostile_trees(ws: Path, outside: Path) -> dict[str, str]:
    """Root trees for raw that try to write outside data/raw (or into metadata)."""
    assert outside.is_absolute()
    keep = [_file(ws, "a.txt"), _dir(ws, "sub", _file(ws, "b.txt"))]
    return {
        "dotdot-slash-name": _tree(ws, _file(ws, "../escape")),
        "deep-dotdot-name": _tree(ws, _file(ws, "../../../escape")),
        "absolute-name": _tree(ws, _file(ws, str(outside / "abs-escape"))),
        "dotdot-dir": _tree(ws, _dir(ws, "..", _file(ws, "escape"))),
        "dot-dir": _tree(ws, _dir(ws, ".", _file(ws, "escape"))),
        "metadata-dir": _tree(ws, _dir(ws, ".dataworkspace", _file(ws, "workspace.json"))),
        "nested-dotdot-name": _tree(ws, _dir(ws, "sub", _file(ws, "../../escape"))),
        "nested-absolute-name": _tree(ws, _dir(ws, "sub", _file(ws, str(outside / "abs2")))),
        "slash-in-dir-name": _tree(ws, _dir(ws, "x/../../..", _file(ws, "escape"))),
        "nul-in-name": _tree(ws, _file(ws, "a\x00b")),
        "empty-name": _tree(ws, _file(ws, "")),
        "duplicate-names": _put(
            ws, encode_tree(Tree([_file(ws, "same"), _dir(ws, "same", _file(ws, "x"))]))
        ),
        "unsorted": _put(ws, encode_tree(Tree([_file(ws, "b"), _file(ws, "a")]))),
        "id-is-a-path": _tree(ws, TreeEntry("f", "file", "../../../../etc/passwd", 1)),
        "symlink-nul-target": _tree(
            ws, TreeEntry("ln", "symlink", hash_bytes(b"x"), 3, target="a\x00b")
        ),
        "hostile-name-beside-good-ones": _tree(ws, *keep, _file(ws, "../escape")),
    }


HOSTILE = [
    "dotdot-slash-name",
    "deep-dotdot-name",
    "absolute-name",
    "dotdot-dir",
    "dot-dir",
    "metadata-dir",
    "nested-dotdot-name",
    "nested-absolute-name",
    "slash-in-dir-name",
    "nul-in-name",
    "empty-name",
    "duplicate-names",
    "unsorted",
    "id-is-a-path",
    "symlink-nul-target",
    "hostile-name-beside-good-ones",
]


@pytest.mark.parametrize("case", HOSTILE)
def test_restore_refuses_a_crafted_tree(ws: Path, tmp_path: Path, case: str) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    snapshot_id = _crafted_record(ws, _hostile_trees(ws, outside)[case])
    write_files(ws / "data/raw", {"a.txt": "not yet snapshotted\n"})
    before = disk_state(tmp_path)
    result = run_dws("restore", snapshot_id, "--force", cwd=ws)
    assert_clean_error(result, 4)
    assert disk_state(tmp_path) == before, "restore wrote something"
    for escaped in (ws / "data/escape", ws / "escape", tmp_path / "escape", outside / "abs-escape"):
        assert not escaped.exists()
    assert_clean_error(run_dws("fsck", cwd=ws), 4, snapshot_id[:12])
    assert_clean_error(run_dws("diff", snapshot_id, cwd=ws), 4)


def test_crafting_machinery_works_for_a_benign_tree(ws: Path) -> None:
    """Control for the test above: the same crafting with harmless names is restored."""
    tree = _tree(ws, _file(ws, "fine.txt"), _dir(ws, "sub", _file(ws, "ok.txt")))
    snapshot_id = _crafted_record(ws, tree)
    assert_ok(run_dws("fsck", cwd=ws))
    assert_ok(run_dws("restore", snapshot_id, "--force", cwd=ws))
    assert (ws / "data/raw/fine.txt").read_bytes() == PAYLOAD
    assert (ws / "data/raw/sub/ok.txt").read_bytes() == PAYLOAD
    assert not (ws / "data/raw/a.txt").exists()


def test_restore_never_writes_through_a_symlink(ws: Path, tmp_path: Path) -> None:
    """A crafted snapshot may hold a symlink pointing outside (links are data), but a later
    restore that puts a directory at that name must replace the link, not write through it."""
    outside = tmp_path / "outside"
    outside.mkdir()
    link = TreeEntry("sub", "symlink", hash_bytes(str(outside).encode()), 0, target=str(outside))
    first = _crafted_record(ws, _tree(ws, link))
    second = _crafted_record(ws, _tree(ws, _dir(ws, "sub", _file(ws, "escape"))))
    assert_ok(run_dws("restore", first, "--force", cwd=ws))
    assert os.readlink(ws / "data/raw/sub") == str(outside)
    result = run_dws("restore", second, "--force", cwd=ws)
    assert list(outside.iterdir()) == [], f"restore wrote through the link (exit {result.code})"
    assert_ok(result)
    assert not (ws / "data/raw/sub").is_symlink()
    assert (ws / "data/raw/sub/escape").read_bytes() == PAYLOAD


def test_record_naming_a_malformed_tree_id_is_refused(ws: Path) -> None:
    snapshot_id = _crafted_record(ws, "../../../etc")
    before = disk_state(ws.parent)
    assert_clean_error(run_dws("restore", snapshot_id, "--force", cwd=ws), 4)
    assert disk_state(ws.parent) == before


# ---- workspace.json ---------------------------------------------------------------------

COMMANDS = [
    ("status",),
    ("snapshot", "v2"),
    ("restore", "v1"),
    ("history",),
    ("log",),
    ("show", "v1"),
    ("diff", "v1"),
    ("fsck",),
    ("gc",),
    ("resources",),
    ("results",),
    ("tag", "v1", "best"),
    ("delete-snapshot", "v1", "--force"),
    ("remove", "results"),
    ("add", "local-files", "data/other", "--role", "results", "--create"),
]


def _set_format(ws: Path, value: object) -> None:
    path = meta(ws, "workspace.json")
    doc = json.loads(path.read_bytes())
    doc["format"] = value
    path.write_text(json.dumps(doc))


@pytest.mark.parametrize("command", COMMANDS, ids=[" ".join(c) for c in COMMANDS])
def test_newer_format_version_is_refused_by_every_command(
    ws: Path, command: tuple[str, ...]
) -> None:
    _set_format(ws, 3)  # 1 and 2 are both read since the object store format 2
    before = disk_state(ws.parent)
    result = run_dws(*command, cwd=ws)
    assert_clean_error(result, 4, "format version", "3", "upgrade dws")
    assert disk_state(ws.parent) == before


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b'{"format": 1, "id": "x"',
        b"not json",
        b"[1]",
        b'{"id": "x", "name": "n", "created": "c"}',
        b'{"format": "1", "id": "x", "name": "n", "created": "c"}',
        b'{"format": 0, "id": "x", "name": "n", "created": "c"}',
        b'{"format": 1, "id": "x", "name": "n", "created": "c", "hash": "md5"}',
    ],
    ids=[
        "empty",
        "truncated",
        "not-json",
        "array",
        "no-format",
        "string-format",
        "format-0",
        "md5",
    ],
)
def test_damaged_workspace_json_gives_a_clear_error(ws: Path, content: bytes) -> None:
    meta(ws, "workspace.json").write_bytes(content)
    before = disk_state(ws.parent)
    for command in (("status",), ("snapshot",), ("restore", "v1")):
        result = run_dws(*command, cwd=ws)
        assert_clean_error(result, 4, "workspace")
    assert disk_state(ws.parent) == before


# ---- resources.json ---------------------------------------------------------------------

RESOURCES = {
    "empty": b"",
    "truncated": b'[{"name": "raw", "type": "local-files", "role": "source-',
    "not-json": b"name=raw type=local-files",
    "object": b"{}",
    "entry-not-object": b"[1]",
    "entry-without-type": b'[{"name": "raw", "role": "source-data", "path": "data/raw"}]',
    "entry-without-name": b'[{"type": "local-files", "role": "source-data", "path": "data/raw"}]',
    "unknown-role": b'[{"name": "raw", "type": "local-files", "role": "boss", "path": "data/raw"}]',
    "name-not-identifier": (
        b'[{"name": "../x", "type": "local-files", "role": "source-data", "path": "data/raw"}]'
    ),
    "duplicate-names": (
        b'[{"name": "raw", "type": "local-files", "role": "source-data", "path": "data/raw"},'
        b' {"name": "raw", "type": "local-files", "role": "results", "path": "results"}]'
    ),
    "path-not-a-string": (
        b'[{"name": "raw", "type": "local-files", "role": "source-data", "path": 7}]'
    ),
}


@pytest.mark.parametrize("content", RESOURCES.values(), ids=RESOURCES.keys())
def test_damaged_resources_json_gives_a_clear_error(ws: Path, content: bytes) -> None:
    meta(ws, "resources.json").write_bytes(content)
    before = disk_state(ws.parent)
    for command in (("status",), ("snapshot", "v2"), ("restore", "v1")):
        assert_clean_error(run_dws(*command, cwd=ws), 4, "resources.json")
    assert disk_state(ws.parent) == before


def test_truncated_copy_of_the_real_resources_json(ws: Path) -> None:
    path = meta(ws, "resources.json")
    data = path.read_bytes()
    for cut in (1, len(data) // 3, len(data) // 2, len(data) - 3):
        path.write_bytes(data[:cut])
        assert_clean_error(run_dws("status", cwd=ws), 4, "resources.json")
        assert_clean_error(run_dws("fsck", cwd=ws), 4, "resources.json")


# ---- other machine-local and shared records ---------------------------------------------


@pytest.mark.parametrize(
    "content", [b"", b"{", b'{"snapshot": "../../x"}', b"[]"], ids=["empty", "trunc", "path", "arr"]
)
def test_damaged_head_gives_a_clear_error(ws: Path, content: bytes) -> None:
    meta(ws, "local", "head.json").write_bytes(content)
    assert_clean_error(run_dws("status", cwd=ws), 4, "head")


@pytest.mark.parametrize("content", [b"../../etc/passwd\n", b"", b"\xff\xfe"], ids=str)
def test_hostile_tag_file_gives_a_clear_error(ws: Path, content: bytes) -> None:
    meta(ws, "tags", "v1").write_bytes(content)
    before = disk_state(ws.parent)
    assert_clean_error(run_dws("restore", "v1", cwd=ws), 4, "v1")
    assert disk_state(ws.parent) == before
