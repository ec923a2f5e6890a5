"""The paths a repository's state leaves out: the workspace metadata directory and the
directories of other resources inside the repository (see docs/git.md, "Overlaps")."""

from __future__ import annotations

import os
from collections.abc import Iterable

from dws.model.paths import META_DIR_NAME, is_within
from dws.model.records import decode_resources
from dws.store.fileio import TEMP_PREFIX


class Excludes:
    """Repository-relative ('/'-separated) directories owned by something else. Any path
    with a ``.dataworkspace`` component and leftover restore temporaries are excluded too."""

    def __init__(self, prefixes: Iterable[str] = ()) -> None:
        self.prefixes = sorted(set(prefixes))

    def __contains__(self, path: str) -> bool:
        parts = path.split("/")
        if META_DIR_NAME in parts or parts[-1].startswith(TEMP_PREFIX):
            return True
        return any(path == p or path.startswith(p + "/") for p in self.prefixes)

    def pathspecs(self) -> list[str]:
        """git pathspecs selecting the repository minus the excluded directories."""
        return [".", *(f":(exclude,literal){p}" for p in self.prefixes)]

    def keep(self, paths: Iterable[str]) -> list[str]:
        """``paths`` without the excluded ones."""
        return [p for p in paths if p not in self]


def owned_elsewhere(repo_root: str, workspace_root: str, own_name: str) -> Excludes:
    """Excludes for the repository at ``repo_root``: the workspace's metadata directory and
    every other registered resource's directory, where they lie inside the repository."""
    real_root = os.path.realpath(repo_root)
    meta = os.path.join(workspace_root, META_DIR_NAME)
    candidates = [meta, *_resource_paths(meta, workspace_root, own_name)]
    prefixes = []
    for candidate in candidates:
        real = os.path.realpath(candidate)
        if is_within(real, real_root) and real != real_root:
            prefixes.append(os.path.relpath(real, real_root).replace(os.sep, "/"))
    return Excludes(prefixes)


def _resource_paths(meta: str, workspace_root: str, own_name: str) -> list[str]:
    # Read-only look at resources.json: the other resources' directories are the paths this
    # one must leave alone (absent outside a workspace, e.g. in unit tests).
    try:
        with open(os.path.join(meta, "resources.json"), "rb") as handle:
            specs = decode_resources(handle.read())
    except FileNotFoundError:
        return []
    paths = []
    for spec in specs:
        path = spec.params.get("path")
        if spec.name != own_name and isinstance(path, str) and path and "\x00" not in path:
            paths.append(os.path.normpath(os.path.join(workspace_root, path)))
    return paths
