"""Sharing restore writes out over forked processes: shares, results, errors, deaths."""

from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
from blake3 import blake3
from hypothesis import given
from hypothesis import strategies as st

from dws.errors import DwsError, IntegrityError, RefusedError
from dws.resources.local_files import applying, workers
from dws.resources.local_files.workers import PartResult, run_shares, split
from dws.store.base import CorruptObjectError


def _pid_result(share: list[int]) -> PartResult:
    return PartResult(signatures=[(os.getpid(), item, 0, 0) for item in share])


@given(
    st.lists(st.tuples(st.sampled_from("abcdefgh"), st.integers(1, 50)), max_size=60),
    st.integers(1, 5),
)
def test_split_keeps_directories_whole_and_order_within_a_share(
    items: list[tuple[str, int]], parts: int
) -> None:
    numbered = list(enumerate(items))
    shares = split(numbered, lambda it: it[1][0], lambda it: it[1][1], parts)
    assert sorted(x for share in shares for x in share) == numbered
    assert len(shares) <= parts and all(shares)
    fair = -(-sum(w for _, w in items) // parts)
    heavy = {d for d in "abcdefgh" if sum(w for name, w in items if name == d) > fair}
    owners: dict[str, int] = {}
    for index, share in enumerate(shares):
        assert share == sorted(share)  # original order
        for _, (directory, _) in share:
            if directory not in heavy:
                assert owners.setdefault(directory, index) == index


def test_split_cuts_one_directory_heavier_than_a_fair_share() -> None:
    items = [("flat", 1)] * 1000 + [("small", 1)] * 10
    shares = split(list(enumerate(items)), lambda it: it[1][0], lambda it: it[1][1], 4)
    assert len(shares) == 4
    sizes = [len(share) for share in shares]
    assert sum(sizes) == 1010 and max(sizes) <= 253  # a fair share: ceil(1010 / 4)
    for share in shares:  # each run is consecutive items of the directory
        flat = [index for index, (name, _) in share if name == "flat"]
        assert flat == list(range(flat[0], flat[0] + len(flat)))


def test_split_balances_weight() -> None:
    items = [(f"d{i}", 1) for i in range(100)] + [("big", 100)]
    shares = split(items, lambda it: it[0], lambda it: it[1], 2)
    weights = sorted(sum(w for _, w in share) for share in shares)
    assert weights == [100, 100]


def test_a_result_crosses_a_pipe_without_its_exception() -> None:
    result = PartResult([(1, 2, 3, 4), None], 3, (2, "gone", ["a"]), True, RefusedError("x"))
    back = pickle.loads(pickle.dumps(result))
    assert back == PartResult([(1, 2, 3, 4), None], 3, (2, "gone", ["a"]), True, None)
    assert result.exception is not None  # the process that raised it keeps it


def test_shares_run_in_child_processes_and_come_back_in_order() -> None:
    shares = [[1, 2], [3], [4, 5, 6]]
    results = run_shares(shares, _pid_result)
    assert [[sig[1] for sig in r.signatures] for r in results] == shares
    pids = [r.signatures[0][0] for r in results]
    assert pids[0] == os.getpid()
    assert len(set(pids)) == 3


def test_an_error_in_a_child_comes_back_as_its_class() -> None:
    def run(share: list[int]) -> PartResult:
        result = PartResult(signatures=[(item, 0, 0, 0) for item in share[:1]])
        if share[0] == 3:
            result.error = (RefusedError.exit_code, "refused in a child", ["detail"])
        return result

    results = run_shares([[1], [3, 4]], run)
    assert results[1].signatures == [(3, 0, 0, 0)]  # what it finished before the error
    with pytest.raises(RefusedError, match="refused in a child") as caught:
        workers.raise_first_error(results)
    assert caught.value.details == ["detail"]


def test_a_dws_error_raised_in_a_child_is_reported() -> None:
    def run(share: list[int]) -> PartResult:
        if share[0] == 2:
            raise IntegrityError("corrupt in a child")
        return PartResult()

    with pytest.raises(IntegrityError, match="corrupt in a child"):
        workers.raise_first_error(run_shares([[1], [2]], run))


@pytest.mark.parametrize("how", ["exit", "signal", "exception"])
def test_a_child_that_dies_is_reported(how: str) -> None:
    def run(share: list[int]) -> PartResult:
        if share[0] == 2:
            if how == "exit":
                os._exit(7)
            if how == "signal":
                os.kill(os.getpid(), signal.SIGKILL)
            raise RuntimeError("a bug")
        return PartResult()

    results = run_shares([[1], [2]], run)
    with pytest.raises(DwsError, match="worker process died"):
        workers.raise_first_error(results)


def test_when_the_parent_fails_its_children_are_killed_and_reaped(tmp_path: Path) -> None:
    def run(share: list[int]) -> PartResult:
        if share[0] == 1:
            while len(list(tmp_path.iterdir())) < 2:
                time.sleep(0.01)
            raise KeyboardInterrupt
        (tmp_path / str(os.getpid())).touch()
        time.sleep(60)
        return PartResult()

    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        run_shares([[1], [2], [3]], run)
    assert time.monotonic() - started < 30
    for child in tmp_path.iterdir():
        with pytest.raises(ProcessLookupError):  # gone, not even a zombie
            os.kill(int(child.name), 0)


def test_children_die_with_a_killed_parent(tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    script = textwrap.dedent(
        f"""
        import os, signal, time
        from dws.resources.local_files.workers import PartResult, run_shares

        def run(share):
            if share[0] == 2:
                with open({str(pid_file)!r}, "w") as f:
                    f.write(str(os.getpid()))
                time.sleep(60)
            else:
                while not os.path.exists({str(pid_file)!r}):
                    time.sleep(0.01)
                time.sleep(0.2)
                os.kill(os.getpid(), signal.SIGKILL)
            return PartResult()

        run_shares([[1], [2]], run)
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], timeout=60, check=False)
    assert proc.returncode == -signal.SIGKILL
    child = int(pid_file.read_text())
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    os.kill(child, signal.SIGKILL)
    pytest.fail("the worker outlived its killed parent")


@pytest.mark.parametrize(
    ("value", "expected"), [("5", 5), ("0", sys.maxsize), ("junk", workers.DEFAULT_FORK_FROM)]
)
def test_fork_threshold_from_the_environment(
    value: str, expected: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DWS_RESTORE_FORK_FROM", value)
    assert workers.fork_from() == expected


def test_a_forked_restore_reports_progress_from_the_parent_only(
    workspace: Any, project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    raw = project / "data/raw"
    for i in range(60):
        (raw / f"d{i % 6}").mkdir(exist_ok=True)
        (raw / f"d{i % 6}" / f"f{i}").write_text(str(i) * (i + 1))
    workspace.snapshot("v1")
    for child in raw.iterdir():
        for file in child.iterdir():
            file.unlink()
    monkeypatch.setenv("DWS_RESTORE_FORK_FROM", "1")
    monkeypatch.setenv("DWS_RESTORE_WORKERS", "3")
    monkeypatch.setattr(workers, "can_fork", lambda: True)
    monkeypatch.setattr(applying, "PROGRESS_EVERY", 1)
    reporters = tmp_path / "reporters"

    def progress(phase: str, done: int, total: int | None) -> None:
        with open(reporters, "a") as handle:
            handle.write(f"{os.getpid()}\n")

    workspace.set_progress(progress)
    workspace.restore("v1")

    assert set(reporters.read_text().split()) == {str(os.getpid())}
    assert sorted(p.name for p in raw.rglob("f*")) == sorted(f"f{i}" for i in range(60))


def test_a_share_no_process_could_be_forked_for_runs_here(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real_fork = os.fork
    forks = [0]

    def fork_once() -> int:
        forks[0] += 1
        if forks[0] > 1:
            raise BlockingIOError(11, "Resource temporarily unavailable")
        return real_fork()

    monkeypatch.setattr(os, "fork", fork_once)
    results = run_shares([[1], [2], [3]], _pid_result)
    assert [r.signatures[0][1] for r in results] == [1, 2, 3]
    pids = [r.signatures[0][0] for r in results]
    assert pids[0] == pids[2] == os.getpid() != pids[1]


def test_an_error_on_one_process_keeps_its_class(workspace: Any, project: Path) -> None:
    """Without forking, the store's own error reaches the caller (not a rebuilt one)."""
    data = os.urandom((5 << 20) + 1)
    (project / "data/raw/big.bin").write_bytes(data)
    workspace.snapshot("v1")
    (project / "data/raw/big.bin").unlink()
    oid = blake3(data).hexdigest()
    stored = project / ".dataworkspace" / "objects" / oid[:2] / oid[2:]
    os.chmod(stored, 0o644)
    with open(stored, "r+b") as handle:
        handle.write(b"rot")
    with pytest.raises(CorruptObjectError) as caught:
        workspace.restore("v1")
    assert caught.value.oid == oid
