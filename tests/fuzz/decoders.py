"""Each fuzzed decoder as ``bytes -> value``, with the invariants an accepted value must
satisfy (validation rules of docs/format.md, canonical re-encoding)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from dws.model.ids import is_object_id
from dws.model.paths import META_DIR_NAME, check_entry_name, check_resource_name, is_file_like_name
from dws.model.records import (
    SNAPSHOT_FORMATS,
    WORKSPACE_FORMATS,
    decode_head,
    decode_resources,
    decode_snapshot,
    decode_workspace_info,
    encode_record,
    encode_resources,
)
from dws.model.runs import decode_run_record, decode_step_memory
from dws.model.tree import MAX_SIZE, decode_tree, encode_tree
from dws.resources.s3.manifest import decode_record as decode_s3_key_record
from dws.resources.s3.manifest import encode_record as encode_s3_key_record
from dws.store.chunklist import MAX_CHUNK, ZERO_ID, ChunkList, decode_chunk_list
from dws.store.framing import MAX_DECODED, unframe
from dws.store.packfile import MAX_ENTRY_LENGTH, PACK_MAGIC, PackIndex

from .seeds import STEP


def _safe_path(path: str) -> None:
    assert not path.startswith("/"), path
    for part in path.split("/"):
        assert part not in ("", ".", "..", META_DIR_NAME), path
        assert "\x00" not in part, path


def _valid_name(name: str) -> None:
    check_resource_name(name)


# ---- invariants ---------------------------------------------------------------------


def check_snapshot(record: Any) -> None:
    assert record.format in SNAPSHOT_FORMATS
    assert all(path and "\x00" not in path for path in record.stale)
    assert is_object_id(record.id)
    assert record.parent is None or is_object_id(record.parent)
    assert all(is_object_id(run) for run in record.runs)
    for name in record.resources:
        _valid_name(name)
    if record.with_id().id != record.id:
        return  # it carries fields this version does not know: they are covered by its id
    again = decode_snapshot(encode_record(record), record.id)
    assert again == record
    assert encode_record(again) == encode_record(record)


def check_run(record: Any) -> None:
    assert record.format in (1, 2)
    assert is_object_id(record.id)
    assert is_file_like_name(record.step, 100)
    assert record.cwd == "." or _safe_path(record.cwd) is None
    assert not any("\x00" in arg for arg in record.argv)
    for item in [*record.inputs, *record.outputs]:
        _valid_name(item.resource)
        if item.path:
            _safe_path(item.path)
        assert (item.id is None) == (item.kind == "missing") or is_object_id(item.id)
    for code in record.code:
        _valid_name(code.resource)
    assert record.with_id().id == record.id
    again = decode_run_record(encode_record(record), record.id)
    assert again == record


def check_step_memory(memory: Any) -> None:
    assert memory.step == STEP
    for path, answer in memory.answers.items():
        assert answer in ("input", "output")
        if path != ".":
            _safe_path(path)
    assert decode_step_memory(encode_record(memory), STEP) == memory


def check_workspace(info: Any) -> None:
    assert info.format in WORKSPACE_FORMATS and info.hash == "blake3"
    assert decode_workspace_info(encode_record(info)) == info


def check_resources(specs: Any) -> None:
    names = [spec.name for spec in specs]
    assert len(set(names)) == len(names)
    for name in names:
        _valid_name(name)
    for spec in specs:
        if "path" in spec.params:
            path = spec.params["path"]
            assert isinstance(path, str) and path and "\x00" not in path
            assert ".." not in path.split("/") and META_DIR_NAME not in path.split("/")
    encoded = encode_resources(specs)
    assert decode_resources(encoded) == specs
    assert encode_resources(decode_resources(encoded)) == encoded


def check_head(head: Any) -> None:
    ids = [head.snapshot, *head.bases.values(), *head.restoring.values()]
    assert all(ident is None or is_object_id(ident) for ident in ids)
    assert decode_head(encode_record(head)) == head


def check_tree(tree: Any, data: bytes) -> None:
    assert encode_tree(tree) == data, "accepted a tree that is not canonical"
    names = [entry.name for entry in tree.entries]
    assert names == sorted(set(names))
    for entry in tree.entries:
        assert check_entry_name(entry.name) == entry.name
        assert "/" not in entry.name and entry.name not in (".", "..", META_DIR_NAME)
        assert is_object_id(entry.id)
        assert 0 <= entry.size < MAX_SIZE
        assert (entry.kind == "symlink") == (entry.target is not None)
        assert entry.target is None or (entry.target and "\x00" not in entry.target)
        assert not entry.exec or entry.kind == "file"


def check_s3_key_record(record: Any) -> None:
    assert 0 <= record.size < 1 << 62
    for text in (record.version, record.etag):
        assert text and len(text) <= 1024
        assert not any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in text)
    assert decode_s3_key_record(encode_s3_key_record(record)) == record


# ---- pack indexes (read from a file) ----------------------------------------------------


def decode_pack_index(data: bytes) -> list[tuple[bytes, int, int]]:
    """Open an index holding ``data``, check its trailer, look up and list its entries the
    way the stores do; return (id, offset, length) of every entry."""
    handle, path = tempfile.mkstemp(suffix=".idx")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        index = PackIndex(path)
        try:
            index.verify()
            found = []
            for key, entry in index:
                # None when a (corrupt) index is unsorted: its trailer check fails, and a
                # read finds the object missing
                index.lookup(key)
                found.append((key, entry.offset, entry.length))
            for probe in (b"\x00" * 32, b"\xff" * 32, bytes(range(32)), data[-32:].ljust(32)):
                index.lookup(probe)
            return found
        finally:
            index.close()
    finally:
        os.unlink(path)


def check_pack_index(entries: list[tuple[bytes, int, int]]) -> None:
    for _, offset, length in entries:
        assert offset >= len(PACK_MAGIC)
        assert 0 <= length <= MAX_ENTRY_LENGTH


# ---- chunk lists and pack entries ------------------------------------------------------


def decode_chunk_list_bytes(data: bytes) -> ChunkList:
    return decode_chunk_list(data, "a chunk list")


def check_chunk_list(chunks: ChunkList) -> None:
    assert chunks.size == sum(piece.length for piece in chunks.pieces)
    for piece in chunks.pieces:
        assert piece.length > 0
        assert (piece.key == ZERO_ID) if piece.zeros else piece.length <= MAX_CHUNK


def check_pack_entry(data: bytes) -> None:
    assert len(data) <= MAX_DECODED


# ---- entry names ------------------------------------------------------------------------


def decode_entry_name(data: bytes) -> str:
    """A name as read from JSON: text (non-UTF-8 is refused before names are seen)."""
    from dws.errors import FormatError

    try:
        text = data.decode()
    except UnicodeDecodeError:
        raise FormatError("not UTF-8") from None
    return check_entry_name(text)


def check_entry_name_result(name: str) -> None:
    assert name and "/" not in name and "\x00" not in name
    assert name not in (".", "..", META_DIR_NAME)


@dataclass(frozen=True)
class Decoder:
    """A decoder under test and the invariants of what it accepts."""

    decode: Callable[[bytes], Any]
    check: Callable[[Any, bytes], None]


DECODERS: dict[str, Decoder] = {
    "snapshot": Decoder(decode_snapshot, lambda v, _: check_snapshot(v)),
    "run_record": Decoder(decode_run_record, lambda v, _: check_run(v)),
    "step_memory": Decoder(
        lambda data: decode_step_memory(data, STEP), lambda v, _: check_step_memory(v)
    ),
    "workspace_info": Decoder(decode_workspace_info, lambda v, _: check_workspace(v)),
    "resources": Decoder(decode_resources, lambda v, _: check_resources(v)),
    "head": Decoder(decode_head, lambda v, _: check_head(v)),
    "tree": Decoder(decode_tree, check_tree),
    "pack_index": Decoder(decode_pack_index, lambda v, _: check_pack_index(v)),
    "chunk_list": Decoder(decode_chunk_list_bytes, lambda v, _: check_chunk_list(v)),
    "pack_entry": Decoder(unframe, lambda v, _: check_pack_entry(v)),
    "s3_key_record": Decoder(decode_s3_key_record, lambda v, _: check_s3_key_record(v)),
    "entry_name": Decoder(decode_entry_name, lambda v, _: check_entry_name_result(v)),
}
