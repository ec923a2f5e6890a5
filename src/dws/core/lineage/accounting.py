"""Turning what a run did into the facts of its record.

Before the command starts, every data resource is scanned (a *census*, ``census.py``: its
root tree, kept in the store); after it ends, again. With the two trees and an
``Observation`` (or, without an observer, the paths the command line declared),
``RunAccounting`` decides:

* outputs: files the run's processes wrote, with the content they left (a directory the
  run created and every file of which it wrote is one ``dir`` output);
* inputs: files they read before writing them, with the version they read: the census
  before the run, unless the file changed before the open (then the version after, when
  the signature taken at the open proves it is what was read); a file that changed during
  the run in a way that cannot be told apart is also listed in ``unstable``;
* code: Python modules and scripts executed, and programs run, inside resources (their
  content is stored) or outside every resource (``external_code``);
* removed: what the run deleted or moved away, as it was before;
* unexplained: every other change the two censuses show, credited to nobody.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

from msgspec import Struct, field

from dws.core.lineage.census import Census, CensusIndex
from dws.core.lineage.locate import Located, PathLocator
from dws.core.lineage.observe import Observation, Signature, interpreter_prefixes
from dws.core.workspace import Workspace
from dws.model.roles import Role
from dws.model.runs import ExternalCode, PathVersion
from dws.model.tree import TreeEntry, listing_id
from dws.model.treediff import caching_loader, diff_trees, walk_tree
from dws.resources.base import Resource
from dws.store.trees import store_loader

# caches, version control and environments: what a step reads there is not its data
NOISE_PARTS = frozenset(
    {
        "__pycache__",
        ".git",
        ".ipynb_checkpoints",
        "site-packages",
        "dist-packages",
        ".venv",
        ".tox",
        ".mypy_cache",
        ".pytest_cache",
    }
)


def signature_of(path: str) -> Signature | None:
    """The signature the recorder takes at an open (of the file a link leads to)."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns


MAX_SCRIPT_BYTES = 1 << 20


def _is_script(path: str) -> bool:
    """Code worth keeping with a run: a source file, not a compiled program (an
    interpreter or tool installed outside the workspace is the environment, not the
    step's code)."""
    try:
        if os.path.getsize(path) > MAX_SCRIPT_BYTES:
            return False
        with open(path, "rb") as handle:
            return handle.read(4) != b"\x7fELF"
    except OSError:
        return False


def is_noise(located: Located) -> bool:
    """Bytecode caches, version control, notebook checkpoints and installed packages
    are nobody's input or output."""
    parts = located.path.split("/")
    return (
        any(part in NOISE_PARTS for part in parts)
        or parts[-1].startswith(".dws-tmp")
        or located.path.endswith((".pyc", ".pyo"))
    )


class Accounted(Struct):
    """The observed facts of one run, ready for its record."""

    inputs: list[PathVersion] = field(default_factory=list)
    outputs: list[PathVersion] = field(default_factory=list)
    removed: list[PathVersion] = field(default_factory=list)
    unexplained: list[PathVersion] = field(default_factory=list)
    unstable: list[PathVersion] = field(default_factory=list)
    external_code: list[ExternalCode] = field(default_factory=list)
    unobserved: list[str] = field(default_factory=list)

    _input_keys: set[tuple[str, str, bool]] = field(default_factory=set)

    def add_input(self, item: PathVersion) -> None:
        """Add an input once per path (a directory's listing apart from its content)."""
        key = (item.resource, item.path, item.kind == "listing")
        if key not in self._input_keys:
            self._input_keys.add(key)
            self.inputs.append(item)

    def touched_source(self, roles: dict[str, Role]) -> list[PathVersion]:
        """Outputs and removals inside source data (which is only ever read)."""
        return [
            item
            for item in [*self.outputs, *self.removed]
            if roles.get(item.resource) is Role.SOURCE_DATA
        ]


class RunAccounting:
    """Decides a run's inputs and outputs from two censuses and what was observed."""

    def __init__(
        self,
        ws: Workspace,
        resources: list[Resource],
        before: Census,
        after: Census,
        started_ns: int,
    ) -> None:
        self.ws = ws
        self.resources = {r.name: r for r in resources}
        self.locator = PathLocator(ws, resources)
        self.before, self.after = before, after
        self.started_ns = started_ns
        self.load = caching_loader(store_loader(ws.store))
        self.index = CensusIndex(self.load)
        self.result = Accounted()
        self.explained: set[tuple[str, str]] = set()
        self._real_roots: dict[str, str] = {}
        self._local_roots: dict[str, str] = {}

    # ---- lookups ------------------------------------------------------------------------

    def locate(self, path: str) -> Located | None:
        """The resource path an observed path names, unless it is noise."""
        located = self.locator.locate(path, "/")
        if located is None or not located.path or is_noise(located):
            return None
        return located

    def _entry(self, census: Census, located: Located) -> TreeEntry | None:
        return self.index.entry(census, located.resource.name, located.path)

    def _version(self, located: Located, entry: TreeEntry | None) -> PathVersion:
        if entry is None:
            return PathVersion(located.resource.name, located.path, None, "missing")
        return PathVersion(located.resource.name, located.path, entry.id, entry.kind)

    def _full(self, located: Located) -> str:
        return os.path.join(self._root_of(located.resource), located.path)

    def _root_of(self, resource: Resource) -> str:
        root = self._local_roots.get(resource.name)
        if root is None:
            root = self._local_roots[resource.name] = resource.local_path() or ""
        return root

    def _was_written(self, located: Located, after: TreeEntry) -> bool:
        """An open for writing that failed (``open(p, "x")`` on an existing file) is
        seen too: a file whose content did not change counts as written only if its
        inode changed during the run."""
        before = self._entry(self.before, located)
        if before is None or not before.same_content(after):
            return True
        try:
            return os.lstat(self._full(located)).st_ctime_ns >= self.started_ns
        except OSError:
            return False

    def _changed_since_start(self, path: str) -> bool:
        try:
            return os.lstat(path).st_mtime_ns >= self.started_ns
        except OSError:
            return False

    # ---- what was written ---------------------------------------------------------------

    def add_writes(self, written: set[str], removed: set[str]) -> None:
        """Outputs from written paths, ``removed`` from removed ones."""
        files: dict[tuple[str, str], PathVersion] = {}
        for path in sorted(written):
            located = self.locate(path)
            if located is None:
                continue
            key = (located.resource.name, located.path)
            self.explained.add(key)
            if key[0] in self.after:
                entry = self._entry(self.after, located)
                if entry is not None and not entry.is_dir and self._was_written(located, entry):
                    files[key] = self._version(located, entry)
            else:
                kind, oid = located.resource.content_ids([located.path])[located.path]
                if oid is not None and kind != "dir":
                    files[key] = PathVersion(key[0], key[1], oid, kind)
        self.result.outputs.extend(self._compacted(files))
        for path in sorted(removed):
            located = self.locate(path)
            if located is None:
                continue
            self.explained.add((located.resource.name, located.path))
            before = self._entry(self.before, located)
            if before is not None and self._entry(self.after, located) is None:
                self.result.removed.append(self._version(located, before))

    def _compacted(self, files: dict[tuple[str, str], PathVersion]) -> list[PathVersion]:
        """A directory the run created, with several files all of which it wrote, becomes
        one output (records stay small when a step writes thousands of files)."""
        out: list[PathVersion] = []
        done: set[tuple[str, str]] = set()
        tops = sorted({(r, p.split("/")[0]) for r, p in files if "/" in p})
        for resource, top in tops:
            loc = Located(self.resources[resource], top, top)
            before, after = self._entry(self.before, loc), self._entry(self.after, loc)
            if before is not None or after is None or not after.is_dir:
                continue
            inside = [
                (resource, f"{top}/{rel}")
                for rel, e in walk_tree(self.load, after.id)
                if not e.is_dir
            ]
            if len(inside) > 1 and all(key in files for key in inside):
                out.append(PathVersion(resource, top, after.id, "dir"))
                done.update(inside)
        out.extend(item for key, item in files.items() if key not in done)
        return out

    # ---- what was read ------------------------------------------------------------------

    def add_reads(self, read: dict[str, Signature | None], written: set[str]) -> None:
        """Inputs with the versions read (see the module docstring). Paths are located
        one directory at a time: a step that reads 10,000 files in 100 directories
        resolves 100 directories."""
        directories: dict[str, Located | None] = {}
        for path, signature in read.items():
            parent, _, name = path.rpartition("/")
            if parent not in directories:
                directories[parent] = self._locate_directory(parent or "/", path)
            folder = directories[parent]
            if folder is None or name in ("", ".", ".."):
                located = self.locate(path)  # outside every resource, or a resource root
            else:
                inner = f"{folder.path}/{name}" if folder.path else name
                key = f"{folder.key}/{name}" if folder.key != "." else name
                if (
                    name in NOISE_PARTS
                    or name.startswith(".dws-tmp")
                    or name.endswith((".pyc", ".pyo"))
                ):
                    continue  # the folder itself is not noise (checked once)
                located = Located(folder.resource, inner, key)
            if located is None:
                continue
            self.add_read(located, signature, path in written)

    def _locate_directory(self, directory: str, example: str) -> Located | None:
        """The resource directory ``directory`` is, with the links on the way to it
        recorded as inputs (once per directory)."""
        located = self.locator.locate(os.path.realpath(directory), "/")
        if located is None or is_noise(located):
            return None
        self._links_on_the_way(example, self.locate(example) or located)
        return located

    def add_read(self, located: Located, signature: Signature | None, rewritten: bool) -> None:
        """One path read; ``rewritten`` when the run wrote or removed it afterwards."""
        name = located.resource.name
        if name not in self.before:
            full = self._full(located)
            kind, oid = located.resource.content_ids([located.path])[located.path]
            if oid is None or kind == "dir":
                return
            item = PathVersion(name, located.path, oid, kind)
            self.result.add_input(item)
            if located.resource.role is Role.CODE:
                self._keep_code(full, oid)
            if self._changed_since_start(full) and not rewritten:
                self.result.unstable.append(item)
            return
        before, after = self._entry(self.before, located), self._entry(self.after, located)
        entry = before if before is not None else after
        if entry is None or entry.is_dir:
            return
        if rewritten or (after is not None and before is not None and before.id == after.id):
            self.result.add_input(self._version(located, before if before else after))
        elif (
            signature is not None
            and after is not None
            and signature == signature_of(self._full(located))
        ):
            self.result.add_input(self._version(located, after))  # changed before the open
        else:
            self.result.add_input(self._version(located, entry))
            self.result.unstable.append(self._version(located, after))
        if entry.kind == "symlink":
            target = self.locator.locate(os.path.realpath(self._full(located)), "/")
            if target is not None and target.path and (target.key != located.key):
                self.add_read(target, None, False)

    def _links_on_the_way(self, named: str, located: Located) -> None:
        """Symbolic links inside a resource that the path went through (``latest/x.csv``
        with ``latest -> v1``) are inputs too: re-pointing one changes what is read."""
        root = self._root_of(located.resource)
        if not root or located.resource.name not in self.before:
            return
        real_root = self._real_roots.get(root)
        if real_root is None:
            real_root = self._real_roots[root] = os.path.realpath(root)
        if named.startswith(real_root + os.sep) and named[len(real_root) + 1 :] == located.path:
            return  # named exactly as located: no link on the way
        lexical = os.path.relpath(os.path.normpath(named), real_root)
        if lexical.startswith("..") or lexical == located.path:
            return
        parts = lexical.split(os.sep)
        for depth in range(1, len(parts)):
            prefix = "/".join(parts[:depth])
            step = Located(located.resource, prefix, prefix)
            entry = self._entry(self.before, step)
            if entry is not None and entry.kind == "symlink":
                self.result.add_input(self._version(step, entry))

    def add_listings(self, listed: set[str]) -> None:
        """Directories whose names a run read: the listing, not every file's content."""
        for path in sorted(listed):
            located = self.locator.locate(path, "/")
            if located is None or is_noise(located) or located.resource.name not in self.before:
                continue
            entry = self._entry(self.before, located)
            if located.path == "":
                root = self.before.get(located.resource.name)
                entry = TreeEntry("", "dir", root, 0) if root else None
            if entry is not None and entry.is_dir:
                item = PathVersion(
                    located.resource.name, located.path, listing_id(self.load(entry.id)), "listing"
                )
                self.result.add_input(item)

    def add_code(self, executed: set[str]) -> None:
        """Scripts and modules run: inputs when inside a resource, else external code."""
        skipped = interpreter_prefixes()
        for path in sorted(executed):
            located = self.locate(path)
            if located is not None:
                self.add_read(located, None, False)
                continue
            if self.locator.locate(path, "/") is not None or path.startswith(skipped):
                continue
            if _is_script(path):
                oid = self._keep_code(path, None)
                self.result.external_code.append(ExternalCode(path, oid))
                if self._changed_since_start(path):
                    self.result.unobserved.append(f"{path} (changed during the run)")

    def _keep_code(self, path: str, oid: str | None) -> str:
        """Store a code file's bytes so the run can be reproduced (code is small)."""
        if oid is not None and self.ws.store.has(oid):
            return oid
        return self.ws.store.put_file(path)[0]

    # ---- what the command line declared ------------------------------------------------

    def add_declared_outputs(
        self, declared: list[Located], signatures: dict[str, Signature | None]
    ) -> None:
        """Declared outputs count only where the run changed something: a file whose
        content or signature changed, the changed files of a directory."""
        for located in declared:
            name = located.resource.name
            if name not in self.before:
                continue
            before, after = self._entry(self.before, located), self._entry(self.after, located)
            if after is not None and after.is_dir:
                old_id = before.id if before is not None and before.is_dir else None
                self._credit_changes(located, old_id, after.id)
            elif after is not None and (name, located.path) not in self.explained:
                same = before is not None and before.same_content(after)
                if not same or signatures.get(located.key) != signature_of(self._full(located)):
                    self.explained.add((name, located.path))
                    self.result.outputs.append(self._version(located, after))

    def _credit_changes(self, located: Located, old_id: str | None, new_id: str) -> None:
        for change in diff_trees(self.load, old_id, new_id, located.path):
            if change.new is None or change.new.is_dir:
                continue
            key = (located.resource.name, change.path)
            if key not in self.explained:
                self.explained.add(key)
                self.result.outputs.append(
                    PathVersion(key[0], key[1], change.new.id, change.new.kind)
                )

    # ---- the backstop -------------------------------------------------------------------

    def add_unexplained(self) -> None:
        """Every change between the censuses that no observed process made."""
        for name, old_root in self.before.items():
            new_root = self.after.get(name)
            for change in diff_trees(self.load, old_root, new_root):
                entry = change.new or change.old
                if entry is None or entry.is_dir or self._explains(name, change.path):
                    continue
                new = change.new
                self.result.unexplained.append(
                    PathVersion(name, change.path, new.id, new.kind)
                    if new is not None
                    else PathVersion(name, change.path, None, "missing")
                )

    def compact_inputs(self, smallest: int = 64) -> None:
        """A directory all of whose files (at least ``smallest``) the run read, as they
        were before it, becomes one ``dir`` input: its tree pins every file's bytes and
        every name, and a step that reads 10,000 files keeps a small record."""
        unsure = {(i.resource, i.path) for i in self.result.unstable}
        rewritten = self.explained
        by_resource: dict[str, dict[str, str | None]] = {}
        for item in self.result.inputs:
            key = (item.resource, item.path)
            if item.kind in ("file", "symlink") and key not in unsure and key not in rewritten:
                by_resource.setdefault(item.resource, {})[item.path] = item.id
        replaced: set[tuple[str, str]] = set()
        added: list[PathVersion] = []
        for name, read in by_resource.items():
            root = self.before.get(name)
            if root is None or len(read) < smallest:
                continue
            for path, tree_id, files in self._covered_directories(root, "", read, smallest):
                added.append(PathVersion(name, path, tree_id, "dir"))
                replaced.update((name, f) for f in files)
        if added:
            kept = [i for i in self.result.inputs if (i.resource, i.path) not in replaced]
            self.result.inputs = []
            self.result._input_keys = set()
            for item in [*kept, *added]:
                self.result.add_input(item)

    def _covered_directories(
        self, tree_id: str, prefix: str, read: dict[str, str | None], smallest: int
    ) -> Iterator[tuple[str, str, list[str]]]:
        """The highest directories below ``tree_id`` whose every file was read."""
        for entry in self.index.names(tree_id).values():
            if not entry.is_dir:
                continue
            path = f"{prefix}/{entry.name}" if prefix else entry.name
            files = self._files_if_all_read(entry.id, path, read)
            if files is not None and len(files) >= smallest:
                yield path, entry.id, files
            else:
                yield from self._covered_directories(entry.id, path, read, smallest)

    def _files_if_all_read(
        self, tree_id: str, prefix: str, read: dict[str, str | None]
    ) -> list[str] | None:
        files: list[str] = []
        for entry in self.index.names(tree_id).values():
            path = f"{prefix}/{entry.name}"
            if entry.is_dir:
                inner = self._files_if_all_read(entry.id, path, read)
                if inner is None:
                    return None
                files.extend(inner)
            elif read.get(path) != entry.id:
                return None
            else:
                files.append(path)
        return files

    def _explains(self, name: str, path: str) -> bool:
        """True when the run wrote or removed ``path`` or a directory above it."""
        while True:
            if (name, path) in self.explained:
                return True
            if "/" not in path:
                return False
            path = path.rsplit("/", 1)[0]

    def declared_versions(self, items: list[Located]) -> list[PathVersion]:
        """Versions of declared inputs in the census before the run (other resources are
        hashed now)."""
        out = []
        for located in items:
            if located.resource.name in self.before:
                if located.path == "":
                    root = self.before[located.resource.name]
                    out.append(
                        PathVersion(located.resource.name, "", root, "dir")
                        if root
                        else self._version(located, None)
                    )
                else:
                    out.append(self._version(located, self._entry(self.before, located)))
            else:
                kind, oid = located.resource.content_ids([located.path])[located.path]
                out.append(PathVersion(located.resource.name, located.path, oid, kind))
        return out


def account_observation(accounting: RunAccounting, seen: Observation) -> Accounted:
    """All of an observation, in the order the rules need."""
    rewritten = seen.written | seen.removed
    accounting.add_writes(seen.written, seen.removed)
    accounting.add_reads(seen.read, rewritten)
    for moved_from, _target in seen.moved:
        located = accounting.locate(moved_from)
        if located is not None:
            accounting.add_read(located, None, True)
    accounting.add_listings(seen.listed)
    accounting.add_code(seen.executed)
    for name, text in sorted(seen.sources.items()):
        oid = accounting.ws.store.put_bytes(text)
        accounting.result.external_code.append(ExternalCode(name, oid))
    accounting.result.unobserved.extend(seen.unobserved)
    accounting.compact_inputs()
    return accounting.result
