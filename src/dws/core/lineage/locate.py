"""Mapping command-line paths to resources, and looking up what is at a path now or in a
snapshot (content ids, with one stat-cache scan per resource)."""

from __future__ import annotations

import os
from collections.abc import Iterable

from msgspec import Struct

from dws.core.lineage.images import current_image_id
from dws.core.workspace import Workspace
from dws.errors import DwsError
from dws.model.paths import META_DIR_NAME
from dws.model.records import ResourceSnapshot
from dws.model.runs import ImageVersion, PathVersion
from dws.model.tree import listing_id
from dws.resources.base import Resource
from dws.resources.pathhash import MISSING, PathId
from dws.store.hashing import hash_file
from dws.store.trees import store_loader

PathKey = tuple[str, str]  # (resource name, path inside it)


class Located(Struct, frozen=True):
    """A path inside a resource; ``key`` is how users see it (workspace-relative)."""

    resource: Resource
    path: str
    key: str


class PathLocator:
    """Finds the resource a path lies in (the innermost one: a data directory inside a
    code repository belongs to the data resource)."""

    def __init__(self, ws: Workspace, resources: list[Resource]) -> None:
        self.root = os.path.realpath(ws.root)
        self.meta = os.path.join(self.root, META_DIR_NAME)
        self.resources = {r.name: r for r in resources}
        roots = []
        for resource in resources:
            local = resource.local_path()
            if local:
                roots.append((os.path.realpath(local), resource))
        self._roots = sorted(roots, key=lambda item: len(item[0]), reverse=True)
        self._real_dirs: dict[str, str] = {}

    def locate(self, token: str, cwd: str) -> Located | None:
        """The resource path ``token`` (relative to ``cwd``) names, or None."""
        if not token or "\x00" in token:
            return None
        path = os.path.normpath(os.path.join(cwd, os.path.expanduser(token)))
        parent, name = os.path.split(path)
        real = os.path.join(self._realpath(parent), name) if name else os.path.realpath(path)
        if name == "..":
            real = os.path.realpath(path)
        if real == self.meta or real.startswith(self.meta + os.sep):
            return None
        for root, resource in self._roots:
            if real == root or real.startswith(root + os.sep):
                rel = real[len(root) + 1 :].replace(os.sep, "/") if real != root else ""
                return Located(resource, rel, self._key_under(root, rel))
        return None

    def _realpath(self, directory: str) -> str:
        """``os.path.realpath`` of a directory, remembered (many paths share one; the
        locator lives for one command, during which links are taken as they were)."""
        found = self._real_dirs.get(directory)
        if found is None:
            found = self._real_dirs[directory] = os.path.realpath(directory)
        return found

    def key(self, resource: Resource, path: str) -> str:
        """Workspace-relative path of ``path`` inside ``resource`` (absolute if outside)."""
        local = resource.local_path() or resource.name
        return self._key_under(self._realpath(local), path)

    def _key_under(self, real_root: str, path: str) -> str:
        full = os.path.join(real_root, path) if path else real_root
        if full == self.root:
            return "."
        if full.startswith(self.root + os.sep):
            return full[len(self.root) + 1 :].replace(os.sep, "/")
        rel = os.path.relpath(full, self.root)
        return full if rel.startswith("..") else rel.replace(os.sep, "/")

    def label(self, item: PathVersion) -> str:
        """How a recorded path is shown: workspace-relative when its resource still exists."""
        resource = self.resources.get(item.resource)
        return self.key(resource, item.path) if resource is not None else item.label


class CurrentIds:
    """Content ids of resource paths as they are now; each resource is scanned at most
    once per batch of questions, and answers are remembered."""

    def __init__(self, resources: dict[str, Resource], *, keep_trees: bool = False) -> None:
        self.resources = resources
        self.keep_trees = keep_trees
        self._known: dict[PathKey, PathId] = {}
        self._listings: dict[PathKey, str | None] = {}
        self._external: dict[str, str | None] = {}
        self._images: dict[tuple[str, tuple[str, ...], str], str | None] = {}

    def forget(self) -> None:
        """Drop remembered answers (after a command changed files)."""
        self._known.clear()

    def get(self, keys: Iterable[PathKey]) -> dict[PathKey, PathId]:
        """Answer every key (a resource no longer registered answers 'missing')."""
        wanted = [k for k in dict.fromkeys(keys) if k not in self._known]
        by_resource: dict[str, list[str]] = {}
        for name, path in wanted:
            by_resource.setdefault(name, []).append(path)
        for name, paths in by_resource.items():
            found = self._lookup(name, paths)
            self._known.update({(name, p): found.get(p, MISSING) for p in paths})
        return self._known

    def _lookup(self, name: str, paths: list[str]) -> dict[str, PathId]:
        resource = self.resources.get(name)
        if resource is None:
            return {}
        return resource.content_ids(paths, keep_trees=self.keep_trees)

    def one(self, key: PathKey) -> PathId:
        """The answer for one key."""
        return self.get([key])[key]

    def prefetch_listings(self, keys: Iterable[PathKey]) -> None:
        """Answer many listing questions at once: one scan per resource, not one per
        directory."""
        by_resource: dict[str, list[str]] = {}
        for name, path in dict.fromkeys(keys):
            if (name, path) not in self._listings:
                by_resource.setdefault(name, []).append(path)
        for name, paths in by_resource.items():
            found = self._listings_of(name, paths)
            self._listings.update({(name, p): found.get(p) for p in paths})

    def _listings_of(self, name: str, paths: list[str]) -> dict[str, str | None]:
        resource = self.resources.get(name)
        return resource.listing_ids(paths) if resource is not None else {}

    def listing(self, key: PathKey) -> str | None:
        """The listing id (names and kinds) of the directory at ``key``, None if none."""
        if key not in self._listings:
            self._listings[key] = self._listing(key)
        return self._listings[key]

    def _listing(self, key: PathKey) -> str | None:
        resource = self.resources.get(key[0])
        return resource.listing_ids([key[1]])[key[1]] if resource is not None else None

    def external(self, path: str) -> str | None:
        """The content id of a file outside every resource now (None: not there)."""
        if path not in self._external:
            try:
                self._external[path] = hash_file(path)[0] if os.path.isfile(path) else None
            except OSError:
                self._external[path] = None
        return self._external[path]

    def image(self, image: ImageVersion) -> str | None:
        """The id the recorded image reference names now (None: no image; ``UNKNOWN`` of
        ``lineage.images`` when its tool cannot be asked)."""
        key = (image.tool, tuple(image.options), image.ref)
        if key not in self._images:
            self._images[key] = current_image_id(image)
        return self._images[key]


class RecordedIds(CurrentIds):
    """Content ids of resource paths as a snapshot recorded them."""

    def __init__(self, resources: dict[str, Resource], states: dict[str, ResourceSnapshot]) -> None:
        super().__init__(resources)
        self.states = states

    def _lookup(self, name: str, paths: list[str]) -> dict[str, PathId]:
        resource = self.resources.get(name)
        recorded = self.states.get(name)
        if resource is None or recorded is None or recorded.type != resource.spec.type:
            return {}
        return resource.recorded_ids(recorded.state, paths)

    def _listings_of(self, name: str, paths: list[str]) -> dict[str, str | None]:
        return {path: self._listing((name, path)) for path in paths}

    def _listing(self, key: PathKey) -> str | None:
        kind, oid = self.one(key)
        if kind != "dir" or oid is None:
            return None
        try:
            return listing_id(store_loader(self.resources[key[0]].context.store)(oid))
        except DwsError:
            return None
