"""Carrying out a local-files restore plan so that every path holds wholly its old or its
new content at any moment.

A file replacing or joining existing content is written to a temporary name and renamed
into place. A directory the restore creates is built under a temporary name instead: its
files are written straight to their names in it (one directory operation per file instead
of two, which halves the kernel's work in a large directory), and the finished directory is
renamed into place at the end, all at once. A killed restore leaves only temporary names,
which the next scan reports and the next restore removes."""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import stat as stat_module
from collections.abc import Callable, Collection, Iterable, Iterator

from dws.errors import DwsError
from dws.model.progress import Progress
from dws.model.tree import TreeEntry
from dws.model.treediff import Change
from dws.resources.local_files import workers
from dws.store.base import ObjectStore
from dws.store.fileio import TEMP_PREFIX, removing_on_error, temp_name

PROGRESS_EVERY = 256
DEFAULT_BATCH = 1 << 16
# (path, object id, stat signature just after writing, None if it vanished)
Written = tuple[str, str, workers.Signature | None]
# told what one batch removed and wrote, in that order (see ``Restorer``)
Recorder = Callable[[list[str], list[Written]], None]


def restore_batch() -> int:
    """The most changes a restore holds at once (``DWS_RESTORE_BATCH`` overrides): a plan
    keeps that many after checking them (more are produced again to apply), and they are
    applied that many at a time."""
    return workers.count_setting("DWS_RESTORE_BATCH", DEFAULT_BATCH)


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def _batches(changes: Iterable[Change], size: int) -> Iterator[list[Change]]:
    batch: list[Change] = []
    for change in changes:
        batch.append(change)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


class Restorer:
    """Applies changes under ``root``, materialising blobs from ``store``.

    ``link``: large files become hard links to their store objects and every file written
    is read-only (restore --link hardlink, for source data).

    ``record`` is told, batch by batch, which paths were removed and which files were
    written (with their stat signatures), also when the batch failed part way; nothing of
    it is kept afterwards, so memory does not grow with the number of files."""

    def __init__(
        self,
        root: str,
        store: ObjectStore | None,
        generation: int,
        *,
        link: bool = False,
        record: Recorder | None = None,
    ) -> None:
        self.root = root
        self.store = store
        self.generation = generation
        self.link = link
        self.linked = 0
        self._record = record
        self._umask = _umask()
        self._written: list[Written] = []  # the batch being applied
        self._removed: list[str] = []
        self._real_dirs: set[str] = set()
        # directories this restore creates: final path -> where it is being built (the
        # outermost ones under a temporary name in their parent, the others inside them)
        self._building: dict[str, str] = {}
        self._staged: list[tuple[str, str]] = []  # (temporary path, final path), outermost
        # False once a worker died: a file it was writing into a directory being built may
        # be part way under its final name, so those directories stay under their
        # temporary names (the next restore removes them)
        self._publishable = True

    def build_root(self) -> None:
        """The root directory does not exist: build all of it under a temporary name next
        to it (see ``staged_root_prefix``), renamed into place when the restore ends."""
        parent, name = os.path.split(self.root)
        remove_staged_roots(self.root)
        tmp = temp_name(parent).replace(TEMP_PREFIX, staged_root_prefix(name), 1)
        os.mkdir(tmp)
        self._building[""] = tmp
        self._staged.append((tmp, self.root))

    def apply(self, changes: Collection[Change], progress: Progress) -> None:
        """Apply ``changes`` (ordered parents-first for creation, children-first for
        removal) a batch at a time (``restore_batch``): in each batch, removals,
        directories and links in order, then the file writes, which only need their
        directories, on several processes when there are many; last, the directories
        built under temporary names go into place (also when a write failed: what they
        hold is finished; not when a worker died, see ``_publish``)."""
        total = len(changes)
        done = 0
        try:
            for batch in _batches(changes, restore_batch()):
                done = self._apply_batch(batch, progress, done, total)
            progress("restoring", total, total)
        finally:
            try:
                self._publish()
            finally:
                self._hand_over()

    def _apply_batch(self, batch: list[Change], progress: Progress, done: int, total: int) -> int:
        """Apply one batch; return how many changes are done in all."""
        writes: list[Change] = []
        for change in batch:
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
                self._written.append((change.path, change.new.id, signature))
        self.linked = linked_before + sum(result.linked for result in results)
        if any(result.died for result in results):
            self._publishable = False
        workers.raise_first_error(results)
        self._hand_over()
        return done + len(writes)

    def _hand_over(self) -> None:
        """Tell ``record`` what the batch removed and wrote, and forget it."""
        removed, written = self._removed, self._written
        self._removed, self._written = [], []
        if self._record is not None and (removed or written):
            self._record(removed, written)

    def _publish(self) -> None:
        """Rename the directories built under temporary names into place (not after a
        worker died). A name taken meanwhile by anything but an empty directory stops the
        restore (rename fails)."""
        staged, self._staged = self._staged, []
        if not self._publishable:
            return
        for tmp, path in staged:
            try:
                os.rename(tmp, path)
            except OSError as exc:
                raise DwsError(
                    f"cannot restore directory {path}: {exc.strerror or exc} (its restored "
                    f"content is in {tmp})"
                ) from None

    def _write_share(
        self, share: list[Change], report: Callable[[int], None]
    ) -> workers.PartResult:
        result = workers.PartResult()
        linked_before = self.linked
        try:
            for count, change in enumerate(share, 1):
                self._apply_guarded(change)
                result.signatures.append(_signature(self._where(change.path)))
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

    def _inside(self, rel: str) -> str | None:
        """Where ``rel`` goes when its directory is one this restore is building."""
        if not self._building:
            return None
        directory, _, name = rel.rpartition("/")
        building = self._building.get(directory)
        return os.path.join(building, name) if building is not None else None

    def _where(self, rel: str) -> str:
        """Where ``rel`` is written now: inside a directory being built, or in place."""
        return self._inside(rel) or os.path.join(self.root, rel)

    def _apply_one(self, change: Change) -> None:
        new = change.new
        inside = self._inside(change.path) if new is not None else None
        if inside is not None and new is not None:  # nothing there yet: no temporary name
            self._create_inside(inside, change.path, new)
            return
        path = os.path.join(self.root, change.path)
        if new is None:
            self._real_dirs.discard(path)
            self._remove(path, change)
        elif new.kind == "dir":
            self._make_dir(path, change.path)
        elif new.kind == "symlink":
            self._ensure_parent(path)
            assert new.target is not None
            tmp = temp_name(os.path.dirname(path))
            os.symlink(new.target, tmp)
            with removing_on_error(tmp):
                os.replace(tmp, path)
            self._removed.append(change.path)
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
            self._removed.append(change.path)

    def _make_dir(self, path: str, rel: str) -> None:
        self._ensure_parent(path)
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            tmp = temp_name(os.path.dirname(path))
            os.mkdir(tmp)
            self._building[rel] = tmp
            self._staged.append((tmp, path))
            return
        if not stat_module.S_ISDIR(st.st_mode):
            raise DwsError(f"cannot restore directory {path}: something else is in the way")

    def _create_inside(self, path: str, rel: str, new: TreeEntry) -> None:
        """Create ``path`` in a directory this restore is building (so nothing else is
        there): subdirectories, links and files straight under their own names."""
        if new.kind == "dir":
            os.mkdir(path)
            self._building[rel] = path
        elif new.kind == "symlink":
            assert new.target is not None
            os.symlink(new.target, path)
            self._removed.append(rel)  # any cache row of an earlier file there goes
        else:
            with removing_on_error(path):
                self._fill(path, new)

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
            tmp = temp_name(os.path.dirname(path))
            with removing_on_error(tmp):
                self._fill(tmp, new)
                os.replace(tmp, path)

    def _fill(self, path: str, new: TreeEntry) -> None:
        """Create ``path`` (which must not exist) with the content of ``new``."""
        assert self.store is not None
        # a link shares the object's mode (read-only, not executable)
        if self.link and not new.exec and self.store.link(new.id, path):
            self.linked += 1
            return
        writable = 0o222 if not self.link else 0
        mode = ((0o555 if new.exec else 0o444) | writable) & ~self._umask
        self.store.materialize(new.id, path, mode)  # created with ``mode``


def staged_root_prefix(name: str) -> str:
    """How the temporary name of a root directory being built starts."""
    return f"{TEMP_PREFIX}root.{name}."


def remove_staged_roots(root: str) -> None:
    """Delete what a killed restore left while building ``root`` (files restored from the
    store, so nothing is lost)."""
    parent, name = os.path.split(root)
    prefix = staged_root_prefix(name)
    with contextlib.suppress(FileNotFoundError):
        for entry in os.scandir(parent):
            if entry.name.startswith(prefix) and entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path)


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
