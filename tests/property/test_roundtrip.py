"""Property: random trees -> snapshot -> random mutations -> restore gives back exactly the
snapshot's source and intermediate data (contents, names, empty dirs, symlinks, exec bits),
leaves results as they were, and never writes through a symlink out of a resource."""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import dws
from helpers.common import manifest

# ---- strategies ---------------------------------------------------------------------------

NAME_CHARS = "abcxyzABC0189 ._-é日本"
RESERVED_NAMES = {".", "..", ".dataworkspace", ".dwsignore"}


def _usable(name: str) -> bool:
    return name not in RESERVED_NAMES and not name.startswith(".dws-tmp.")


names = st.text(alphabet=NAME_CHARS, min_size=1, max_size=10).filter(_usable)

# (seed, size): bytes are generated from the seed, so large files cost no shrinking effort
contents = st.one_of(
    st.binary(max_size=40),
    st.just(b""),
    st.tuples(st.integers(0, 2**32), st.sampled_from([4096, 70_001, (1 << 20) + 3])),
)


def content_bytes(value: bytes | tuple[int, int]) -> bytes:
    if isinstance(value, bytes):
        return value
    seed, size = value
    return random.Random(seed).randbytes(size)


files = st.tuples(contents, st.booleans())  # (content, exec)
trees = st.recursive(
    st.dictionaries(names, files, max_size=4),
    lambda children: st.dictionaries(names, st.one_of(files, children), max_size=4),
    max_leaves=12,
)

# ---- building and changing directories ----------------------------------------------------


def build(root: Path, tree: dict[str, Any]) -> None:
    root.mkdir(parents=True, exist_ok=True)
    for name, node in tree.items():
        if isinstance(node, dict):
            build(root / name, node)
        else:
            write_file(root / name, content_bytes(node[0]), node[1])


def write_file(path: Path, data: bytes, executable: bool) -> None:
    path.write_bytes(data)
    os.chmod(path, 0o755 if executable else 0o644)


def entries(root: Path) -> dict[str, str]:
    """rel path -> 'file' | 'dir' | 'symlink' of what is below ``root`` (links not followed)."""
    return {rel: kind for rel, (kind, _, _) in manifest(root).items()}


def pick(data: st.DataObject, options: list[str], label: str) -> str | None:
    return data.draw(st.sampled_from(sorted(options)), label=label) if options else None


def relative_link(link: str, target: str) -> str:
    return os.path.relpath(target, os.path.dirname(link) or ".")


def remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()


def add_symlinks(data: st.DataObject, root: Path) -> None:
    """A few links to files inside the resource (relative), and maybe a dangling one."""
    present = entries(root)
    targets = [p for p, kind in present.items() if kind == "file"]
    dirs = ["", *(p for p, kind in present.items() if kind == "dir")]
    for _ in range(data.draw(st.integers(0, 3), label="links")):
        where = pick(data, dirs, "link dir")
        name = data.draw(names, label="link name")
        link = os.path.join(where or "", name)
        if os.path.lexists(root / link):
            continue
        target = pick(data, targets, "link target")
        text = relative_link(link, target) if target else "dangling-target"
        os.symlink(text, root / link)


MUTATIONS = [
    "modify",
    "modify_same_size",
    "delete",
    "add_file",
    "add_dir",
    "chmod",
    "file_to_dir",
    "dir_to_file",
    "retarget",
    "dir_to_outside_link",
]


def mutate(data: st.DataObject, root: Path, outside: Path) -> None:
    for _ in range(data.draw(st.integers(1, 6), label="mutations")):
        present = entries(root)
        of_kind = {k: [p for p, kind in present.items() if kind == k] for k in ("file", "dir")}
        links = [p for p, kind in present.items() if kind == "symlink"]
        op = data.draw(st.sampled_from(MUTATIONS), label="op")
        event(f"mutation {op}")
        if op in ("modify", "modify_same_size", "chmod", "file_to_dir"):
            rel = pick(data, of_kind["file"], op)
            if rel is None:
                continue
            path = root / rel
            if op == "modify":
                path.write_bytes(content_bytes(data.draw(contents, label="new content")))
            elif op == "modify_same_size":
                old = path.read_bytes()
                path.write_bytes(bytes(b ^ 0xFF for b in old) if old else b"x")
            elif op == "chmod":
                os.chmod(path, path.stat().st_mode ^ stat.S_IXUSR)
            else:
                path.unlink()
                path.mkdir()
                if data.draw(st.booleans(), label="fill new dir"):
                    write_file(path / data.draw(names, label="name"), b"inside", False)
        elif op == "delete":
            rel = pick(data, list(present), op)
            if rel is not None and os.path.lexists(root / rel):
                remove(root / rel)
        elif op in ("add_file", "add_dir"):
            parent = pick(data, ["", *of_kind["dir"]], "parent")
            path = root / (parent or "") / data.draw(names, label="new name")
            if os.path.lexists(path):
                continue
            if op == "add_dir":
                path.mkdir()
            else:
                write_file(path, content_bytes(data.draw(contents)), data.draw(st.booleans()))
        elif op == "dir_to_file":
            rel = pick(data, of_kind["dir"], op)
            if rel is not None:
                shutil.rmtree(root / rel)
                write_file(root / rel, b"was a directory", False)
        elif op == "retarget":
            rel = pick(data, links, op)
            if rel is not None:
                target = pick(data, of_kind["file"], "new target")
                (root / rel).unlink()
                text = relative_link(rel, target) if target else "elsewhere"
                os.symlink(text, root / rel)
        else:  # dir_to_outside_link: a restore must not write through it
            rel = pick(data, of_kind["dir"], op)
            if rel is not None:
                shutil.rmtree(root / rel)
                os.symlink(outside, root / rel)


# ---- the property -------------------------------------------------------------------------


def assert_nothing_lost(
    ws: dws.Workspace,
    before: dict[str, dict[str, tuple[str, object, bool]]],
    after: dict[str, dict[str, tuple[str, object, bool]]],
    dump: Path,
) -> None:
    """Every file or link the restore overwrote or deleted comes back from the recovery
    records, byte for byte (the base was v1, so none of it is in a snapshot)."""
    recovered: dict[str, dict[str, tuple[str, object, bool]]] = {}
    for number, record in enumerate(ws.recoveries()):
        ws.recover(record.id, to=str(dump / str(number)))
        for name in record.resources:
            recovered.setdefault(name, {}).update(manifest(dump / str(number) / name))
    for name in ("raw", "features"):
        lost = {
            path: entry
            for path, entry in before[name].items()
            if entry[0] != "dir" and after[name].get(path) != entry
        }
        got = recovered.get(name, {})
        assert {path: got.get(path) for path in lost} == lost


def snapshot_manifests(project: Path) -> dict[str, dict[str, tuple[str, object, bool]]]:
    return {name: manifest(project / path) for name, path in RESOURCES.items()}


@contextlib.contextmanager
def restore_batch(value: str) -> Iterator[None]:
    """Set ``DWS_RESTORE_BATCH`` (empty: the default) for the block."""
    before = os.environ.pop("DWS_RESTORE_BATCH", None)
    if value:
        os.environ["DWS_RESTORE_BATCH"] = value
    try:
        yield
    finally:
        os.environ.pop("DWS_RESTORE_BATCH", None)
        if before is not None:
            os.environ["DWS_RESTORE_BATCH"] = before


# Syncs dominate on a real disk (~1 s per example); tmpfs keeps the budget for examples.
TMP_BASE = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None

RESOURCES = {"raw": "data/raw", "features": "data/features", "results": "results"}
ROLES = {"raw": "source-data", "features": "intermediate-data", "results": "results"}
OUTSIDE_FILES = {"f": b"outside the workspace", "sub/g": b"also outside"}


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    raw=trees,
    features=trees,
    results=trees,
    snapshot_again=st.booleans(),
    batch=st.sampled_from(["", "1", "3"]),
    data=st.data(),
)
def test_restore_round_trip(
    raw: dict[str, Any],
    features: dict[str, Any],
    results: dict[str, Any],
    snapshot_again: bool,
    batch: str,
    data: st.DataObject,
) -> None:
    """``batch``: the changes a restore holds at once; a small one makes every restore
    produce its changes again to apply them, and apply them in many batches."""
    with restore_batch(batch), tempfile.TemporaryDirectory(dir=TMP_BASE) as tmp:
        project = Path(tmp) / "project"
        outside = Path(tmp) / "outside"
        for rel, content in OUTSIDE_FILES.items():
            (outside / rel).parent.mkdir(parents=True, exist_ok=True)
            (outside / rel).write_bytes(content)
        outside_before = manifest(outside)

        for name, tree in (("raw", raw), ("features", features), ("results", results)):
            build(project / RESOURCES[name], tree)
            add_symlinks(data, project / RESOURCES[name])
        ws = dws.Workspace.init(str(project))
        for name, path in RESOURCES.items():
            ws.add_resource("local-files", str(project / path), ROLES[name], name=name)

        first = ws.snapshot("v1")
        recorded = snapshot_manifests(project)
        assert all(not c.visible for rc in ws.status() for c in rc.changes)

        for name in RESOURCES:
            mutate(data, project / RESOURCES[name], outside)
        second_manifests = None
        if snapshot_again:
            ws.snapshot("v2")
            second_manifests = snapshot_manifests(project)
        results_before = manifest(project / RESOURCES["results"])

        if snapshot_again:
            ws.restore("v1")  # everything is saved: no force needed
        else:
            before = snapshot_manifests(project)
            try:
                ws.restore("v1")
                event("restored without force")
            except dws.RefusedError:
                event("refused, then forced")
                assert snapshot_manifests(project) == before  # refusal touched nothing
                ws.restore("v1", force=True)

        after = snapshot_manifests(project)
        if not snapshot_again:
            assert_nothing_lost(ws, before, after, Path(tmp) / "recovered")
        assert after["raw"] == recorded["raw"]
        assert after["features"] == recorded["features"]
        assert after["results"] == results_before
        assert manifest(outside) == outside_before
        assert ws.head() == first.record.id
        for changes in ws.status():
            if changes.name != "results":
                assert [c.path for c in changes.visible] == []

        if second_manifests is not None:  # and forward again, over what restore just wrote
            ws.restore("v2")
            again = snapshot_manifests(project)
            assert again["raw"] == second_manifests["raw"]
            assert again["features"] == second_manifests["features"]
            assert again["results"] == results_before
            assert manifest(outside) == outside_before
