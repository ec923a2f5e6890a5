"""The census of a run: the root tree of every local data resource, taken before the
command starts and after it ends (the trees kept in the store), and ``CensusIndex``,
which finds the entry at a resource path in a census without reading any tree twice.
``accounting`` compares two censuses with what was observed."""

from __future__ import annotations

from dws.core.workspace import Workspace
from dws.model.roles import Role
from dws.model.tree import TreeEntry
from dws.model.treediff import TreeLoader
from dws.resources.base import Resource

Census = dict[str, str | None]  # data resource name -> root tree id (None: no directory)


def take_census(ws: Workspace, resources: list[Resource]) -> Census:
    """The root tree of every local data resource now (trees kept in the store)."""
    roots: Census = {}
    for resource in resources:
        if resource.role is Role.CODE or resource.local_path() is None:
            continue
        kind, oid = resource.content_ids([""], keep_trees=True)[""]
        roots[resource.name] = oid if kind == "dir" else None
    ws.store.flush()
    return roots


class CensusIndex:
    """Entries of census trees by path: each tree is read once and each directory
    found once, however many paths are asked about."""

    def __init__(self, load: TreeLoader) -> None:
        self.load = load
        self._by_name: dict[str, dict[str, TreeEntry]] = {}
        self._folders: dict[tuple[str, str], dict[str, TreeEntry]] = {}

    def entry(self, census: Census, resource: str, path: str) -> TreeEntry | None:
        """What ``census`` holds at ``path`` of ``resource`` (the resource root for
        ``""``); None when nothing is there or the census has no tree of the resource."""
        root = census.get(resource)
        if root is None:
            return None
        if not path:
            return TreeEntry("", "dir", root, 0)
        folder, _, name = path.rpartition("/")
        return self._folder(root, folder).get(name)

    def names(self, tree_id: str) -> dict[str, TreeEntry]:
        """A tree's entries by name."""
        found = self._by_name.get(tree_id)
        if found is None:
            found = self._by_name[tree_id] = self.load(tree_id).by_name()
        return found

    def _folder(self, root: str, folder: str) -> dict[str, TreeEntry]:
        """The entries of directory ``folder`` below tree ``root`` ({} when there is no
        such directory)."""
        key = (root, folder)
        found = self._folders.get(key)
        if found is None:
            found = self.names(root)
            for part in folder.split("/") if folder else ():
                entry = found.get(part)
                found = self.names(entry.id) if entry is not None and entry.is_dir else {}
                if not found:
                    break
            self._folders[key] = found
        return found
