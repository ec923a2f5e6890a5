"""Property: a large compressible file (kept as chunks) edited at random, one snapshot after
each edit (inserts, deletions, overwrites, appends, runs of zeros, holes at the end), and
then every snapshot restored in a random order gives back exactly its bytes."""

from __future__ import annotations

import os
import random
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import dws
from helpers.chunks import MiB, csv_bytes

# Syncs dominate on a real disk; tmpfs keeps the budget for examples (it has holes too).
TMP_BASE = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None

OPS = ["insert", "delete", "overwrite", "append", "zeros", "extend"]
edits = st.lists(
    st.tuples(
        st.sampled_from(OPS),
        st.integers(0, 2**32),  # where (taken modulo the size)
        st.integers(1, 3 * MiB // 2),  # how much
        st.integers(0, 2**32),  # seed of the new bytes
    ),
    min_size=1,
    max_size=4,
)


def apply(path: Path, model: bytearray, edit: tuple[str, int, int, int]) -> None:
    """Change the file and its model the same way (in place where the edit allows)."""
    op, where, length, seed = edit
    offset = where % (len(model) + 1)
    new = csv_bytes(random.Random(seed), length)
    event(f"edit {op}")
    if op == "insert":
        model[offset:offset] = new
        path.write_bytes(model)
    elif op == "delete":
        del model[offset : offset + length]
        path.write_bytes(model)
    elif op in ("overwrite", "zeros"):
        data = new if op == "overwrite" else bytes(length)
        with open(path, "r+b") as handle:
            handle.seek(offset)
            handle.write(data)
        model[offset : offset + length] = data
    elif op == "append":
        with open(path, "ab") as handle:
            handle.write(new)
        model += new
    else:  # extend: a hole at the end
        os.truncate(path, len(model) + length)
        model += bytes(length)


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    seed=st.integers(0, 2**32),
    size=st.integers(5 * MiB, 12 * MiB),
    changes=edits,
    data=st.data(),
)
def test_every_version_of_an_edited_large_file_restores_exactly(
    seed: int, size: int, changes: list[tuple[str, int, int, int]], data: st.DataObject
) -> None:
    with tempfile.TemporaryDirectory(dir=TMP_BASE) as tmp:
        project = Path(tmp) / "project"
        (project / "data").mkdir(parents=True)
        path = project / "data" / "table.csv"
        model = bytearray(csv_bytes(random.Random(seed), size))
        path.write_bytes(model)
        ws = dws.Workspace.init(str(project))
        ws.add_resource("local-files", str(project / "data"), "source-data", name="data")

        versions = {"s0": bytes(model)}
        ws.snapshot("s0")
        for number, edit in enumerate(changes, 1):
            apply(path, model, edit)
            assert path.read_bytes() == model
            versions[f"s{number}"] = bytes(model)
            ws.snapshot(f"s{number}")

        lists = project / ".dataworkspace" / "objects" / "lists"
        assert [p for p in lists.rglob("*") if p.is_file()], "nothing was kept as chunks"
        order = data.draw(st.permutations(sorted(versions)), label="restore order")
        for tag in order:
            ws.restore(tag)
            assert path.read_bytes() == versions[tag], tag
        assert ws.fsck().problems == []
