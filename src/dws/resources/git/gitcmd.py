"""Running the ``git`` executable: argument lists (never a shell), NUL-separated output,
and one clear error when git fails."""

from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import Iterable, Iterator
from typing import IO

from dws.errors import DwsError

# Variables that would point git at another repository, index or object directory than the
# one dws names with -C (set, for example, when dws runs inside a git hook).
_REPOSITORY_VARIABLES = (
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_COMMON_DIR",
    "GIT_NAMESPACE",
    "GIT_PREFIX",
)


class GitError(DwsError):
    """A git command failed."""


def _environment(index_file: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _REPOSITORY_VARIABLES}
    env["GIT_TERMINAL_PROMPT"] = "0"  # fail instead of waiting for a password nobody types
    env["GIT_OPTIONAL_LOCKS"] = "0"  # `git status` must not rewrite the user's index
    if index_file is not None:
        env["GIT_INDEX_FILE"] = index_file
    return env


def _reason(stderr: bytes) -> str:
    lines = [line.strip() for line in stderr.decode("utf-8", "replace").splitlines()]
    lines = [line for line in lines if line and not line.startswith("hint:")]
    fatal = [line for line in lines if line.startswith(("fatal:", "error:"))]
    return (fatal or lines or ["no message"])[-1]


def split_z(data: bytes) -> list[bytes]:
    """Records of NUL-terminated (``-z``) output."""
    parts = data.split(b"\0")
    if parts and parts[-1] == b"":
        parts.pop()
    return parts


def decode_path(raw: bytes) -> str:
    """A path as git prints it with -z (bytes) to str; undecodable bytes survive as
    surrogates so the path can be given back to git unchanged."""
    return os.fsdecode(raw)


class Git:
    """git commands run in one work tree (``git -C worktree``)."""

    def __init__(self, worktree: str, *, index_file: str | None = None) -> None:
        self.worktree = worktree
        self.index_file = index_file

    def with_index(self, index_file: str) -> Git:
        """The same repository, with a private index file instead of the user's."""
        return Git(self.worktree, index_file=index_file)

    def _argv(self, args: Iterable[str]) -> list[str]:
        return ["git", "-C", self.worktree, "-c", "core.quotePath=false", *args]

    def run(self, *args: str, input: bytes | None = None, ok: tuple[int, ...] = (0,)) -> bytes:
        """Run ``git ARGS`` and return its stdout; GitError unless the exit code is in ``ok``."""
        return self.run_code(*args, input=input, ok=ok)[1]

    def run_code(
        self, *args: str, input: bytes | None = None, ok: tuple[int, ...] = (0,)
    ) -> tuple[int, bytes]:
        """Run ``git ARGS``; return (exit code, stdout)."""
        try:
            proc = subprocess.run(
                self._argv(args),
                input=input,
                stdin=subprocess.DEVNULL if input is None else None,
                capture_output=True,
                env=_environment(self.index_file),
                check=False,
            )
        except FileNotFoundError:
            raise DwsError("the git executable was not found (install git)") from None
        if proc.returncode not in ok:
            raise GitError(
                f"git {args[0]} failed in {self.worktree}: {_reason(proc.stderr)}",
            )
        return proc.returncode, proc.stdout

    def succeeds(self, *args: str) -> bool:
        """True when ``git ARGS`` exits 0 (any other code is a plain no)."""
        try:
            code, _ = self.run_code(*args, ok=tuple(range(256)))
        except GitError:
            return False
        return code == 0

    def text(self, *args: str, input: bytes | None = None, ok: tuple[int, ...] = (0,)) -> str:
        """Stripped text output of ``git ARGS``."""
        return self.run(*args, input=input, ok=ok).decode("utf-8", "surrogateescape").strip()

    def has_commit(self, commit: str) -> bool:
        """True when ``commit`` is a commit in the local object database."""
        return self.succeeds("cat-file", "-e", f"{commit}^{{commit}}")

    def read_blobs(self, ids: Iterable[str]) -> Iterator[tuple[str, bytes | None]]:
        """(id, content) of git objects through one `git cat-file --batch`; None if missing."""
        wanted = list(dict.fromkeys(ids))
        if not wanted:
            return
        try:
            proc = subprocess.Popen(
                self._argv(["cat-file", "--batch"]),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                env=_environment(self.index_file),
            )
        except FileNotFoundError:
            raise DwsError("the git executable was not found (install git)") from None
        assert proc.stdin is not None and proc.stdout is not None
        feeder = threading.Thread(target=_feed, args=(proc.stdin, wanted), daemon=True)
        feeder.start()
        try:
            for oid in wanted:
                yield oid, self._next_object(proc.stdout)
        finally:
            proc.stdout.close()
            if proc.poll() is None:
                proc.kill()  # stopped early (or failed): nobody reads the rest
            proc.wait()
            feeder.join()

    def _next_object(self, stream: IO[bytes]) -> bytes | None:
        header = stream.readline().split()
        if len(header) == 2 and header[1] == b"missing":
            return None
        if len(header) != 3:
            raise GitError(f"git cat-file failed in {self.worktree}: unexpected output")
        size = int(header[2])
        data = stream.read(size)
        if len(data) != size:
            raise GitError(f"git cat-file failed in {self.worktree}: output ended early")
        stream.read(1)  # the newline after the content
        return data


def _feed(pipe: IO[bytes], ids: list[str]) -> None:
    try:
        for oid in ids:
            pipe.write(oid.encode("ascii") + b"\n")
        pipe.close()
    except OSError:
        pass  # git exited early; the reader reports it
