"""Large files for the tests of chunked storage: compressible text that content-defined
chunking can cut (not a repeated pattern), sparse files, and what a directory or file
really occupies on disk."""

from __future__ import annotations

import os
import random
from pathlib import Path

from blake3 import blake3

MiB = 1 << 20

# 256 byte values mapped onto digits, commas and newlines: text like a CSV of numbers
# (lines of ~40 bytes), which zstd shrinks to about half and which never repeats
_TABLE = bytes(b"0123456789"[i % 10] for i in range(228)) + b"," * 22 + b"\n" * 6


def csv_bytes(rng: random.Random, size: int) -> bytes:
    """``size`` bytes of CSV-like text (digits, commas, newlines) drawn from ``rng``."""
    return rng.randbytes(size).translate(_TABLE)


def csv_lines(rng: random.Random, count: int, tag: str = "row") -> bytes:
    """``count`` CSV lines of the form ``tag-N,<digits>,<digits>``."""
    return b"".join(
        f"{tag}-{n},{rng.randrange(10**9)},{rng.randrange(10**6)}\n".encode() for n in range(count)
    )


def make_sparse(path: Path, size: int, pieces: dict[int, bytes]) -> None:
    """A file of ``size`` bytes that is a hole except for ``pieces`` ({offset: bytes})."""
    with open(path, "wb") as handle:
        handle.truncate(size)
        for offset, data in pieces.items():
            os.pwrite(handle.fileno(), data, offset)


def allocated(path: Path) -> int:
    """Bytes the filesystem allocates for one file."""
    return os.stat(path).st_blocks * 512


def du(root: Path) -> int:
    """Bytes allocated for every file below ``root`` (as `du` counts them, each inode once)."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for dirpath, _, filenames in os.walk(root):
        for name in filenames:
            st = os.lstat(os.path.join(dirpath, name))
            if (st.st_dev, st.st_ino) not in seen:
                seen.add((st.st_dev, st.st_ino))
                total += st.st_blocks * 512
    return total


def file_hash(path: Path) -> str:
    """BLAKE3 of a file's content (the dws id), read in pieces."""
    hasher = blake3()
    with open(path, "rb") as handle:
        while block := handle.read(8 * MiB):
            hasher.update(block)
    return str(hasher.hexdigest())
