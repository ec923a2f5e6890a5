"""The manifest of an S3 snapshot: a dws Merkle tree (one tree object per "directory" of
keys) whose file entries point at small canonical JSON records, one per key, holding the
key's version id, ETag, size and last-modified time (docs/s3.md).

Equal keys and versions give equal ids, so diffs reuse the tree comparison of local files.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import msgspec
from msgspec import Struct, field

from dws.errors import FormatError
from dws.model.digest import hash_bytes
from dws.model.records import DECODE_ERRORS
from dws.model.tree import EMPTY_TREE, EMPTY_TREE_ID, Tree, TreeEntry, encode_tree, make_tree
from dws.model.treediff import TreeLoader, walk_tree
from dws.resources.s3.listing import ObjectVersion
from dws.store.base import ObjectStore
from dws.store.trees import store_loader

MAX_RECORD_BYTES = 4096
_SAFE_TEXT = re.compile(r"[^\x00-\x1f\x7f]{1,1024}")


class KeyRecord(msgspec.Struct, frozen=True):
    """What a snapshot records of one key."""

    version: str
    etag: str
    size: int
    modified: str

    @classmethod
    def of(cls, found: ObjectVersion) -> KeyRecord:
        """The record of a listed version."""
        return cls(found.version, found.etag, found.size, found.modified)

    def same_bytes(self, found: ObjectVersion) -> bool:
        """Equal ETag and size: the listed object holds this record's bytes."""
        return bool(self.etag) and self.etag == found.etag and self.size == found.size


_encoder = msgspec.json.Encoder(order="sorted")
_decoder = msgspec.json.Decoder(KeyRecord)


def encode_record(record: KeyRecord) -> bytes:
    """Canonical bytes of a key record."""
    return _encoder.encode(record)


def decode_record(data: bytes) -> KeyRecord:
    """Parse and validate a key record; FormatError on anything malformed or hostile."""
    if len(data) > MAX_RECORD_BYTES:
        raise FormatError("S3 key record is implausibly large")
    try:
        record = _decoder.decode(data)
    except DECODE_ERRORS as exc:
        raise FormatError(f"malformed S3 key record: {str(exc)[:200]}") from None
    for value in (record.version, record.etag):
        if not _SAFE_TEXT.fullmatch(value):
            raise FormatError("S3 key record has an invalid version id or ETag")
    if not 0 <= record.size < 1 << 62 or "\x00" in record.modified:
        raise FormatError("S3 key record has an invalid size or time")
    if encode_record(record) != data:  # dws writes canonical bytes only
        raise FormatError("S3 key record is not in canonical form")
    return record


class BuiltManifest(Struct):
    """A manifest built in memory: its root, trees and key records by id."""

    root: str
    trees: dict[str, bytes] = field(default_factory=dict)
    records: dict[str, bytes] = field(default_factory=dict)
    objects: int = 0
    bytes: int = 0

    def loader(self, fallback: TreeLoader) -> TreeLoader:
        """A tree loader that knows this manifest's trees before asking ``fallback``."""
        from dws.model.tree import decode_tree

        def load(oid: str) -> Tree:
            data = self.trees.get(oid)
            return decode_tree(data) if data is not None else fallback(oid)

        return load

    def store(self, store: ObjectStore) -> None:
        """Put every key record and tree into ``store`` (records first)."""
        for data in self.records.values():
            store.put_bytes(data)
        for data in self.trees.values():
            store.put_bytes(data)


def build_manifest(records: dict[str, KeyRecord]) -> BuiltManifest:
    """The manifest of ``records`` (path -> record; paths already validated)."""
    built = BuiltManifest(EMPTY_TREE_ID)
    nested: dict[str, object] = {}
    for path, record in records.items():
        node = nested
        *dirs, name = path.split("/")
        for part in dirs:
            child = node.setdefault(part, {})
            assert isinstance(child, dict)
            node = child
        node[name] = record
    built.root, _ = _build_dir(nested, built)
    return built


def _build_dir(node: dict[str, object], built: BuiltManifest) -> tuple[str, int]:
    entries = []
    total = 0
    for name, value in node.items():
        if isinstance(value, KeyRecord):
            data = encode_record(value)
            oid = hash_bytes(data)
            built.records[oid] = data
            built.objects += 1
            built.bytes += value.size
            total += value.size
            entries.append(TreeEntry(name, "file", oid, value.size))
        else:
            assert isinstance(value, dict)
            sub_id, sub_size = _build_dir(value, built)
            total += sub_size
            entries.append(TreeEntry(name, "dir", sub_id, sub_size))
    tree = make_tree(entries) if entries else EMPTY_TREE
    data = encode_tree(tree)
    oid = hash_bytes(data)
    built.trees[oid] = data
    return oid, total


class ManifestReader:
    """Reads recorded manifests and key records from the workspace store."""

    def __init__(self, store: ObjectStore) -> None:
        self.store = store
        self.load: TreeLoader = store_loader(store)

    def record(self, oid: str) -> KeyRecord:
        """A verified, validated key record."""
        return decode_record(self.store.get_verified(oid))

    def entries(self, root: str) -> Iterator[tuple[str, TreeEntry]]:
        """(path, file entry) of every key of the manifest ``root``."""
        for path, entry in walk_tree(self.load, root):
            if entry.kind == "file":
                yield path, entry
            elif not entry.is_dir:
                raise FormatError(f"unexpected {entry.kind} entry {path!r} in an S3 manifest")

    def records(self, root: str) -> dict[str, KeyRecord]:
        """path -> key record for every key of the manifest ``root``."""
        return {path: self.record(entry.id) for path, entry in self.entries(root)}
