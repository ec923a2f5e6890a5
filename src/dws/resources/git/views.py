"""Comparing what a repository's working tree holds in two states (recorded or current).

A *view* is a commit plus the dirty paths on top of it: a dirty path holds its overlay
entry (or nothing), any other path holds the commit's file. Two views are compared on the
paths that can differ: the dirty paths of either side and the paths the commits change.
Entries carry BLAKE3 ids of the bytes, like local-files trees, so a file recorded dirty in
one snapshot and committed in the next compares equal when its bytes are the same.
"""

from __future__ import annotations

from collections.abc import Iterable

from msgspec import Struct, field

from dws.errors import IntegrityError
from dws.model.tree import TreeEntry
from dws.model.treediff import Change
from dws.resources.git.excludes import Excludes
from dws.resources.git.gitcmd import Git, decode_path, split_z
from dws.resources.git.worktree import GITLINK, blob_entry


class View(Struct):
    """The working tree of one state: ``commit`` (None: no commit) plus ``work`` entries
    of the ``dirty`` paths (a dirty path absent from ``work`` holds nothing)."""

    commit: str | None
    dirty: set[str] = field(default_factory=set)
    work: dict[str, TreeEntry] = field(default_factory=dict)


class Commits:
    """Files of commits, read through git and cached for one operation."""

    def __init__(self, git: Git, excludes: Excludes) -> None:
        self.git = git
        self.excludes = excludes
        self._listings: dict[str, dict[str, tuple[str, str]]] = {}
        self._entries: dict[tuple[str, str], TreeEntry] = {}

    def listing(self, commit: str | None) -> dict[str, tuple[str, str]]:
        """path -> (mode, object id) of every file of ``commit`` (submodules left out)."""
        if commit is None:
            return {}
        if commit not in self._listings:
            if not self.git.has_commit(commit):
                raise IntegrityError(
                    f"commit {commit[:12]} is not in the repository {self.git.worktree} "
                    "(fetch it, or restore the snapshot, which fetches it from the remotes)"
                )
            out = self.git.run("ls-tree", "-r", "-z", "--full-tree", commit)
            listing = {}
            for record in split_z(out):
                meta, _, raw = record.partition(b"\t")
                mode, _kind, oid = meta.decode().split(" ")
                path = decode_path(raw)
                if mode != GITLINK and path not in self.excludes:
                    listing[path] = (mode, oid)
            self._listings[commit] = listing
        return self._listings[commit]

    def changed(self, old: str | None, new: str | None) -> set[str]:
        """Paths whose committed file differs between two commits."""
        if old == new:
            return set()
        if old is None or new is None:
            return set(self.listing(old or new))
        before, after = self.listing(old), self.listing(new)
        return {p for p in before.keys() | after.keys() if before.get(p) != after.get(p)}

    def entries(self, commit: str | None, paths: Iterable[str]) -> dict[str, TreeEntry]:
        """Tree entries (BLAKE3 ids) of the committed files at ``paths``."""
        listing = self.listing(commit)
        found = {p: listing[p] for p in paths if p in listing}
        missing = {found[p] for p in found if (found[p][1], found[p][0]) not in self._entries}
        if missing:
            data = dict(self.git.read_blobs(oid for _, oid in missing))
            for mode, oid in missing:
                blob = data.get(oid)
                if blob is None:
                    raise IntegrityError(f"git object {oid} is missing from {self.git.worktree}")
                self._entries[(oid, mode)] = blob_entry("", mode, blob)
        out = {}
        for path, (mode, oid) in found.items():
            entry = self._entries[(oid, mode)]
            name = path.rsplit("/", 1)[-1]
            out[path] = TreeEntry(name, entry.kind, entry.id, entry.size, entry.exec, entry.target)
        return out

    def resolve(self, view: View, paths: Iterable[str]) -> dict[str, TreeEntry | None]:
        """What ``view`` holds at each of ``paths``."""
        wanted = list(paths)
        if not wanted:
            return {}
        committed = self.entries(view.commit, [p for p in wanted if p not in view.dirty])
        return {p: view.work.get(p) if p in view.dirty else committed.get(p) for p in wanted}

    def everything(self, view: View) -> set[str]:
        """Every path ``view`` holds a file at."""
        kept = set(self.listing(view.commit)) - view.dirty
        return kept | set(view.work)


def compare(commits: Commits, old: View | None, new: View) -> list[Change]:
    """File changes turning view ``old`` (None: nothing) into ``new``, sorted by path."""
    if old is None:
        held = commits.resolve(new, commits.everything(new))
        return [Change(p, None, e) for p, e in sorted(held.items()) if e is not None]
    paths = old.dirty | new.dirty | commits.changed(old.commit, new.commit)
    paths = {p for p in paths if p not in commits.excludes}
    before = commits.resolve(old, paths)
    after = commits.resolve(new, paths)
    changes = []
    for path in sorted(paths):
        a, b = before[path], after[path]
        if a is None and b is None:
            continue
        if a is not None and a.same_content(b):
            continue
        changes.append(Change(path, a, b))
    return changes
