"""A workspace written by a version-1 dws (docs/format.md, "Format version"): its packs
(DWSPACK1 / DWSIDX01, raw entries) are read as they are, workspace.json is marked format 2
the first time the store is opened, gc rewrites the old packs as version 2, and a push
marks the remote format 2 before it sends objects there."""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

import pytest
from blake3 import blake3

import dws
from dws.store.framing import unframe
from dws.store.packed import PackedObjectStore
from helpers.cli import dws as run
from helpers.cli import manifest, ok

META = ".dataworkspace"
V1 = {"a.csv": b"id,value\n1,10\n", "sub/b.txt": b"bee\n" * 2000, "big.bin": b""}
V2 = {"a.csv": b"id,value\n1,10\n2,20\n", "sub/c.txt": b"sea\n"}
Manifest = dict[str, tuple[str, object, bool]]
Old = tuple[Path, Manifest, Manifest]  # the workspace, data/ at v1, data/ at v2


def _write(root: Path, files: dict[str, bytes]) -> None:
    for rel, data in files.items():
        path = root / "data" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def _format(workspace_json: Path) -> int:
    value: int = json.loads(workspace_json.read_bytes())["format"]
    return value


# ---- writing a store as a version-1 dws did ----------------------------------------------

_ENTRY = 32 + 8 + 8


def _encode_v1_index(entries: dict[bytes, tuple[int, int]]) -> tuple[str, bytes]:
    """The version-1 index (DWSIDX01) of ``entries`` (id -> offset, length): its name and
    bytes, trailer included."""
    keys = sorted(entries)
    counts = [0] * 256
    for key in keys:
        counts[key[0]] += 1
    fanout, running = [], 0
    for count in counts:
        running += count
        fanout.append(running)
    body = b"DWSIDX01" + len(keys).to_bytes(4, "little")
    body += b"".join(n.to_bytes(4, "little") for n in fanout)
    for key in keys:
        offset, length = entries[key]
        body += key + offset.to_bytes(8, "little") + length.to_bytes(8, "little")
    assert len(body) == 12 + 1024 + _ENTRY * len(keys)
    return blake3(body).hexdigest(), body + blake3(body).digest()


def _as_version_1(place: Path) -> None:
    """Rewrite the packs below ``place`` (a workspace's .dataworkspace/, or a directory
    remote, which mirrors it) as version-1 packs (raw entries) and its workspace.json as
    format 1: what a version-1 dws left. Loose objects are alike in both versions; a
    version-1 store has no chunk lists."""
    objects = place / "objects"
    assert not [p for p in (objects / "lists").rglob("*") if p.is_file()], "chunk lists"
    store = PackedObjectStore(str(objects))
    packs = objects / "packs"
    for idx in sorted(packs.glob("*.idx")):
        name = idx.name[: -len(".idx")]
        data = bytearray(b"DWSPACK1")
        entries: dict[bytes, tuple[int, int]] = {}
        index = store._load_indexes()[name]
        for key, entry in index:
            stored, framed = store._read_stored(name, entry)
            raw = unframe(stored) if framed else stored
            assert blake3(raw).digest() == key
            entries[key] = (len(data), len(raw))
            data += raw
        new, index_bytes = _encode_v1_index(entries)
        (packs / f"{new}.pack").write_bytes(bytes(data))
        (packs / f"{new}.idx").write_bytes(index_bytes)
        os.unlink(idx)
        os.unlink(packs / f"{name}.pack")
    store.close()
    workspace_json = place / "workspace.json"
    text = workspace_json.read_bytes()
    assert b'"format":2' in text
    workspace_json.write_bytes(text.replace(b'"format":2', b'"format":1'))


def _magics(packs: Path) -> set[bytes]:
    return {path.read_bytes()[:8] for path in packs.iterdir() if path.suffix in (".idx", ".pack")}


@pytest.fixture
def old(tmp_path: Path) -> Old:
    """A format-1 workspace with v1 and v2 snapshotted (small files packed, one random
    5 MiB file loose), at v2; and the manifests of data/ at v1 and v2."""
    root = tmp_path / "old"
    (root / "data").mkdir(parents=True)
    ws = dws.Workspace.init(str(root))
    ws.add_resource("local-files", str(root / "data"), "source-data", name="data")
    _write(root, {**V1, "big.bin": random.Random(1).randbytes(5 << 20)})
    ws.snapshot("v1")
    v1 = manifest(root / "data")
    os.unlink(root / "data/sub/b.txt")
    _write(root, V2)
    ws.snapshot("v2")
    v2 = manifest(root / "data")
    _as_version_1(root / META)
    packs = root / META / "objects" / "packs"
    assert _magics(packs) == {b"DWSPACK1", b"DWSIDX01"}
    return root, v1, v2


def test_a_version_1_workspace_is_read_marked_and_repacked(
    old: Old,
) -> None:
    root, v1, v2 = old
    workspace_json = root / META / "workspace.json"
    before = workspace_json.read_bytes()
    assert _format(workspace_json) == 1

    status = ok(run(root, "--json", "status"))
    assert all(r["changes"] == [] for r in json.loads(status.out)["resources"])
    assert _format(workspace_json) == 2  # the store was opened: marked
    # nothing else changed, byte for byte
    assert workspace_json.read_bytes() == before.replace(b'"format":1', b'"format":2')

    ok(run(root, "restore", "v1"))
    assert manifest(root / "data") == v1
    ok(run(root, "restore", "v2"))
    assert manifest(root / "data") == v2
    ok(run(root, "fsck"))
    packs = root / META / "objects" / "packs"
    assert b"DWSIDX01" in _magics(packs)  # read as they are, not rewritten

    ok(run(root, "gc"))
    assert _magics(packs) == {b"DWSPACK2", b"DWSIDX02"}  # gc rewrote them as version 2
    ok(run(root, "fsck"))
    for tag, expected in (("v1", v1), ("v2", v2)):
        ok(run(root, "restore", tag))
        assert manifest(root / "data") == expected


def test_a_snapshot_in_a_version_1_workspace_writes_version_2_packs_beside(
    old: Old,
) -> None:
    root, v1, _ = old
    _write(root, {"new.csv": b"x\n" * 5000})
    ok(run(root, "snapshot", "v3"))
    workspace_json = root / META / "workspace.json"
    assert _format(workspace_json) == 2
    magics = _magics(root / META / "objects" / "packs")
    assert {b"DWSIDX01", b"DWSIDX02"} <= magics
    ok(run(root, "fsck"))
    ok(run(root, "restore", "v1"))
    assert manifest(root / "data") == v1


def _remote_format(remote: Path) -> int:
    return _format(remote / "workspace.json")


def test_push_of_a_version_1_workspace_marks_a_new_remote_format_2(
    old: Old, tmp_path: Path
) -> None:
    root, _, v2 = old
    remote = tmp_path / "remote"
    ok(run(root, "remote", "add", "origin", str(remote)))
    ok(run(root, "push"))
    assert _remote_format(remote) == 2
    assert _format(root / META / "workspace.json") == 2
    ok(run(root, "fsck", "--remote", "origin"))
    clone = tmp_path / "clone"
    ok(run(tmp_path, "clone", str(remote), str(clone)))
    assert manifest(clone / "data") == v2


def test_push_marks_a_version_1_remote_format_2(old: Old, tmp_path: Path) -> None:
    """The remote was pushed by a version-1 dws (its workspace.json says 1, its packs are
    version 1); this machine has never pushed there."""
    root, _, _ = old
    remote = tmp_path / "remote"
    ok(run(root, "remote", "add", "origin", str(remote)))
    ok(run(root, "push"))
    _as_version_1(remote)  # a remote mirrors .dataworkspace/: the same layout
    (remote / "objects" / "lists").mkdir(exist_ok=True)
    assert _remote_format(remote) == 1
    again = tmp_path / "again"  # a copy of the workspace that never pushed there
    clone_of_old = run(tmp_path, "clone", str(remote), str(again))
    assert clone_of_old.code == 0, clone_of_old.err  # a format-1 remote is read
    assert _remote_format(remote) == 1  # reading it changes nothing
    _write(again, {"more.txt": b"more\n" * 3000})
    ok(run(again, "snapshot", "v3"))
    ok(run(again, "push"))
    assert _remote_format(remote) == 2
    ok(run(again, "fsck", "--remote", "origin"))


def test_push_marks_a_remote_that_says_format_1_again(old: Old, tmp_path: Path) -> None:
    root, _, _ = old
    remote = tmp_path / "remote"
    ok(run(root, "remote", "add", "origin", str(remote)))
    ok(run(root, "push"))
    remote_json = remote / "workspace.json"
    remote_json.write_bytes(remote_json.read_bytes().replace(b'"format":2', b'"format":1'))
    _write(root, {"more.txt": b"more\n" * 3000})
    ok(run(root, "snapshot", "v3"))
    ok(run(root, "push"))
    assert _remote_format(remote) == 2
