"""Listing one directory with every entry's ``lstat`` fields, and the digest of such a
listing (what a directory row keeps to know the directory unchanged)."""

from __future__ import annotations

import marshal
import os
import stat as stat_module

from blake3 import blake3

__all__ = ["Listed", "list_directory", "listing_digest"]

LISTING_BATCH = 1024
# one entry of a listing: name, st_mode, st_size, st_mtime_ns, st_ino, st_ctime_ns, st_nlink
# (a tuple of ints holds a tenth of what the DirEntry with its stat_result holds)
Listed = tuple[str, int, int, int, int, int, int]
S_ISDIR = stat_module.S_ISDIR
BY_DESCRIPTOR = os.scandir in os.supports_fd  # about 15% faster where it is (Linux, macOS)
O_DIRECTORY = getattr(os, "O_DIRECTORY", 0)


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
    hasher = blake3(salt)
    for start in range(0, len(found), LISTING_BATCH):
        hasher.update(marshal.dumps(found[start : start + LISTING_BATCH]))
    return hasher.digest()
