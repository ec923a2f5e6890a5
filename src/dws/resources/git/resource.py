"""The git resource: a repository whose commit, branch and uncommitted changes a snapshot
records, without ever committing, stashing or moving a ref (see docs/git.md)."""

from __future__ import annotations

import contextlib
import fnmatch
import io
import os
from collections.abc import Iterator
from typing import Any, BinaryIO

from dws.errors import DwsError, IntegrityError, UsageError
from dws.model.paths import default_resource_name
from dws.model.roles import Role
from dws.model.treediff import Change, TreeLoader
from dws.resources.base import ObjectRef, Resource, RestorePlan, State
from dws.resources.git import notes, setup
from dws.resources.git.applying import FileWriter, apply_plan
from dws.resources.git.excludes import Excludes, owned_elsewhere
from dws.resources.git.gitcmd import Git, GitError
from dws.resources.git.overlay import load_overlay, patch_refs, patch_tree
from dws.resources.git.planning import GitRestorePlan, current_view, plan, target_view
from dws.resources.git.recovery import save_unsaved
from dws.resources.git.state import Capture, GitState, capture, remote_url
from dws.resources.git.urls import looks_like_url, name_from_url, strip_credentials
from dws.resources.git.views import Commits, View, compare
from dws.resources.git.worktree import read_work_state
from dws.resources.pathhash import MISSING, PathId
from dws.resources.recorded import FlatView, NotHereError, RecordedView
from dws.store.objectreader import open_object
from dws.store.trees import store_loader


class GitResource(Resource):
    """A git work tree: the commit HEAD is at, its branch, and uncommitted changes."""

    type_name = "git"
    allowed_roles = frozenset({Role.CODE})
    may_contain = frozenset({"local-files"})
    may_contain_meta = True
    add_options = frozenset({"keep", "create", "path"})

    # ---- set-up -----------------------------------------------------------------------

    @classmethod
    def default_name(cls, location: str) -> str:
        if looks_like_url(location):  # https://host/org/lib.git -> lib
            return default_resource_name(name_from_url(location))
        return default_resource_name(location)

    @classmethod
    def is_local_location(cls, location: str) -> bool:
        return not looks_like_url(location)

    # ---- clone ------------------------------------------------------------------------

    fetched_from_source = True

    @classmethod
    def source_url(cls, params: dict[str, Any], recorded: State | None) -> str | None:
        for url in (params.get("url"), (recorded or {}).get("url")):
            if isinstance(url, str) and url:
                return url
        return None

    @classmethod
    def fetch_source(cls, url: str, dest: str) -> None:
        setup.clone(url, dest)

    @classmethod
    def shown_source(cls, url: str) -> str:
        return strip_credentials(url)

    def is_fetched(self) -> bool:
        return os.path.isdir(os.path.join(self.local_path(), ".git"))

    @classmethod
    def prepare_params(
        cls, location: str, workspace_root: str, options: dict[str, Any]
    ) -> dict[str, Any]:
        return setup.prepare_params(location, workspace_root, options)

    def setup(self, location: str, options: dict[str, Any]) -> None:
        if "url" in self.spec.params and looks_like_url(location):
            setup.clone(location, self.local_path())

    def local_path(self) -> str:
        return self.recorded_path()

    def _git(self) -> Git:
        root = self.local_path()
        if not os.path.isdir(root):
            raise UsageError(
                f"resource {self.name!r}: repository {root} is missing "
                f"(clone it there again, or `dws remove {self.name}`)"
            )
        return Git(root)

    def _excludes(self) -> Excludes:
        return owned_elsewhere(self.local_path(), self.context.workspace_root, self.name)

    def _loader(self) -> TreeLoader:
        return store_loader(self.context.store)

    def _capture(self, *, store: bool) -> tuple[Git, Excludes, Capture]:
        git, excludes = self._git(), self._excludes()
        current = capture(git, excludes, self.context.store if store else None)
        self.warnings.extend(w for w in current.work.warnings if w not in self.warnings)
        self._last_capture: Capture | None = current
        return git, excludes, current

    def _view(self, state: State, commits: Commits) -> View:
        parsed = GitState.parse(state)
        overlay = load_overlay(self._loader(), parsed.patch, parsed.dirty, parsed.staged)
        return target_view(parsed, overlay, commits)

    # ---- status and snapshot ----------------------------------------------------------

    def _present(self) -> bool:
        """True when the resource's directory is a git work tree (a clone of a workspace
        may not have the repository yet)."""
        return os.path.lexists(os.path.join(self.local_path(), ".git"))

    def status(self, base: State | None) -> list[Change]:
        if not self._present():
            self.warnings.append(f"repository {self.local_path()} is missing")
            return []
        git, excludes, current = self._capture(store=False)
        commits = Commits(git, excludes)
        old = self._view(base, commits) if base is not None else None
        if old is not None and old.commit is not None and not git.has_commit(old.commit):
            self.warnings.append(
                f"commit {old.commit[:10]} of the last snapshot is not in the repository "
                "(fetch it); only uncommitted files were compared"
            )
            old.commit = current.work.head
        return compare(commits, old, current_view(current))

    def snapshot(self, base: State | None) -> State:
        git, _, current = self._capture(store=True)
        for leftover in current.work.leftovers:
            with contextlib.suppress(OSError):
                os.unlink(os.path.join(git.worktree, leftover))
        patch, objects = patch_tree(current.overlay)
        store = self.context.store
        for oid, data in objects.items():
            if not store.has(oid):
                store.put_bytes(data)
        work, overlay = current.work, current.overlay
        url = remote_url(git, work.branch)
        return GitState(work.head, work.branch, url, patch, overlay.dirty, overlay.staged).to_json()

    # ---- restore ----------------------------------------------------------------------

    def plan_restore(self, target: State, saved: list[State]) -> RestorePlan:
        git, excludes, current = self._capture(store=False)
        commits = Commits(git, excludes)
        store = self.context.store
        return plan(git, commits, self._loader(), store, self.name, target, saved, current)

    def apply_restore(self, plan: RestorePlan) -> None:
        assert isinstance(plan, GitRestorePlan) and plan.current is not None
        git, excludes = self._git(), self._excludes()
        if plan.conflicts:  # only reached with --force: keep what would be lost first
            overlay = plan.current.overlay
            index_differs = any(
                not entry.same_content(overlay.work.get(path))
                for path, entry in overlay.index.items()
            )
            note = save_unsaved(
                git,
                self.context.store,
                self.context.local_dir,
                self.name,
                plan.current.work.head,
                excludes,
                index_differs=index_differs,
            )
            plan.notes.append(note)
        apply_plan(git, self.context.store, plan, excludes)

    # ---- reading recorded states ------------------------------------------------------

    def diff_states(self, old: State, new: State | None) -> list[Change]:
        if new is None:
            return self.status(old)
        if not self.spec.params.get("path"):
            self.warnings.append("the repository is no longer registered; files not compared")
            return []
        commits = Commits(self._git(), self._excludes())
        return compare(commits, self._view(old, commits), self._view(new, commits))

    def references(self, state: State) -> Iterator[ObjectRef]:
        patch = GitState.parse(state).patch
        if patch is not None:
            yield from patch_refs(self._loader(), patch)

    def _recorded_files(self, state: State) -> tuple[Git, Commits, View, list[str]]:
        git = self._git()
        commits = Commits(git, self._excludes())
        view = self._view(state, commits)
        committed = sorted(p for p in commits.listing(view.commit) if p not in view.dirty)
        return git, commits, view, committed

    def export(self, state: State, dest: str) -> int:
        git, _, view, committed = self._recorded_files(state)
        os.makedirs(dest, exist_ok=True)
        if committed and view.commit is not None:
            index = os.path.join(self.context.local_dir, f"git-{self.name}-{os.getpid()}.index")
            private = git.with_index(index)
            try:
                private.run("read-tree", view.commit)
                paths = b"".join(os.fsencode(p) + b"\0" for p in committed)
                prefix = os.path.join(os.path.abspath(dest), "")
                private.run(
                    "checkout-index", "-f", "-z", "--stdin", f"--prefix={prefix}", input=paths
                )
            finally:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(index)
        writer = FileWriter(dest, self.context.store)
        for path, entry in sorted(view.work.items()):
            writer.write(path, None, entry)
        return len(committed) + len(view.work)

    def read_files(self, state: State, names: list[str]) -> Iterator[tuple[str, bytes]]:
        git, commits, view, committed = self._recorded_files(state)
        listing = commits.listing(view.commit)
        wanted = [p for p in committed if _matches(p, names) and listing[p][0] != "120000"]
        blobs = dict(git.read_blobs(listing[p][1] for p in wanted))
        found = {p: blobs.get(listing[p][1]) for p in wanted}
        for path, entry in view.work.items():
            if entry.kind == "file" and _matches(path, names):
                found[path] = self.context.store.get_verified(entry.id)
        for path in sorted(found):
            data = found[path]
            if data is not None:
                yield path, data

    def records_path(self, path: str) -> bool:
        """False for a path git ignores (a snapshot never captures ignored files)."""
        rel = os.path.relpath(path, self.local_path())
        if rel == "." or rel.startswith(".."):
            return True
        ignored = self._git().succeeds("check-ignore", "-q", "--", rel.replace(os.sep, "/") + "/")
        return not ignored

    def recorded_view(self, state: State) -> RecordedView:
        if not self._present():
            commit = GitState.parse(state).commit
            raise NotHereError(
                f"code resource {self.name!r} is read from its git repository (commit "
                f"{str(commit)[:10]}), which this read cannot reach; clone the workspace to "
                "read it"
            )
        git, commits, view, committed = self._recorded_files(state)
        files = {**commits.entries(view.commit, committed), **view.work}
        blobs = commits.listing(view.commit)

        def open_file(path: str) -> BinaryIO:
            if path in view.work:
                return open_object(self.context.store, view.work[path].id)
            found = dict(git.read_blobs([blobs[path][1]])).get(blobs[path][1])
            if found is None:
                raise IntegrityError(f"git object {blobs[path][1]} is missing from {git.worktree}")
            return io.BytesIO(found)

        return FlatView(files, open_file)

    def describe(self, state: State | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {"path": self.spec.params.get("path")}
        if "url" in self.spec.params:
            out["url"] = self.spec.params["url"]
        if state is not None:
            parsed = GitState.parse(state)
            out.update(commit=parsed.commit, branch=parsed.branch, dirty=parsed.dirty)
        elif self._present():
            _, _, current = self._capture(store=False)
            work = current.work
            out.update(commit=work.head, branch=work.branch, dirty=sorted(work.dirty))
        return out

    def notes(self, old: State | None, new: State | None) -> list[str]:
        if not self.spec.params.get("path") or not self._present():
            return []
        git = self._git()
        if new is not None:
            if old is None:
                return []
            return notes.diff_notes(git, GitState.parse(old), GitState.parse(new))
        current: Capture | None = getattr(self, "_last_capture", None)
        if current is None:
            _, _, current = self._capture(store=False)
        base = GitState.parse(old) if old is not None else None
        return notes.status_notes(git, base, current.work)

    def code_version(self) -> tuple[str | None, str | None, list[str]] | None:
        if not self._present():
            return None
        work = read_work_state(self._git(), self._excludes())
        return work.head, work.branch, sorted(work.dirty)

    def recorded_ids(self, state: State, paths: list[str]) -> dict[str, PathId]:
        """Files and symlinks as the recorded commit plus its uncommitted changes hold them
        (BLAKE3 ids, as the files have now); directories, the root, and everything when the
        repository or the commit is not here are left out."""
        if not self._present():
            return {}
        try:
            commits = Commits(self._git(), self._excludes())
            view = self._view(state, commits)
            entries = commits.resolve(view, [p for p in paths if p])
            held: set[str] | None = None
            out: dict[str, PathId] = {}
            for path, entry in entries.items():
                if entry is not None:
                    out[path] = (entry.kind, entry.id)
                    continue
                held = commits.everything(view) if held is None else held
                prefix = path + "/"
                if not any(other.startswith(prefix) for other in held):
                    out[path] = MISSING
            return out
        except DwsError:
            return {}

    def code_location(self) -> str | None:
        """The URL recorded when the repository was added from one, else the URL of its
        remote ``origin``; None when it has neither (or is not here)."""
        recorded = self.spec.params.get("url")
        if isinstance(recorded, str) and recorded:
            return strip_credentials(recorded)
        if not self._present():
            return None
        try:
            url = self._git().text("remote", "get-url", "origin", ok=(0, 2))
        except GitError:
            return None
        return strip_credentials(url) if url else None

    def ignore_suggestion(self, nested: list[str]) -> tuple[str, list[str]] | None:
        return setup.ignore_suggestion(self.local_path(), nested)


def _matches(path: str, names: list[str]) -> bool:
    base = path.rsplit("/", 1)[-1]
    return any(fnmatch.fnmatchcase(base, pat) or fnmatch.fnmatchcase(path, pat) for pat in names)
