"""Read-only views of one recorded state of a resource: its directories and the bytes of its
files, without restoring anything.

Paths are ``/``-separated and relative to the resource's top directory; ``""`` is the top.
Every entry is a ``TreeEntry`` (BLAKE3 ids, as in trees), whatever the type keeps.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from typing import BinaryIO

from dws.errors import DwsError, NotFoundError, UsageError
from dws.model.ids import shown
from dws.model.tree import EMPTY_TREE_ID, TreeEntry
from dws.model.treediff import TreeLoader, lookup
from dws.store.base import ObjectStore
from dws.store.objectreader import open_object


class NotHereError(DwsError):
    """The recorded files are not readable from here (a git resource's commit is read from
    its repository, which this machine does not have)."""


def top_entry(tree_id: str, size: int) -> TreeEntry:
    """The entry standing for a resource's top directory."""
    return TreeEntry("", "dir", tree_id, size)


class RecordedView(ABC):
    """What one recorded state of a resource holds."""

    @abstractmethod
    def entry(self, path: str) -> TreeEntry | None:
        """The entry at ``path`` (``""``: the top directory), or None."""

    @abstractmethod
    def listdir(self, path: str) -> list[TreeEntry]:
        """The entries of the directory at ``path``, sorted by name."""

    @abstractmethod
    def open(self, path: str) -> BinaryIO:
        """A seekable binary file object over the recorded bytes of the file at ``path``,
        checked against its id before bytes are handed out."""

    def walk(self, path: str) -> Iterator[tuple[str, TreeEntry]]:
        """(path relative to ``path``, entry) of everything below the directory ``path``,
        parents before children."""
        for child in self.listdir(path):
            yield child.name, child
            if child.is_dir:
                below = f"{path}/{child.name}" if path else child.name
                for rel, entry in self.walk(below):
                    yield f"{child.name}/{rel}", entry

    def file_entry(self, path: str) -> TreeEntry:
        """The entry of the regular file at ``path``; NotFoundError or UsageError if it is
        not one."""
        entry = self.entry(path)
        if entry is None:
            raise NotFoundError(f"{shown(path)} is not in the snapshot")
        if entry.kind == "dir":
            raise UsageError(f"{shown(path)} is a directory, not a file")
        if entry.kind == "symlink":
            raise UsageError(f"{shown(path)} is a symbolic link to {shown(entry.target)}")
        return entry

    def dir_entry(self, path: str) -> TreeEntry:
        """The entry of the directory at ``path``; NotFoundError or UsageError if it is not
        one."""
        entry = self.entry(path)
        if entry is None:
            raise NotFoundError(f"{shown(path)} is not in the snapshot")
        if not entry.is_dir:
            raise UsageError(f"{shown(path)} is not a directory")
        return entry


class TreeView(RecordedView):
    """A state kept as a Merkle tree in ``store``; files open from the store unless the
    type reads them its own way (``opener``)."""

    def __init__(
        self,
        store: ObjectStore,
        load: TreeLoader,
        root: str | None,
        size: int,
        *,
        opener: Callable[[str, TreeEntry], BinaryIO] | None = None,
        spill_dir: str | None = None,
    ) -> None:
        self._store = store
        self._load = load
        self._root = root or EMPTY_TREE_ID
        self._size = size
        self._opener = opener
        self._spill_dir = spill_dir

    def entry(self, path: str) -> TreeEntry | None:
        if not path:
            return top_entry(self._root, self._size)
        return lookup(self._load, self._root, path)

    def listdir(self, path: str) -> list[TreeEntry]:
        return list(self._load(self.dir_entry(path).id).entries)

    def open(self, path: str) -> BinaryIO:
        entry = self.file_entry(path)
        if self._opener is not None:
            return self._opener(path, entry)
        return open_object(self._store, entry.id, self._spill_dir, entry.size)


class FlatView(RecordedView):
    """A state known as a flat map of file paths (directories are implied by them, and have
    no id of their own: theirs is ``""``)."""

    def __init__(self, files: dict[str, TreeEntry], opener: Callable[[str], BinaryIO]) -> None:
        self._files = files
        self._opener = opener
        self._children: dict[str, dict[str, str]] = {"": {}}  # dir -> name -> path
        self._sizes: dict[str, int] = {"": 0}
        for path, found in files.items():
            size = found.size if found.kind == "file" else 0
            self._sizes[""] += size
            parent = ""
            parts = path.split("/")
            for depth, part in enumerate(parts):
                here = "/".join(parts[: depth + 1])
                self._children.setdefault(parent, {})[part] = here
                if depth < len(parts) - 1:
                    self._children.setdefault(here, {})
                    self._sizes[here] = self._sizes.get(here, 0) + size
                parent = here

    def entry(self, path: str) -> TreeEntry | None:
        if path in self._files:
            return self._files[path]
        if path in self._children:
            return TreeEntry(path.rsplit("/", 1)[-1], "dir", "", self._sizes[path])
        return None

    def listdir(self, path: str) -> list[TreeEntry]:
        self.dir_entry(path)
        out = []
        for name, below in sorted(self._children[path].items()):
            found = self.entry(below)
            assert found is not None
            out.append(found if found.name == name else _renamed(found, name))
        return out

    def open(self, path: str) -> BinaryIO:
        self.file_entry(path)
        return self._opener(path)


def _renamed(entry: TreeEntry, name: str) -> TreeEntry:
    return TreeEntry(name, entry.kind, entry.id, entry.size, entry.exec, entry.target)
