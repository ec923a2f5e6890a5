"""Where things live inside ``.dataworkspace/``."""

from __future__ import annotations

import os

from msgspec import Struct

from dws.model.paths import META_DIR_NAME


class Layout(Struct, frozen=True):
    """Paths of one workspace's metadata."""

    root: str

    @property
    def meta(self) -> str:
        """The .dataworkspace directory."""
        return os.path.join(self.root, META_DIR_NAME)

    def _meta(self, *parts: str) -> str:
        return os.path.join(self.meta, *parts)

    @property
    def workspace_json(self) -> str:
        """Identity and format version."""
        return self._meta("workspace.json")

    @property
    def resources_json(self) -> str:
        """The registered resources."""
        return self._meta("resources.json")

    @property
    def config_json(self) -> str:
        """User settings."""
        return self._meta("config.json")

    @property
    def snapshots(self) -> str:
        """Directory of snapshot records."""
        return self._meta("snapshots")

    @property
    def tags(self) -> str:
        """Directory of tag files."""
        return self._meta("tags")

    @property
    def objects(self) -> str:
        """The local object store."""
        return self._meta("objects")

    @property
    def lineage(self) -> str:
        """Lineage records."""
        return self._meta("lineage")

    @property
    def local(self) -> str:
        """Machine-local state."""
        return self._meta("local")

    def local_file(self, name: str) -> str:
        """A file in local/."""
        return self._meta("local", name)


def find_workspace_root(start: str) -> str | None:
    """The nearest directory at or above ``start`` holding .dataworkspace/workspace.json."""
    current = os.path.abspath(start)
    while True:
        if os.path.isfile(os.path.join(current, META_DIR_NAME, "workspace.json")):
            return current
        parent = os.path.dirname(current)
        if parent == current:
            return None
        current = parent
