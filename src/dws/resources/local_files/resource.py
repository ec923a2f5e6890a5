"""The local-files resource: a directory whose content is recorded as a Merkle tree."""

from __future__ import annotations

import contextlib
import errno
import fnmatch
import os
import shutil
from collections.abc import Iterator
from typing import Any, BinaryIO

from dws.errors import DwsError, IntegrityError, RefusedError, UsageError
from dws.model.ids import check_object_id
from dws.model.tree import EMPTY_TREE, EMPTY_TREE_ID, TreeEntry, encode_tree, listing_id
from dws.model.treediff import (
    Change,
    ChangeStream,
    TreeLoader,
    diff_trees,
    lookup,
    walk_tree,
)
from dws.resources.base import ObjectRef, PutBackPlan, Resource, RestorePlan, State
from dws.resources.local_files.applying import Restorer, restore_batch
from dws.resources.local_files.planning import check_plan
from dws.resources.local_files.recovery import apply_put_back, plan_put_back, save_paths
from dws.resources.local_files.restoredrows import RestoredRows
from dws.resources.local_files.scanner import Scanner, refuse_unreadable
from dws.resources.local_files.scanresult import ScanResult
from dws.resources.local_files.statcache import (
    NoCache,
    StatCache,
)
from dws.resources.pathhash import MISSING, PathId, persist_trees
from dws.resources.recorded import RecordedView, TreeView
from dws.store.base import CorruptObjectError
from dws.store.objectreader import open_checked_file
from dws.store.trees import store_loader

KEEP_CONTENT = "content"
KEEP_HASHES = "hashes"


class LocalFilesResource(Resource):
    """A directory; ``keep: hashes`` records only hashes (for huge external data). As a
    code resource it holds scripts and notebooks kept outside any repository, recorded as
    content like data (docs/code-resources.md)."""

    type_name = "local-files"

    # ---- set-up -----------------------------------------------------------------------

    @classmethod
    def prepare_params(
        cls, location: str, workspace_root: str, options: dict[str, Any]
    ) -> dict[str, Any]:
        keep = options.get("keep") or KEEP_CONTENT
        if keep not in (KEEP_CONTENT, KEEP_HASHES):
            raise UsageError(f"--keep must be 'content' or 'hashes', not {keep!r}")
        path = os.path.abspath(os.path.join(workspace_root, os.path.expanduser(location)))
        if not os.path.isdir(path):
            if os.path.exists(path):
                raise UsageError(f"{location} is not a directory")
            if not options.get("create"):
                raise UsageError(f"{location} does not exist (add --create to make it)")
        recorded = os.path.relpath(path, workspace_root)
        if recorded == ".." or recorded.startswith("../"):
            recorded = path
        return {"path": recorded, "keep": keep}

    @property
    def keep(self) -> str:
        """'content' or 'hashes'."""
        return str(self.spec.params.get("keep", KEEP_CONTENT))

    def local_path(self) -> str:
        return self.recorded_path()

    def _root(self) -> str:
        root = self.local_path()
        if not os.path.isdir(root):
            raise UsageError(
                f"resource {self.name!r}: directory {root} is missing "
                f"(create it, or `dws remove {self.name}`)"
            )
        return root

    # ---- scanning ---------------------------------------------------------------------

    def _cache(self) -> StatCache:
        return StatCache(os.path.join(self.context.local_dir, "statcache.sqlite"))

    def _scan(
        self,
        *,
        store_blobs: bool,
        put_trees: bool = False,
        allow_missing: bool = False,
        allow_unreadable: bool = False,
    ) -> ScanResult:
        """Scan the directory. ``store_blobs``: store every file's blob (the stat-cache rows
        saying so wait for ``committed``); ``put_trees``: store every tree (a snapshot),
        else keep in memory only the trees the store lacks. A scan that left out names
        that are not UTF-8 is refused unless ``allow_unreadable`` (status)."""
        if allow_missing and not os.path.lexists(self.local_path()):
            self.warnings.append(f"directory {self.local_path()} is missing")
            return ScanResult(EMPTY_TREE_ID, {EMPTY_TREE_ID: encode_tree(EMPTY_TREE)}, 0, 0)
        root = self._root()
        cache = self._cache()
        try:
            scanner = Scanner(
                root,
                cache.session(self.name, defer_stored=store_blobs),
                store=self.context.store if store_blobs else None,
                generation=self.context.store_generation,
                progress=self.context.progress,
                tree_store=self.context.store,
                put_trees=put_trees,
            )
            result = scanner.scan()
            self.warnings.extend(w for w in result.warnings if w not in self.warnings)
            if not allow_unreadable:
                refuse_unreadable(result.unreadable, f"resource {self.name!r}")
            return result
        finally:
            cache.close()

    def _loader(self, scan: ScanResult | None = None) -> TreeLoader:
        fallback = store_loader(self.context.store)
        kept: dict[str, bytes] = getattr(self, "_kept_trees", {})
        if kept:  # trees of states made without storing (see import_directory)
            fallback = ScanResult("", kept, 0, 0).loader(fallback)
        return scan.loader(fallback) if scan is not None else fallback

    def _keep_trees(self, scan: ScanResult) -> None:
        kept: dict[str, bytes] = getattr(self, "_kept_trees", {})
        kept.update(scan.trees)
        self._kept_trees = kept

    @staticmethod
    def _tree_of(state: State | None) -> str | None:
        if state is None:
            return None
        return check_object_id(state.get("tree"), "tree id in snapshot")

    def status(self, base: State | None) -> list[Change]:
        scan = self._scan(store_blobs=False, allow_missing=True)
        return list(diff_trees(self._loader(scan), self._tree_of(base), scan.root_id))

    def status_report(self, base: State | None) -> tuple[list[Change], list[str]]:
        scan = self._scan(store_blobs=False, allow_missing=True, allow_unreadable=True)
        changes = diff_trees(self._loader(scan), self._tree_of(base), scan.root_id)
        return list(changes), scan.unreadable

    def snapshot(self, base: State | None) -> State:
        store_blobs = self.keep == KEEP_CONTENT
        scan = self._scan(store_blobs=store_blobs, put_trees=True)
        _remove_leftovers(self._root(), scan.leftovers)
        self._promote_on_commit = store_blobs
        return {"tree": scan.root_id, "files": scan.files, "bytes": scan.bytes, "keep": self.keep}

    def committed(self) -> None:
        """After the snapshot record is durable, the cache may say its blobs are stored."""
        if getattr(self, "_promote_on_commit", False):
            cache = self._cache()
            try:
                cache.promote(self.name)
            finally:
                cache.close()
            self._promote_on_commit = False

    # ---- restore ----------------------------------------------------------------------

    def plan_restore(self, target: State, saved: list[State]) -> RestorePlan:
        scan = self._scan(store_blobs=False, allow_missing=True)
        load = self._loader(scan)
        target_tree = self._tree_of(target)
        saved_trees = [self._tree_of(state) for state in saved]
        # produced again to apply when there are too many to keep (see ChangeStream)
        changes = ChangeStream(lambda: diff_trees(load, scan.root_id, target_tree), restore_batch())
        plan = RestorePlan(self.name, changes, leftovers=scan.leftovers)
        if target.get("keep", KEEP_CONTENT) == KEEP_HASHES:
            plan.verify_failures = [c.path for c in changes if c.visible]
            return plan
        check_plan(plan, self.local_path(), load, saved_trees, self.context.store)
        return plan

    def apply_restore(self, plan: RestorePlan) -> None:
        path = self.local_path()
        fresh = not os.path.lexists(path)  # built whole, then renamed into place
        if fresh:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            if not plan.changes:
                os.mkdir(path)
                return
            root = path
        else:
            root = self._root()
            _remove_leftovers(root, plan.leftovers)
            if not plan.changes:
                return
            _clear_the_way(root, plan)
        cache = self._cache()
        try:
            generation = self.context.store_generation
            sync_path = os.path.dirname(root) if fresh else root
            rows = RestoredRows(cache, self.name, sync_path, generation)
            restorer = Restorer(root, self.context.store, generation, link=plan.link, record=rows)
            try:
                if fresh:
                    restorer.build_root()
                restorer.apply(plan.changes, self.context.progress)
            finally:
                rows.finish()
        finally:
            cache.close()
        if restorer.linked:
            plan.notes.append(
                f"{restorer.linked} file(s) hard-linked to the object store, read-only: "
                "never edit them in place (write a new file instead; a restore without "
                "--link copies the files it rewrites)"
            )

    # ---- recovery ---------------------------------------------------------------------

    def save_paths(self, paths: list[str]) -> State | None:
        saved = save_paths(self._root(), paths, self.context.store, self.context.store_generation)
        return {
            "tree": saved.tree,
            "files": saved.files,
            "bytes": saved.bytes,
            "keep": KEEP_CONTENT,
        }

    def plan_put_back(self, state: State, dest: str | None) -> PutBackPlan:
        tree = self._tree_of(state)
        assert tree is not None
        return plan_put_back(self.name, dest or self.local_path(), self._loader(), tree)

    def apply_put_back(self, plan: PutBackPlan) -> None:
        apply_put_back(
            plan, self.context.store, self.context.store_generation, self.context.progress
        )

    # ---- swap -------------------------------------------------------------------------

    def check_swappable(self) -> None:
        if self.keep != KEEP_CONTENT:
            raise RefusedError(
                f"resource {self.name!r} keeps hashes only (--keep hashes): its content "
                "cannot be saved before a swap; nothing was changed"
            )

    def save_state(self, *, store: bool) -> State:
        self.check_swappable()
        scan = self._scan(store_blobs=store, put_trees=store, allow_missing=True)
        if store:
            # a missing directory scans as the empty tree, which a scan does not store
            persist_trees(self.context.store, self._loader(scan), scan.root_id)
            self._promote_on_commit = True
        else:
            self._keep_trees(scan)
        return {"tree": scan.root_id, "files": scan.files, "bytes": scan.bytes, "keep": self.keep}

    def import_directory(self, path: str, *, store: bool) -> State:
        self.check_swappable()
        store_or_none = self.context.store if store else None
        scanner = Scanner(
            path,
            NoCache(),
            store=store_or_none,
            generation=self.context.store_generation,
            progress=self.context.progress,
            tree_store=self.context.store,
            put_trees=store,
        )
        scan = scanner.scan()
        refuse_unreadable(scan.unreadable, path)
        self.warnings.extend(f"{path}: {w}" for w in scan.warnings)
        if not store:
            self._keep_trees(scan)
        return {
            "tree": scan.root_id,
            "files": scan.files,
            "bytes": scan.bytes,
            "keep": KEEP_CONTENT,
        }

    # ---- reading recorded states ------------------------------------------------------

    def diff_states(self, old: State, new: State | None) -> list[Change]:
        if new is None:
            scan = self._scan(store_blobs=False, allow_missing=True)
            return list(diff_trees(self._loader(scan), self._tree_of(old), scan.root_id))
        return list(diff_trees(self._loader(), self._tree_of(old), self._tree_of(new)))

    def references(self, state: State) -> Iterator[ObjectRef]:
        root = self._tree_of(state)
        assert root is not None
        with_blobs = state.get("keep", KEEP_CONTENT) == KEEP_CONTENT
        yield ObjectRef(root, True)
        for _, entry in walk_tree(self._loader(), root):
            if entry.is_dir:
                yield ObjectRef(entry.id, True)
            elif entry.kind == "file" and with_blobs:
                yield ObjectRef(entry.id, False)

    def export(self, state: State, dest: str) -> int:
        if state.get("keep", KEEP_CONTENT) != KEEP_CONTENT:
            raise UsageError(
                f"resource {self.name!r} keeps hashes only; there is nothing to export"
            )
        root = self._tree_of(state)
        os.makedirs(dest, exist_ok=True)
        load = self._loader()
        changes = ChangeStream(lambda: diff_trees(load, None, root), restore_batch())
        Restorer(dest, self.context.store, self.context.store_generation).apply(
            changes, self.context.progress
        )
        return sum(1 for c in changes if c.new is not None and not c.new.is_dir)

    def read_files(self, state: State, names: list[str]) -> Iterator[tuple[str, bytes]]:
        root = self._tree_of(state)
        assert root is not None
        for path, entry in walk_tree(self._loader(), root):
            if entry.kind != "file" or not _matches(path, names):
                continue
            if self.context.store.has(entry.id):
                yield path, self.context.store.get_verified(entry.id)
            else:
                yield path, self._read_current(path, entry)

    def recorded_view(self, state: State) -> RecordedView:
        opener = None
        if state.get("keep", KEEP_CONTENT) != KEEP_CONTENT:
            opener = self._open_current
        return TreeView(
            self.context.store,
            self._loader(),
            self._tree_of(state),
            int(state.get("bytes", 0)),
            opener=opener,
            spill_dir=self.context.local_dir,
        )

    def _open_current(self, path: str, entry: TreeEntry) -> BinaryIO:
        """A file of a resource that keeps hashes only: the working file, while it still
        holds the recorded bytes."""
        root = os.path.realpath(self.local_path())
        full = os.path.join(root, path)
        try:
            if os.path.commonpath([root, os.path.realpath(os.path.dirname(full))]) != root:
                raise CorruptObjectError(entry.id)  # a directory on the way became a link out
            return open_checked_file(full, entry.id, entry.size)
        except OSError as exc:
            if exc.errno == errno.ELOOP:  # the file is a symbolic link now
                raise IntegrityError(
                    f"{path} of {self.name!r} is a symbolic link now, and the resource keeps "
                    "hashes only"
                ) from None
            raise DwsError(f"cannot read {path} of {self.name!r}: {exc.strerror}") from None
        except CorruptObjectError:
            raise IntegrityError(
                f"{path} of {self.name!r} changed since it was recorded, and the resource "
                "keeps hashes only"
            ) from None

    def _read_current(self, path: str, entry: TreeEntry) -> bytes:
        """The whole working file of a hashes-only resource, checked as ``_open_current``
        checks it."""
        with self._open_current(path, entry) as handle:
            return handle.read()

    def describe(self, state: State | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {"path": self.spec.params.get("path"), "keep": self.keep}
        if state is not None:
            out.update(files=state.get("files"), bytes=state.get("bytes"))
        return out

    # ---- lineage ----------------------------------------------------------------------

    def content_ids(self, paths: list[str], *, keep_trees: bool = False) -> dict[str, PathId]:
        """One stat-cache scan of the resource answers every path (a run over a large
        unchanged input costs a stat pass, not a re-read)."""
        if not os.path.isdir(self.local_path()):
            return super().content_ids(paths, keep_trees=keep_trees)
        scan = self._scan(store_blobs=False)
        load = self._loader(scan)
        out: dict[str, PathId] = {}
        for path in paths:
            entry = _entry_at(load, scan.root_id, path)
            if entry is None:  # not there, or left out by .dwsignore: hash it directly
                out.update(super().content_ids([path], keep_trees=keep_trees))
                continue
            if keep_trees and entry.is_dir:
                persist_trees(self.context.store, load, entry.id)
            out[path] = entry.kind, entry.id
        return out

    def listing_ids(self, paths: list[str]) -> dict[str, str | None]:
        """One scan answers every directory; nothing is written to the store."""
        if not os.path.isdir(self.local_path()):
            return dict.fromkeys(paths)
        scan = self._scan(store_blobs=False)
        load = self._loader(scan)
        out: dict[str, str | None] = {}
        for path in paths:
            entry = _entry_at(load, scan.root_id, path)
            out[path] = listing_id(load(entry.id)) if entry is not None and entry.is_dir else None
        return out

    def recorded_ids(self, state: State, paths: list[str]) -> dict[str, PathId]:
        root = self._tree_of(state)
        load = self._loader()
        out: dict[str, PathId] = {}
        for path in paths:
            entry = _entry_at(load, root, path)
            out[path] = (entry.kind, entry.id) if entry is not None else MISSING
        return out

    def forget(self) -> None:
        cache = self._cache()
        try:
            cache.forget(self.name)
        finally:
            cache.close()


def _clear_the_way(root: str, plan: RestorePlan) -> None:
    """Remove untracked directories standing where a forced restore writes a file or a
    link (only conflicts, which the restore saved in a recovery record first)."""
    conflicts = set(plan.conflicts)
    if not conflicts:
        return
    for change in plan.changes:
        new = change.new
        if change.old is None and new is not None and not new.is_dir and change.path in conflicts:
            path = os.path.join(root, change.path)
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path)


def _remove_leftovers(root: str, leftovers: list[str]) -> None:
    """Delete the temporary files and directories an interrupted restore left (callers
    hold the lock; what a directory holds was restored from the store)."""
    for rel in leftovers:
        path = os.path.join(root, rel)
        with contextlib.suppress(OSError):
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path)
            else:
                os.unlink(path)


def _matches(path: str, names: list[str]) -> bool:
    base = path.rsplit("/", 1)[-1]
    return any(fnmatch.fnmatchcase(base, pat) or fnmatch.fnmatchcase(path, pat) for pat in names)


def _entry_at(load: TreeLoader, root_id: str | None, path: str) -> TreeEntry | None:
    """The entry at ``path`` ("" is the root directory itself)."""
    if root_id is None:
        return None
    if not path:
        return TreeEntry("", "dir", root_id, 0)
    return lookup(load, root_id, path)
