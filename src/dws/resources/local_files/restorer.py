"""Carrying out a local-files restore plan: each file written to a temp name and renamed
into place, so every path holds wholly its old or its new content at any moment."""

from __future__ import annotations

import contextlib
import errno
import os
import stat as stat_module

from dws.errors import DwsError
from dws.model.progress import Progress
from dws.model.tree import TreeEntry
from dws.model.treediff import Change
from dws.store.base import ObjectStore
from dws.store.fileio import removing_on_error, temp_name


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


class Restorer:
    """Applies changes under ``root``, materialising blobs from ``store``.

    ``link``: large files become hard links to their store objects and every file written
    is read-only (restore --link hardlink, for source data)."""

    def __init__(
        self, root: str, store: ObjectStore | None, generation: int, *, link: bool = False
    ) -> None:
        self.root = root
        self.store = store
        self.generation = generation
        self.link = link
        self.linked = 0
        self._umask = _umask()
        self.written: list[tuple[str, str]] = []
        self._real_dirs: set[str] = set()
        self.removed: list[str] = []

    def apply(self, changes: list[Change], progress: Progress) -> None:
        """Apply ``changes`` in order (they come ordered parents-first for creation and
        children-first for removal)."""
        total = len(changes)
        for done, change in enumerate(changes, 1):
            try:
                self._apply_one(change)
            except OSError as exc:
                where = os.path.join(self.root, change.path)
                raise DwsError(f"cannot restore {where}: {exc.strerror or exc}") from None
            if done % 256 == 0 or done == total:
                progress("restoring", done, total)

    def _apply_one(self, change: Change) -> None:
        path = os.path.join(self.root, change.path)
        new = change.new
        if new is None:
            self._real_dirs.discard(path)
            self._remove(path, change)
        elif new.kind == "dir":
            self._make_dir(path)
        elif new.kind == "symlink":
            self._ensure_parent(path)
            assert new.target is not None
            tmp = temp_name(os.path.dirname(path))
            os.symlink(new.target, tmp)
            with removing_on_error(tmp):
                os.replace(tmp, path)
            self.removed.append(change.path)
        else:
            self._write_file(path, change.path, change.old, new)

    def _remove(self, path: str, change: Change) -> None:
        assert change.old is not None
        if change.old.is_dir:
            try:
                os.rmdir(path)
            except OSError as exc:
                # a directory still holding ignored files stays; a vanished one is fine
                if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST, errno.ENOENT):
                    raise
        else:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
            self.removed.append(change.path)

    def _make_dir(self, path: str) -> None:
        self._ensure_parent(path)
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            os.mkdir(path)
            return
        if not stat_module.S_ISDIR(st.st_mode):
            raise DwsError(f"cannot restore directory {path}: something else is in the way")

    def _ensure_parent(self, path: str) -> None:
        parent = os.path.dirname(path)
        if parent in self._real_dirs:
            return
        st = os.lstat(parent)
        if not stat_module.S_ISDIR(st.st_mode):
            raise DwsError(f"refusing to write through {parent}: it is not a real directory")
        self._real_dirs.add(parent)

    def _write_file(self, path: str, rel: str, old: TreeEntry | None, new: TreeEntry) -> None:
        self._ensure_parent(path)
        writable = 0o222 if not self.link else 0
        mode = ((0o555 if new.exec else 0o444) | writable) & ~self._umask
        # only the mode differs; but a hard link's mode is its store object's: replace it
        if old is not None and old.kind == "file" and old.id == new.id and not _linked(path):
            os.chmod(path, mode)
        else:
            assert self.store is not None
            tmp = temp_name(os.path.dirname(path))
            with removing_on_error(tmp):
                # a link shares the object's mode (read-only, not executable)
                if self.link and not new.exec and self.store.link(new.id, tmp):
                    self.linked += 1
                else:
                    self.store.materialize(new.id, tmp, mode)  # created with ``mode``
                os.replace(tmp, path)
        self.written.append((rel, new.id))


def _linked(path: str) -> bool:
    return os.lstat(path).st_nlink > 1
