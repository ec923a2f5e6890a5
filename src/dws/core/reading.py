"""Reading any snapshot without restoring it: list its directories, open its files, copy a
file or directory out.

A path is what users see: workspace-relative (``data/raw/train.csv``) for a resource whose
directory is inside the workspace, or ``@NAME/…`` for any resource by name (the only way to
reach one outside the workspace, such as an S3 prefix). The innermost resource holding a
path answers for it, as on disk: a data directory inside a git code resource belongs to the
data resource. Resource directories show as directories of the resources around them.
"""

from __future__ import annotations

import errno
import io
import os
import posixpath
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import BinaryIO, NamedTuple

from msgspec import Struct

from dws.core.catalog import SnapshotCatalog
from dws.core.workspace import Workspace
from dws.errors import NotFoundError, RefusedError, UsageError
from dws.model.ids import shown
from dws.model.paths import is_within
from dws.model.records import ResourceSnapshot, ResourceSpec, SnapshotRecord
from dws.model.tree import TreeEntry
from dws.resources.base import Resource
from dws.resources.recorded import NotHereError, RecordedView
from dws.store.fileio import removing_on_error, temp_name

MAX_LINKS = 16
BY_NAME = "@"  # a path starting with "@NAME" names a resource by name
COPY_BLOCK = 1 << 20


def normalise_path(path: str) -> str:
    """A user's path as the snapshot names it: ``/``-separated, no ``.`` parts, no
    trailing ``/``; ``..``, absolute paths and NUL are a UsageError."""
    if "\x00" in path:
        raise UsageError("a path in a snapshot cannot contain NUL")
    if path.startswith("/"):
        raise UsageError(
            f"{shown(path)}: give a path relative to the workspace (or @NAME/… for a resource)"
        )
    parts = [p for p in path.replace(os.sep, "/").split("/") if p not in ("", ".")]
    if ".." in parts:
        raise UsageError(f"{shown(path)}: '..' is not allowed in a path in a snapshot")
    return "/".join(parts)


class Copied(NamedTuple):
    """What ``copy_out`` wrote: regular files, their bytes, and where it put them."""

    files: int
    bytes: int
    dest: str


@dataclass(frozen=True)
class ListedEntry:
    """One entry of a listing: its path in the snapshot and what is recorded there."""

    path: str
    entry: TreeEntry
    resource: str | None  # the resource holding it (None: a directory between resources)


class _Mount(Struct):
    name: str
    at: str | None  # workspace-relative directory, None when outside the workspace
    recorded: ResourceSnapshot
    view: Callable[[], RecordedView]


class SnapshotFiles:
    """The files of one snapshot, read through its resources' recorded views."""

    def __init__(
        self,
        record: SnapshotRecord,
        mounts: list[tuple[str, str | None, Resource]],
        *,
        closer: Callable[[], None] | None = None,
    ) -> None:
        self.record = record
        self._closer = closer
        # resources listings left out, because they cannot be read from here: name -> why
        self.left_out: dict[str, str] = {}
        self._mounts: dict[str, _Mount] = {}
        self._views: dict[str, RecordedView] = {}
        for name, at, resource in mounts:
            recorded = record.resources[name]
            self._mounts[name] = _Mount(name, at, recorded, _viewer(resource, recorded))

    def close(self) -> None:
        """Release what reading holds open (a remote's connections)."""
        closer, self._closer = self._closer, None
        if closer is not None:
            closer()

    def __enter__(self) -> SnapshotFiles:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- paths ------------------------------------------------------------------------

    def _view(self, mount: _Mount) -> RecordedView:
        found = self._views.get(mount.name)
        if found is None:
            found = self._views[mount.name] = mount.view()
        return found

    def _entry_in(self, mount: _Mount, inner: str, nested: bool) -> TreeEntry | None:
        """The entry at ``inner`` of ``mount``; where that resource cannot be read from
        here, None when other resources lie below (their directories still show; the
        resource is named in ``left_out``)."""
        try:
            return self._view(mount).entry(inner)
        except NotHereError as exc:
            if nested:
                self.left_out[mount.name] = exc.message
                return None
            raise

    def _locate(self, path: str) -> tuple[_Mount | None, str]:
        """(the innermost resource holding ``path``, the path inside it)."""
        by_name = self._by_name(path)
        if by_name is not None:
            return by_name
        best: _Mount | None = None
        for mount in self._mounts.values():
            if mount.at is None or not _is_below(path, mount.at):
                continue
            if best is None or len(mount.at) > len(best.at or ""):
                best = mount
        if best is None:
            return None, path
        assert best.at is not None
        return best, path[len(best.at) :].lstrip("/")

    def _by_name(self, path: str) -> tuple[_Mount, str] | None:
        """(resource, path inside it) for a path ``@NAME/…``; None for any other path. A
        first name starting with ``@`` names a resource only when none of the resources
        around it holds that name (a file called ``@notes.txt`` stays a file)."""
        if not path.startswith(BY_NAME):
            return None
        name, _, inner = path[1:].partition("/")
        mount = self._mounts.get(name)
        if mount is not None:
            return mount, inner
        top = [m for m in self._mounts.values() if m.at == ""]
        if top and self._entry_in(top[0], path.split("/")[0], True) is not None:
            return None
        known = ", ".join(sorted(self._mounts)) or "none"
        raise NotFoundError(
            f"snapshot {self.record.id[:10]} records no resource {name!r} (it has: {known})"
        )

    def _nested(self, path: str) -> dict[str, list[_Mount]]:
        """Next path component -> the resources whose directory lies strictly below
        ``path`` through it (and, at the top, ``@NAME`` for every resource)."""
        out: dict[str, list[_Mount]] = {}
        if path.startswith(BY_NAME) and path[1:].partition("/")[0] in self._mounts:
            return out
        for mount in self._mounts.values():
            if path == "" and mount.at is None:
                out.setdefault(BY_NAME + mount.name, []).append(mount)
            if mount.at is None or mount.at == path or not _is_below(mount.at, path):
                continue
            rest = mount.at[len(path) :].lstrip("/")
            out.setdefault(rest.split("/")[0], []).append(mount)
        return out

    # ---- reading ----------------------------------------------------------------------

    def entry(self, path: str) -> TreeEntry | None:
        """What the snapshot holds at ``path``, or None."""
        path = normalise_path(path)
        mount, inner = self._locate(path)
        nested = self._nested(path)
        if mount is not None and (inner == "" or mount.at is None):
            found = self._entry_in(mount, inner, bool(nested))
            if found is not None and inner == "":
                return TreeEntry(_last(path), "dir", found.id, found.size)
            if found is not None or not nested:
                return found
        if nested and (mount is None or path == ""):
            return TreeEntry(_last(path), "dir", "", _total(nested))
        if mount is None:
            return None
        found = self._entry_in(mount, inner, bool(nested))
        if found is None and nested:
            return TreeEntry(_last(path), "dir", "", _total(nested))
        return found

    def listdir(self, path: str) -> list[ListedEntry]:
        """The entries of the directory at ``path``, sorted by name; NotFoundError when
        there is nothing there, UsageError when it is a file."""
        path = normalise_path(path)
        entry = self.entry(path)
        if entry is None:
            raise NotFoundError(self._not_found(path))
        if not entry.is_dir:
            raise UsageError(f"{shown(path)} is a {entry.kind}, not a directory")
        mount, inner = self._locate(path)
        found: dict[str, ListedEntry] = {}
        nested = self._nested(path)
        if mount is not None and self._entry_in(mount, inner, bool(nested)) is not None:
            view = self._view(mount)
            if view.entry(inner) is not None:
                for child in view.listdir(inner):
                    found[child.name] = ListedEntry(_join(path, child.name), child, mount.name)
        for name, mounts in nested.items():
            child_path = _join(path, name)
            exact = [m for m in mounts if m.at == child_path or name.startswith(BY_NAME)]
            size = _total({name: mounts})
            if not exact and name in found and found[name].entry.is_dir:
                continue  # a directory of the resource around, with resources inside
            owner = exact[0].name if exact else None
            top = self._entry_in(exact[0], "", True) if exact else None
            if exact and top is None:
                continue  # a resource with nothing to read from here: named in left_out
            found[name] = ListedEntry(
                child_path, TreeEntry(name, "dir", top.id if top else "", size), owner
            )
        return [found[name] for name in sorted(found)]

    def walk(self, path: str) -> Iterator[ListedEntry]:
        """Every entry below the directory ``path``, parents before children."""
        path = normalise_path(path)
        for listed in self.listdir(path):
            yield listed
            if listed.entry.is_dir:
                yield from self.walk(listed.path)

    def open(self, path: str) -> BinaryIO:
        """The recorded bytes of the file at ``path`` as a seekable, read-only binary file
        (a symbolic link is followed while it stays inside the snapshot)."""
        path = self.resolve_links(path)
        mount, inner = self._locate(path)
        entry = self.entry(path)
        if entry is None or mount is None:
            raise NotFoundError(self._not_found(path))
        if entry.kind != "file":
            raise UsageError(f"{shown(path)} is a {_kind(entry)}, not a file")
        return self._view(mount).open(inner)

    def resolve_links(self, path: str) -> str:
        """``path`` with symbolic links followed, as the snapshot recorded them (in any
        component: a link to a directory too): a relative target is taken from the link's
        directory; one that leaves the snapshot's paths (absolute, above the top, or out of
        a resource reached as ``@NAME`` that has no directory here) or loops is a
        UsageError."""
        parts = self._workspace_parts(normalise_path(path))
        hops = 0
        index = 0
        while index < len(parts):
            prefix = "/".join(parts[: index + 1])
            entry = self.entry(prefix)
            if entry is None or entry.kind != "symlink":
                index += 1
                continue
            hops += 1
            if hops > MAX_LINKS:
                raise UsageError(f"{shown(path)}: too many levels of symbolic links")
            target = entry.target or ""
            joined = posixpath.normpath(posixpath.join(posixpath.dirname(prefix), target))
            outside = target.startswith("/") or joined == ".." or joined.startswith("../")
            if prefix.startswith(BY_NAME):  # a resource with no directory here
                top = prefix.split("/")[0]
                outside = outside or not (joined == top or joined.startswith(top + "/"))
            if outside:
                raise UsageError(
                    f"{shown(prefix)} is a symbolic link to {shown(target)}, outside the snapshot"
                )
            parts = [p for p in joined.split("/") if p not in ("", ".")] + parts[index + 1 :]
            index = 0
        return "/".join(parts)

    def _workspace_parts(self, path: str) -> list[str]:
        """The parts of ``path``, a ``@NAME/…`` path of a resource with a directory in the
        workspace rewritten as the workspace path (so links resolve as on disk)."""
        by_name = self._by_name(path)
        if by_name is not None and by_name[0].at is not None:
            mount, inner = by_name
            path = _join(mount.at or "", inner) if inner else (mount.at or "")
        return [p for p in path.split("/") if p]

    def ls(self, path: str = "", *, recursive: bool = False) -> list[ListedEntry]:
        """What `dws ls` shows for ``path``: a directory's entries (every entry below it
        with ``recursive``), or a file alone."""
        path = normalise_path(path)
        entry = self.entry(path)
        if entry is None:
            raise NotFoundError(self._not_found(path))
        if not entry.is_dir:
            return [ListedEntry(path, entry, self.owner(path))]
        return list(self.walk(path)) if recursive else self.listdir(path)

    def read_bytes(self, path: str) -> bytes:
        """The whole recorded content of the file at ``path``."""
        with self.open(path) as handle:
            return handle.read()

    def owner(self, path: str) -> str | None:
        """The name of the resource holding ``path``, or None."""
        mount = self._locate(normalise_path(path))[0]
        return mount.name if mount is not None else None

    def _not_found(self, path: str) -> str:
        parent = posixpath.dirname(path)
        hint = ""
        if parent != path:
            try:
                if self.entry(parent) is not None:
                    hint = f" (see `dws ls {self.record.id[:10]}:{parent}`)"
            except UsageError:
                pass
        return f"{shown(path or '.')} is not in snapshot {self.record.id[:10]}{hint}"

    # ---- copying out ------------------------------------------------------------------

    def copy_out(self, path: str, dest: str) -> Copied:
        """Copy the file or directory at ``path`` (a symbolic link there is followed; links
        below a directory are copied as links) to the new path ``dest`` (into it when it is
        an existing directory). Nothing is overwritten: a name already taken is refused
        before anything is written, and a directory appears whole (it is built under a
        temporary name)."""
        path = self.resolve_links(path)
        entry = self.entry(path)
        if entry is None:
            raise NotFoundError(self._not_found(path))
        if os.path.isdir(dest) and not os.path.islink(dest):
            dest = os.path.join(dest, _last(path) or "snapshot")
        if os.path.lexists(dest):
            raise RefusedError(f"{dest} already exists; nothing was copied")
        parent = os.path.dirname(os.path.abspath(dest))
        if not os.path.isdir(parent):
            raise NotFoundError(f"{parent} is not a directory; nothing was copied")
        if not entry.is_dir:
            return Copied(*self._copy_entry(path, entry, dest), os.path.abspath(dest))
        building = temp_name(parent)
        totals = [0, 0]
        try:
            os.mkdir(building)
            for listed in self.walk(path):
                target = os.path.join(building, *listed.path[len(path) :].lstrip("/").split("/"))
                if listed.entry.is_dir:
                    os.mkdir(target)
                    continue
                files, size = self._copy_entry(listed.path, listed.entry, target)
                totals[0] += files
                totals[1] += size
            os.rename(building, dest)
        except BaseException:
            shutil.rmtree(building, ignore_errors=True)
            raise
        return Copied(totals[0], totals[1], os.path.abspath(dest))

    def _copy_entry(self, path: str, entry: TreeEntry, target: str) -> tuple[int, int]:
        if entry.kind == "symlink":
            assert entry.target is not None
            os.symlink(entry.target, target)
            return 0, 0
        tmp = temp_name(os.path.dirname(os.path.abspath(target)))
        with removing_on_error(tmp), self.open(path) as source:
            mode = 0o755 if entry.exec else 0o644
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
            with os.fdopen(fd, "wb") as out:
                shutil.copyfileobj(source, out, COPY_BLOCK)
            _publish(tmp, target)
        if os.path.lexists(tmp):
            os.unlink(tmp)
        return 1, entry.size


class ClosingReader(io.RawIOBase):
    """A file object that also closes what it was read through when it is closed."""

    def __init__(self, inner: BinaryIO, closer: Callable[[], None]) -> None:
        super().__init__()
        self._inner = inner
        self._closer: Callable[[], None] | None = closer

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        return self._inner.readinto(buffer)  # type: ignore[attr-defined, no-any-return]

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return self._inner.seek(offset, whence)

    def tell(self) -> int:
        return self._inner.tell()

    def close(self) -> None:
        if not self.closed:
            try:
                self._inner.close()
            finally:
                closer, self._closer = self._closer, None
                if closer is not None:
                    closer()
        super().close()


def open_closing(files: SnapshotFiles, path: str) -> BinaryIO:
    """``files.open(path)``, closing ``files`` when the file is closed (or, when opening
    fails, at once)."""
    try:
        inner = files.open(path)
    except BaseException:
        files.close()
        raise
    return io.BufferedReader(ClosingReader(inner, files.close), buffer_size=1 << 20)


def workspace_snapshot(
    ws: Workspace, ref: str, *, closer: Callable[[], None] | None = None
) -> SnapshotFiles:
    """The files of snapshot ``ref`` of ``ws`` (a tag, an id prefix or ``HEAD``)."""
    catalog = SnapshotCatalog(ws.layout)
    record = catalog.get(catalog.resolve(ref, ws.head().snapshot))
    registered = {spec.name: spec for spec in ws.resource_specs()}
    mounts = []
    for name, recorded in sorted(record.resources.items()):
        spec = registered.get(name)
        if spec is None or spec.type != recorded.type:
            spec = record.definition(name) or ResourceSpec(name, recorded.type, recorded.role, {})
        at = mount_point(record.definition(name) or spec, ws.root)
        mounts.append((name, at, ws.resource(spec)))
    return SnapshotFiles(record, mounts, closer=closer)


def mount_point(spec: ResourceSpec, root: str | None) -> str | None:
    """Where a resource's directory is, workspace-relative (``""``: the workspace itself);
    None when it is outside the workspace or not a directory."""
    path = spec.params.get("path")
    if not isinstance(path, str) or not path:
        return None
    if os.path.isabs(path):
        if root is None or not is_within(path, root):
            return None
        path = os.path.relpath(path, root)
    try:
        return normalise_path(path)
    except UsageError:
        return None


def _publish(tmp: str, target: str) -> None:
    """Give the finished file ``tmp`` the name ``target``, failing if that name was taken
    meanwhile: a hard link where the filesystem has them, else (FAT, some network
    filesystems) a rename after checking the name is free."""
    try:
        os.link(tmp, target)
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK):
            raise
        if os.path.lexists(target):
            raise FileExistsError(errno.EEXIST, "name taken meanwhile", target) from None
        os.rename(tmp, target)


def _viewer(resource: Resource, recorded: ResourceSnapshot) -> Callable[[], RecordedView]:
    return lambda: resource.recorded_view(recorded.state)


def _is_below(path: str, directory: str) -> bool:
    return directory == "" or path == directory or path.startswith(directory + "/")


def _join(directory: str, name: str) -> str:
    return f"{directory}/{name}" if directory else name


def _last(path: str) -> str:
    return path.rsplit("/", 1)[-1]


def _kind(entry: TreeEntry) -> str:
    return "directory" if entry.is_dir else "symbolic link" if entry.kind == "symlink" else "file"


def _total(nested: dict[str, list[_Mount]]) -> int:
    seen = {m.name: m for mounts in nested.values() for m in mounts}
    return sum(int(m.recorded.state.get("bytes", 0) or 0) for m in seen.values())
