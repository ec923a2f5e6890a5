"""`dws://SNAPSHOT/PATH` read from a workspace by pandas, pyarrow and polars: each version
gives back what was written at it; the filesystem lists, refuses to write, and says what is
missing."""

from __future__ import annotations

import io
import os
import pickle
import subprocess
import sys
import tomllib
from pathlib import Path

import fsspec
import pandas as pd
import polars as pl
import pyarrow.parquet as pq
import pytest

from dws.filesystem import DwsFileSystem
from helpers.reading import CSV, FEATURES, Versions, frame, ok

ROOT = Path(__file__).resolve().parents[3]


def _fs(versions: Versions) -> DwsFileSystem:
    fs = fsspec.filesystem("dws", workspace=str(versions.root))
    assert isinstance(fs, DwsFileSystem)
    return fs


@pytest.mark.parametrize("tag", ["v1", "v2"])
def test_pandas_reads_each_version(versions: Versions, tag: str) -> None:
    options = {"workspace": str(versions.root)}
    got = pd.read_csv(f"dws://{tag}/{CSV}", storage_options=options)
    pd.testing.assert_frame_equal(got, pd.read_csv(io.BytesIO(versions.csv[tag])))
    dataset = pd.read_parquet(f"dws://{tag}/{FEATURES}/", storage_options=options)
    pd.testing.assert_frame_equal(dataset, versions.features(tag))


def test_the_workspace_around_the_current_directory_is_the_default(
    versions: Versions, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(versions.root / "data")
    with fsspec.open(f"dws://HEAD/{CSV}", "rb") as handle:
        assert handle.read() == versions.csv["v2"]
    with fsspec.open(f"dws://v1/{CSV}", "rt") as text:
        assert text.read() == versions.csv["v1"].decode()


def test_pyarrow_reads_one_column_and_datasets(versions: Versions) -> None:
    fs = _fs(versions)
    # with filesystem=, pyarrow takes paths without the dws:// (as for any fsspec filesystem)
    table = pq.read_table(f"HEAD/{FEATURES}", columns=["y"], filesystem=fs)
    assert table.column_names == ["y"]
    assert table.column("y").to_pylist() == versions.features("v2")["y"].tolist()
    dataset = pq.ParquetDataset(f"v1/{FEATURES}", filesystem=fs)
    assert sorted(os.path.basename(f) for f in dataset.files) == sorted(versions.parts["v1"])
    assert dataset.read().to_pandas().equals(versions.features("v1"))


def test_polars_reads_through_fsspec(versions: Versions) -> None:
    options = {"workspace": str(versions.root)}
    part = f"dws://v2/{FEATURES}/part-1.parquet"
    expected = pl.from_pandas(pd.read_parquet(io.BytesIO(versions.parts["v2"]["part-1.parquet"])))
    # polars' own readers take local paths and cloud URLs only: dws:// goes through pyarrow
    # (use_pyarrow=True + storage_options) or through a file object fsspec opens
    got = pl.read_parquet(part, use_pyarrow=True, storage_options=options)
    assert got.equals(expected)
    with fsspec.open(part, "rb", **options) as handle:
        assert pl.read_parquet(handle).equals(expected)
    with fsspec.open(f"dws://v1/{CSV}", "rb", **options) as handle:
        assert pl.read_csv(handle).to_pandas().equals(pd.read_csv(io.BytesIO(versions.csv["v1"])))


def test_listing_and_info(versions: Versions) -> None:
    fs = _fs(versions)
    assert fs.ls("dws://v2/data", detail=False) == ["v2/data/features", "v2/data/raw"]
    listed = fs.ls(f"v2/{FEATURES}")
    assert [item["name"] for item in listed] == [
        f"v2/{FEATURES}/{n}" for n in sorted(versions.parts["v2"])
    ]
    assert [item["size"] for item in listed] == [
        len(versions.parts["v2"][n]) for n in sorted(versions.parts["v2"])
    ]
    assert {item["type"] for item in listed} == {"file"}
    info = fs.info(f"dws://v1/{CSV}")
    assert (info["name"], info["size"], info["type"]) == (
        f"v1/{CSV}",
        len(versions.csv["v1"]),
        "file",
    )
    assert fs.info("v1/data/raw")["type"] == "directory"
    assert fs.info("v1")["type"] == "directory"
    assert fs.ls(f"v1/{CSV}") == [info]  # a file lists itself
    assert sorted(fs.find("v1/data")) == sorted(
        [f"v1/{CSV}", *(f"v1/{FEATURES}/{n}" for n in versions.parts["v1"])]
    )
    assert fs.glob(f"dws://v2/{FEATURES}/*.parquet") == [
        f"v2/{FEATURES}/{n}" for n in sorted(versions.parts["v2"])
    ]
    # a part that did not change has the same content id in both versions
    same, changed = (f"{FEATURES}/part-0.parquet", f"{FEATURES}/part-1.parquet")
    assert fs.ukey(f"v1/{same}") == fs.ukey(f"v2/{same}")
    assert fs.ukey(f"v1/{changed}") != fs.ukey(f"v2/{changed}")
    assert fs.isdir("v1/data") and fs.isfile(f"v1/{CSV}") and not fs.exists("v1/data/nope")


def test_byte_ranges(versions: Versions) -> None:
    fs = _fs(versions)
    data = versions.csv["v1"]
    path = f"dws://v1/{CSV}"
    for start, end in [(None, None), (3, 17), (5, None), (-10, None), (2, -2), (0, 10**6)]:
        assert fs.cat_file(path, start, end) == data[start:end], (start, end)
    with fs.open(path) as handle:
        handle.seek(-5, os.SEEK_END)
        assert handle.read() == data[-5:]
    assert fs.cat(f"dws://v2/{CSV}") == versions.csv["v2"]


def test_head_follows_a_new_snapshot(tmp_path: Path) -> None:
    from helpers.reading import build_versions

    own = build_versions(tmp_path / "ws")
    fs = _fs(own)
    assert fs.cat(f"HEAD/{CSV}") == own.csv["v2"]
    newer = frame(5, 5, 1).to_csv(index=False).encode()
    (own.root / CSV).write_bytes(newer)
    ok("snapshot", "v3", cwd=own.root)
    assert fs.cat(f"HEAD/{CSV}") == newer
    assert fs.cat(f"v1/{CSV}") == own.csv["v1"]


def test_writing_is_refused_and_changes_nothing(versions: Versions) -> None:
    fs = _fs(versions)
    before = sorted(p.name for p in (versions.root / ".dataworkspace/snapshots").iterdir())
    local = versions.root / "local.txt"
    local.write_text("x")
    attempts = [
        lambda: fs.open(f"v1/{CSV}", "wb"),
        lambda: fs.open("v1/new.csv", "w"),
        lambda: fs.open(f"v1/{CSV}", "ab"),
        lambda: fs.pipe(f"v1/{CSV}", b"new"),
        lambda: fs.touch("v1/new.csv"),
        lambda: fs.rm(f"v1/{CSV}"),
        lambda: fs.rm("v1/data", recursive=True),
        lambda: fs.mkdir("v1/newdir"),
        lambda: fs.makedirs("v1/a/b"),
        lambda: fs.put(str(local), "v1/data/raw/local.txt"),
        lambda: fs.mv(f"v1/{CSV}", "v1/data/raw/moved.csv"),
        lambda: fs.copy(f"v1/{CSV}", "v1/data/raw/copy.csv"),
        lambda: pd.DataFrame({"a": [1]}).to_csv(
            "dws://v1/out.csv", storage_options={"workspace": str(versions.root)}
        ),
    ]
    for attempt in attempts:
        with pytest.raises(PermissionError, match="dws:// is read-only"):
            attempt()
    assert fs.cat(f"v1/{CSV}") == versions.csv["v1"]
    assert sorted(p.name for p in (versions.root / ".dataworkspace/snapshots").iterdir()) == before
    local.unlink()


def test_what_is_not_there(versions: Versions) -> None:
    fs = _fs(versions)
    with pytest.raises(FileNotFoundError, match=r"nope\.csv is not in snapshot"):
        fs.open("v1/data/raw/nope.csv")
    with pytest.raises(FileNotFoundError):
        pd.read_csv("dws://v1/data/raw/nope.csv", storage_options={"workspace": str(versions.root)})
    with pytest.raises(FileNotFoundError, match="v9"):
        fs.info(f"v9/{CSV}")
    with pytest.raises(FileNotFoundError):
        fs.ls("v1/data/nothing")
    with pytest.raises(IsADirectoryError):
        fs.open("v1/data/raw")
    with pytest.raises(ValueError, match="dws://SNAPSHOT/PATH"):
        fs.ls("dws://")
    with pytest.raises(OSError, match=r"'\.\.' is not allowed"):
        fs.cat("v1/data/../../etc/passwd")
    assert not fs.exists("v9/data") and not fs.exists("v1/data/raw/nope.csv")


def test_options_are_checked(versions: Versions, tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="worksapce"):
        DwsFileSystem(worksapce=str(versions.root))
    with pytest.raises(Exception, match="not in a workspace"):
        DwsFileSystem(workspace=str(tmp_path))
    with pytest.raises(ValueError, match="endpoint_url"):
        DwsFileSystem(workspace=str(versions.root), endpoint_url="http://127.0.0.1:1")


def test_pickled_filesystem_reads_from_anywhere(
    versions: Versions, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(versions.root)
    fs = fsspec.filesystem("dws")  # the workspace around the current directory
    data = pickle.dumps(fs)
    monkeypatch.chdir(tmp_path)
    again = pickle.loads(data)
    assert again.storage_options["workspace"] == str(versions.root)
    assert again.cat(f"v1/{CSV}") == versions.csv["v1"]


def test_the_default_workspace_is_the_current_one(
    versions: Versions, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    other = tmp_path / "other"
    (other / "data/raw").mkdir(parents=True)
    (other / CSV).write_bytes(b"other\n")
    for args in (
        ["init"],
        ["add", "local-files", "data/raw", "-r", "source-data"],
        ["snapshot", "v1"],
    ):
        ok(*args, cwd=other)
    monkeypatch.chdir(versions.root)
    assert fsspec.filesystem("dws").cat(f"v1/{CSV}") == versions.csv["v1"]
    monkeypatch.chdir(other / "data")
    assert fsspec.filesystem("dws").cat(f"v1/{CSV}") == b"other\n"
    with fsspec.open(f"dws://v1/{CSV}") as handle:
        assert handle.read() == b"other\n"


def test_snapshots_used_long_ago_are_closed_and_open_again(
    versions: Versions, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dws.filesystem

    monkeypatch.setattr(dws.filesystem, "KEPT_SNAPSHOTS", 1)
    fs = _fs(versions)
    part = f"{FEATURES}/part-1.parquet"
    with fs.open(f"v1/{part}") as reading:
        assert reading.read(4) == versions.parts["v1"]["part-1.parquet"][:4]
        assert fs.cat(f"v2/{part}") == versions.parts["v2"]["part-1.parquet"]  # closes v1
        assert len(fs._snapshots) == 1
        assert reading.read() == versions.parts["v1"]["part-1.parquet"][4:]
    assert fs.cat(f"v1/{part}") == versions.parts["v1"]["part-1.parquet"]


def test_threads_share_one_filesystem(versions: Versions) -> None:
    from concurrent.futures import ThreadPoolExecutor

    fs = _fs(versions)
    paths = [f"v{n % 2 + 1}/{FEATURES}/part-{n % 2}.parquet" for n in range(16)]
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(fs.cat, paths))
    for path, data in zip(paths, got, strict=True):
        tag, name = path.split("/")[0], path.rsplit("/", 1)[1]
        assert data == versions.parts[tag][name]


def test_entry_point_is_declared_and_installed() -> None:
    from importlib.metadata import entry_points

    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["entry-points"]
    assert declared["fsspec.specs"] == {"dws": "dws.filesystem:DwsFileSystem"}
    installed = [ep.value for ep in entry_points(group="fsspec.specs", name="dws")]
    assert installed == ["dws.filesystem:DwsFileSystem"], (
        "the installed metadata lacks the entry point: reinstall (pip install -e '.[dev]')"
    )


def test_without_fsspec_the_module_names_the_extra(tmp_path: Path) -> None:
    code = "import sys; sys.modules['fsspec'] = None; import dws.filesystem"
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, check=False
    )
    assert proc.returncode != 0
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("ModuleNotFoundError: the dws:// filesystem needs fsspec")
    assert "dws-workspaces[read]" in last
