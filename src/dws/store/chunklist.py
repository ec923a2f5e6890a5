"""The chunk list of a large file stored as chunks (``objects/lists/ab/<62 hex>``).

    magic   b"DWSCHK01"
    size    u64: the file's size
    count   u32: the number of pieces
    pieces  count x (32-byte chunk id, u64 length, u8 flags): 0 a stored chunk, 1 zeros
    trailer 32 bytes: BLAKE3 of everything above

All integers little-endian. The pieces' lengths add up to the size. A piece of zeros (a hole
of a sparse file, or a chunk of zero bytes) is not stored; its id is 32 zero bytes.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

from blake3 import blake3
from msgspec import Struct, field

from dws.errors import IntegrityError

MAGIC = b"DWSCHK01"
_HEADER = struct.Struct("<8sQI")
_PIECE = struct.Struct("<32sQB")
_TRAILER = 32
DATA = 0
ZEROS = 1
ZERO_ID = bytes(32)
MAX_PIECES = 1 << 22  # 4M pieces: a file of about a terabyte at the average chunk size
MAX_CHUNK = 16 << 20  # no stored chunk is longer (dws cuts at 1 MiB)


class Piece(Struct, frozen=True):
    """One stretch of a chunked file: a stored chunk, or zeros."""

    key: bytes  # the chunk's 32-byte id (ZERO_ID for zeros)
    length: int
    zeros: bool = False


class ChunkList(Struct):
    """A file as the ordered pieces it is made of."""

    size: int = 0
    pieces: list[Piece] = field(default_factory=list)

    def append(self, piece: Piece) -> None:
        """Add the next piece (adjacent zeros merge into one)."""
        self.size += piece.length
        last = self.pieces[-1] if self.pieces else None
        if piece.zeros and last is not None and last.zeros:
            self.pieces[-1] = Piece(ZERO_ID, last.length + piece.length, True)
        else:
            self.pieces.append(piece)

    def chunk_ids(self) -> list[str]:
        """The ids of the stored chunks, each once, in the order they first appear."""
        return list(dict.fromkeys(p.key.hex() for p in self.pieces if not p.zeros))

    def placed(self) -> Iterator[tuple[int, Piece]]:
        """(offset in the file, piece) for every piece."""
        offset = 0
        for piece in self.pieces:
            yield offset, piece
            offset += piece.length

    def encode(self) -> bytes:
        """The list's bytes, trailer included."""
        parts = [_HEADER.pack(MAGIC, self.size, len(self.pieces))]
        parts.extend(_PIECE.pack(p.key, p.length, ZEROS if p.zeros else DATA) for p in self.pieces)
        body = b"".join(parts)
        return body + blake3(body).digest()


def decode_chunk_list(data: bytes, what: str) -> ChunkList:
    """Parse a chunk list, refusing anything dws cannot have written."""
    if len(data) < _HEADER.size + _TRAILER:
        raise IntegrityError(f"{what} is truncated")
    body, trailer = data[:-_TRAILER], data[-_TRAILER:]
    if blake3(body).digest() != trailer:
        raise IntegrityError(f"{what} is corrupt (its checksum does not match)")
    magic, size, count = _HEADER.unpack_from(body, 0)
    if magic != MAGIC or count > MAX_PIECES or len(body) != _HEADER.size + count * _PIECE.size:
        raise IntegrityError(f"{what} is malformed")
    chunks = ChunkList()
    for index in range(count):
        key, length, flags = _PIECE.unpack_from(body, _HEADER.size + index * _PIECE.size)
        zeros = flags == ZEROS
        if (
            flags not in (DATA, ZEROS)
            or length == 0
            or (zeros and key != ZERO_ID)
            or (not zeros and length > MAX_CHUNK)
        ):
            raise IntegrityError(f"{what} is malformed")
        chunks.pieces.append(Piece(key, length, zeros))
        chunks.size += length
    if chunks.size != size:
        raise IntegrityError(f"{what} is malformed (its pieces do not add up to its size)")
    return chunks
