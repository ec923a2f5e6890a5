"""Listing one directory with every entry's ``lstat`` fields, and the digest of such a
listing (what a directory row keeps to know the directory unchanged).

A directory of many entries can have its ``lstat`` pass shared out over forked processes
(``list_in_parts``): its names are read once, cut in runs of whole digest batches, and each
process sends back its run's entries marshaled batch by batch, which is what the digest
hashes; the entries themselves are decoded only when the digest does not match."""

from __future__ import annotations

import marshal
import os
import stat as stat_module
from collections.abc import Iterable
from functools import partial

from blake3 import blake3

from dws.resources.local_files import workers

__all__ = ["Listed", "list_directory", "list_in_parts", "listing_digest"]

LISTING_BATCH = 1024
# marshal's format 2: from format 3 on, an object referenced more than once is written as a
# back-reference, so the bytes of equal listings depended on how they were built
MARSHAL_VERSION = 2
# one entry of a listing: name, st_mode, st_size, st_mtime_ns, st_ino, st_ctime_ns, st_nlink
# (a tuple of ints holds a tenth of what the DirEntry with its stat_result holds)
Listed = tuple[str, int, int, int, int, int, int]
S_ISDIR = stat_module.S_ISDIR
BY_DESCRIPTOR = os.scandir in os.supports_fd  # about 15% faster where it is (Linux, macOS)
O_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
CAN_LIST_IN_PARTS = BY_DESCRIPTOR and os.stat in os.supports_dir_fd and hasattr(os, "fork")


def list_directory(where: str) -> tuple[list[Listed], bool]:
    """The entries of a directory with their lstat fields, and whether one is a directory.
    An entry that vanishes between the listing and its stat is left out."""
    if not BY_DESCRIPTOR:
        return _list(where)
    handle = os.open(where, os.O_RDONLY | O_DIRECTORY)
    try:  # each entry is then stat'ed relative to the directory, not by its whole path
        return _list(handle)
    finally:
        os.close(handle)


def _list(directory: int | str) -> tuple[list[Listed], bool]:
    found: list[Listed] = []
    append = found.append
    has_subdir = False
    with os.scandir(directory) as listing:
        for entry in listing:
            try:
                st = entry.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue
            mode = st.st_mode
            if S_ISDIR(mode):
                has_subdir = True
            append(
                (
                    entry.name,
                    mode,
                    st.st_size,
                    st.st_mtime_ns,
                    st.st_ino,
                    st.st_ctime_ns,
                    st.st_nlink,
                )
            )
    return found, has_subdir


def listing_digest(found: list[Listed], salt: bytes) -> bytes:
    """A digest of every entry's name and stat fields, in listing order."""
    return batches_digest(_batches(found), salt)


def batches_digest(batches: Iterable[bytes], salt: bytes) -> bytes:
    """The digest of a listing from its marshaled batches (see ``list_in_parts``)."""
    hasher = blake3(salt)
    for batch in batches:
        hasher.update(batch)
    return hasher.digest()


def _batches(found: list[Listed]) -> list[bytes]:
    return [
        marshal.dumps(found[start : start + LISTING_BATCH], MARSHAL_VERSION)
        for start in range(0, len(found), LISTING_BATCH)
    ]


class PartsListing:
    """A directory listed by several processes: its marshaled batches, and whether one
    entry is a directory; ``found()`` decodes the entries."""

    def __init__(self, batches: list[bytes], has_subdir: bool) -> None:
        self.batches = batches
        self.has_subdir = has_subdir

    def found(self) -> list[Listed]:
        """The entries, in listing order."""
        return [entry for batch in self.batches for entry in marshal.loads(batch)]


def list_in_parts(where: str, parts: int) -> PartsListing | None:
    """List ``where`` with its ``lstat`` pass shared out over ``parts`` processes (this
    one and forked ones). None when an entry vanished meanwhile or a process failed: the
    caller then lists it alone."""
    names = os.listdir(where)
    if not names:
        return PartsListing([], False)
    run = -(-len(names) // (parts * LISTING_BATCH)) * LISTING_BATCH  # whole batches each
    shares = [names[start : start + run] for start in range(0, len(names), run)]
    results = workers.fork_map(shares, partial(_stat_run, where), lambda why: None)
    if any(result is None for result in results):
        return None
    batches = [batch for result in results if result is not None for batch in result[0]]
    return PartsListing(batches, any(result is not None and result[1] for result in results))


def _stat_run(where: str, names: list[str]) -> tuple[list[bytes], bool] | None:
    """The marshaled batches of ``names`` with their lstat fields, and whether one is a
    directory; None if one vanished (its batches would not be the listing's)."""
    found: list[Listed] = []
    append = found.append
    has_subdir = False
    handle = os.open(where, os.O_RDONLY | O_DIRECTORY)
    try:
        for name in names:
            try:
                st = os.stat(name, dir_fd=handle, follow_symlinks=False)
            except FileNotFoundError:
                return None
            mode = st.st_mode
            if S_ISDIR(mode):
                has_subdir = True
            append((name, mode, st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns, st.st_nlink))
    finally:
        os.close(handle)
    return _batches(found), has_subdir
