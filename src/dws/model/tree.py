"""Merkle trees: one tree object per directory, canonical so equal content gets equal ids."""

from __future__ import annotations

from typing import Literal

import msgspec

from dws.errors import FormatError
from dws.model.digest import hash_bytes
from dws.model.ids import check_object_id, shown
from dws.model.paths import check_entry_name
from dws.model.records import DECODE_ERRORS, describe_decode_error

Kind = Literal["file", "dir", "symlink"]
MAX_SIZE = 1 << 62
MAX_TREE_BYTES = 256 << 20


class TreeEntry(msgspec.Struct, frozen=True, omit_defaults=True):
    """One name in a directory.

    ``id`` is the blob id (file), subtree id (dir) or hash of the link text (symlink);
    ``size`` is the file size, the total file bytes below a dir, or the link text length.
    """

    name: str
    kind: Kind
    id: str
    size: int
    exec: bool = False
    target: str | None = None

    @property
    def is_dir(self) -> bool:
        """True for subdirectories."""
        return self.kind == "dir"

    def same_content(self, other: TreeEntry | None) -> bool:
        """Equal kind, id and exec bit: nothing to do to turn one into the other."""
        return (
            other is not None
            and self.kind == other.kind
            and self.id == other.id
            and self.exec == other.exec
        )


class Tree(msgspec.Struct, frozen=True):
    """A directory's entries, sorted by name, names unique."""

    entries: list[TreeEntry]

    def by_name(self) -> dict[str, TreeEntry]:
        """Entries keyed by name."""
        return {entry.name: entry for entry in self.entries}


_encoder = msgspec.json.Encoder(order="sorted")
_decoder = msgspec.json.Decoder(Tree)


def make_tree(entries: list[TreeEntry]) -> Tree:
    """Build a canonical tree from entries in any order."""
    return Tree(sorted(entries, key=lambda entry: entry.name))


def encode_tree(tree: Tree) -> bytes:
    """Canonical bytes of a tree (sorted keys, sorted entries, no whitespace)."""
    return _encoder.encode(tree)


def tree_id(tree: Tree) -> str:
    """The object id a tree is stored under."""
    return hash_bytes(encode_tree(tree))


def decode_tree(data: bytes) -> Tree:
    """Parse and validate a tree object; raise FormatError on anything malformed, hostile or
    not canonical (so a tree's id is the id of its content)."""
    if len(data) > MAX_TREE_BYTES:
        raise FormatError("tree object is implausibly large")
    try:
        tree = _decoder.decode(data)
    except DECODE_ERRORS as exc:
        raise FormatError(f"malformed tree object: {describe_decode_error(exc)}") from None
    previous = None
    for entry in tree.entries:
        check_entry_name(entry.name)
        if previous is not None and entry.name <= previous:
            raise FormatError("tree entries are unsorted or duplicated")
        previous = entry.name
        check_object_id(entry.id)
        if not 0 <= entry.size < MAX_SIZE:
            raise FormatError(f"implausible size for {shown(entry.name)} in tree")
        if (entry.kind == "symlink") != (entry.target is not None):
            raise FormatError(f"symlink target missing or misplaced for {shown(entry.name)}")
        if entry.target is not None and ("\x00" in entry.target or not entry.target):
            raise FormatError(f"invalid symlink target for {shown(entry.name)}")
        if entry.exec and entry.kind != "file":
            raise FormatError(f"exec bit on a non-file entry {shown(entry.name)}")
    if _encoder.encode(tree) != data:
        # only canonical bytes are ever written: anything else (unknown or duplicated keys,
        # whitespace, escapes) is crafted, and would give equal content a second id
        raise FormatError("tree object is not in canonical form")
    return tree


EMPTY_TREE = Tree([])
EMPTY_TREE_ID = tree_id(EMPTY_TREE)


def listing_id(tree: Tree) -> str:
    """The id of a directory's listing: its entries' names and kinds, not their content
    (what a step that only lists a directory depends on)."""
    names = "\n".join(f"{e.kind}\t{e.name}" for e in tree.entries)
    return hash_bytes(names.encode("utf-8", "surrogateescape"))
