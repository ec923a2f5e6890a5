"""How an object's bytes are kept in a version-2 pack entry: one codec byte, then the bytes
as they are or one zstd frame.

Compression pays on text and tables (a CSV of numbers shrinks to about a third) and costs
little on data that does not compress, because that is found cheaply: a chunk's first 16 KiB
are compressed as a probe before the rest is tried. A zstd compressor must not be shared
between threads, so each thread keeps its own. ``zstandard`` is imported when first needed
(16 ms): a command that reads only uncompressed entries never pays for it.
"""

from __future__ import annotations

import threading
from types import ModuleType
from typing import Any

from dws.errors import IntegrityError

RAW = 0
ZSTD = 1
LEVEL = 1
MIN_COMPRESSED = 4 << 10  # smaller objects are stored as they are: too little to save
PAYS = 0.90  # keep a compressed form only when it is at most this share of the bytes
PROBE_BYTES = 16 << 10
PROBE_PAYS = PAYS  # a chunk whose start does not shrink this much is not tried whole
MAX_DECODED = 16 << 20  # no entry of a pack decodes to more (chunks are at most 1 MiB)

RAW_BYTE = bytes((RAW,))
_ZSTD_BYTE = bytes((ZSTD,))
_local = threading.local()


def _zstd() -> ModuleType:
    import zstandard

    return zstandard


def _compressor() -> Any:
    found = getattr(_local, "compressor", None)
    if found is None:
        found = _local.compressor = _zstd().ZstdCompressor(
            level=LEVEL, write_checksum=False, write_content_size=True
        )
    return found


def _decompressor() -> Any:
    found = getattr(_local, "decompressor", None)
    if found is None:
        found = _local.decompressor = _zstd().ZstdDecompressor()
    return found


def frame(data: bytes | memoryview, *, probe: bool = False) -> bytes:
    """The entry for ``data``: compressed when that pays, else as it is. With ``probe``
    (large pieces of unknown data), the first ``PROBE_BYTES`` are tried first."""
    if len(data) < MIN_COMPRESSED or (probe and not may_compress(data)):
        return raw_entry(data)
    packed: bytes = _compressor().compress(data)
    if len(packed) <= PAYS * len(data):
        return _ZSTD_BYTE + packed
    return raw_entry(data)


def raw_entry(data: bytes | memoryview) -> bytes:
    """The entry holding ``data`` as it is."""
    return RAW_BYTE + data


def may_compress(data: bytes | memoryview) -> bool:
    """False when ``data`` is too small to compress, or its first ``PROBE_BYTES`` do not
    shrink (random or already compressed bytes): about 11 µs for a 256 KiB chunk."""
    size = len(data)
    if size < MIN_COMPRESSED:
        return False
    if size <= 2 * PROBE_BYTES:
        return True
    sample = _compressor().compress(data[:PROBE_BYTES])
    return len(sample) <= PROBE_PAYS * PROBE_BYTES


def decoded_size(entry: bytes) -> int:
    """The size of the object an entry holds (from a zstd frame's header)."""
    if entry[:1] == bytes((ZSTD,)):
        zstandard = _zstd()
        try:
            claimed = zstandard.frame_content_size(entry[1:])
        except zstandard.ZstdError:
            raise IntegrityError("a compressed pack entry does not decompress") from None
        if 0 <= claimed <= MAX_DECODED:
            return int(claimed)
    return len(unframe(entry))


def unframe(entry: bytes) -> bytes:
    """The object's bytes from an entry (not yet checked against its id): IntegrityError
    when the entry cannot be one dws wrote."""
    if not entry:
        raise IntegrityError("a pack entry is empty")
    codec = entry[0]
    if codec == RAW:
        return entry[1:]
    if codec == ZSTD:
        payload = entry[1:]
        zstandard = _zstd()
        try:
            # the header's claimed size decides the allocation: refuse a hostile one first
            claimed = zstandard.frame_content_size(payload)
            if not 0 <= claimed <= MAX_DECODED:
                raise IntegrityError("a compressed pack entry claims an implausible size")
            data: bytes = _decompressor().decompress(payload, max_output_size=MAX_DECODED)
            return data
        except zstandard.ZstdError:
            raise IntegrityError("a compressed pack entry does not decompress") from None
    raise IntegrityError(f"a pack entry has an unknown codec {codec}")
