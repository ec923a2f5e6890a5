"""Adding a git resource: checking a local repository, cloning a URL, and suggesting the
.gitignore lines that keep data resources inside the repository out of git's sight."""

from __future__ import annotations

import os
import shutil
from typing import Any

from dws.errors import UsageError
from dws.model.paths import is_within
from dws.resources.git.gitcmd import Git, GitError, split_z
from dws.resources.git.urls import looks_like_url, name_from_url, strip_credentials


def _recorded(path: str, workspace_root: str) -> str:
    relative = os.path.relpath(path, workspace_root)
    if relative == ".." or relative.startswith("../"):
        return path
    return relative.replace(os.sep, "/")


def prepare_params(location: str, workspace_root: str, options: dict[str, Any]) -> dict[str, Any]:
    """Check a new git resource: a URL to clone (into ``--path`` or the workspace under the
    resource's name) or the top directory of an existing work tree."""
    if options.get("keep") not in (None, "content"):
        raise UsageError("--keep does not apply to git resources (git keeps the content)")
    if options.get("create"):
        raise UsageError("--create does not apply to git resources (give a URL to clone one)")
    if looks_like_url(location):
        name = options.get("name") or name_from_url(location)
        given = options.get("path")
        dest = os.path.abspath(
            os.path.join(workspace_root, os.path.expanduser(given))
            if given
            else os.path.join(workspace_root, name)
        )
        if os.path.lexists(dest) and not (os.path.isdir(dest) and not os.listdir(dest)):
            raise UsageError(f"{dest} already exists; choose where to clone with --path")
        return {"path": _recorded(dest, workspace_root), "url": strip_credentials(location)}
    if options.get("path"):
        raise UsageError("--path is for cloning a URL; give a local repository's directory")
    path = os.path.abspath(os.path.join(workspace_root, os.path.expanduser(location)))
    if not os.path.isdir(path):
        raise UsageError(f"{location} is not a directory")
    top = toplevel(path)
    if os.path.realpath(top) != os.path.realpath(path):
        raise UsageError(
            f"{location} is inside the git repository {top}; add the repository's top "
            "directory instead"
        )
    return {"path": _recorded(path, workspace_root)}


def toplevel(path: str) -> str:
    """The top directory of the work tree holding ``path``; UsageError if there is none."""
    try:
        return Git(path).text("rev-parse", "--show-toplevel")
    except GitError as exc:
        raise UsageError(
            f"{path} is not in a git work tree ({exc.message.split(': ', 1)[-1]}); run "
            "`git init` there, or give a URL to clone"
        ) from None


def clone(url: str, dest: str) -> None:
    """Clone ``url`` into ``dest`` (absent or empty); on failure leave nothing behind."""
    parent = os.path.dirname(dest)
    os.makedirs(parent, exist_ok=True)
    existed = os.path.isdir(dest)
    try:
        Git(parent).run("clone", "--quiet", "--", url, dest)
    except GitError as exc:
        if not existed:
            shutil.rmtree(dest, ignore_errors=True)
        shown = strip_credentials(url)
        raise GitError(f"cloning {shown} failed: {exc.message.replace(url, shown)}") from None
    if strip_credentials(url) != url:
        # git keeps the URL it cloned from in .git/config, inside the workspace: without
        # the password (fetches then ask git's credential helper, as they should)
        Git(dest).run("remote", "set-url", "origin", strip_credentials(url))


def _escape(rel: str) -> str:
    escaped = "".join("\\" + c if c in "*?[\\" else c for c in rel)
    return escaped[:-1] + "\\ " if escaped.endswith(" ") else escaped


def ignore_suggestion(root: str, nested: list[str]) -> tuple[str, list[str]] | None:
    """The repository's .gitignore and the lines that make git ignore the ``nested``
    directories it does not ignore yet (None when there is nothing to add)."""
    real_root = os.path.realpath(root)
    rels = []
    for path in nested:
        real = os.path.realpath(path)
        if is_within(real, real_root) and real != real_root:
            rels.append(os.path.relpath(real, real_root).replace(os.sep, "/") + "/")
    if not rels:
        return None
    listed = b"".join(os.fsencode(rel) + b"\0" for rel in rels)
    out = Git(root).run("check-ignore", "-z", "--stdin", "--no-index", input=listed, ok=(0, 1))
    ignored = {os.fsdecode(p) for p in split_z(out)}
    lines = [f"/{_escape(rel[:-1])}/" for rel in rels if rel not in ignored]
    return (os.path.join(root, ".gitignore"), lines) if lines else None
