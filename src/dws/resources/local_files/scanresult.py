"""What a scan of a local-files directory found."""

from __future__ import annotations

from msgspec import Struct, field

from dws.model.tree import Tree, decode_tree
from dws.model.treediff import TreeLoader, caching_loader


class ScanResult(Struct):
    """The working state of a directory: its root tree id and the trees the scan kept in
    memory (the others are in the store)."""

    root_id: str
    trees: dict[str, bytes]
    files: int
    bytes: int
    warnings: list[str] = field(default_factory=list)
    leftovers: list[str] = field(default_factory=list)
    # paths whose name (or symlink target, "link -> target") is not UTF-8, escaped
    # (``caf\\xe9.csv``); they are left out of the trees, so a scan holding any must not be
    # recorded (see ``refuse_unreadable``)
    unreadable: list[str] = field(default_factory=list)

    def loader(self, fallback: TreeLoader | None = None) -> TreeLoader:
        """Load trees from this scan (each parsed once while in use), then from
        ``fallback``."""
        parse = caching_loader(lambda oid: decode_tree(self.trees[oid]))

        def load(oid: str) -> Tree:
            if oid in self.trees:
                return parse(oid)
            if fallback is None:
                raise KeyError(oid)
            return fallback(oid)

        return load
