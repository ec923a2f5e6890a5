"""Carrying out a local-files restore plan: each file written to a temp name and renamed
into place, so every path holds wholly its old or its new content at any moment."""

from __future__ import annotations

import contextlib
import errno
import os
import stat as stat_module
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

from dws.errors import DwsError
from dws.model.progress import Progress
from dws.model.tree import TreeEntry
from dws.model.treediff import Change
from dws.store.base import ObjectStore
from dws.store.fileio import removing_on_error, temp_name

WRITERS = 4
BATCH = 64
PARALLEL_MAX_BYTES = 1 << 20


def _is_file_write(change: Change) -> bool:
    """A small file whose content is written: those go to the threads. Large ones are
    copied and hashed one at a time (in-kernel copies and BLAKE3's own threads already
    use the machine; several at once only multiply the mapped pages)."""
    new = change.new
    return new is not None and new.kind == "file" and new.size <= PARALLEL_MAX_BYTES


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


class Restorer:
    """Applies changes under ``root``, materialising blobs from ``store``."""

    def __init__(self, root: str, store: ObjectStore | None, generation: int) -> None:
        self.root = root
        self.store = store
        self.generation = generation
        self._umask = _umask()
        self.written: list[tuple[str, str]] = []
        self._real_dirs: set[str] = set()
        self.removed: list[str] = []

    def apply(self, changes: list[Change], progress: Progress) -> None:
        """Apply ``changes`` in order (they come ordered parents-first for creation and
        children-first for removal). Runs of file writes go to a few threads (creating
        files is mostly waiting on the kernel); every other change waits for the writes
        before it, so the order that matters is kept."""
        total, done, shown = len(changes), 0, 0
        pending: list[tuple[Change, Future[None]]] = []
        with ThreadPoolExecutor(WRITERS) as pool:
            for change in changes:
                if _is_file_write(change):
                    pending.append((change, pool.submit(self._apply_one, change)))
                    if len(pending) < BATCH:
                        continue
                done += self._settle(pending)
                if not _is_file_write(change):
                    self._guarded(self._apply_one, change)
                    done += 1
                if done - shown >= 256:
                    progress("restoring", done, total)
                    shown = done
            done += self._settle(pending)
        progress("restoring", done, total)

    def _settle(self, pending: list[tuple[Change, Future[None]]]) -> int:
        """Wait for the queued writes; raise the first failure."""
        count = len(pending)
        try:
            for change, future in pending:
                try:
                    future.result()
                except OSError as exc:
                    raise self._failure(change, exc) from None
        finally:
            pending.clear()
        return count

    def _failure(self, change: Change, exc: OSError) -> DwsError:
        where = os.path.join(self.root, change.path)
        return DwsError(f"cannot restore {where}: {exc.strerror or exc}")

    def _guarded(self, action: Callable[[Change], None], change: Change) -> None:
        try:
            action(change)
        except OSError as exc:
            raise self._failure(change, exc) from None

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
        mode = (0o777 if new.exec else 0o666) & ~self._umask
        if old is not None and old.kind == "file" and old.id == new.id:
            os.chmod(path, mode)
        else:
            assert self.store is not None
            tmp = temp_name(os.path.dirname(path))
            with removing_on_error(tmp):
                self.store.materialize(new.id, tmp, mode)  # created with ``mode``
                os.replace(tmp, path)
        self.written.append((rel, new.id))
