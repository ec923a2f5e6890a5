"""Hashing files with BLAKE3: small files read whole, large ones memory-mapped on threads."""

from __future__ import annotations

import os

from blake3 import blake3

SMALL_FILE = 4 << 20


def hash_file(path: str) -> tuple[str, int]:
    """(object id, size) of the file at ``path``."""
    with open(path, "rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        if size <= SMALL_FILE:
            data = handle.read()
            return blake3(data).hexdigest(), len(data)
    hasher = blake3(max_threads=blake3.AUTO)
    hasher.update_mmap(path)
    return hasher.hexdigest(), size
