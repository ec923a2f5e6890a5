"""dws add, dws remove, dws resources."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

import dws as dws_api
from helpers.cli import (
    META,
    api,
    api_snapshot,
    as_json,
    assert_error,
    assert_unchanged,
    assert_usage_error,
    disk_state,
    dws,
    manifest,
    object_path,
    ok,
    resources_json,
    write_files,
)


@pytest.fixture
def bare(tmp_path: Path) -> Path:
    """An initialised workspace with data directories but no resources."""
    root = tmp_path / "proj"
    for sub in ("data/raw", "data/features", "results"):
        (root / sub).mkdir(parents=True)
    dws_api.Workspace.init(str(root))
    return root


def test_add_with_long_role_and_name(bare: Path) -> None:
    result = ok(
        dws(bare, "add", "local-files", "data/raw", "--role", "source-data", "--name", "raw")
    )

    assert "raw" in result.out
    assert resources_json(bare) == [
        {
            "name": "raw",
            "type": "local-files",
            "role": "source-data",
            "path": "data/raw",
            "keep": "content",
        }
    ]


@pytest.mark.parametrize(
    ("option", "role", "expected"),
    [
        ("--role", "s", "source-data"),
        ("--role", "i", "intermediate-data"),
        ("--role", "r", "results"),
        ("-r", "source-data", "source-data"),
        ("-r", "intermediate-data", "intermediate-data"),
        ("-r", "results", "results"),
        ("--role", "Results", "results"),
    ],
)
def test_add_role_forms(bare: Path, option: str, role: str, expected: str) -> None:
    ok(dws(bare, "add", "local-files", "data/features", option, role))

    (spec,) = resources_json(bare)
    assert spec["role"] == expected
    assert spec["name"] == "features"


def test_add_derives_an_identifier_name_from_the_path(bare: Path) -> None:
    (bare / "data" / "my-raw data").mkdir()

    doc = as_json(dws(bare, "--json", "add", "local-files", "data/my-raw data", "-r", "s"))

    assert doc["name"] == "my_raw_data"
    assert resources_json(bare)[0]["path"] == "data/my-raw data"


def test_add_directory_outside_the_workspace_records_absolute_path(
    bare: Path, tmp_path: Path
) -> None:
    external = tmp_path / "external"
    external.mkdir()

    ok(dws(bare, "add", "local-files", str(external), "-r", "s", "--name", "ext"))

    assert resources_json(bare)[0]["path"] == str(external)


def test_add_keep_hashes_records_hashes_but_stores_no_content(bare: Path, tmp_path: Path) -> None:
    external = tmp_path / "big"
    write_files(external, {"img/0001.jpg": b"\xff\xd8 a big image"})
    ok(
        dws(
            bare,
            "add",
            "local-files",
            str(external),
            "-r",
            "s",
            "--name",
            "images",
            "--keep",
            "hashes",
        )
    )

    assert resources_json(bare)[0]["keep"] == "hashes"
    listing = ok(dws(bare, "resources")).out
    assert "hashes only" in listing
    snap = as_json(dws(bare, "--json", "snapshot", "v1"))
    state = snap["resources"]["images"]["state"]
    assert state["keep"] == "hashes"
    assert state["files"] == 1
    assert not object_path(bare, b"\xff\xd8 a big image").exists()


def test_add_keep_rejects_other_values(bare: Path) -> None:
    before = disk_state(bare)

    result = dws(bare, "add", "local-files", "data/raw", "-r", "s", "--keep", "everything")

    assert_usage_error(result)
    assert_unchanged(bare, before)


def test_add_create_makes_the_missing_directory(bare: Path) -> None:
    ok(dws(bare, "add", "local-files", "data/new/deep", "-r", "i", "--create"))

    assert (bare / "data" / "new" / "deep").is_dir()
    assert resources_json(bare)[0]["path"] == "data/new/deep"


def test_add_relative_to_a_subdirectory(bare: Path) -> None:
    ok(dws(bare / "data", "add", "local-files", "raw", "-r", "s"))

    assert resources_json(bare)[0]["path"] == "data/raw"


def _with_raw(bare: Path) -> Path:
    api(bare).add_resource("local-files", str(bare / "data/raw"), "source-data", name="raw")
    write_files(bare, {"data/raw/a.csv": "1\n", "data/raw/sub/b.csv": "2\n"})
    return bare


ADD_ERRORS = {
    "unknown-role": (["local-files", "data/features", "--role", "inputs"], "unknown role"),
    "name-starts-with-digit": (["local-files", "data/features", "-r", "i", "--name", "1x"], "name"),
    "name-starts-with-dash": (["local-files", "data/features", "-r", "i", "--name=-f"], "name"),
    "name-with-dot": (["local-files", "data/features", "-r", "i", "--name", "my.f"], "name"),
    "name-is-keyword": (["local-files", "data/features", "-r", "i", "--name", "class"], "name"),
    "name-too-long": (["local-files", "data/features", "-r", "i", "--name", "n" * 65], "name"),
    "name-empty": (["local-files", "data/features", "-r", "i", "--name", ""], "name"),
    "duplicate-name": (["local-files", "data/features", "-r", "i", "--name", "raw"], "raw"),
    "nested-inside-resource": (
        ["local-files", "data/raw/sub", "-r", "i", "--name", "x"],
        "overlaps resource 'raw'",
    ),
    "contains-resource": (
        ["local-files", "data", "-r", "i", "--name", "x"],
        "overlaps resource 'raw'",
    ),
    "equal-to-resource": (
        ["local-files", "data/raw", "-r", "i", "--name", "x"],
        "error: data/raw is already the resource 'raw'",
    ),
    "equal-via-dotdot": (
        ["local-files", "data/features/../raw/", "-r", "i", "--name", "x"],
        "error: data/raw is already the resource 'raw'",
    ),
    "contains-metadata": (["local-files", ".", "-r", "i", "--name", "x"], META),
    "is-metadata": (["local-files", META, "-r", "i", "--name", "x"], META),
    "inside-metadata": (["local-files", f"{META}/objects", "-r", "i", "--name", "x"], META),
    "missing-path": (["local-files", "data/nope", "-r", "i"], "--create"),
    "not-a-directory": (["local-files", "data/raw/a.csv", "-r", "i", "--name", "x"], "directory"),
    "unknown-type": (["s4", "data/features", "-r", "i"], "unknown resource type"),
}


@pytest.mark.parametrize("case", list(ADD_ERRORS))
def test_add_errors_exit_2_and_change_nothing(bare: Path, case: str) -> None:
    args, message = ADD_ERRORS[case]
    _with_raw(bare)
    before = disk_state(bare)

    result = dws(bare, "add", *args)

    assert_error(result, 2, contains=message)
    assert_unchanged(bare, before)
    assert [r["name"] for r in resources_json(bare)] == ["raw"]


def test_a_resource_name_may_hold_dashes(bare: Path) -> None:
    _with_raw(bare)
    write_files(bare, {"data/features/f.csv": "v1\n"})

    ok(dws(bare, "add", "local-files", "data/features", "-r", "i", "--name", "my-features-2"))
    ok(dws(bare, "snapshot", "v1"))
    write_files(bare, {"data/features/f.csv": "v2\n"})
    ok(dws(bare, "snapshot", "v2"))
    ok(dws(bare, "restore", "v1", "--only", "my-features-2"))
    shown = as_json(dws(bare, "--json", "show", "v1"))

    assert [r["name"] for r in resources_json(bare)] == ["raw", "my-features-2"]
    assert (bare / "data/features/f.csv").read_text() == "v1\n"
    assert "my-features-2" in shown["resources"]
    ok(dws(bare, "remove", "my-features-2"))
    assert [r["name"] for r in resources_json(bare)] == ["raw"]


def test_add_overlap_through_a_symlinked_alias_is_refused(bare: Path) -> None:
    _with_raw(bare)
    os.symlink("data/raw", bare / "alias")
    before = disk_state(bare)

    result = dws(bare, "add", "local-files", "alias", "-r", "i")

    assert_error(result, 2, contains="raw")
    assert_unchanged(bare, before)


def test_adding_a_resource_again_through_a_symlink_names_it(bare: Path) -> None:
    _with_raw(bare)
    os.symlink("data/raw", bare / "alias")

    result = dws(bare, "add", "local-files", "alias", "-r", "s")

    assert_error(result, 2, contains="data/raw is already the resource 'raw'")


def test_a_git_repository_added_twice_is_named(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    root.mkdir()
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    dws_api.Workspace.init(str(root))
    ok(dws(root, "add", "git", ".", "-r", "code", "--name", "project"))

    result = dws(root, "add", "git", ".", "-r", "code", "--name", "again")

    assert_error(result, 2, contains="error: . is already the resource 'project'")


def test_add_missing_path_without_create_creates_nothing(bare: Path) -> None:
    before = disk_state(bare)

    result = dws(bare, "add", "local-files", "data/nope/deeper", "-r", "i")

    assert_error(result, 2, contains="does not exist")
    assert not (bare / "data" / "nope").exists()
    assert_unchanged(bare, before)


def test_add_without_role_is_a_usage_error(bare: Path) -> None:
    before = disk_state(bare)

    result = dws(bare, "add", "local-files", "data/raw")

    assert_usage_error(result)
    assert_unchanged(bare, before)


def test_remove_forgets_the_resource_but_never_its_files(bare: Path) -> None:
    _with_raw(bare)
    api(bare).add_resource("local-files", str(bare / "results"), "results")
    api_snapshot(bare, "v1")
    files_before = manifest(bare / "data")

    result = ok(dws(bare, "remove", "raw"))

    assert "raw" in result.out
    assert [r["name"] for r in resources_json(bare)] == ["results"]
    assert manifest(bare / "data") == files_before
    status = as_json(dws(bare, "--json", "status"))
    assert [r["name"] for r in status["resources"]] == ["results"]


def test_remove_then_add_again_under_the_same_name(bare: Path) -> None:
    _with_raw(bare)
    ok(dws(bare, "remove", "raw"))

    ok(dws(bare, "add", "local-files", "data/raw", "-r", "s", "--name", "raw"))

    assert [r["name"] for r in resources_json(bare)] == ["raw"]


def test_remove_unknown_resource_exits_2_and_changes_nothing(bare: Path) -> None:
    _with_raw(bare)
    before = disk_state(bare)

    result = dws(bare, "remove", "nosuch")

    assert_error(result, 2, contains="nosuch")
    assert_unchanged(bare, before)


def test_resources_lists_name_type_role_location(bare: Path) -> None:
    assert "No resources" in ok(dws(bare, "resources")).out
    assert as_json(dws(bare, "--json", "resources")) == []
    _with_raw(bare)
    api(bare).add_resource("local-files", str(bare / "results"), "results", name="res")

    text = ok(dws(bare, "resources")).out
    doc = as_json(dws(bare, "--json", "resources"))

    raw_line = next(line for line in text.splitlines() if line.strip().startswith("raw"))
    assert "local-files" in raw_line and "source-data" in raw_line and "data/raw" in raw_line
    assert [(r["name"], r["type"], r["role"], r["path"]) for r in doc] == [
        ("raw", "local-files", "source-data", "data/raw"),
        ("res", "local-files", "results", "results"),
    ]


def test_options_of_another_type_are_refused_by_the_type(ws: Path) -> None:
    before = disk_state(ws)
    for args, flag in (
        (["local-files", "data/raw", "-r", "s", "--endpoint-url", "http://x"], "--endpoint-url"),
        (["local-files", "data/raw", "-r", "s", "--path", "elsewhere"], "--path"),
    ):
        assert_error(dws(ws, "add", *args), 2, contains=f"{flag} does not apply to local-files")
    assert_unchanged(ws, before)


def test_api_and_cli_name_a_git_url_alike(ws: Path, tmp_path: Path) -> None:
    upstream = tmp_path / "lib.git"
    subprocess.run(["git", "init", "-q", "--bare", str(upstream)], check=True)
    url = upstream.as_uri()
    spec = api(ws).add_resource("git", url, "code", path=str(ws / "vendor/lib"))
    assert spec.name == "lib"
