"""What every test folder shares: running the installed `dws` as a user would, writing and
comparing trees, and reaching one object of a workspace's store behind dws's back."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

DWS = shutil.which("dws", path=os.path.dirname(sys.executable)) or shutil.which("dws")


@dataclass
class Result:
    """What a `dws` subprocess did."""

    code: int
    out: str
    err: str


def run_dws(
    *args: str,
    cwd: Path | str,
    env: dict[str, str] | None = None,
    input: str | None = None,
    timeout: float = 120,
) -> Result:
    """Run the installed `dws` as a user would, never on a terminal."""
    assert DWS, "the dws command is not installed in this environment"
    full_env = {**os.environ, "DWS_LOCK_TIMEOUT": "1", **(env or {})}
    proc = subprocess.run(
        [DWS, *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        input=input,
        timeout=timeout,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


def write_files(root: Path, files: dict[str, str | bytes]) -> None:
    """Create files (parents included) from a {relative path: content} map."""
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        data = content.encode() if isinstance(content, str) else content
        path.write_bytes(data)


def manifest(root: Path) -> dict[str, tuple[str, object, bool]]:
    """Everything below ``root`` that a snapshot records: kind, bytes or link target, exec bit.
    Empty directories are included; nothing is followed through symlinks."""
    out: dict[str, tuple[str, object, bool]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = os.path.relpath(dirpath, root)
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            rel = os.path.normpath(os.path.join(rel_dir, name))
            st = os.lstat(path)
            if stat.S_ISLNK(st.st_mode):
                out[rel] = ("symlink", os.readlink(path), False)
            elif stat.S_ISDIR(st.st_mode):
                out[rel] = ("dir", None, False)
            else:
                out[rel] = ("file", Path(path).read_bytes(), bool(st.st_mode & stat.S_IXUSR))
        dirnames[:] = [d for d in dirnames if not os.path.islink(os.path.join(dirpath, d))]
    return out


class StoredObject:
    """One object of a workspace's store, for tests that damage or remove it behind dws's
    back. It offers the few Path methods such tests use, whether the object is loose
    (objects/ab/cdef...) or inside a pack (then it is rewritten in a new pack, as bit rot
    or a careless tool would leave it)."""

    def __init__(self, workspace_root: Path, oid: str) -> None:
        from dws.store.packed import PackedObjectStore

        self.oid = oid
        self.name = oid[2:]
        self._store = PackedObjectStore(str(Path(workspace_root) / ".dataworkspace/objects"))
        self.loose = Path(self._store.loose.path(oid))
        self.parent = self.loose.parent

    def _pack(self) -> str | None:
        found = self._store._find(self.oid)
        return found[0] if found is not None else None

    def exists(self) -> bool:
        return self.loose.exists() or self._pack() is not None or self._store.lists.has(self.oid)

    def read_bytes(self) -> bytes:
        """The object's bytes as stored, not checked against its id (a chunked file is
        put together from its chunks, each as stored)."""
        from dws.store.base import ObjectMissingError

        if self.loose.exists():
            return self.loose.read_bytes()
        pack = self._pack()
        if pack is not None:
            return self._store._read_packed(self.oid, pack, self._store._find(self.oid)[1])
        chunks = self._store.chunk_list(self.oid)
        if chunks is None:
            raise FileNotFoundError(self.oid)
        parts = []
        for piece in chunks.pieces:
            try:
                parts.append(
                    bytes(piece.length) if piece.zeros else self._store.read_chunk(piece.key)
                )
            except ObjectMissingError:
                raise FileNotFoundError(self.oid) from None
        return b"".join(parts)

    def chmod(self, mode: int) -> None:
        if self.loose.exists():
            self.loose.chmod(mode)

    def unlink(self) -> None:
        if self.loose.exists():
            self.loose.unlink()
            return
        if self._pack() is None:
            raise FileNotFoundError(self.oid)
        self._store.delete(self.oid)

    def write_bytes(self, data: bytes) -> None:
        """Replace the object's bytes (keeping its id), or create it loose if absent."""
        pack = self._pack()
        if pack is None:
            if self.loose.exists():
                self.loose.chmod(0o644)
            self.loose.write_bytes(data)
            return
        self._rewrite_pack(pack, data)

    def _rewrite_pack(self, pack: str, data: bytes) -> None:
        from dws.store.fileio import temp_name
        from dws.store.framing import RAW, frame
        from dws.store.packfile import PackIndex, PackWriter

        store = self._store
        index = PackIndex(os.path.join(store.packs_dir, pack + ".idx"))
        writer = PackWriter(temp_name(os.path.join(store.root, "tmp")))
        key = bytes.fromhex(self.oid)
        for other, entry in index:
            if other == key:  # the damaged bytes as they are (codec 0): no decoder hides them
                writer.add(other, bytes((RAW,)) + data)
                continue
            stored, framed = store._read_stored(pack, entry)
            writer.add(other, stored if framed else frame(stored))
        index.close()
        store.close()
        os.unlink(os.path.join(store.packs_dir, pack + ".idx"))
        os.unlink(os.path.join(store.packs_dir, pack + ".pack"))
        writer.finish(store.packs_dir, temp_name(os.path.join(store.root, "tmp")))
