"""`dws ls`, `dws cat` and `dws get` and the Python readers on a workspace: any snapshot reads
back exactly the bytes it recorded, whatever the working files hold now, nothing on disk
changes, and bad input is a one-line error that changes nothing."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import dws
from helpers.cli import (
    V1_FILES,
    api,
    api_snapshot,
    as_json,
    assert_error,
    assert_unchanged,
    disk_state,
    manifest,
    ok,
    write_files,
)
from helpers.cli import dws as run
from helpers.common import StoredObject
from helpers.git import commit, init_repo

V2_CHANGES: dict[str, str | bytes] = {
    "data/raw/a.csv": "id,value\n1,11\n2,22\n3,33\n",
    "data/raw/new/c.csv": "id\n9\n",
}


@pytest.fixture
def ws_v2(ws_v1: Path) -> Path:
    """v1 as in ``ws_v1``, then a.csv changed, new/c.csv added and b.csv removed as v2, then
    the working files changed again (unsnapshotted)."""
    write_files(ws_v1, V2_CHANGES)
    (ws_v1 / "data/raw/b.csv").unlink()
    api_snapshot(ws_v1, "v2")
    write_files(ws_v1, {"data/raw/a.csv": "working copy\n", "data/raw/d.csv": "not recorded\n"})
    return ws_v1


def test_cat_gives_each_version_whatever_the_working_files_hold(ws_v2: Path) -> None:
    before = disk_state(ws_v2)
    assert ok(run(ws_v2, "cat", "v1:data/raw/a.csv")).out == V1_FILES["data/raw/a.csv"]
    assert ok(run(ws_v2, "cat", "v2:data/raw/a.csv")).out == V2_CHANGES["data/raw/a.csv"]
    assert ok(run(ws_v2, "cat", ":data/raw/new/c.csv")).out == V2_CHANGES["data/raw/new/c.csv"]
    assert ok(run(ws_v2, "cat", "v1:data/raw/b.csv")).out == V1_FILES["data/raw/b.csv"]
    assert_unchanged(ws_v2, before)


def test_ls_lists_a_directory_as_recorded(ws_v2: Path) -> None:
    before = disk_state(ws_v2)
    top = {e["name"]: e for e in as_json(run(ws_v2, "ls", "v2", "--json"))}
    assert set(top) == {"data", "results"}
    assert top["data"]["type"] == "dir" and top["data"]["resource"] is None
    raw = {e["name"]: e for e in as_json(run(ws_v2, "ls", "v2:data/raw", "--json"))}
    assert set(raw) == {"a.csv", "new"}
    assert raw["a.csv"]["size"] == len(V2_CHANGES["data/raw/a.csv"])
    assert raw["a.csv"]["resource"] == "raw"
    assert raw["new"]["type"] == "dir"
    old = {e["name"] for e in as_json(run(ws_v2, "ls", "v1:data/raw", "--json"))}
    assert old == {"a.csv", "b.csv"}
    listed = as_json(run(ws_v2, "ls", "-r", "v2:data", "--json"))
    assert [e["path"] for e in listed] == [
        "data/features",
        "data/features/f.npy",
        "data/raw",
        "data/raw/a.csv",
        "data/raw/new",
        "data/raw/new/c.csv",
    ]
    text = ok(run(ws_v2, "ls", "v2:data/raw")).out
    assert "a.csv" in text and "new/" in text
    single = as_json(run(ws_v2, "ls", "v1:data/raw/b.csv", "--json"))
    assert [e["path"] for e in single] == ["data/raw/b.csv"]
    assert_unchanged(ws_v2, before)


def test_get_copies_a_directory_of_a_snapshot_exactly(ws_v2: Path, tmp_path: Path) -> None:
    write_files(ws_v2, {"data/raw/a.csv": "id,value\n"})
    (ws_v2 / "data/raw/run.sh").write_text("#!/bin/sh\necho hi\n")
    (ws_v2 / "data/raw/run.sh").chmod(0o755)
    os.symlink("a.csv", ws_v2 / "data/raw/link")
    (ws_v2 / "data/raw/empty").mkdir()
    api_snapshot(ws_v2, "v3")
    expected = manifest(ws_v2 / "data/raw")
    write_files(ws_v2, {"data/raw/a.csv": "changed after v3\n"})
    before = disk_state(ws_v2)
    out = ok(run(ws_v2, "get", "v3:data/raw", str(tmp_path / "copy")))
    assert "copied" in out.out
    assert manifest(tmp_path / "copy") == expected
    # into an existing directory: DEST/NAME, and the message says so
    (tmp_path / "into").mkdir()
    said = ok(run(ws_v2, "get", "v1:data/raw/a.csv", str(tmp_path / "into"))).out
    assert (tmp_path / "into/a.csv").read_text() == V1_FILES["data/raw/a.csv"]
    assert str(tmp_path / "into/a.csv") in said
    # a link given as PATH is followed; links inside a directory stay links
    ok(run(ws_v2, "get", "v3:data/raw/link", str(tmp_path / "via-link")))
    assert (tmp_path / "via-link").read_text() == "id,value\n"
    assert not (tmp_path / "via-link").is_symlink()
    assert ok(run(ws_v2, "cat", "v3:data/raw/link")).out == "id,value\n"
    assert_unchanged(ws_v2, before)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".dws-tmp")]


def test_get_never_overwrites(ws_v2: Path, tmp_path: Path) -> None:
    dest = tmp_path / "taken.csv"
    dest.write_text("mine\n")
    before = disk_state(ws_v2)
    assert_error(run(ws_v2, "get", "v1:data/raw/a.csv", str(dest)), 3, contains="exists")
    assert dest.read_text() == "mine\n"
    (tmp_path / "into").mkdir()
    (tmp_path / "into/raw").mkdir()
    assert_error(run(ws_v2, "get", "v1:data/raw", str(tmp_path / "into")), 3)
    assert list((tmp_path / "into/raw").iterdir()) == []
    assert_unchanged(ws_v2, before)


@pytest.mark.parametrize(
    ("args", "code", "words"),
    [
        (("cat", "v9:data/raw/a.csv"), 2, "no snapshot or tag"),
        (("cat", "v1:data/raw/zzz.csv"), 2, "not in snapshot"),
        (("cat", "v1:data/raw"), 2, "directory"),
        (("cat", "v1:../etc/passwd"), 2, "'..'"),
        (("cat", "v1:/etc/passwd"), 2, "relative"),
        (("cat", "v1"), 2, "SNAPSHOT:PATH"),
        (("cat", "v1:@nosuch/a.csv"), 2, "no resource"),
        (("cat", "v4:data/raw/out"), 2, "outside the snapshot"),
        (("cat", "v4:data/raw/loop"), 2, "too many levels"),
        (("ls", "v1:data/raw/a.csv/x"), 2, "not in snapshot"),
        (("ls", "v1:data/nothing"), 2, "not in snapshot"),
        (("get", "v1:data/raw/zzz", "out"), 2, "not in snapshot"),
        (("get", "v1:data/raw/a.csv", "no/such/dir/out"), 2, "not a directory"),
    ],
)
def test_bad_input_is_a_one_line_error_that_changes_nothing(
    ws_v2: Path, args: tuple[str, ...], code: int, words: str
) -> None:
    os.symlink("../../../outside.txt", ws_v2 / "data/raw/out")
    os.symlink("loop", ws_v2 / "data/raw/loop")
    api_snapshot(ws_v2, "v4")
    before = disk_state(ws_v2)
    result = run(ws_v2, *args)
    if args == ("cat", "v1"):
        assert result.code == 2 and words in result.err  # the argument parser's error
    else:
        assert_error(result, code, contains=words)
    assert_unchanged(ws_v2, before)


def test_a_damaged_object_is_an_error_and_no_bytes(ws_v2: Path) -> None:
    data = V1_FILES["data/raw/b.csv"].encode()
    stored = StoredObject(
        ws_v2, dws.Workspace.open(str(ws_v2)).ls("data/raw/b.csv", snapshot="v1")[0].entry.id
    )
    stored.write_bytes(data.replace(b"30", b"31"))
    result = run(ws_v2, "cat", "v1:data/raw/b.csv")
    assert_error(result, 4, contains="corrupt")
    assert result.out == ""


def test_the_python_readers(ws_v2: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ws = api(ws_v2)
    with ws.open("data/raw/a.csv", snapshot="v1") as handle:
        assert handle.read() == V1_FILES["data/raw/a.csv"].encode()
        handle.seek(3)
        assert handle.read(5) == b"value"
    with ws.open("data/raw/a.csv", "r", snapshot="v2") as text:
        assert text.readline() == "id,value\n"
    assert ws.read_bytes("data/raw/new/c.csv", snapshot="v2") == b"id\n9\n"
    assert [e.entry.name for e in ws.ls("data/raw", snapshot="v1")] == ["a.csv", "b.csv"]
    raw_v1 = [V1_FILES["data/raw/a.csv"], V1_FILES["data/raw/b.csv"]]
    copied = ws.get("data/raw", str(tmp_path / "raw-v1"), snapshot="v1")
    assert (copied.files, copied.bytes) == (2, sum(len(text) for text in raw_v1))
    assert copied.dest == str(tmp_path / "raw-v1")
    assert (tmp_path / "raw-v1/b.csv").read_text() == V1_FILES["data/raw/b.csv"]
    with pytest.raises(dws.UsageError, match="read-only"):
        ws.open("data/raw/a.csv", snapshot="v1", mode="wb")
    with pytest.raises(dws.NotFoundError):
        ws.open("data/raw/zzz", snapshot="v1")
    assert dws.Workspace.open(str(ws_v2)).root == str(ws_v2)  # still opens workspaces
    monkeypatch.chdir(ws_v2 / "data")
    with dws.open("data/raw/b.csv", snapshot="v1") as handle:
        assert handle.read() == V1_FILES["data/raw/b.csv"].encode()
    with dws.open("data/raw/a.csv", "r", snapshot="v2", workspace=str(ws_v2)) as text:
        assert text.read() == V2_CHANGES["data/raw/a.csv"]


def test_resources_by_name_and_outside_the_workspace(tmp_path: Path) -> None:
    root, outside = tmp_path / "ws", tmp_path / "elsewhere"
    write_files(root, {"data/x.csv": "x\n"})
    write_files(outside, {"big/part-0.csv": "p0\n"})
    ws = dws.Workspace.init(str(root))
    ws.add_resource("local-files", str(root / "data"), "source-data", name="data")
    ws.add_resource("local-files", str(outside), "source-data", name="ext")
    ok(run(root, "resources", "--trust", "ext"))
    ws.snapshot("v1")
    top = {e["name"] for e in as_json(run(root, "ls", "v1", "--json"))}
    assert top == {"data", "@ext"}
    assert ok(run(root, "cat", "v1:@ext/big/part-0.csv")).out == "p0\n"
    assert ok(run(root, "cat", "v1:@data/x.csv")).out == "x\n"


def test_git_code_around_data_reads_the_recorded_commit_and_changes(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    init_repo(root, {"train.py": "print('v1')\n", ".gitignore": "data/\n", "lib/util.py": "u=1\n"})
    write_files(root, {"data/raw/a.csv": "a\n"})
    ws = dws.Workspace.init(str(root))
    ws.add_resource("git", str(root), "code", name="code")
    ws.add_resource("local-files", str(root / "data/raw"), "source-data", name="raw")
    write_files(root, {"lib/util.py": "u=2  # not committed\n"})
    ws.snapshot("v1")
    commit(root, "v2", {"train.py": "print('v2')\n", "lib/util.py": "u=3\n"})
    write_files(root, {"data/raw/a.csv": "b\n"})
    ws.snapshot("v2")
    assert ok(run(root, "cat", "v1:train.py")).out == "print('v1')\n"
    assert ok(run(root, "cat", "v1:lib/util.py")).out == "u=2  # not committed\n"
    assert ok(run(root, "cat", "v2:lib/util.py")).out == "u=3\n"
    assert ok(run(root, "cat", "v1:data/raw/a.csv")).out == "a\n"
    top = {e["name"]: e for e in as_json(run(root, "ls", "v1", "--json"))}
    assert {"train.py", "lib", "data", ".gitignore"} <= set(top)
    assert top["train.py"]["resource"] == "code"
    assert top["data"]["type"] == "dir"
    lib = as_json(run(root, "ls", "v1:lib", "--json"))
    assert [(e["name"], e["size"]) for e in lib] == [("util.py", len("u=2  # not committed\n"))]


def test_links_resolve_as_on_disk_whichever_way_the_path_is_named(tmp_path: Path) -> None:
    root, outside = tmp_path / "ws", tmp_path / "elsewhere"
    write_files(root, {"data/raw/sub/f.txt": "in sub\n", "data/x/f": "right\n"})
    write_files(outside, {"a/b.txt": "b\n"})
    os.symlink("../x/f", root / "data/raw/link")
    os.symlink("sub", root / "data/raw/dl")
    os.symlink("../../../etc/passwd", outside / "a/escape")
    os.symlink("b.txt", outside / "a/inside")
    ws = dws.Workspace.init(str(root))
    ws.add_resource("local-files", str(root / "data/raw"), "source-data", name="raw")
    ws.add_resource("local-files", str(root / "data/x"), "source-data", name="x")
    ws.add_resource("local-files", str(outside), "source-data", name="ext")
    ok(run(root, "resources", "--trust", "ext"))
    ws.snapshot("v1")
    assert ok(run(root, "cat", "v1:data/raw/link")).out == "right\n"
    assert ok(run(root, "cat", "v1:@raw/link")).out == "right\n"  # the same file
    assert ok(run(root, "cat", "v1:data/raw/dl/f.txt")).out == "in sub\n"  # a linked directory
    assert ok(run(root, "cat", "v1:@ext/a/inside")).out == "b\n"
    assert_error(run(root, "cat", "v1:@ext/a/escape"), 2, contains="outside the snapshot")
