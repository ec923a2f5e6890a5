"""Validation of names and relative paths read from metadata."""

from __future__ import annotations

import pytest

from dws.errors import FormatError, UsageError
from dws.model.paths import (
    META_DIR_NAME,
    check_entry_name,
    check_relative_path,
    check_resource_name,
    default_resource_name,
)


@pytest.mark.parametrize(
    "name", ["a", "data.csv", "with space", "é", "日本", ".hidden", "...", "a..b", "x" * 255]
)
def test_good_entry_names(name: str) -> None:
    assert check_entry_name(name) == name


@pytest.mark.parametrize(
    "name",
    ["", ".", "..", "a/b", "/", "/etc", "a\x00b", "\x00", META_DIR_NAME, None, 3, b"bytes"],
)
def test_bad_entry_names_are_refused(name: object) -> None:
    with pytest.raises(FormatError):
        check_entry_name(name)


@pytest.mark.parametrize(
    "path", ["a", "a/b/c", "dir with space/日本.txt", ".hidden/x", "a..b/c", "...", "é/é"]
)
def test_good_relative_paths(path: str) -> None:
    assert check_relative_path(path) == path


@pytest.mark.parametrize(
    "path",
    [
        "",
        "/",
        "/etc/passwd",
        "//server/share",
        "..",
        "../x",
        "a/../../x",
        "a/..",
        "a/./b",
        ".",
        "a//b",
        "a/",
        "a\x00b",
        "a/b\x00",
        META_DIR_NAME,
        f"sub/{META_DIR_NAME}/objects",
        None,
        ["a"],
    ],
)
def test_bad_relative_paths_are_refused(path: object) -> None:
    with pytest.raises(FormatError):
        check_relative_path(path)


def test_absolute_path_error_says_so() -> None:
    with pytest.raises(FormatError, match="absolute"):
        check_relative_path("/etc/passwd")


def test_errors_do_not_echo_unbounded_input() -> None:
    with pytest.raises(FormatError) as info:
        check_entry_name("a/" + "x" * 10_000)
    assert len(str(info.value)) < 300


@pytest.mark.parametrize(
    "name", ["raw", "_x", "features2", "A_B", "x" * 64, "my-raw", "raw-2024-11", "_-", "a-"]
)
def test_good_resource_names(name: str) -> None:
    assert check_resource_name(name) == name


@pytest.mark.parametrize(
    "name",
    ["", "2raw", "-raw", "a b", "x" * 65, "class", "None", "é", "a.b", "a/b", "a:b", "a@b", "a=b"],
)
def test_bad_resource_names(name: str) -> None:
    with pytest.raises(UsageError, match="invalid resource name"):
        check_resource_name(name)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("data/raw", "raw"),
        ("data/my-raw", "my_raw"),
        ("data/raw/", "raw"),
        ("2024-data", "r_2024_data"),
        ("/mnt/big/imagenet", "imagenet"),
    ],
)
def test_default_resource_name(path: str, expected: str) -> None:
    assert default_resource_name(path) == expected
    check_resource_name(default_resource_name(path))


def test_default_resource_name_is_at_most_64_chars() -> None:
    assert len(default_resource_name("x" * 200)) == 64
