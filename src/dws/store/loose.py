"""Loose-object store in a local directory: objects/ab/cdef...."""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Iterator

from dws.model.digest import hash_bytes
from dws.model.ids import check_object_id, is_object_id
from dws.store.base import CorruptObjectError, ObjectMissingError, ObjectStore
from dws.store.fileio import (
    TEMP_PREFIX,
    removing_on_error,
    sync_filesystem,
    temp_name,
    write_new_file,
)
from dws.store.hashing import SMALL_FILE, hash_file, open_nonblocking
from dws.store.streamcopy import copy_hashing

OBJECT_MODE = 0o444


class LooseObjectStore(ObjectStore):
    """One file per object, written to a temp file and renamed into place."""

    def __init__(self, root: str) -> None:
        self.root = root
        self._tmp = os.path.join(root, "tmp")
        self._made_dirs: set[str] = set()

    @staticmethod
    def create(root: str) -> LooseObjectStore:
        """Create the directory layout (fan-out dirs made up front)."""
        os.makedirs(os.path.join(root, "tmp"), exist_ok=True)
        for i in range(256):
            os.makedirs(os.path.join(root, f"{i:02x}"), exist_ok=True)
        return LooseObjectStore(root)

    def path(self, oid: str) -> str:
        """Where an object lives on disk (the id is validated: nothing can point outside)."""
        check_object_id(oid)
        return os.path.join(self.root, oid[:2], oid[2:])

    def has(self, oid: str) -> bool:
        return os.path.exists(self.path(oid))

    def _install(self, tmp: str, oid: str) -> None:
        directory = os.path.join(self.root, oid[:2])
        if directory not in self._made_dirs:
            os.makedirs(directory, exist_ok=True)
            self._made_dirs.add(directory)
        os.replace(tmp, self.path(oid))

    def put_bytes(self, data: bytes) -> str:
        oid = hash_bytes(data)
        if not self.has(oid):
            tmp = temp_name(self._tmp)
            with removing_on_error(tmp):
                write_new_file(tmp, data, OBJECT_MODE)
                self._install(tmp, oid)
        return oid

    def put_file(self, path: str, similar_to: str | None = None) -> tuple[str, int]:
        with open(path, "rb", opener=open_nonblocking) as handle:
            size = os.fstat(handle.fileno()).st_size
            if size <= SMALL_FILE:
                data = handle.read()
                return self.put_bytes(data), len(data)
        # Large file: the id is the hash of the bytes copied, read once, so it always
        # matches the stored bytes even if the source changes meanwhile.
        tmp = temp_name(self._tmp)
        with removing_on_error(tmp):
            oid, size = copy_hashing(path, tmp, OBJECT_MODE)
            _stamp(tmp, _mtime_and_size(tmp))  # the bytes just hashed are the bytes written
            if self.has(oid):
                os.unlink(tmp)
            else:
                self._install(tmp, oid)
        return oid, size

    def get_bytes(self, oid: str) -> bytes:
        try:
            with open(self.path(oid), "rb") as handle:
                return handle.read()
        except FileNotFoundError:
            raise ObjectMissingError(oid) from None

    def materialize(self, oid: str, dest: str, mode: int = 0o644) -> None:
        path = self.path(oid)
        try:
            size = os.stat(path).st_size
        except FileNotFoundError:
            raise ObjectMissingError(oid) from None
        if size <= SMALL_FILE:
            data = self.get_bytes(oid)
            if hash_bytes(data) != oid:
                raise CorruptObjectError(oid)
            write_new_file(dest, data, mode)
            return
        with removing_on_error(dest):
            if copy_hashing(path, dest, mode)[0] != oid:
                raise CorruptObjectError(oid)

    def link(self, oid: str, dest: str) -> bool:
        path = self.path(oid)
        try:
            if os.stat(path).st_size <= SMALL_FILE:
                return False  # small: a copy costs nothing, and a link would share the mode
        except FileNotFoundError:
            raise ObjectMissingError(oid) from None
        if not _stamped(path) and not self.verify(oid):
            raise CorruptObjectError(oid)
        try:
            os.link(path, dest)
        except OSError as exc:
            if exc.errno in (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP):
                return False
            raise
        return True

    def release_link(self, oid: str, st: os.stat_result) -> bool:
        try:
            stored = os.stat(self.path(oid))
        except FileNotFoundError:
            return False
        if (stored.st_dev, stored.st_ino) != (st.st_dev, st.st_ino):
            return False
        self.delete(oid)
        return True

    def size(self, oid: str) -> int:
        try:
            return os.stat(self.path(oid)).st_size
        except FileNotFoundError:
            raise ObjectMissingError(oid) from None

    def iter_ids(self) -> Iterator[str]:
        for prefix in sorted(os.listdir(self.root)):
            if len(prefix) != 2:
                continue
            with os.scandir(os.path.join(self.root, prefix)) as entries:
                for entry in entries:
                    oid = prefix + entry.name
                    if is_object_id(oid):
                        yield oid

    def delete(self, oid: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path(oid))

    def verify(self, oid: str) -> bool:
        path = self.path(oid)
        before = _mtime_and_size(path)
        if before is None:
            raise ObjectMissingError(oid)
        good = _hash_path(path) == oid
        if good and _mtime_and_size(path) == before:
            _stamp(path, before)
        return good

    def flush(self) -> None:
        sync_filesystem(self.root)

    def clean_temporary(self) -> int:
        removed = 0
        for name in os.listdir(self._tmp) if os.path.isdir(self._tmp) else []:
            if name.startswith(TEMP_PREFIX):
                with contextlib.suppress(OSError):
                    os.unlink(os.path.join(self._tmp, name))
                    removed += 1
        return removed


def _hash_path(path: str) -> str:
    return hash_file(path)[0]


# A large object carries, in an extended attribute, the (mtime, size) it had when its
# bytes were last hashed and found to match its id. `restore --link hardlink` links an
# object whose stamp still matches without reading it again (a gigabyte is 0.45 s from a
# cold cache), since every write to the file, through any of its links, moves its mtime.
# Copies are always verified as they are made; fsck always hashes; bit rot that leaves
# the mtime alone is fsck's to find (docs/design-decisions.md, "Hard links").
STAMP_XATTR = "user.dws.verified"


def _mtime_and_size(path: str) -> bytes | None:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return f"{st.st_mtime_ns}:{st.st_size}".encode()


def _stamp(path: str, value: bytes | None) -> None:
    if value is not None:
        with contextlib.suppress(OSError, AttributeError):  # no user xattrs here: no stamp
            os.setxattr(path, STAMP_XATTR, value)


def _stamped(path: str) -> bool:
    try:
        return os.getxattr(path, STAMP_XATTR) == _mtime_and_size(path)
    except (OSError, AttributeError):
        return False
