"""A push with nothing new costs a few requests, however many objects the remote holds."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import dws
import dws.store.s3_store as s3_store
from helpers.failure import write_files

from .conftest import RemoteSpot


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch, s3_remote: RemoteSpot) -> list[str]:
    """Every S3 request the dws process makes, by operation name."""
    for name, value in s3_remote.env.items():
        monkeypatch.setenv(name, value)
    calls: list[str] = []
    original = s3_store.make_client

    def counting(*args: Any, **kwargs: Any) -> Any:
        client = original(*args, **kwargs)

        def record(**event: Any) -> None:
            calls.append(event["model"].name)

        client.meta.events.register("before-call.s3.*", record)
        return client

    monkeypatch.setattr(s3_store, "make_client", counting)
    return calls


def test_noop_push_makes_a_few_requests(
    s3_remote: RemoteSpot, counted: list[str], make_workspace: Callable[..., Path]
) -> None:
    files = {f"data/raw/many/{i:03}.txt": f"file {i}\n" for i in range(300)}
    root = make_workspace(files=files)
    ws = dws.Workspace.open(str(root))
    ws.add_remote("origin", s3_remote.url)
    first = ws.push()
    assert first.objects > 300 and len(counted) < 40  # small objects travel in a pack

    counted.clear()
    again = ws.push()
    assert again.snapshots == [] and again.objects == 0
    assert len(counted) <= 4, counted

    write_files(root, {"data/raw/many/new.txt": "new\n"})
    ws.snapshot("v2")
    counted.clear()
    small = ws.push()
    assert small.objects == 3  # the new blob, the tree of many/, the root tree
    puts = [name for name in counted if name == "PutObject"]
    assert len(puts) < 12, counted
    # the push lock (core.remote.locks): written, locks/ listed, checked, removed; the
    # snapshots listed again under it, and deleted/ listed: about 8 of the requests; the
    # remote's workspace.json read again before anything is sent (identity, format)
    assert counted.count("DeleteObject") == 1, counted
    assert "ListObjectsV2" in counted and len(counted) <= 30, counted
