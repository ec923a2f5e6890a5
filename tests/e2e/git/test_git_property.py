"""Property: random edits (writes, deletions, symlinks, exec bits, staging, unstaging,
renames, commits) -> snapshot -> more random edits -> restore gives back exactly the
snapshot's `git status --porcelain=v1 -z`, HEAD commit and working-tree bytes; a restore
refuses only when unsaved work would be lost, and then changes nothing."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import dws
from dws.errors import RefusedError
from helpers.git import git, init_repo, porcelain, repo_state, rev, work_files

PATHS = ["a.txt", "dir/b.bin", "dir/sub/c é.txt", "日本/d", "a b.txt"]
OPERATIONS = ["write", "write", "delete", "stage", "unstage", "rm-cached", "mv", "link", "commit"]

edits = st.lists(
    st.tuples(
        st.sampled_from(OPERATIONS),
        st.sampled_from(PATHS),
        st.sampled_from(PATHS),
        st.one_of(st.binary(max_size=24), st.just(bytes(range(256)))),
        st.booleans(),
    ),
    max_size=8,
)


def apply_edit(repo: Path, edit: tuple[str, str, str, bytes, bool]) -> None:
    operation, path, other, data, flag = edit
    target = repo / path
    if operation == "write":
        if target.is_symlink():
            target.unlink()
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        target.chmod(0o755 if flag else 0o644)
    elif operation == "delete" and os.path.lexists(target):
        target.unlink()
    elif operation == "link":
        if os.path.lexists(target):
            target.unlink()
        target.parent.mkdir(parents=True, exist_ok=True)
        os.symlink("a.txt" if flag else "missing target", target)
    elif operation == "stage":
        git(repo, "add", "-A", "--", path, check=False)
    elif operation == "unstage":
        git(repo, "reset", "-q", "--", path, check=False)
    elif operation == "rm-cached":
        git(repo, "rm", "-q", "--cached", "--", path, check=False)
    elif operation == "mv" and path != other and not os.path.lexists(repo / other):
        (repo / other).parent.mkdir(parents=True, exist_ok=True)
        git(repo, "mv", "--", path, other, check=False)
    elif operation == "commit":
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "--allow-empty", "-m", "edit")


def observed(repo: Path) -> tuple[bytes, str, dict[str, object]]:
    return porcelain(repo), rev(repo, "HEAD"), work_files(repo)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(before=edits, after=edits, second_snapshot=st.booleans())
def test_restore_gives_back_the_snapshot_exactly(
    before: list[tuple[str, str, str, bytes, bool]],
    after: list[tuple[str, str, str, bytes, bool]],
    second_snapshot: bool,
) -> None:
    # git's identity and isolated configuration come from the autouse fixture
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "ws"
        repo = init_repo(root / "code", {"a.txt": "alpha\n", "dir/b.bin": b"\x00\x01"})
        ws = dws.Workspace.init(str(root))
        ws.add_resource("git", str(repo), "code", name="code")
        for edit in before:
            apply_edit(repo, edit)
        ws.snapshot("s")
        expected = observed(repo)
        for edit in after:
            apply_edit(repo, edit)
        if second_snapshot:
            ws.snapshot("t")
        later = observed(repo)
        untouched = repo_state(repo)

        try:
            ws.restore("s")
        except RefusedError:
            # only unsaved work refuses, and a refusal changes nothing
            assert not second_snapshot and after
            assert repo_state(repo) == untouched
            ws.restore("s", force=True)

        assert observed(repo) == expected
        assert ws.status()[0].changes == []
        if second_snapshot:
            ws.restore("t")  # everything was saved: never refused
            assert observed(repo) == later
