"""The small pieces of the git resource: URLs, excluded paths, state validation, patch
trees."""

from __future__ import annotations

from typing import Any

import pytest

from dws.errors import FormatError
from dws.model.digest import hash_bytes
from dws.model.tree import TreeEntry
from dws.resources.git.excludes import Excludes
from dws.resources.git.overlay import Overlay, patch_tree
from dws.resources.git.state import GitState
from dws.resources.git.urls import looks_like_url, name_from_url, strip_credentials

COMMIT = "a" * 40
TREE = "b" * 64


@pytest.mark.parametrize(
    ("location", "is_url"),
    [
        ("https://github.com/org/repo.git", True),
        ("file:///srv/git/repo", True),
        ("ssh://git@host:22/repo", True),
        ("git@github.com:org/repo.git", True),
        ("code", False),
        ("./code", False),
        ("/abs/path/repo", False),
        ("dir:with:colons", False),
    ],
)
def test_urls_are_told_from_paths(location: str, is_url: bool) -> None:
    assert looks_like_url(location) is is_url


@pytest.mark.parametrize(
    ("url", "stripped"),
    [
        ("https://user:token@example.com/r.git", "https://example.com/r.git"),
        ("https://ghp_token@example.com/r.git", "https://example.com/r.git"),
        ("ssh://git:pw@host/r.git", "ssh://git@host/r.git"),
        ("ssh://git@host/r.git", "ssh://git@host/r.git"),
        ("git@github.com:org/r.git", "git@github.com:org/r.git"),
        ("file:///srv/r", "file:///srv/r"),
        ("../relative/origin.git", "../relative/origin.git"),
    ],
)
def test_credentials_are_stripped(url: str, stripped: str) -> None:
    assert strip_credentials(url) == stripped


def test_names_come_from_the_last_url_component() -> None:
    assert name_from_url("https://h/org/lib.git") == "lib"
    assert name_from_url("git@h:org/models.git/") == "models"
    assert name_from_url("file:///srv/plain") == "plain"


def test_excludes_cover_prefixes_metadata_and_temporaries() -> None:
    excludes = Excludes(["data/raw", ".dataworkspace"])
    assert "data/raw" in excludes and "data/raw/a.csv" in excludes
    assert "data/rawer.csv" not in excludes and "data/x" not in excludes
    assert "sub/.dataworkspace/x" in excludes
    assert "dir/.dws-tmp.0123456789abcdef" in excludes
    assert excludes.pathspecs() == [
        ".",
        ":(exclude,literal).dataworkspace",
        ":(exclude,literal)data/raw",
    ]


def good_state(**changes: Any) -> dict[str, Any]:
    state: dict[str, Any] = {
        "commit": COMMIT,
        "branch": "main",
        "url": None,
        "patch": TREE,
        "dirty": ["a.txt", "b/c.txt"],
        "staged": ["a.txt"],
    }
    state.update(changes)
    return state


def test_a_valid_state_parses_and_round_trips() -> None:
    state = good_state()
    assert GitState.parse(state).to_json() == state
    assert GitState.parse(good_state(commit=None, branch=None, patch=None, dirty=[], staged=[]))


@pytest.mark.parametrize(
    "changes",
    [
        {"commit": "xyz"},
        {"commit": "A" * 40},
        {"branch": "-delete-me"},
        {"branch": "a..b"},
        {"branch": "with space"},
        {"branch": 3},
        {"patch": "short"},
        {"dirty": ["../escape"]},
        {"dirty": ["/abs"]},
        {"dirty": [".dataworkspace/x"], "staged": []},
        {"dirty": ["b", "a"], "staged": []},
        {"dirty": ["a", "a"], "staged": []},
        {"staged": ["not-dirty"]},
        {"patch": None},
        {"dirty": "a.txt"},
        {"url": 5},
    ],
)
def test_malformed_states_are_format_errors(changes: dict[str, Any]) -> None:
    with pytest.raises(FormatError):
        GitState.parse(good_state(**changes))


def test_patch_trees_are_canonical_and_hold_work_and_index() -> None:
    entry = TreeEntry("", "file", hash_bytes(b"x"), 1)
    overlay = Overlay(["a/b.txt", "c.txt"], ["c.txt"], {"a/b.txt": entry}, {"c.txt": entry})
    same = Overlay(["a/b.txt", "c.txt"], ["c.txt"], {"a/b.txt": entry}, {"c.txt": entry})
    root, objects = patch_tree(overlay)
    assert root is not None and root in objects
    assert patch_tree(same)[0] == root
    assert patch_tree(Overlay())[0] is None
    deleted_only = patch_tree(Overlay(["gone.txt"], []))
    assert deleted_only[0] is not None  # dirty paths always have a patch tree
