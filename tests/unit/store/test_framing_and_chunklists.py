"""The pieces of object store format 2, one module at a time: pack entries (``framing``),
chunk lists (``chunklist``), cutting a file into chunks (``chunking``) and the two passes
over a chunked file (``chunked``). Everything read back is hostile until checked: a bad
entry or list is an IntegrityError with a one-line message, never a crash or a huge
allocation."""

from __future__ import annotations

import os
import random
import struct
from pathlib import Path

import pytest
import zstandard
from blake3 import blake3

from dws.errors import IntegrityError
from dws.store import chunking
from dws.store.base import CorruptObjectError, ObjectMissingError
from dws.store.chunked import assemble, rebuild, store_chunks
from dws.store.chunklist import (
    MAX_CHUNK,
    ZERO_ID,
    ChunkList,
    Piece,
    decode_chunk_list,
)
from dws.store.framing import RAW, ZSTD, decoded_size, frame, unframe
from helpers.chunks import MiB, allocated, csv_bytes, make_sparse

RNG = random.Random(20261206)
TEXT = csv_bytes(RNG, 256 << 10)  # compressible, never repeating
NOISE = RNG.randbytes(256 << 10)  # does not compress


# ---- framing: pack entries ---------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"x",
        TEXT[:4095],
        TEXT[:4096],
        TEXT[:4097],
        NOISE[:4096],
        NOISE,
        TEXT,
        bytes(200_000),
        NOISE[: 16 << 10] + TEXT,
    ],
    ids=[
        "empty",
        "tiny",
        "text-4KiB-1",
        "text-4KiB",
        "text-4KiB+1",
        "noise-4KiB",
        "noise",
        "text",
        "zeros",
        "noise-then-text",
    ],
)
@pytest.mark.parametrize("probe", [False, True], ids=["whole", "probe"])
def test_frame_round_trips(data: bytes, probe: bool) -> None:
    entry = frame(data, probe=probe)
    assert entry[0] in (RAW, ZSTD)
    assert unframe(entry) == data
    assert decoded_size(entry) == len(data)
    if entry[0] == ZSTD:
        assert len(entry) - 1 <= 0.9 * len(data)  # compressed only where it saves 10%
    else:
        assert entry == bytes((RAW,)) + data


def test_small_objects_are_never_compressed() -> None:
    assert frame(TEXT[:4095])[0] == RAW
    assert frame(b"a" * 4095)[0] == RAW
    assert frame(b"a" * 4096)[0] == ZSTD


def test_what_compresses_is_compressed_and_noise_is_not() -> None:
    assert frame(TEXT)[0] == ZSTD
    assert frame(TEXT, probe=True)[0] == ZSTD
    assert frame(NOISE)[0] == RAW
    assert frame(NOISE, probe=True)[0] == RAW


def test_the_probe_decides_on_the_first_16_KiB() -> None:
    mixed = NOISE[: 16 << 10] + TEXT  # mostly text, but the probe sees noise
    assert frame(mixed)[0] == ZSTD  # without a probe the whole is tried
    assert frame(mixed, probe=True) == bytes((RAW,)) + mixed
    # too short to probe (at most twice the probe): the whole is tried
    short = NOISE[: 16 << 10] + TEXT[: 16 << 10]
    assert frame(short, probe=True) == frame(short)


def _zstd(data: bytes, **options: bool) -> bytes:
    return zstandard.ZstdCompressor(level=1, **options).compress(data)


def _claiming(size: int, content: bytes) -> bytes:
    """A hand-made zstd frame whose header claims ``size`` bytes but holds ``content`` in
    one raw block."""
    header = struct.pack("<IB", 0xFD2FB528, 0b1010_0000)  # 4-byte size field, one segment
    block = (1 | (len(content) << 3)).to_bytes(3, "little")  # last block, raw
    return header + struct.pack("<I", size) + block + content


def test_the_hand_made_frame_is_a_valid_one() -> None:
    """The builder of hostile frames below makes frames zstd reads (so the tests of
    hostile sizes test the size, not a broken frame)."""
    frame_bytes = _claiming(5, b"hello")
    assert zstandard.ZstdDecompressor().decompress(frame_bytes) == b"hello"
    assert unframe(bytes((ZSTD,)) + frame_bytes) == b"hello"


HOSTILE_ENTRIES = {
    "empty": b"",
    "codec-2": bytes((2,)) + b"data",
    "codec-9": bytes((9,)) + TEXT[:5000],
    "codec-255": bytes((255,)),
    "zstd-truncated": bytes((ZSTD,)) + _zstd(TEXT)[:-20],
    "zstd-header-only": bytes((ZSTD,)) + _zstd(TEXT)[:6],
    "zstd-garbage": bytes((ZSTD,)) + NOISE[:1000],
    "zstd-claims-1GiB": bytes((ZSTD,)) + _claiming(1 << 30, b"small"),
    "zstd-claims-17MiB": bytes((ZSTD,)) + _claiming(17 * MiB, b"small"),
    "zstd-without-size": bytes((ZSTD,)) + _zstd(TEXT, write_content_size=False),
}


@pytest.mark.parametrize("entry", HOSTILE_ENTRIES.values(), ids=HOSTILE_ENTRIES.keys())
def test_hostile_entries_are_integrity_errors(entry: bytes) -> None:
    with pytest.raises(IntegrityError) as info:
        unframe(entry)
    assert info.value.message and "\n" not in info.value.message
    assert info.value.exit_code == 4


@pytest.mark.parametrize(
    "entry",
    [HOSTILE_ENTRIES["zstd-claims-1GiB"], HOSTILE_ENTRIES["zstd-without-size"], b""],
    ids=["claims-1GiB", "without-size", "empty"],
)
def test_decoded_size_of_a_hostile_entry_is_an_integrity_error(entry: bytes) -> None:
    with pytest.raises(IntegrityError):
        decoded_size(entry)


def test_decoded_size_reads_the_header_only() -> None:
    entry = frame(TEXT)
    assert entry[0] == ZSTD
    assert decoded_size(entry) == len(TEXT)
    assert decoded_size(bytes((RAW,)) + b"abc") == 3
    assert decoded_size(bytes((RAW,))) == 0


def test_unknown_codec_message_names_the_codec() -> None:
    with pytest.raises(IntegrityError, match="codec 9"):
        unframe(bytes((9,)) + b"x")


# ---- chunk lists ---------------------------------------------------------------------------


def _key(n: int) -> bytes:
    return blake3(f"chunk {n}".encode()).digest()


def test_chunk_list_round_trip_merges_adjacent_zeros() -> None:
    chunks = ChunkList()
    chunks.append(Piece(_key(1), 70_000))
    chunks.append(chunking.zero_piece(10))
    chunks.append(chunking.zero_piece(MiB))
    chunks.append(Piece(_key(2), 300_000))
    chunks.append(Piece(_key(1), 70_000))  # a chunk seen twice is stored once
    chunks.append(chunking.zero_piece(5))
    assert [p.length for p in chunks.pieces] == [70_000, MiB + 10, 300_000, 70_000, 5]
    assert chunks.size == 70_000 + 10 + MiB + 300_000 + 70_000 + 5
    assert chunks.chunk_ids() == [_key(1).hex(), _key(2).hex()]
    assert [o for o, _ in chunks.placed()] == [
        0,
        70_000,
        70_010 + MiB,
        370_010 + MiB,
        440_010 + MiB,
    ]
    data = chunks.encode()
    assert data[:8] == b"DWSCHK01"
    again = decode_chunk_list(data, "the test list")
    assert again.size == chunks.size and again.pieces == chunks.pieces
    assert again.encode() == data


def test_an_empty_chunk_list_round_trips() -> None:
    again = decode_chunk_list(ChunkList().encode(), "the empty list")
    assert again.size == 0 and again.pieces == []


_HEADER = struct.Struct("<8sQI")
_PIECE = struct.Struct("<32sQB")


def _sealed(body: bytes) -> bytes:
    """``body`` with a valid trailer: only the content's own checks can refuse it."""
    return body + blake3(body).digest()


def _body(
    size: int,
    pieces: list[tuple[bytes, int, int]],
    *,
    magic: bytes = b"DWSCHK01",
    count: int | None = None,
) -> bytes:
    head = _HEADER.pack(magic, size, len(pieces) if count is None else count)
    return head + b"".join(_PIECE.pack(*p) for p in pieces)


GOOD = [(_key(1), 100_000, 0), (ZERO_ID, 4096, 1)]
HOSTILE_LISTS = {
    "truncated": b"DWSCHK01" + bytes(10),
    "empty": b"",
    "bad-trailer": _body(104_096, GOOD) + bytes(32),
    "flipped-byte": bytes([_sealed(_body(104_096, GOOD))[0] ^ 1])
    + _sealed(_body(104_096, GOOD))[1:],
    "bad-magic": _sealed(_body(104_096, GOOD, magic=b"DWSCHK02")),
    "count-too-high": _sealed(_body(104_096, GOOD, count=3)),
    "count-too-low": _sealed(_body(104_096, GOOD, count=1)),
    "count-huge": _sealed(_body(104_096, GOOD, count=1 << 31)),
    "sizes-do-not-add-up": _sealed(_body(104_097, GOOD)),
    "size-zero-with-pieces": _sealed(_body(0, GOOD)),
    "zero-piece-with-id": _sealed(_body(104_096, [GOOD[0], (_key(2), 4096, 1)])),
    "data-piece-too-long": _sealed(_body(MAX_CHUNK + 1, [(_key(1), MAX_CHUNK + 1, 0)])),
    "empty-piece": _sealed(_body(100_000, [GOOD[0], (_key(2), 0, 0)])),
    "flags-7": _sealed(_body(104_096, [GOOD[0], (_key(2), 4096, 7)])),
    "flags-2": _sealed(_body(104_096, [GOOD[0], (ZERO_ID, 4096, 2)])),
    "trailing-garbage": _sealed(_body(104_096, GOOD) + b"\0" * 41),
}


def test_the_hostile_lists_differ_from_a_good_one_only_where_named() -> None:
    good = decode_chunk_list(_sealed(_body(104_096, GOOD)), "the good list")
    assert good.size == 104_096 and len(good.pieces) == 2


@pytest.mark.parametrize("data", HOSTILE_LISTS.values(), ids=HOSTILE_LISTS.keys())
def test_hostile_chunk_lists_are_integrity_errors(data: bytes) -> None:
    with pytest.raises(IntegrityError) as info:
        decode_chunk_list(data, "the chunk list of object abc")
    message = info.value.message
    assert "\n" not in message and message.startswith("the chunk list of object abc")
    assert info.value.exit_code == 4


# ---- chunking: extents and pieces ----------------------------------------------------------


def _sparse(tmp_path: Path) -> tuple[Path, int, dict[int, bytes]]:
    path = tmp_path / "sparse.bin"
    size = 64 * MiB + 12345  # ends in a hole, not on a block boundary
    pieces = {8 * MiB: csv_bytes(RNG, MiB), 40 * MiB: RNG.randbytes(2 * MiB)}
    make_sparse(path, size, pieces)
    return path, size, pieces


def _skip_without_holes(path: Path) -> None:
    with open(path, "rb") as handle:
        if not chunking.is_sparse(handle.fileno(), os.fstat(handle.fileno()).st_size):
            pytest.skip("this filesystem does not report holes (SEEK_HOLE)")


def test_extents_of_a_sparse_file(tmp_path: Path) -> None:
    path, size, pieces = _sparse(tmp_path)
    _skip_without_holes(path)
    with open(path, "rb") as handle:
        found = list(chunking.extents(handle.fileno(), size))
    # they cover the file in order, without gaps or overlaps
    position = 0
    for offset, length, _ in found:
        assert offset == position and length > 0
        position += length
    assert position == size
    data = [(o, o + n) for o, n, has_data in found if has_data]
    for offset, piece in pieces.items():  # every written byte is in a data extent
        assert any(s <= offset and offset + len(piece) <= e for s, e in data), (offset, data)
    assert sum(e - s for s, e in data) < 8 * MiB  # and the holes are holes
    assert not found[0][2] and not found[-1][2]  # it starts and ends with a hole


def test_extents_of_a_dense_file_is_one_stretch(tmp_path: Path) -> None:
    path = tmp_path / "dense"
    path.write_bytes(TEXT)
    with open(path, "rb") as handle:
        assert list(chunking.extents(handle.fileno(), len(TEXT))) == [(0, len(TEXT), True)]
        assert not chunking.is_sparse(handle.fileno(), len(TEXT))


def _pieces(path: Path) -> list[tuple[bytes | None, int]]:
    with open(path, "rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        return [
            (None if data is None else bytes(data), length)
            for data, length in chunking.pieces(handle.fileno(), size)
        ]


def _joined(pieces: list[tuple[bytes | None, int]]) -> bytes:
    return b"".join(bytes(length) if data is None else data for data, length in pieces)


def test_pieces_of_a_sparse_file_give_back_its_bytes(tmp_path: Path) -> None:
    path, _, _ = _sparse(tmp_path)
    _skip_without_holes(path)
    found = _pieces(path)
    assert _joined(found) == path.read_bytes()
    assert any(data is None for data, _ in found)
    for data, length in found:
        assert data is None or (len(data) == length <= chunking.MAXIMUM)


def _ids(path: Path) -> list[bytes]:
    return [blake3(data).digest() for data, _ in _pieces(path) if data is not None]


@pytest.fixture(scope="module")
def text_16mib() -> bytes:
    return csv_bytes(random.Random(16), 16 * MiB)


def test_cut_points_depend_only_on_the_content(tmp_path: Path, text_16mib: bytes) -> None:
    (tmp_path / "a").write_bytes(text_16mib)
    (tmp_path / "b").write_bytes(text_16mib)
    first, second = _ids(tmp_path / "a"), _ids(tmp_path / "b")
    assert first == second
    assert 16 <= len(first) <= 256  # 64 KiB to 1 MiB each, 256 KiB on average
    lengths = [length for data, length in _pieces(tmp_path / "a")]
    assert _joined(_pieces(tmp_path / "a")) == text_16mib
    assert all(length <= chunking.MAXIMUM for length in lengths)
    assert all(length >= 64 << 10 for length in lengths[:-1])


def test_an_insert_at_the_front_changes_only_the_first_chunks(
    tmp_path: Path, text_16mib: bytes
) -> None:
    (tmp_path / "a").write_bytes(text_16mib)
    (tmp_path / "b").write_bytes(b"# a new header line\n" + text_16mib)
    before, after = _ids(tmp_path / "a"), _ids(tmp_path / "b")
    shared = set(before) & set(after)
    assert len(shared) >= 0.9 * len(before), (len(shared), len(before))
    assert before[-1] == after[-1]


def test_sample_keys_see_shared_chunks(tmp_path: Path, text_16mib: bytes) -> None:
    (tmp_path / "a").write_bytes(text_16mib)
    (tmp_path / "b").write_bytes(b"x" + text_16mib)
    (tmp_path / "c").write_bytes(csv_bytes(random.Random(17), 16 * MiB))
    samples = {}
    for name in "abc":
        with open(tmp_path / name, "rb") as handle:
            samples[name] = chunking.sample_keys(handle.fileno(), 16 * MiB)
    assert samples["a"] & samples["b"]
    assert not samples["a"] & samples["c"]


# ---- chunked: storing and putting back -----------------------------------------------------


class Sink:
    """A chunk store in memory that can be damaged."""

    def __init__(self) -> None:
        self.entries: dict[bytes, bytes] = {}

    def has_chunk(self, key: bytes) -> bool:
        return key in self.entries

    def add_chunk(self, key: bytes, entry: bytes) -> None:
        self.entries[key] = entry

    def read_chunk(self, key: bytes) -> bytes:
        if key not in self.entries:
            raise ObjectMissingError(key.hex())
        return unframe(self.entries[key])


def _store(path: Path, sink: Sink) -> tuple[str, ChunkList]:
    with open(path, "rb") as handle:
        return store_chunks(handle.fileno(), os.fstat(handle.fileno()).st_size, sink)


def test_store_and_rebuild_a_sparse_file(tmp_path: Path) -> None:
    path, size, _ = _sparse(tmp_path)
    _skip_without_holes(path)
    sink = Sink()
    oid, chunks = _store(path, sink)
    content = path.read_bytes()
    assert oid == blake3(content).hexdigest()
    assert chunks.size == size
    assert sum(len(e) for e in sink.entries.values()) < 4 * MiB  # the holes cost nothing
    assert any(p.zeros for p in chunks.pieces)
    out = tmp_path / "out"
    rebuild(oid, chunks, sink, str(out), 0o640)
    assert out.read_bytes() == content
    assert out.stat().st_mode & 0o777 == 0o640
    assert allocated(out) < 8 * MiB
    assert assemble(oid, chunks, sink) == content


def test_a_file_of_zeros_stores_no_chunk(tmp_path: Path) -> None:
    path = tmp_path / "zeros"
    path.write_bytes(bytes(6 * MiB))  # written, not a hole: zero chunks are still not stored
    sink = Sink()
    oid, chunks = _store(path, sink)
    assert sink.entries == {}
    assert chunks.pieces == [Piece(ZERO_ID, 6 * MiB, True)]
    assert oid == blake3(bytes(6 * MiB)).hexdigest()


def test_rebuild_refuses_a_damaged_chunk_and_leaves_no_file(tmp_path: Path) -> None:
    path = tmp_path / "text"
    path.write_bytes(csv_bytes(RNG, 5 * MiB))
    sink = Sink()
    oid, chunks = _store(path, sink)
    victim = chunks.pieces[3].key
    data = bytearray(unframe(sink.entries[victim]))
    data[100] ^= 1
    sink.entries[victim] = frame(bytes(data))
    out = tmp_path / "out"
    with pytest.raises(CorruptObjectError) as info:
        rebuild(oid, chunks, sink, str(out), 0o644)
    assert victim.hex()[:12] in info.value.message
    assert not out.exists()


def test_rebuild_refuses_a_list_that_does_not_make_the_file(tmp_path: Path) -> None:
    """Every chunk is sound, but in the wrong order: the whole's hash catches it."""
    path = tmp_path / "text"
    path.write_bytes(csv_bytes(RNG, 5 * MiB))
    sink = Sink()
    oid, chunks = _store(path, sink)
    swapped = ChunkList(chunks.size, [chunks.pieces[1], chunks.pieces[0], *chunks.pieces[2:]])
    out = tmp_path / "out"
    with pytest.raises(CorruptObjectError) as info:
        rebuild(oid, swapped, sink, str(out), 0o644)
    assert oid[:12] in info.value.message
    assert not out.exists()


def test_rebuild_with_a_missing_chunk_leaves_no_file(tmp_path: Path) -> None:
    path = tmp_path / "text"
    path.write_bytes(csv_bytes(RNG, 5 * MiB))
    sink = Sink()
    oid, chunks = _store(path, sink)
    del sink.entries[chunks.pieces[-1].key]
    out = tmp_path / "out"
    with pytest.raises(ObjectMissingError):
        rebuild(oid, chunks, sink, str(out), 0o644)
    assert not out.exists()


def test_a_file_whose_list_could_outgrow_the_reader_limit_stays_loose(tmp_path: Path) -> None:
    """A list of more than MAX_PIECES pieces would be refused when read: such a file is
    never chunked (about 128 GiB and up), whatever it holds."""
    from dws.store.chunklist import MAX_PIECES
    from dws.store.packed import MAX_CHUNKED, PackedObjectStore

    assert MAX_CHUNKED // (64 << 10) * 2 <= MAX_PIECES
    store = PackedObjectStore.create(str(tmp_path / "objects"))
    path = tmp_path / "text"
    path.write_bytes(csv_bytes(RNG, 5 * MiB))
    with open(path, "rb") as handle:
        assert store._chunks_pay(handle.fileno(), 5 * MiB, None)
        assert not store._chunks_pay(handle.fileno(), MAX_CHUNKED + 1, None)


def test_a_file_cutting_into_too_many_pieces_is_stored_loose(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Many tiny extents can make more pieces than a list may hold: the file is then kept
    whole, and reads back exactly."""
    from dws.store import chunked
    from dws.store.packed import PackedObjectStore

    monkeypatch.setattr(chunked, "MAX_PIECES", 3)
    store = PackedObjectStore.create(str(tmp_path / "objects"))
    data = csv_bytes(RNG, 5 * MiB)
    path = tmp_path / "text"
    path.write_bytes(data)
    oid, size = store.put_file(str(path))
    store.flush()
    assert (oid, size) == (blake3(data).hexdigest(), len(data))
    assert store.chunk_list(oid) is None and store.file_path(oid) is not None
    assert store.get_bytes(oid) == data
