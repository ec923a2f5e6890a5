"""`.dwsignore`: gitignore-syntax patterns at a resource's root."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pathspec

IGNORE_FILE = ".dwsignore"


class IgnoreRules:
    """Decides which paths below a resource root are left out of snapshots."""

    def __init__(self, root: str) -> None:
        path = os.path.join(root, IGNORE_FILE)
        lines: list[str] = []
        self.digest = b""  # the rules' bytes: what a cached listing depends on besides itself
        if os.path.isfile(path):
            with open(path, "rb") as handle:
                self.digest = handle.read()
            lines = self.digest.decode("utf-8", errors="replace").splitlines()
        self._spec: pathspec.GitIgnoreSpec | None = None
        if lines:
            import pathspec  # only with patterns: importing it costs about 10 ms

            self._spec = pathspec.GitIgnoreSpec.from_lines(lines)

    @property
    def active(self) -> bool:
        """False when there are no patterns (nothing is ever ignored)."""
        return self._spec is not None

    def ignored(self, rel: str, is_dir: bool) -> bool:
        """True when ``rel`` (relative, '/'-separated) is excluded."""
        if self._spec is None:
            return False
        return bool(self._spec.match_file(rel + "/" if is_dir else rel))
