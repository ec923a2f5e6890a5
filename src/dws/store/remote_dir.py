"""A remote in a local or mounted directory: the same layout as ``.dataworkspace/`` minus
``local/``, objects in the same pack store the workspace uses (so a transfer copies large
objects by path), and a lock file that tag updates and remote gc hold."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

from filelock import FileLock, Timeout

from dws.errors import DwsError, LockedError, UsageError
from dws.store.fileio import TEMP_PREFIX, fsync_dir, temp_name, write_atomic, write_new_file
from dws.store.packed import PackedObjectStore
from dws.store.remote_backend import (
    MAX_FILE_BYTES,
    RemoteBackend,
    RemoteChangedError,
    RemoteFiles,
    RemotePlaces,
    check_key,
)

LOCK_WAIT_SECONDS = 10.0


class DirectoryFiles(RemoteFiles):
    """Metadata files of a directory remote; tag updates are serialised by the lock file
    ``lock_name`` (a key)."""

    def __init__(self, root: str, lock_name: str) -> None:
        self.root = root
        self.lock_name = lock_name

    def _path(self, key: str) -> str:
        return os.path.join(self.root, *check_key(key).split("/"))

    def list(self, directory: str) -> dict[str, str]:
        out: dict[str, str] = {}
        try:
            with os.scandir(self._path(directory)) as entries:
                for entry in entries:
                    if entry.name.startswith(TEMP_PREFIX) or not entry.is_file():
                        continue
                    st = entry.stat()
                    out[entry.name] = f"{st.st_mtime_ns}:{st.st_size}:{st.st_ino}"
        except FileNotFoundError:
            pass
        return out

    def read(self, key: str) -> bytes | None:
        try:
            with open(self._path(key), "rb") as handle:
                data = handle.read(MAX_FILE_BYTES + 1)
        except (FileNotFoundError, IsADirectoryError):
            return None
        if len(data) > MAX_FILE_BYTES:
            raise DwsError(f"remote file {key} is implausibly large")
        return data

    def create(self, key: str, data: bytes) -> bool:
        path = self._path(key)
        if os.path.exists(path):
            return False
        directory = os.path.dirname(path)
        os.makedirs(directory, exist_ok=True)
        tmp = temp_name(directory)
        try:
            write_new_file(tmp, data)
            with open(tmp, "rb") as handle:
                os.fsync(handle.fileno())
            try:
                os.link(tmp, path)  # fails if another writer got there first
            except FileExistsError:
                return False
            except OSError:  # a filesystem without hard links: check and rename, locked
                with self.locked():
                    if os.path.exists(path):
                        return False
                    os.rename(tmp, path)
        finally:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        fsync_dir(directory)
        return True

    def replace(self, key: str, data: bytes, expected: bytes | None) -> None:
        with self.locked():
            if self.read(key) != expected:
                raise RemoteChangedError(f"{key} changed on the remote meanwhile; run again")
            self.write(key, data)

    def write(self, key: str, data: bytes) -> None:
        path = self._path(key)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        write_atomic(path, data, durable=True)

    def delete(self, key: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._path(key))

    def delete_if(self, key: str, expected: bytes) -> bool:
        with self.locked():
            if self.read(key) != expected:
                return False
            self.delete(key)
        fsync_dir(os.path.dirname(self._path(key)))
        return True

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the remote's lock file (tag updates, gc)."""
        lock = FileLock(self._path(self.lock_name))
        try:
            lock.acquire(timeout=LOCK_WAIT_SECONDS)
        except Timeout:
            raise LockedError(
                f"the remote {self.root} is locked by another dws command; retry later"
            ) from None
        try:
            yield
        finally:
            lock.release()


class DirectoryBackend(RemoteBackend):
    """A directory remote: lookups and reads are local file operations (small objects move
    on the calling thread, large ones by path on 4 threads), and it has a lock file."""

    workers = 4

    def __init__(self, root: str, objects: PackedObjectStore, files: DirectoryFiles) -> None:
        super().__init__(root, objects, files)
        self._files = files

    def locked(self) -> contextlib.AbstractContextManager[None]:
        """Hold the remote's lock file."""
        return self._files.locked()


def open_directory_remote(root: str, places: RemotePlaces, *, create: bool) -> DirectoryBackend:
    """The remote at ``root``; with ``create``, make its layout when it is absent or empty."""
    if not os.path.isdir(root):
        if not create or os.path.lexists(root):
            raise UsageError(f"remote directory {root} does not exist")
        os.makedirs(root)
    objects = os.path.join(root, *places.objects.split("/"))
    if not os.path.isdir(objects):
        if not create:
            raise UsageError(f"{root} is not a dws remote (no {places.objects}/ directory)")
        if os.listdir(root):
            raise UsageError(f"{root} is neither empty nor a dws remote; choose another place")
        PackedObjectStore.create(objects)
        for sub in places.directories:
            os.makedirs(os.path.join(root, *sub.split("/")), exist_ok=True)
    files = DirectoryFiles(root, places.lock)
    return DirectoryBackend(root, PackedObjectStore(objects), files)


def probe_directory_remote(root: str, places: RemotePlaces) -> DirectoryBackend | None:
    """Check that ``root`` can serve as a directory remote, changing nothing: an existing
    remote (returned, open), or an empty or absent directory whose parent exists (None:
    the first push makes its layout). A file, a directory holding other files, or a
    missing parent is a UsageError saying what to do."""
    if os.path.isdir(os.path.join(root, *places.objects.split("/"))):
        return open_directory_remote(root, places, create=False)
    if os.path.isdir(root):
        if os.listdir(root):
            raise UsageError(
                f"{root} is neither empty nor a dws remote: choose an empty or new directory"
            )
        return None
    if os.path.lexists(root):
        raise UsageError(f"{root} is not a directory: choose an empty or new directory")
    parent = os.path.dirname(root)
    if not os.path.isdir(parent):
        raise UsageError(f"{parent} does not exist: create it first (the first push makes {root})")
    return None
