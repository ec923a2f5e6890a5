"""What an error about missing or corrupt objects tells the user to run is what fixes it:
`dws pull --snapshot` for a snapshot pulled without its data, `dws fsck --remote NAME` for
damage on a remote, `dws fsck` for this workspace's own store."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from dws.store.packed import PackedObjectStore
from helpers.cli import assert_error
from helpers.failure import manifest, write_files

from .conftest import RemoteSpot


def test_restore_of_a_snapshot_pulled_without_its_data_names_the_pull(
    remote: RemoteSpot, make_workspace: Callable[..., Path], tmp_path: Path
) -> None:
    source = make_workspace()
    v1_raw = manifest(source / "data/raw")
    write_files(source, {"data/raw/a.csv": "x,y\n3,4\n", "data/raw/only-v2.txt": "v2\n"})
    remote.ok("snapshot", "v2", cwd=source)
    remote.ok("remote", "add", "origin", remote.url, cwd=source)
    remote.ok("push", cwd=source)
    copy = tmp_path / "copy"
    remote.ok("clone", remote.url, str(copy), cwd=tmp_path)  # v2's data only
    v1 = remote.json("show", "v1", cwd=copy)["id"]

    refused = remote.run("restore", "v1", cwd=copy)
    assert_error(
        refused,
        1,  # not damage: the data were not fetched
        max_lines=3,
        contains=f"`dws pull --snapshot {v1[:12]}`",
    )
    assert "fsck" not in refused.err
    remote.ok("pull", "--snapshot", v1[:12], cwd=copy)  # the command named does fix it
    remote.ok("restore", "v1", cwd=copy)
    assert manifest(copy / "data/raw") == v1_raw


def test_restore_with_an_object_lost_locally_names_fsck(
    dir_remote: RemoteSpot, make_workspace: Callable[..., Path]
) -> None:
    """A snapshot taken here whose object went missing: no pull brings it, fsck tells."""
    ws = make_workspace()
    write_files(ws, {"data/raw/big.bin": b"other content\n"})
    dir_remote.ok("snapshot", "v2", cwd=ws)
    store = PackedObjectStore(str(ws / ".dataworkspace/objects"))
    big = next(iter(store.loose.iter_ids()))  # v1's 300 kB file, the one stored loose
    path = Path(store.loose.path(big))
    path.chmod(0o644)
    path.unlink()
    refused = dir_remote.run("restore", "v1", cwd=ws)
    assert_error(refused, 4, max_lines=3, contains="(run `dws fsck`)")
    assert "pull" not in refused.err


def _lose_remote_object(remote_root: str) -> str:
    """Remove the one loose object (the 300 kB file) of a directory remote; its id."""
    store = PackedObjectStore(os.path.join(remote_root, "objects"))
    big = next(iter(store.loose.iter_ids()))
    path = Path(store.loose.path(big))
    path.chmod(0o644)
    path.unlink()
    return big


def test_object_missing_on_the_remote_names_fsck_remote(
    dir_remote: RemoteSpot, make_workspace: Callable[..., Path], tmp_path: Path
) -> None:
    source = make_workspace()
    dir_remote.ok("remote", "add", "origin", dir_remote.url, cwd=source)
    dir_remote.ok("push", cwd=source)
    lost = _lose_remote_object(dir_remote.url)

    copy = tmp_path / "copy"
    refused = dir_remote.run("clone", dir_remote.url, str(copy), cwd=tmp_path)
    assert_error(refused, 4, max_lines=1, contains="`dws fsck --remote origin`")
    assert lost[:12] in refused.err and dir_remote.url in refused.err
    assert not copy.exists()

    checked = dir_remote.run("fsck", "--remote", "origin", cwd=source)
    assert checked.code == 4 and lost[:12] in checked.out + checked.err
    assert "run `dws fsck`" not in checked.out + checked.err
