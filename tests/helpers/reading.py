"""The `dws://` tests' data: a workspace holding a CSV file and a parquet dataset (a
directory of parts) at two versions, built with the `dws` command, and what each version
holds; a remote those versions were pushed to."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from helpers.common import run_dws, write_files

CSV = "data/raw/train.csv"
FEATURES = "data/features"


@dataclass
class Versions:
    """A workspace with v1 and v2 snapshotted, and what each version holds."""

    root: Path
    csv: dict[str, bytes] = field(default_factory=dict)  # tag -> the CSV file's bytes
    parts: dict[str, dict[str, bytes]] = field(default_factory=dict)  # tag -> part -> bytes

    def features(self, tag: str) -> pd.DataFrame:
        """The parquet dataset of ``tag`` read from the bytes written, parts in order."""
        frames = [pd.read_parquet(io.BytesIO(self.parts[tag][n])) for n in sorted(self.parts[tag])]
        return pd.concat(frames, ignore_index=True)


@dataclass
class Pushed:
    """A remote holding the versions, and what a reader without a workspace passes."""

    kind: str
    url: str
    env: dict[str, str]  # what a process needs to reach it (credentials)
    endpoint_url: str | None = None

    @property
    def options(self) -> dict[str, Any]:
        """The dws:// storage options that name this remote."""
        options: dict[str, Any] = {"remote": self.url}
        if self.endpoint_url is not None:
            options["endpoint_url"] = self.endpoint_url
        return options


def ok(*args: str, cwd: Path, env: dict[str, str] | None = None) -> None:
    """`dws ARGS`, which must succeed."""
    result = run_dws(*args, cwd=cwd, env=env)
    assert result.code == 0, (args, result.out, result.err)


def frame(start: int, count: int, scale: int) -> pd.DataFrame:
    """A small table: x counts up from ``start``, y is ``scale`` times x."""
    xs = list(range(start, start + count))
    return pd.DataFrame({"x": xs, "y": [scale * x for x in xs], "name": [f"n{x}" for x in xs]})


def parquet_bytes(table: pd.DataFrame) -> bytes:
    """``table`` as a parquet file."""
    buffer = io.BytesIO()
    table.to_parquet(buffer, index=False)
    return buffer.getvalue()


def build_versions(root: Path) -> Versions:
    """A workspace at ``root`` with the CSV file and the dataset at v1, then v2 (the CSV
    rewritten, one part changed and one added), both snapshotted with the `dws` command."""
    root.mkdir()
    versions = Versions(root)
    v1 = {
        "part-0.parquet": parquet_bytes(frame(0, 100, 2)),
        "part-1.parquet": parquet_bytes(frame(100, 100, 2)),
    }
    v2 = {**v1, "part-1.parquet": parquet_bytes(frame(100, 100, 3))}
    v2["part-2.parquet"] = parquet_bytes(frame(200, 50, 5))
    for tag, parts, csv in (
        ("v1", v1, frame(0, 40, 7).to_csv(index=False).encode()),
        ("v2", v2, frame(1000, 60, 11).to_csv(index=False).encode()),
    ):
        for old in (root / FEATURES).glob("*.parquet"):
            old.unlink()
        write_files(root, {CSV: csv, **{f"{FEATURES}/{n}": data for n, data in parts.items()}})
        if tag == "v1":
            ok("init", cwd=root)
            ok("add", "local-files", "data/raw", "--role", "source-data", cwd=root)
            ok("add", "local-files", FEATURES, "--role", "intermediate-data", cwd=root)
        ok("snapshot", tag, "-m", tag, cwd=root)
        versions.csv[tag] = csv
        versions.parts[tag] = parts
    return versions
