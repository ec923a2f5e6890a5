"""Reading a resource that keeps hashes only: its working files are read while they still
hold the recorded bytes, and only those files: a file replaced by a symbolic link, a FIFO or
other bytes, or a directory on the way replaced by a link out, is refused (exit 4) without
a byte handed out or a hang."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from helpers.cli import assert_error, ok
from helpers.cli import dws as run
from helpers.common import write_files

SECRET = "top secret outside the resource\n"


@pytest.fixture
def hashed(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    write_files(tmp_path, {"big/sub/a.csv": "id\n1\n2\n", "elsewhere/sub/a.csv": SECRET})
    root.mkdir()
    ok(run(root, "init"))
    ok(run(root, "add", "local-files", str(tmp_path / "big"), "--role", "source-data",
           "--name", "big", "--keep", "hashes"))  # fmt: skip
    ok(run(root, "snapshot", "v1"))
    return root


def test_an_unchanged_file_is_read(hashed: Path) -> None:
    assert ok(run(hashed, "cat", "v1:@big/sub/a.csv")).out == "id\n1\n2\n"


def test_a_file_replaced_by_a_link_is_refused(hashed: Path) -> None:
    target = hashed.parent / "big/sub/a.csv"
    target.unlink()
    os.symlink(hashed.parent / "elsewhere/sub/a.csv", target)
    result = run(hashed, "cat", "v1:@big/sub/a.csv")
    assert_error(result, 4)
    assert "secret" not in result.out


def test_a_file_replaced_by_a_fifo_is_refused_without_waiting(hashed: Path) -> None:
    target = hashed.parent / "big/sub/a.csv"
    target.unlink()
    os.mkfifo(target)
    assert_error(run(hashed, "cat", "v1:@big/sub/a.csv"), 4)  # the run has a timeout


def test_other_bytes_of_the_same_size_are_refused(hashed: Path) -> None:
    (hashed.parent / "big/sub/a.csv").write_text("id\n1\n3\n")
    result = run(hashed, "cat", "v1:@big/sub/a.csv")
    assert_error(result, 4, contains="changed since it was recorded")
    assert result.out == ""


def test_a_directory_replaced_by_a_link_out_is_refused(hashed: Path) -> None:
    sub = hashed.parent / "big/sub"
    shutil.rmtree(sub)
    os.symlink(hashed.parent / "elsewhere/sub", sub)
    (hashed.parent / "elsewhere/sub/a.csv").write_text("id\n1\n2\n")  # even the same bytes
    result = run(hashed, "cat", "v1:@big/sub/a.csv")
    assert_error(result, 4)
