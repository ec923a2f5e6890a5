"""Reading a repository's current state without changing anything: HEAD, branch, and every
path whose index entry or working file differs from HEAD (`git status --porcelain=v2 -z`,
with `GIT_OPTIONAL_LOCKS=0` so even the index's cached stat data is left alone)."""

from __future__ import annotations

import os
import stat

from msgspec import Struct, field

from dws.errors import DwsError, RefusedError
from dws.model.digest import hash_bytes
from dws.model.tree import TreeEntry
from dws.resources.git.excludes import Excludes
from dws.resources.git.gitcmd import Git, decode_path, split_z
from dws.store.base import ObjectStore
from dws.store.fileio import TEMP_PREFIX
from dws.store.hashing import hash_file

ABSENT = "000000"
GITLINK = "160000"
SYMLINK = "120000"
EXECUTABLE = "100755"


class DirtyPath(Struct, frozen=True):
    """One path that differs from HEAD. ``staged``: the index differs from HEAD, and then
    ``index`` is the (mode, object id) staged there, None for a staged deletion."""

    path: str
    code: str  # git's two-letter XY status ('.' for unchanged), '??' for untracked
    staged: bool
    index: tuple[str, str] | None
    in_work: bool


class WorkState(Struct):
    """HEAD (None before the first commit), the branch (None when detached), dirty paths."""

    head: str | None
    branch: str | None
    dirty: dict[str, DirtyPath]
    leftovers: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def read_head(git: Git) -> tuple[str | None, str | None]:
    """(commit HEAD points to or None, branch name or None when detached)."""
    head = git.text("rev-parse", "--verify", "-q", "HEAD^{commit}", ok=(0, 1)) or None
    ref = git.text("symbolic-ref", "-q", "HEAD", ok=(0, 1))
    branch = ref.removeprefix("refs/heads/") if ref.startswith("refs/heads/") else None
    return head, branch


def read_work_state(git: Git, excludes: Excludes) -> WorkState:
    """The repository as it is now; refuses while a merge has unmerged paths."""
    head, branch = read_head(git)
    out = git.run(
        "status",
        "--porcelain=v2",
        "-z",
        "--untracked-files=all",
        "--no-renames",
        "--ignore-submodules=all",
        "--",
        *excludes.pathspecs(),
    )
    state = WorkState(head, branch, {})
    records = iter(split_z(out))
    for record in records:
        kind = record[:1]
        if kind in (b"1", b"2"):
            fields = record.split(b" ", 8 if kind == b"1" else 9)
            if kind == b"2":
                next(records, None)  # the original path of a rename (not asked for)
            _add_tracked(state, fields, excludes)
        elif kind == b"?":
            _add_untracked(state, decode_path(record[2:]), excludes)
        elif kind == b"u":
            raise RefusedError(
                f"the repository {git.worktree} has unmerged paths (a merge, rebase or "
                "cherry-pick is in progress); finish or abort it first"
            )
    return state


def _add_tracked(state: WorkState, fields: list[bytes], excludes: Excludes) -> None:
    code = fields[1].decode()
    mode_head, mode_index, mode_work = (f.decode() for f in fields[3:6])
    path = decode_path(fields[-1])
    if path in excludes or fields[2] != b"N..." or GITLINK in (mode_head, mode_index):
        return
    staged = code[0] != "."
    index = (mode_index, fields[7].decode()) if staged and mode_index != ABSENT else None
    state.dirty[path] = DirtyPath(path, code, staged, index, mode_work != ABSENT)


def _add_untracked(state: WorkState, path: str, excludes: Excludes) -> None:
    if path.endswith("/"):
        state.warnings.append(f"{path} is a repository inside the repository; not recorded")
    elif path.rsplit("/", 1)[-1].startswith(TEMP_PREFIX):
        state.leftovers.append(path)
    elif path in state.dirty:  # removed from the index but kept on disk ("D " and "??")
        known = state.dirty[path]
        state.dirty[path] = DirtyPath(path, known.code, known.staged, known.index, True)
    elif path not in excludes:
        state.dirty[path] = DirtyPath(path, "??", False, None, True)


def check_utf8(path: str, where: str) -> str:
    """Recorded paths must be valid UTF-8 (records are JSON, restored elsewhere)."""
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        shown = path.encode("utf-8", "surrogateescape")
        raise DwsError(
            f"file name {shown!r} in {where} is not valid UTF-8; rename it to snapshot the "
            "repository"
        ) from None
    return path


def work_entry(root: str, path: str, store: ObjectStore | None) -> TreeEntry | None:
    """The working file at ``path`` as a tree entry (content stored in ``store`` when
    given); None when there is no file, link or when it is something else (a directory)."""
    full = os.path.join(root, path)
    name = path.rsplit("/", 1)[-1]
    try:
        st = os.lstat(full)
        if stat.S_ISLNK(st.st_mode):
            target = os.readlink(full)
            text = check_utf8(target, f"the link {path}").encode("utf-8")
            return TreeEntry(name, "symlink", hash_bytes(text), len(text), target=target)
        if not stat.S_ISREG(st.st_mode):
            return None
        oid, size = store.put_file(full) if store is not None else hash_file(full)
    except FileNotFoundError:
        return None  # removed meanwhile: recorded as absent
    except PermissionError:
        raise DwsError(f"cannot read {full}: permission denied") from None
    return TreeEntry(name, "file", oid, size, exec=bool(st.st_mode & stat.S_IXUSR))


def blob_entry(name: str, mode: str, data: bytes) -> TreeEntry:
    """A tree entry for git blob ``data`` staged or committed with ``mode``."""
    if mode == SYMLINK:
        target = data.decode("utf-8", "surrogateescape")
        return TreeEntry(name, "symlink", hash_bytes(data), len(data), target=target)
    return TreeEntry(name, "file", hash_bytes(data), len(data), exec=mode == EXECUTABLE)
