"""The content hash of dws: BLAKE3, 256 bits, lower-case hex."""

from __future__ import annotations

from blake3 import blake3


def hash_bytes(data: bytes) -> str:
    """The object id of ``data``."""
    return blake3(data).hexdigest()
