"""The ``dws://`` filesystem: any snapshot, read through fsspec without restoring it, so
pandas, polars, pyarrow and Dask read a version by URL::

    pd.read_csv("dws://v1/data/raw/train.csv")
    pd.read_csv("dws://HEAD/data/raw/train.csv", storage_options={"remote": "s3://b/p"})

A URL is ``dws://SNAPSHOT/PATH``: a tag, an id prefix or ``HEAD``, then a path as
``dws ls`` takes it (workspace-relative, or ``@NAME/...`` for a resource by name). The
storage options say where the snapshots are: ``workspace=DIR`` (default: the workspace
around the current directory), or ``remote=URL|NAME`` (with ``endpoint_url=`` for S3), read
without a workspace through the read cache. Read-only: everything that would write raises
``PermissionError``.

fsspec finds this class through the ``fsspec.specs`` entry point; the module imports fsspec
(the ``read`` extra) and sits on top of ``dws.api``.
"""

from __future__ import annotations

import errno
import os
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, BinaryIO, NoReturn

from dws.api import Workspace, snapshot_files
from dws.core.reading import SnapshotFiles, normalise_path
from dws.core.workspace import Workspace as CoreWorkspace
from dws.errors import NotFoundError, UsageError
from dws.model.distribution import install_hint
from dws.model.tree import TreeEntry

INSTALL_HINT = install_hint("read", "the dws:// filesystem needs fsspec")

try:
    from fsspec.spec import AbstractFileSystem
    from fsspec.utils import stringify_path
except ImportError:
    raise ModuleNotFoundError(INSTALL_HINT, name="fsspec") from None

PROTOCOL = "dws"
KEPT_SNAPSHOTS = 8  # snapshots of a workspace one instance keeps open (each has a store)
READ_ONLY = "dws:// is read-only: snapshots cannot be changed (write to the workspace and snapshot)"
# options fsspec may pass to any filesystem, and pandas adds anon=True when it retries a
# refused write: accepted, unused
_OPTIONS = frozenset({"workspace", "remote", "endpoint_url"})
_FSSPEC_OPTIONS = frozenset(
    {"use_listings_cache", "listings_expiry_time", "max_paths", "asynchronous", "loop", "anon"}
)


_FsspecMeta: Any = type(AbstractFileSystem)


class _Pinned(_FsspecMeta):  # type: ignore[misc]
    """fsspec's instance cache, keyed by where the snapshots are, found before the cache is
    asked: the workspace's root (the one around the current directory by default) and the
    remote's URL and endpoint. So an instance made in one workspace is never reused in
    another, and a pickled one (fsspec pickles an instance as its storage options) opens the
    same place in any process."""

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        unknown = sorted(set(kwargs) - _OPTIONS - _FSSPEC_OPTIONS - {"skip_instance_cache"})
        if args or unknown:
            raise TypeError(
                "dws:// takes the storage options workspace, remote and endpoint_url (by name)"
                + (f", not {', '.join(unknown)}" if unknown else "")
            )
        kwargs.update(
            _located(kwargs.get("workspace"), kwargs.get("remote"), kwargs.get("endpoint_url"))
        )
        return super().__call__(**kwargs)


class DwsFileSystem(AbstractFileSystem, metaclass=_Pinned):  # type: ignore[misc]
    """The files of any snapshot of a workspace or a remote, read-only, as an fsspec
    filesystem (protocol ``dws``). Paths are ``SNAPSHOT/PATH``."""

    protocol = PROTOCOL
    root_marker = ""

    def __init__(
        self,
        *,
        workspace: str | None = None,
        remote: str | None = None,
        endpoint_url: str | None = None,
        **options: Any,
    ) -> None:
        super().__init__(**options)
        self._lock = threading.RLock()
        # snapshot id (workspace) or name (remote) -> its files, the one used last at the end
        self._snapshots: OrderedDict[str, SnapshotFiles] = OrderedDict()
        # where the snapshots are (as _located made it: absolute, checked)
        self._root = workspace
        self._remote = remote
        self._endpoint = endpoint_url
        self._workspace = Workspace.open(workspace) if remote is None and workspace else None

    # ---- paths ------------------------------------------------------------------------

    @classmethod
    def _strip_protocol(cls, path: Any) -> Any:
        if isinstance(path, list):
            return [cls._strip_protocol(p) for p in path]
        text: str = stringify_path(path)
        for prefix in (PROTOCOL + "://", PROTOCOL + "::"):
            if text.startswith(prefix):
                text = text[len(prefix) :]
                break
        return text.strip("/")

    @staticmethod
    def _get_kwargs_from_urls(path: str) -> dict[str, Any]:
        return {}  # where the snapshots are is never in the URL: see the storage options

    def _split(self, path: str) -> tuple[str, str]:
        """(snapshot reference, path inside the snapshot) of a URL or path."""
        stripped: str = self._strip_protocol(path)
        ref, _, inner = stripped.partition("/")
        if not ref:
            raise ValueError(
                f"{path!r}: a dws:// path starts with a snapshot: dws://SNAPSHOT/PATH "
                "(a tag, an id prefix or HEAD)"
            )
        with _translated():
            return ref, normalise_path(inner)

    def _files(self, ref: str) -> SnapshotFiles:
        """The (cached) files of snapshot ``ref``. In a workspace the reference is resolved
        on every call (HEAD and tags move); on a remote, once per filesystem instance."""
        with _translated():
            key = self._workspace.resolve(ref) if self._workspace is not None else ref
        with self._lock, _translated():
            found = self._snapshots.get(key)
            if found is None:
                found = self._snapshots[key] = self._load(key)
                if self._workspace is not None and len(self._snapshots) > KEPT_SNAPSHOTS:
                    # the one used longest ago; its readers go on (a store opens again)
                    self._snapshots.pop(next(iter(self._snapshots))).close()
            else:
                self._snapshots.move_to_end(key)
            return found

    def _load(self, key: str) -> SnapshotFiles:
        if self._remote is None:
            return snapshot_files(key, workspace=self._root)
        from dws.core.remote.browse import open_remote_snapshot

        cache = None if self._root is None else _read_cache(self._root)
        return open_remote_snapshot(self._remote, key, endpoint_url=self._endpoint, cache_dir=cache)

    def _entry(
        self, path: str, *, follow: bool = False
    ) -> tuple[str, str, SnapshotFiles, TreeEntry]:
        """(ref, path inside, files, entry) of ``path``; ``follow``: of what a symbolic link
        there leads to (as reading its bytes does)."""
        ref, inner = self._split(path)
        files = self._files(ref)
        with _translated():
            if follow:
                inner = files.resolve_links(inner)
            entry = files.entry(inner)
        if entry is None:
            raise FileNotFoundError(f"{inner or '.'} is not in snapshot {ref}")
        return ref, inner, files, entry

    # ---- reading ----------------------------------------------------------------------

    def ls(self, path: str, detail: bool = True, **kwargs: Any) -> list[Any]:
        """The entries of a directory of a snapshot (a file's path lists that file)."""
        ref, inner = self._split(path)
        files = self._files(ref)
        with _translated():
            listed = files.ls(inner)
        out = [_info(ref, item.path, item.entry, files) for item in listed]
        return out if detail else [item["name"] for item in out]

    def info(self, path: str, **kwargs: Any) -> dict[str, Any]:
        """name, size, type (``file``, ``directory`` or ``other`` for a symbolic link),
        the content ``id``, and the snapshot's full id."""
        ref, inner, files, entry = self._entry(path)
        return _info(ref, inner, entry, files)

    def ukey(self, path: str) -> str:
        """The content id: equal ids, equal bytes."""
        return str(self.info(path)["id"])

    def _open(
        self,
        path: str,
        mode: str = "rb",
        block_size: int | None = None,
        autocommit: bool = True,
        cache_options: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> BinaryIO:
        if mode != "rb":
            _refuse()
        _, inner, files, entry = self._entry(path, follow=True)
        if entry.is_dir:
            raise IsADirectoryError(f"{inner or '.'} is a directory")
        with _translated():
            return files.open(inner)

    def cat_file(
        self, path: str, start: int | None = None, end: int | None = None, **kwargs: Any
    ) -> bytes:
        """The bytes ``start:end`` of a file (negative: from the end); only the chunks
        holding them are read."""
        _, inner, files, entry = self._entry(path, follow=True)
        if entry.is_dir:
            raise IsADirectoryError(f"{inner or '.'} is a directory")
        size = entry.size
        first = 0 if start is None else max(0, size + start) if start < 0 else min(start, size)
        last = size if end is None else max(0, size + end) if end < 0 else min(end, size)
        with _translated(), files.open(inner) as handle:
            if first:
                handle.seek(first)
            return handle.read(max(0, last - first)) if end is not None else handle.read()

    # ---- the instance's snapshots -----------------------------------------------------

    def invalidate_cache(self, path: str | None = None) -> None:
        """Forget what was read of snapshots, so a remote's tags and HEAD are read again
        (files already open keep reading)."""
        with self._lock:
            self._snapshots.clear()
        super().invalidate_cache(path)

    def close(self) -> None:
        """Close every snapshot this instance opened (a workspace's store, a remote's
        connections); it opens them again when used."""
        with self._lock:
            opened, self._snapshots = list(self._snapshots.values()), OrderedDict()
        for files in opened:
            files.close()

    # ---- read-only --------------------------------------------------------------------

    def mkdir(self, path: str, create_parents: bool = True, **kwargs: Any) -> NoReturn:
        _refuse()

    def makedirs(self, path: str, exist_ok: bool = False) -> NoReturn:
        _refuse()

    def rmdir(self, path: str) -> NoReturn:
        _refuse()

    def rm(self, path: Any, recursive: bool = False, maxdepth: int | None = None) -> NoReturn:
        _refuse()

    def rm_file(self, path: str) -> NoReturn:
        _refuse()

    def _rm(self, path: str) -> NoReturn:
        _refuse()

    def touch(self, path: str, truncate: bool = True, **kwargs: Any) -> NoReturn:
        _refuse()

    def pipe_file(
        self, path: str, value: bytes, mode: str = "overwrite", **kwargs: Any
    ) -> NoReturn:
        _refuse()

    def pipe(self, path: Any, value: bytes | None = None, **kwargs: Any) -> NoReturn:
        _refuse()

    def put_file(self, lpath: str, rpath: str, callback: Any = None, **kwargs: Any) -> NoReturn:
        _refuse()

    def put(self, lpath: Any, rpath: Any, recursive: bool = False, **kwargs: Any) -> NoReturn:
        _refuse()

    def cp_file(self, path1: str, path2: str, **kwargs: Any) -> NoReturn:
        _refuse()

    def copy(self, path1: Any, path2: Any, recursive: bool = False, **kwargs: Any) -> NoReturn:
        _refuse()

    def mv(self, path1: Any, path2: Any, recursive: bool = False, **kwargs: Any) -> NoReturn:
        _refuse()


def _refuse() -> NoReturn:
    raise PermissionError(READ_ONLY)


@contextmanager
def _translated() -> Iterator[None]:
    """dws's errors about paths as the OSErrors fsspec's callers look for: NotFoundError as
    FileNotFoundError, any other bad path (``..``, a link out of the snapshot, a directory
    where a file is wanted) as an OSError (EINVAL) with dws's message."""
    try:
        yield
    except NotFoundError as exc:
        raise FileNotFoundError(exc.message) from None
    except UsageError as exc:
        raise OSError(errno.EINVAL, exc.message) from None


def _info(ref: str, inner: str, entry: TreeEntry, files: SnapshotFiles) -> dict[str, Any]:
    kind = "directory" if entry.is_dir else "file" if entry.kind == "file" else "other"
    out: dict[str, Any] = {
        "name": f"{ref}/{inner}" if inner else ref,
        "size": entry.size if kind == "file" else 0,
        "type": kind,
        "id": entry.id,
        "snapshot": files.record.id,
    }
    if entry.kind == "symlink":
        out["islink"] = True
        out["destination"] = entry.target
    if entry.exec:
        out["exec"] = True
    return out


def _located(
    workspace: str | None, remote: str | None, endpoint_url: str | None
) -> dict[str, str | None]:
    """The storage options naming where the snapshots are, made absolute and checked:
    ``workspace`` is the root of the workspace it names (default: the one around the
    current directory: needed without a remote, else the place of the read cache and of
    remote names); ``remote`` a URL and ``endpoint_url`` its endpoint."""
    if remote is None:
        if endpoint_url is not None:
            raise ValueError("dws://: endpoint_url applies with remote= only")
        try:
            root = CoreWorkspace.open(workspace or ".").root
        except NotFoundError as exc:
            if workspace is not None:
                raise
            raise NotFoundError(
                f"{exc.message}; or give dws:// the storage option workspace=DIR or remote=URL"
            ) from None
        return {"workspace": root, "remote": None, "endpoint_url": None}
    from dws.core.remote.browse import remote_location

    if workspace is not None:
        found: CoreWorkspace | None = CoreWorkspace.open(workspace)
    else:
        try:
            found = CoreWorkspace.open(".")
        except NotFoundError:
            found = None
    url, endpoint = remote_location(remote, endpoint_url, found)
    return {"workspace": found.root if found else None, "remote": url, "endpoint_url": endpoint}


def _read_cache(root: str) -> str:
    """Where reads of a remote are cached when a workspace is around (as ``dws.open``)."""
    return os.path.join(CoreWorkspace.open(root).layout.local, "read-cache")
