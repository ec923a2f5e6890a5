"""gc --remote and push hold locks on the remote: gc never deletes the objects of a push in
flight. Each refuses (exit 3, one line naming the other's lock) while the other runs;
stale locks and those of processes gone from this machine are ignored; a lock is removed
when its command fails; gc and pushes started together, round after round, leave a
remote that passes fsck and clones byte for byte. gc also aborts unfinished multipart
uploads on S3."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from helpers import remote_files
from helpers.cli import assert_error
from helpers.common import DWS, manifest
from helpers.failure import dws_env, run_crashing, write_files

from .conftest import RemoteSpot, pushed_workspace
from .test_interrupted import POINTS

STALE = 2 * 3600.0  # well past the 30 minutes after which a lock is stale


def _locks(remote: RemoteSpot) -> list[str]:
    return remote_files.list_names(remote, "locks")


def _snapshots(remote: RemoteSpot) -> list[str]:
    return remote_files.list_names(remote, "snapshots")


def test_gc_refuses_while_a_push_holds_its_lock(
    remote: RemoteSpot, make_workspace: Callable[..., Path]
) -> None:
    ws = pushed_workspace(remote, make_workspace)
    held = remote_files.put_lock(remote, "push", age=60)
    refused = remote.run("gc", "--remote", "origin", cwd=ws)
    assert_error(refused, 3, max_lines=1, contains=f"push lock {held} of bob on build-07")
    assert f"`dws remote unlock origin {held}`" in refused.err
    assert _locks(remote) == [f"{held}.json"]  # gc took its own lock away again
    refused_dry = remote.run("gc", "--remote", "origin", "--dry-run", cwd=ws)
    assert_error(refused_dry, 3, max_lines=1, contains="push lock")

    kept = remote.json("remote", "unlock", "origin", cwd=ws)  # a live lock stays
    assert kept["removed"] == [] and held in kept["kept"][0]
    removed = remote.json("remote", "unlock", "origin", held, cwd=ws)
    assert len(removed["removed"]) == 1 and _locks(remote) == []
    done = remote.json("gc", "--remote", "origin", cwd=ws)
    assert done["removed"] == 0 and done["ignored_locks"] == []
    assert _locks(remote) == []


def test_push_refuses_while_gc_holds_its_lock(
    remote: RemoteSpot, make_workspace: Callable[..., Path]
) -> None:
    ws = pushed_workspace(remote, make_workspace)
    before = _snapshots(remote)
    held = remote_files.put_lock(remote, "gc", age=60)
    remote.ok("push", cwd=ws)  # nothing to send: no lock needed, nothing refused
    write_files(ws, {"data/raw/new.txt": "new\n"})
    remote.ok("snapshot", "v2", cwd=ws)
    refused = remote.run("push", cwd=ws)
    assert_error(refused, 3, max_lines=1, contains=f"gc lock {held} of bob on build-07")
    assert "run `dws push origin` again" in refused.err
    assert _snapshots(remote) == before and _locks(remote) == [f"{held}.json"]
    assert "v2" not in remote_files.list_names(remote, "tags")

    remote_files.delete(remote, f"locks/{held}.json")
    assert remote.json("push", cwd=ws)["tags"] == ["v2"]
    assert _locks(remote) == []
    remote.ok("fsck", "--remote", "origin", cwd=ws)


def test_stale_locks_are_ignored_and_named(
    remote: RemoteSpot, make_workspace: Callable[..., Path]
) -> None:
    ws = pushed_workspace(remote, make_workspace)
    stale_gc = remote_files.put_lock(remote, "gc", age=STALE)
    write_files(ws, {"data/raw/new.txt": "new\n"})
    remote.ok("snapshot", "v2", cwd=ws)
    pushed = remote.ok("push", cwd=ws)
    assert f"note: ignored the stale gc lock {stale_gc} of bob" in pushed.err

    stale_push = remote_files.put_lock(remote, "push", age=STALE)
    done = remote.json("gc", "--remote", "origin", cwd=ws)
    assert len(done["ignored_locks"]) == 2  # the stale gc lock too: gc excludes gc
    assert any(stale_push in line for line in done["ignored_locks"])
    assert sorted(_locks(remote)) == sorted([f"{stale_gc}.json", f"{stale_push}.json"])

    unlocked = remote.json("remote", "unlock", "origin", cwd=ws)
    assert len(unlocked["removed"]) == 2 and unlocked["kept"] == []
    assert _locks(remote) == []


def test_a_failed_push_or_gc_removes_its_lock(
    remote: RemoteSpot, make_workspace: Callable[..., Path]
) -> None:
    ws = pushed_workspace(remote, make_workspace)
    write_files(ws, {"data/raw/new.txt": "new\n", "data/raw/more.bin": bytes(200_000)})
    remote.ok("snapshot", "v2", cwd=ws)
    failed = run_crashing("dws.store.transfer:send_object:EIO:1", "push", cwd=ws, env=remote.env)
    assert failed.code not in (0, -9) and "Traceback" not in failed.err, failed.err
    assert _locks(remote) == []

    gc_failed = run_crashing(
        "dws.core.remote.maintenance:snapshot_refs:EIO:1",
        "gc",
        "--remote",
        "origin",
        cwd=ws,
        env=remote.env,
    )
    assert gc_failed.code not in (0, -9) and "Traceback" not in gc_failed.err, gc_failed.err
    assert _locks(remote) == []
    remote.ok("push", cwd=ws)
    remote.ok("fsck", "--remote", "origin", cwd=ws)


STALLING = """
import sys, time
import {module} as owner
setattr(owner, "{name}", lambda *args, **kwargs: time.sleep(3600))
from dws.cli.main import main
main(sys.argv[1:])
"""


@pytest.mark.parametrize(
    ("command", "stalled"),
    [
        (("push",), "dws.store.transfer:send_object"),
        (("gc", "--remote", "origin"), "dws.core.remote.maintenance:snapshot_refs"),
    ],
)
def test_ctrl_c_removes_the_lock(
    remote: RemoteSpot,
    make_workspace: Callable[..., Path],
    command: tuple[str, ...],
    stalled: str,
) -> None:
    ws = make_workspace()
    remote.ok("remote", "add", "origin", remote.url, cwd=ws)
    if command[0] == "gc":
        remote.ok("push", cwd=ws)
    module, name = stalled.split(":")
    script = STALLING.format(module=module, name=name)
    proc = subprocess.Popen(
        [sys.executable, "-c", script, *command],
        cwd=ws,
        env={**dws_env(), **remote.env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # as from a terminal: a test run started in the background inherits SIGINT
        # ignored, and Python then keeps ignoring it
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        deadline = time.monotonic() + 120
        while not _locks(remote):  # the lock is the marker: the command holds it now
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the command never took its lock"
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, err
    assert _locks(remote) == []


def test_the_lock_of_a_killed_push_is_ignored_on_its_machine(
    remote: RemoteSpot, make_workspace: Callable[..., Path]
) -> None:
    if not Path("/proc/self/ns/pid").exists():
        pytest.skip("no /proc: a lock's process cannot be judged on this system")
    ws = make_workspace()
    remote.ok("remote", "add", "origin", remote.url, cwd=ws)
    point = POINTS["objects"]
    assert isinstance(point, str)
    assert run_crashing(point, "push", cwd=ws, env=remote.env).code == -9
    (left,) = _locks(remote)
    assert left.startswith("push-")
    done = remote.json("gc", "--remote", "origin", cwd=ws)
    assert len(done["ignored_locks"]) == 1 and "gone push lock" in done["ignored_locks"][0]
    unlocked = remote.json("remote", "unlock", "origin", cwd=ws)
    assert len(unlocked["removed"]) == 1 and _locks(remote) == []
    missing = remote.run("remote", "unlock", "origin", "push-0000000000000000", cwd=ws)
    assert_error(missing, 2, max_lines=1, contains="no lock 'push-0000000000000000'")


def _start(remote: RemoteSpot, *args: str, cwd: Path) -> subprocess.Popen[str]:
    assert DWS
    return subprocess.Popen(
        [DWS, *args],
        cwd=cwd,
        env={**dws_env(), **remote.env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


ROUNDS = 4


def test_gc_racing_a_push_never_breaks_the_remote(
    remote: RemoteSpot, make_workspace: Callable[..., Path], tmp_path: Path
) -> None:
    """Round after round, a teammate's gc starts together with a push whose snapshot
    reuses objects that are garbage on the remote (those of a snapshot deleted there), so
    a gc that ignored the push would delete objects the new record needs."""
    pusher = pushed_workspace(remote, make_workspace)
    admin = tmp_path / "admin"
    remote.ok("clone", remote.url, str(admin), cwd=tmp_path)
    outcomes = []
    for round_ in range(ROUNDS):
        files: dict[str, str | bytes] = {
            f"data/raw/r{round_}/{i:02}.txt": f"round {round_} file {i}\n" for i in range(40)
        }
        files[f"data/raw/r{round_}/large.bin"] = bytes([round_]) * 150_000 + b"x" * round_
        write_files(pusher, files)
        remote.ok("snapshot", f"r{round_}", cwd=pusher)
        gc_args = ("gc", "--remote", "origin")
        if round_ % 2:
            gc = _start(remote, *gc_args, cwd=admin)
            push = _start(remote, "push", cwd=pusher)
        else:
            push = _start(remote, "push", cwd=pusher)
            gc = _start(remote, *gc_args, cwd=admin)
        push_out, push_err = push.communicate(timeout=300)
        gc_out, gc_err = gc.communicate(timeout=300)
        codes = (push.returncode, gc.returncode)
        outcomes.append(codes)
        assert push.returncode in (0, 3), (push_out, push_err)
        assert gc.returncode in (0, 3), (gc_out, gc_err)
        for code, err in ((push.returncode, push_err), (gc.returncode, gc_err)):
            if code == 3:
                assert " lock " in err and len(err.strip().splitlines()) == 1, err
        if push.returncode == 3:
            remote.ok("push", cwd=pusher)
        assert _locks(remote) == []

        checked = remote.json("fsck", "--remote", "origin", cwd=admin)
        assert checked["problems"] == [], (round_, codes, checked)
        clone = tmp_path / f"clone{round_}"
        remote.ok("clone", remote.url, str(clone), cwd=tmp_path)
        assert manifest(clone / "data/raw") == manifest(pusher / "data/raw"), (round_, codes)
        # the snapshot just pushed goes on the remote; its objects become garbage there,
        # which the next round's snapshot reuses
        remote.ok("delete-snapshot", f"r{round_}", "--remote", "origin", "--force", cwd=admin)
    assert len(outcomes) == ROUNDS


def test_gc_aborts_unfinished_multipart_uploads_below_the_remote(
    s3_remote: RemoteSpot, make_workspace: Callable[..., Path]
) -> None:
    ws = pushed_workspace(s3_remote, make_workspace)
    client = s3_remote.server.client()
    bucket, prefix = s3_remote.url[len("s3://") :].split("/", 1)
    key = f"{prefix}/objects/ab/{'c' * 62}"
    elsewhere = "someone-else/upload.bin"
    started = client.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    client.upload_part(Bucket=bucket, Key=key, UploadId=started, PartNumber=1, Body=b"x" * 1000)
    other = client.create_multipart_upload(Bucket=bucket, Key=elsewhere)["UploadId"]

    def uploads() -> dict[str, str]:
        answer = client.list_multipart_uploads(Bucket=bucket)
        return {u["Key"]: u["UploadId"] for u in answer.get("Uploads", [])}

    assert uploads() == {key: started, elsewhere: other}
    dry = s3_remote.json("gc", "--remote", "origin", "--dry-run", cwd=ws)
    assert dry["aborted_uploads"] == 1 and uploads() == {key: started, elsewhere: other}
    said = s3_remote.ok("gc", "--remote", "origin", cwd=ws)
    assert "aborted 1 unfinished upload(s)" in said.out
    assert uploads() == {elsewhere: other}
    again = json.loads(s3_remote.ok("gc", "--remote", "origin", "--json", cwd=ws).out)
    assert again["aborted_uploads"] == 0
    client.abort_multipart_upload(Bucket=bucket, Key=elsewhere, UploadId=other)


def test_a_directory_remote_has_no_uploads_to_abort(
    dir_remote: RemoteSpot, make_workspace: Callable[..., Path]
) -> None:
    ws = pushed_workspace(dir_remote, make_workspace)
    assert dir_remote.json("gc", "--remote", "origin", cwd=ws)["aborted_uploads"] == 0
