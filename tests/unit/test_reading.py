"""How a snapshot's paths map onto its resources (``core.reading.SnapshotFiles``): the
innermost resource answers, resource directories show inside the ones around them, ``@NAME``
reaches any resource, and a resource with nothing to read does not hide the others."""

from __future__ import annotations

import io
from typing import Any, BinaryIO

import pytest

from dws.core.reading import SnapshotFiles, normalise_path
from dws.errors import NotFoundError, RefusedError, UsageError
from dws.model.records import ResourceSnapshot, SnapshotRecord
from dws.model.roles import Role
from dws.model.tree import TreeEntry
from dws.resources.recorded import FlatView, NotHereError, RecordedView


def _file(name: str, data: bytes) -> TreeEntry:
    return TreeEntry(name.rsplit("/", 1)[-1], "file", "f" * 64, len(data))


class _Stub:
    """A resource whose recorded view is a flat map of files (or that has none)."""

    def __init__(self, files: dict[str, bytes] | None) -> None:
        self.files = files

    def recorded_view(self, state: dict[str, Any]) -> RecordedView:
        if self.files is None:
            raise NotHereError("nothing to read here")
        files = self.files
        entries = {path: _file(path, data) for path, data in files.items()}

        def opener(path: str) -> BinaryIO:
            return io.BytesIO(files[path])

        return FlatView(entries, opener)


def _snapshot(mounts: dict[str, tuple[str | None, dict[str, bytes] | None]]) -> SnapshotFiles:
    resources = {
        name: ResourceSnapshot(
            "stub", Role.SOURCE_DATA, {"bytes": sum(map(len, (f or {}).values()))}
        )
        for name, (_, f) in mounts.items()
    }
    record = SnapshotRecord(
        id="a" * 64,
        created="t",
        hostname="h",
        user="u",
        message="",
        parent=None,
        resources=resources,
    )
    return SnapshotFiles(
        record,
        [(name, at, _Stub(files)) for name, (at, files) in mounts.items()],  # type: ignore[misc]
    )


@pytest.fixture
def files() -> SnapshotFiles:
    return _snapshot(
        {
            "code": ("", {"train.py": b"print()\n", "data/README": b"shadowed by raw? no\n"}),
            "raw": ("data/raw", {"a.csv": b"a\n", "sub/b.csv": b"b\n"}),
            "features": ("data/features", {"f.csv": b"f\n"}),
            "bucket": (None, {"k/1.json": b"{}"}),
            "image": (None, None),
        }
    )


def test_the_innermost_resource_answers(files: SnapshotFiles) -> None:
    assert files.read_bytes("data/raw/a.csv") == b"a\n"
    assert files.read_bytes("./data//raw/sub/b.csv") == b"b\n"
    assert files.read_bytes("train.py") == b"print()\n"
    assert files.owner("data/raw/a.csv") == "raw"
    assert files.owner("data/README") == "code"


def test_resource_directories_show_inside_the_ones_around_them(files: SnapshotFiles) -> None:
    top = {e.entry.name: e.resource for e in files.ls("")}
    assert top == {"train.py": "code", "data": "code", "@bucket": "bucket"}
    assert set(files.left_out) == {"image"}  # nothing to read: left out, and said so
    data = {e.entry.name: (e.entry.kind, e.resource) for e in files.ls("data")}
    assert data == {
        "README": ("file", "code"),
        "raw": ("dir", "raw"),
        "features": ("dir", "features"),
    }
    walked = [e.path for e in files.ls("data", recursive=True)]
    assert walked == [
        "data/README",
        "data/features",
        "data/features/f.csv",
        "data/raw",
        "data/raw/a.csv",
        "data/raw/sub",
        "data/raw/sub/b.csv",
    ]


def test_at_name_reaches_any_resource(files: SnapshotFiles) -> None:
    assert files.read_bytes("@bucket/k/1.json") == b"{}"
    assert files.read_bytes("@raw/sub/b.csv") == b"b\n"
    assert [e.entry.name for e in files.ls("@bucket")] == ["k"]
    with pytest.raises(NotFoundError, match="no resource 'nope'"):
        files.ls("@nope")


def test_a_resource_with_nothing_to_read_does_not_hide_the_others(files: SnapshotFiles) -> None:
    unreadable = _snapshot({"code": ("", None), "raw": ("data/raw", {"a.csv": b"a\n"})})
    assert [e.entry.name for e in unreadable.ls("")] == ["data"]
    assert [e.path for e in unreadable.ls("", recursive=True)] == [
        "data",
        "data/raw",
        "data/raw/a.csv",
    ]
    assert set(unreadable.left_out) == {"code"}
    assert unreadable.read_bytes("data/raw/a.csv") == b"a\n"
    with pytest.raises(NotHereError):
        unreadable.open("train.py")
    with pytest.raises(NotHereError):
        files.ls("@image")


@pytest.mark.parametrize("path", ["../x", "data/../../x", "/etc/passwd", "a\x00b"])
def test_paths_that_could_escape_are_refused(files: SnapshotFiles, path: str) -> None:
    with pytest.raises(UsageError):
        normalise_path(path)
    with pytest.raises(UsageError):
        files.open(path)


def test_what_is_not_there(files: SnapshotFiles) -> None:
    assert files.entry("data/raw/zzz") is None
    with pytest.raises(NotFoundError):
        files.ls("data/zzz")
    with pytest.raises(UsageError, match="not a file"):
        files.open("data/raw")
    with pytest.raises(UsageError, match="not a directory"):
        files.listdir("train.py")


def test_a_file_named_with_an_at_sign_stays_a_file() -> None:
    files = _snapshot({"code": ("", {"@notes.txt": b"n\n", "@dir/y": b"y\n"})})
    assert files.read_bytes("@notes.txt") == b"n\n"
    assert files.read_bytes("@dir/y") == b"y\n"
    assert [e.path for e in files.ls("", recursive=True)] == ["@dir", "@dir/y", "@notes.txt"]
    with pytest.raises(NotFoundError, match="no resource 'nope'"):
        files.ls("@nope")


def test_get_works_where_hard_links_do_not(
    files: SnapshotFiles, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno
    import os

    def no_links(source: str, target: str) -> None:
        raise OSError(errno.EPERM, "hard links are not supported here")

    monkeypatch.setattr(os, "link", no_links)
    copied = files.copy_out("data/raw", str(tmp_path / "raw"))
    assert (copied.files, copied.dest) == (2, str(tmp_path / "raw"))
    assert (tmp_path / "raw/sub/b.csv").read_bytes() == b"b\n"
    (tmp_path / "taken.csv").write_bytes(b"mine")
    with pytest.raises(RefusedError):
        files.copy_out("data/raw/a.csv", str(tmp_path / "taken.csv"))
    assert (tmp_path / "taken.csv").read_bytes() == b"mine"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".dws-tmp")]
