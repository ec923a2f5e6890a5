"""Scanning a directory into Merkle trees: what is recorded, what is skipped, what is re-read."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from dws.errors import UsageError
from dws.model.digest import hash_bytes
from dws.model.tree import EMPTY_TREE_ID
from dws.resources.local_files import scanner as scanner_module
from dws.resources.local_files.scanner import FileChangingError, refuse_unreadable
from dws.resources.local_files.statcache import StatRow
from dws.store.hashing import hash_file
from helpers.common import write_files

from .conftest import CountingStore, HashCounter, entries, scan, scan_cached

# ---- what a scan records ------------------------------------------------------------------


def test_files_dirs_and_sizes(tmp_path: Path) -> None:
    write_files(tmp_path, {"a.txt": "hello", "d/e/f.bin": b"\x00\x01", "d/g": ""})
    result = scan(tmp_path)
    found = entries(result)
    assert sorted(found) == ["a.txt", "d", "d/e", "d/e/f.bin", "d/g"]
    assert found["a.txt"].id == hash_bytes(b"hello")
    assert found["a.txt"].size == 5
    assert found["d/g"].id == hash_bytes(b"")
    assert found["d"].size == 2  # total bytes below
    assert result.files == 3
    assert result.bytes == 7


def test_unicode_and_space_names(tmp_path: Path) -> None:
    names = ["with space.txt", "é.csv", "日本/語 x", ".hidden", "a.b.c"]
    write_files(tmp_path, {n: n for n in names})
    found = entries(scan(tmp_path))
    for name in names:
        assert found[name].id == hash_bytes(name.encode())


def test_empty_directories_are_recorded(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "outer" / "inner").mkdir(parents=True)
    found = entries(scan(tmp_path))
    assert found["empty"].kind == "dir"
    assert found["empty"].id == EMPTY_TREE_ID
    assert found["outer/inner"].id == EMPTY_TREE_ID
    assert found["outer"].id != EMPTY_TREE_ID


def test_empty_root(tmp_path: Path) -> None:
    result = scan(tmp_path)
    assert result.root_id == EMPTY_TREE_ID
    assert (result.files, result.bytes) == (0, 0)


def test_exec_bit(tmp_path: Path) -> None:
    write_files(tmp_path, {"run.sh": "#!/bin/sh\n", "data.csv": "1"})
    os.chmod(tmp_path / "run.sh", 0o755)
    os.chmod(tmp_path / "data.csv", 0o644)
    found = entries(scan(tmp_path))
    assert found["run.sh"].exec
    assert not found["data.csv"].exec


def test_only_the_owner_exec_bit_counts(tmp_path: Path) -> None:
    write_files(tmp_path, {"a": "x", "b": "x"})
    os.chmod(tmp_path / "a", 0o645)  # others may execute, owner may not
    os.chmod(tmp_path / "b", 0o744)
    found = entries(scan(tmp_path))
    assert not found["a"].exec
    assert found["b"].exec


def test_same_content_same_ids_regardless_of_creation_order(tmp_path: Path) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    write_files(one, {"a": "1", "b/c": "2", "b/d": "3"})
    write_files(two, {"b/d": "3", "b/c": "2", "a": "1"})
    assert scan(one).root_id == scan(two).root_id


def test_symlinks_are_recorded_and_never_followed(tmp_path: Path) -> None:
    root = tmp_path / "root"
    outside = tmp_path / "outside"
    write_files(outside, {"secret": "do not read"})
    write_files(root, {"real/file": "x"})
    os.symlink("real/file", root / "to-file")
    os.symlink("real", root / "to-dir")
    os.symlink(str(outside), root / "to-outside")
    os.symlink("missing", root / "dangling")
    found = entries(scan(root))
    assert sorted(found) == ["dangling", "real", "real/file", "to-dir", "to-file", "to-outside"]
    for name, target in [
        ("to-file", "real/file"),
        ("to-dir", "real"),
        ("to-outside", str(outside)),
        ("dangling", "missing"),
    ]:
        entry = found[name]
        assert entry.kind == "symlink"
        assert entry.target == target
        assert entry.id == hash_bytes(target.encode())
        assert entry.size == len(target.encode())
        assert not entry.exec


def test_symlinks_are_not_read(tmp_path: Path, hash_counter: HashCounter) -> None:
    write_files(tmp_path, {"f": "x"})
    os.symlink("f", tmp_path / "link")
    scan(tmp_path)
    assert hash_counter.names() == ["f"]


def test_a_symlinked_root_directory_is_scanned_as_a_directory(tmp_path: Path) -> None:
    write_files(tmp_path / "real", {"a": "1"})
    os.symlink(tmp_path / "real", tmp_path / "alias")
    assert sorted(entries(scan(tmp_path / "alias"))) == ["a"]


def test_special_files_are_skipped_with_a_warning(tmp_path: Path) -> None:
    write_files(tmp_path, {"a": "1"})
    os.mkfifo(tmp_path / "pipe")
    result = scan(tmp_path)
    assert sorted(entries(result)) == ["a"]
    assert any("pipe" in w for w in result.warnings)


# ---- ignoring -----------------------------------------------------------------------------


def test_temp_files_of_dws_are_ignored(tmp_path: Path) -> None:
    write_files(
        tmp_path,
        {
            "keep": "1",
            ".dws-tmp.0123abcd": "partial",
            "sub/.dws-tmp.ffff": "partial",
            ".dws-tmp.dir/inner": "x",
            "sub/.dws-tmpx": "not a temp file",
        },
    )
    assert sorted(entries(scan(tmp_path))) == ["keep", "sub", "sub/.dws-tmpx"]


def test_dwsignore_patterns(tmp_path: Path) -> None:
    write_files(
        tmp_path,
        {
            ".dwsignore": "\n".join(
                [
                    "# comment",
                    "*.log",
                    "!keep.log",
                    "cache/",
                    "/build",
                    "**/scratch",
                    "secret?.txt",
                ]
            ),
            "a.log": "x",
            "sub/b.log": "x",
            "keep.log": "kept",
            "sub/keep.log": "kept",
            "cache/big": "x",
            "sub/cache/big": "x",
            "other/cache": "a file named cache is not a directory",
            "build/out": "x",
            "sub/build/out": "not anchored at the root: kept",
            "deep/er/scratch/x": "x",
            "secret1.txt": "x",
            "secret10.txt": "kept",
            "data.csv": "kept",
        },
    )
    found = {path for path, entry in entries(scan(tmp_path)).items() if entry.kind != "dir"}
    assert found == {
        ".dwsignore",
        "keep.log",
        "sub/keep.log",
        "other/cache",
        "sub/build/out",
        "secret10.txt",
        "data.csv",
    }


def test_ignored_directories_are_not_descended(tmp_path: Path, hash_counter: HashCounter) -> None:
    write_files(tmp_path, {".dwsignore": "venv/\n", "venv/lib/huge": "x" * 1000, "a": "1"})
    found = entries(scan(tmp_path))
    assert "venv" not in found
    assert hash_counter.names() == [".dwsignore", "a"]


def test_negation_cannot_reinclude_below_an_ignored_directory(tmp_path: Path) -> None:
    # gitignore semantics: once a directory is excluded, nothing below it comes back
    write_files(tmp_path, {".dwsignore": "out/\n!out/keep\n", "out/keep": "x", "out/drop": "x"})
    assert "out/keep" not in entries(scan(tmp_path))


def test_negation_of_a_glob(tmp_path: Path) -> None:
    write_files(
        tmp_path,
        {".dwsignore": "data/*\n!data/important.csv\n", "data/a": "", "data/important.csv": ""},
    )
    found = entries(scan(tmp_path))
    assert "data/important.csv" in found
    assert "data/a" not in found


def test_ignore_rules_are_read_from_the_root_each_scan(tmp_path: Path) -> None:
    write_files(tmp_path, {"a.tmp": "x", "b": "y"})
    assert "a.tmp" in entries(scan(tmp_path))
    write_files(tmp_path, {".dwsignore": "*.tmp\n"})
    assert "a.tmp" not in entries(scan(tmp_path))


# ---- names that cannot be recorded --------------------------------------------------------


def make_bad_name(directory: Path, name: bytes = b"bad\xff name") -> None:
    directory.mkdir(parents=True, exist_ok=True)
    fd = os.open(os.path.join(os.fsencode(directory), name), os.O_WRONLY | os.O_CREAT, 0o644)
    os.close(fd)


def test_non_utf8_file_names_are_all_collected_and_left_out(tmp_path: Path) -> None:
    write_files(tmp_path, {"ok.txt": "x"})
    make_bad_name(tmp_path / "sub")
    make_bad_name(tmp_path, b"caf\xe9")
    result = scan(tmp_path)
    assert result.unreadable == ["caf\\xe9", "sub/bad\\xff name"]
    assert sorted(entries(result)) == ["ok.txt", "sub"]


def test_non_utf8_names_are_refused_naming_the_owner() -> None:
    with pytest.raises(UsageError) as info:
        refuse_unreadable(["a", "b\\xff", "c", "d"], "resource 'raw'")
    message = info.value.message
    assert message.startswith("resource 'raw': 4 file name(s) not valid UTF-8 (a, b\\xff, c and 1")
    assert info.value.exit_code == 2
    refuse_unreadable([], "resource 'raw'")  # nothing to refuse


def test_a_non_utf8_symlink_target_is_collected(tmp_path: Path) -> None:
    os.symlink(b"target\xfe", os.path.join(os.fsencode(tmp_path), b"link"))
    result = scan(tmp_path)
    assert result.unreadable == ["link -> target\\xfe"]
    assert entries(result) == {}


def test_a_non_utf8_name_listed_in_dwsignore_is_skipped(tmp_path: Path) -> None:
    # the error message advises listing such a file in .dwsignore; doing so must work
    write_files(tmp_path, {".dwsignore": "*.bin\n", "ok.txt": "x"})
    make_bad_name(tmp_path, b"bad\xff.bin")
    assert sorted(entries(scan(tmp_path))) == [".dwsignore", "ok.txt"]


# ---- the stat cache -----------------------------------------------------------------------


@pytest.mark.usefixtures("files_are_old")
def test_unchanged_files_are_not_reread(tmp_path: Path, hash_counter: HashCounter) -> None:
    write_files(tmp_path, {"a": "1", "b/c": "2", "d": "3"})
    first, changes = scan_cached(tmp_path)
    assert hash_counter.names() == ["a", "c", "d"]
    cache = changes.upserts
    assert sorted(cache) == ["a", "b/c", "d"]
    assert all(r.gen == -1 for r in cache.values())  # hashed only, not stored
    hash_counter.paths.clear()
    second, again = scan_cached(tmp_path, cache)
    assert hash_counter.paths == []
    assert second.root_id == first.root_id
    assert again.upserts == {}
    assert again.deletes == []


@pytest.mark.usefixtures("files_are_old")
def test_only_changed_files_are_reread(tmp_path: Path, hash_counter: HashCounter) -> None:
    write_files(tmp_path, {"a": "1", "b": "2", "c": "3"})
    cache = scan_cached(tmp_path)[1].upserts
    write_files(tmp_path, {"b": "changed"})
    (tmp_path / "c").unlink()
    write_files(tmp_path, {"new": "4"})
    hash_counter.paths.clear()
    result, changes = scan_cached(tmp_path, cache)
    assert hash_counter.names() == ["b", "new"]
    assert entries(result)["b"].id == hash_bytes(b"changed")
    assert sorted(changes.upserts) == ["b", "new"]
    assert changes.deletes == ["c"]


@pytest.mark.usefixtures("files_are_old")
def test_rows_are_read_one_directory_at_a_time(tmp_path: Path) -> None:
    write_files(tmp_path, {"a": "1", "d/b": "2", "d/e/c": "3", "f/g": "4"})
    cache = scan_cached(tmp_path)[1].upserts
    _, changes = scan_cached(tmp_path, cache)
    assert sorted(changes.read_dirs) == ["", "d", "d/e", "f"]  # each once


@pytest.mark.usefixtures("files_are_old")
def test_rows_of_vanished_and_ignored_directories_are_dropped(tmp_path: Path) -> None:
    write_files(tmp_path, {"a": "1", "gone/b": "2", "gone/deep/c": "3", "skip/d": "4"})
    cache = scan_cached(tmp_path)[1].upserts
    for rel in ("gone/deep/c", "gone/b"):
        (tmp_path / rel).unlink()
    (tmp_path / "gone" / "deep").rmdir()
    (tmp_path / "gone").rmdir()
    write_files(tmp_path, {".dwsignore": "skip/\n"})
    _, changes = scan_cached(tmp_path, cache)
    assert sorted(changes.deletes) == ["gone/b", "gone/deep/c", "skip/d"]
    assert "skip" not in changes.read_dirs


@pytest.mark.usefixtures("files_are_old")
def test_a_same_size_replacement_is_noticed(tmp_path: Path, hash_counter: HashCounter) -> None:
    write_files(tmp_path, {"a": "1111"})
    cache = scan_cached(tmp_path)[1].upserts
    # same size and the mtime forced back, as an editor saving by rename might leave it:
    # the inode still betrays the change (written while the old one exists, so it differs)
    st = os.stat(tmp_path / "a")
    write_files(tmp_path, {"a.new": "2222"})
    os.utime(tmp_path / "a.new", ns=(st.st_atime_ns, st.st_mtime_ns))
    os.replace(tmp_path / "a.new", tmp_path / "a")
    assert os.stat(tmp_path / "a").st_ino != st.st_ino
    result = scan(tmp_path, cache)
    assert entries(result)["a"].id == hash_bytes(b"2222")
    assert hash_counter.names().count("a") == 2


def test_a_stale_cache_row_is_not_trusted(tmp_path: Path, hash_counter: HashCounter) -> None:
    write_files(tmp_path, {"a": "real"})
    wrong = StatRow(999, 1, 1, 1, hash_bytes(b"stale"), -1)
    result = scan(tmp_path, {"a": wrong})
    assert entries(result)["a"].id == hash_bytes(b"real")
    assert hash_counter.names() == ["a"]


def test_recently_modified_files_are_not_vouched_for(tmp_path: Path) -> None:
    """Racy timestamps: a file changed within the window might change again with the same
    stat signature, so the cache must not remember it yet."""
    write_files(tmp_path, {"fresh": "1"})
    _, changes = scan_cached(tmp_path)
    assert changes.upserts == {}


def test_recently_modified_files_drop_their_old_row(tmp_path: Path) -> None:
    write_files(tmp_path, {"fresh": "new"})
    old = StatRow(1, 1, 1, 1, hash_bytes(b"old"), -1)
    _, changes = scan_cached(tmp_path, {"fresh": old})
    assert changes.deletes == ["fresh"]


@pytest.mark.usefixtures("files_are_old")
def test_with_a_store_blobs_are_stored_once_per_generation(tmp_path: Path) -> None:
    write_files(tmp_path, {"a": "1", "b": "2"})
    store = CountingStore()
    _, first = scan_cached(tmp_path, store=store, generation=3)
    assert sorted(os.path.basename(p) for p in store.put_files) == ["a", "b"]
    assert store.has(hash_bytes(b"1")) and store.has(hash_bytes(b"2"))
    cache = first.upserts
    assert {r.gen for r in cache.values()} == {3}
    store.put_files.clear()
    scan(tmp_path, cache, store=store, generation=3)
    assert store.put_files == []


@pytest.mark.usefixtures("files_are_old")
def test_a_hashed_only_row_still_gets_the_blob_stored(tmp_path: Path) -> None:
    """A status (hash only, gen -1) must not make the next snapshot skip storing the blob."""
    write_files(tmp_path, {"a": "content"})
    cache = scan_cached(tmp_path)[1].upserts
    store = CountingStore()
    _, changes = scan_cached(tmp_path, cache, store=store, generation=0)
    assert store.has(hash_bytes(b"content"))
    assert changes.upserts["a"].gen == 0


@pytest.mark.usefixtures("files_are_old")
def test_a_new_generation_rechecks_the_store_without_rereading(
    tmp_path: Path, hash_counter: HashCounter
) -> None:
    write_files(tmp_path, {"kept": "1", "collected": "2"})
    store = CountingStore()
    cache = scan_cached(tmp_path, store=store, generation=0)[1].upserts
    store.delete(hash_bytes(b"2"))  # as if gc had removed it
    store.put_files.clear()
    _, changes = scan_cached(tmp_path, cache, store=store, generation=1)
    assert [os.path.basename(p) for p in store.put_files] == ["collected"]
    assert store.has(hash_bytes(b"2"))
    assert {r.gen for r in changes.upserts.values()} == {1}
    assert hash_counter.paths == []


@pytest.mark.usefixtures("files_are_old")
def test_an_old_generation_row_without_its_blob_is_restored_to_the_store(tmp_path: Path) -> None:
    write_files(tmp_path, {"a": "1"})
    store = CountingStore()
    cache = scan_cached(tmp_path, store=store, generation=0)[1].upserts
    store.delete(hash_bytes(b"1"))
    scan(tmp_path, cache, store=store, generation=0)  # same gen: trusted, not rechecked
    assert not store.has(hash_bytes(b"1"))
    scan(tmp_path, cache, store=store, generation=1)
    assert store.has(hash_bytes(b"1"))


# ---- files that change while being read ---------------------------------------------------


def test_a_file_changing_during_the_read_is_read_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_files(tmp_path, {"a": "first version"})
    real = hash_file
    reads: list[str] = []

    def writer_interferes(path: str) -> tuple[str, int]:
        result = real(path)
        reads.append(path)
        if len(reads) == 1:  # a writer appends right after our first read
            with open(path, "ab") as handle:
                handle.write(b" and more")
        return result

    monkeypatch.setattr(scanner_module, "hash_file", writer_interferes)
    result = scan(tmp_path)
    assert len(reads) == 2
    entry = entries(result)["a"]
    assert entry.id == hash_bytes(b"first version and more")
    assert entry.size == len(b"first version and more")


def test_a_file_changing_during_storing_is_stored_again(tmp_path: Path) -> None:
    write_files(tmp_path, {"a": "v1"})

    class InterferingStore(CountingStore):
        def put_file(self, path: str, similar_to: str | None = None) -> tuple[str, int]:
            result = super().put_file(path)
            if len(self.put_files) == 1:
                with open(path, "wb") as handle:
                    handle.write(b"v2, longer")
            return result

    store = InterferingStore()
    result = scan(tmp_path, store=store)
    assert len(store.put_files) == 2
    assert entries(result)["a"].id == hash_bytes(b"v2, longer")
    assert store.get_bytes(hash_bytes(b"v2, longer")) == b"v2, longer"


def test_a_file_that_keeps_changing_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_files(tmp_path, {"a": "x"})
    real = hash_file

    def always_changing(path: str) -> tuple[str, int]:
        result = real(path)
        with open(path, "ab") as handle:
            handle.write(b"x")
        return result

    monkeypatch.setattr(scanner_module, "hash_file", always_changing)
    with pytest.raises(FileChangingError, match="kept changing"):
        scan(tmp_path)


def test_a_file_vanishing_during_the_read_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_files(tmp_path, {"a": "x"})

    def vanished(path: str) -> tuple[str, int]:
        os.unlink(path)
        raise FileNotFoundError(path)

    monkeypatch.setattr(scanner_module, "hash_file", vanished)
    with pytest.raises(FileChangingError, match="disappeared"):
        scan(tmp_path)


def test_a_file_gaining_the_exec_bit_during_the_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_files(tmp_path, {"a": "x"})
    real = hash_file

    def chmodding(path: str) -> tuple[str, int]:
        result = real(path)
        if not os.stat(path).st_mode & stat.S_IXUSR:
            os.chmod(path, 0o755)
        return result

    monkeypatch.setattr(scanner_module, "hash_file", chmodding)
    assert entries(scan(tmp_path))["a"].exec
