"""Carrying out a local-files restore plan: each file written to a temp name and renamed
into place, so every path holds wholly its old or its new content at any moment."""

from __future__ import annotations

import contextlib
import errno
import os
import stat as stat_module
from collections.abc import Callable

from dws.errors import DwsError
from dws.model.progress import Progress
from dws.model.tree import TreeEntry
from dws.model.treediff import Change
from dws.resources.local_files import workers
from dws.store.base import ObjectStore
from dws.store.fileio import removing_on_error, temp_name

PROGRESS_EVERY = 256


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
        # (path, object id, stat signature just after writing, None if it vanished)
        self.written: list[tuple[str, str, workers.Signature | None]] = []
        self._real_dirs: set[str] = set()
        self.removed: list[str] = []

    def apply(self, changes: list[Change], progress: Progress) -> None:
        """Apply ``changes`` (ordered parents-first for creation, children-first for
        removal): removals, directories and links in order, then the file writes, which
        only need their directories, on several processes when there are many."""
        total = len(changes)
        writes: list[Change] = []
        done = 0
        for change in changes:
            if _is_file_write(change):
                writes.append(change)
                continue
            self._apply_guarded(change)
            done += 1
            if done % PROGRESS_EVERY == 0:
                progress("restoring", done, total)
        shares = [writes]
        if len(writes) >= workers.fork_from() and workers.can_fork():
            shares = workers.split(writes, _directory, _weight, workers.worker_count())

        parent = os.getpid()

        def run(share: list[Change]) -> workers.PartResult:
            # the parent's share stands for all of them in the progress; children are silent
            scale = len(writes) / max(1, len(share))

            def report(count: int) -> None:
                if os.getpid() == parent:
                    progress("restoring", done + int(count * scale), total)

            return self._write_share(share, report)

        linked_before = self.linked
        results = workers.run_shares(shares, run) if len(shares) > 1 else [run(writes)]
        for share, result in zip(shares, results, strict=True):
            for change, signature in zip(share, result.signatures, strict=False):
                assert change.new is not None
                self.written.append((change.path, change.new.id, signature))
        self.linked = linked_before + sum(result.linked for result in results)
        workers.raise_first_error(results)
        progress("restoring", total, total)

    def _write_share(
        self, share: list[Change], report: Callable[[int], None]
    ) -> workers.PartResult:
        result = workers.PartResult()
        linked_before = self.linked
        try:
            for count, change in enumerate(share, 1):
                self._apply_guarded(change)
                result.signatures.append(_signature(os.path.join(self.root, change.path)))
                if count % PROGRESS_EVERY == 0:
                    report(count)
        except DwsError as exc:
            result.error = (exc.exit_code, exc.message, exc.details)
            result.exception = exc
        result.linked = self.linked - linked_before
        return result

    def _apply_guarded(self, change: Change) -> None:
        try:
            self._apply_one(change)
        except OSError as exc:
            where = os.path.join(self.root, change.path)
            raise DwsError(f"cannot restore {where}: {exc.strerror or exc}") from None

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
            self._write_file(path, change.old, new)

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

    def _write_file(self, path: str, old: TreeEntry | None, new: TreeEntry) -> None:
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


def _is_file_write(change: Change) -> bool:
    return change.new is not None and change.new.kind == "file"


def _directory(change: Change) -> str:
    return change.path.rpartition("/")[0]


def _weight(change: Change) -> int:
    # a small file costs about as much as reading 64 KiB of a large one
    assert change.new is not None
    return 1 + change.new.size // (64 << 10)


def _signature(path: str) -> workers.Signature | None:
    try:
        st = os.lstat(path)
    except OSError:
        return None
    return st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns


def _linked(path: str) -> bool:
    return os.lstat(path).st_nlink > 1
