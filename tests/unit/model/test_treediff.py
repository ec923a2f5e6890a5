"""Comparing and walking Merkle trees through a loader."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from dws.model.digest import hash_bytes
from dws.model.tree import EMPTY_TREE_ID, Tree, TreeEntry, encode_tree, make_tree, tree_id
from dws.model.treediff import (
    Change,
    ChangeStream,
    caching_loader,
    diff_trees,
    lookup,
    walk_tree,
)

# A spec is {name: bytes (file) | ("x", bytes) (exec file) | ("->", target) (link) | dict (dir)}
Spec = dict[str, Any]


class Trees:
    """An in-memory tree store that counts loads."""

    def __init__(self) -> None:
        self.trees: dict[str, Tree] = {}
        self.loads: list[str] = []

    def load(self, oid: str) -> Tree:
        self.loads.append(oid)
        return self.trees[oid]

    def build(self, spec: Spec) -> str:
        entries = []
        for name, value in spec.items():
            if isinstance(value, dict):
                entries.append(TreeEntry(name, "dir", self.build(value), 0))
            elif isinstance(value, tuple) and value[0] == "->":
                target = value[1]
                entries.append(
                    TreeEntry(name, "symlink", hash_bytes(target.encode()), 1, target=target)
                )
            elif isinstance(value, tuple):
                entries.append(TreeEntry(name, "file", hash_bytes(value[1]), 1, exec=True))
            else:
                entries.append(TreeEntry(name, "file", hash_bytes(value), len(value)))
        tree = make_tree(entries)
        oid = tree_id(tree)
        self.trees[oid] = tree
        return oid


def summary(changes: list[Change]) -> list[tuple[str, str, str]]:
    out: list[tuple[str, str, str]] = []
    for change in changes:
        entry = change.new or change.old
        assert entry is not None
        out.append((change.status, change.path, entry.kind))
    return out


@pytest.fixture
def trees() -> Trees:
    return Trees()


def test_identical_trees_have_no_changes_and_load_nothing(trees: Trees) -> None:
    spec: Spec = {"a": b"1", "d": {"b": b"2"}}
    one, two = trees.build(spec), trees.build(dict(spec))
    assert one == two
    assert list(diff_trees(trees.load, one, two)) == []
    assert trees.loads == []


def test_added_deleted_modified_in_path_order(trees: Trees) -> None:
    old = trees.build({"a": b"1", "b": b"2", "c": b"3"})
    new = trees.build({"a": b"1", "b": b"changed", "d": b"4"})
    assert summary(list(diff_trees(trees.load, old, new))) == [
        ("modified", "b", "file"),
        ("deleted", "c", "file"),
        ("added", "d", "file"),
    ]


def test_exec_bit_change_is_a_modification(trees: Trees) -> None:
    old = trees.build({"run.sh": b"x"})
    new = trees.build({"run.sh": ("x", b"x")})
    changes = list(diff_trees(trees.load, old, new))
    assert summary(changes) == [("modified", "run.sh", "file")]
    assert changes[0].old is not None and not changes[0].old.exec
    assert changes[0].new is not None and changes[0].new.exec


def test_symlink_retarget_and_link_file_typechange(trees: Trees) -> None:
    old = trees.build({"l": ("->", "a"), "m": ("->", "a"), "n": b"n"})
    new = trees.build({"l": ("->", "b"), "m": b"now a file", "n": ("->", "n")})
    changes = list(diff_trees(trees.load, old, new))
    assert [(c.path, c.old.kind, c.new.kind) for c in changes if c.old and c.new] == [
        ("l", "symlink", "symlink"),
        ("m", "symlink", "file"),
        ("n", "file", "symlink"),
    ]


def test_unchanged_subtrees_are_not_loaded(trees: Trees) -> None:
    big = {f"f{i}": str(i).encode() for i in range(50)}
    old = trees.build({"same": {"deep": big}, "x": b"1"})
    new = trees.build({"same": {"deep": big}, "x": b"2"})
    same_id = trees.trees[old].by_name()["same"].id
    trees.loads.clear()
    list(diff_trees(trees.load, old, new))
    assert same_id not in trees.loads
    assert trees.loads == [old, new]


def test_changes_inside_subdirectories_have_full_paths(trees: Trees) -> None:
    old = trees.build({"d": {"e": {"f": b"1"}}})
    new = trees.build({"d": {"e": {"f": b"2"}}})
    assert summary(list(diff_trees(trees.load, old, new))) == [("modified", "d/e/f", "file")]


def test_created_directories_are_marked_before_their_contents(trees: Trees) -> None:
    old = trees.build({})
    new = trees.build({"d": {"e": {"f": b"1"}, "g": b"2"}})
    changes = list(diff_trees(trees.load, old, new))
    assert summary(changes) == [
        ("added", "d", "dir"),
        ("added", "d/e", "dir"),
        ("added", "d/e/f", "file"),
        ("added", "d/g", "file"),
    ]
    assert [c.is_dir_marker for c in changes] == [True, True, False, False]


def test_removed_directories_are_marked_after_their_contents(trees: Trees) -> None:
    old = trees.build({"d": {"e": {"f": b"1"}, "g": b"2"}})
    new = trees.build({})
    assert summary(list(diff_trees(trees.load, old, new))) == [
        ("deleted", "d/e/f", "file"),
        ("deleted", "d/e", "dir"),
        ("deleted", "d/g", "file"),
        ("deleted", "d", "dir"),
    ]


def test_file_replaced_by_directory_removes_first_then_creates(trees: Trees) -> None:
    old = trees.build({"x": b"file"})
    new = trees.build({"x": {"inner": b"1"}})
    assert summary(list(diff_trees(trees.load, old, new))) == [
        ("deleted", "x", "file"),
        ("added", "x", "dir"),
        ("added", "x/inner", "file"),
    ]


def test_directory_replaced_by_file_empties_it_first(trees: Trees) -> None:
    old = trees.build({"x": {"inner": b"1", "sub": {}}})
    new = trees.build({"x": b"file"})
    assert summary(list(diff_trees(trees.load, old, new))) == [
        ("deleted", "x/inner", "file"),
        ("deleted", "x/sub", "dir"),
        ("deleted", "x", "dir"),
        ("added", "x", "file"),
    ]


def test_directory_replaced_by_symlink(trees: Trees) -> None:
    old = trees.build({"x": {"inner": b"1"}})
    new = trees.build({"x": ("->", "elsewhere")})
    assert summary(list(diff_trees(trees.load, old, new))) == [
        ("deleted", "x/inner", "file"),
        ("deleted", "x", "dir"),
        ("added", "x", "symlink"),
    ]


def test_none_means_no_tree(trees: Trees) -> None:
    root = trees.build({"a": b"1", "d": {}})
    assert summary(list(diff_trees(trees.load, None, root))) == [
        ("added", "a", "file"),
        ("added", "d", "dir"),
    ]
    assert summary(list(diff_trees(trees.load, root, None))) == [
        ("deleted", "a", "file"),
        ("deleted", "d", "dir"),
    ]


def test_visibility_hides_markers_of_non_empty_dirs_only(trees: Trees) -> None:
    old = trees.build({})
    new = trees.build({"empty": {}, "full": {"f": b"1"}})
    visible = [c.path for c in diff_trees(trees.load, old, new) if c.visible]
    assert visible == ["empty", "full/f"]


def test_prefix_is_prepended(trees: Trees) -> None:
    old = trees.build({"a": b"1"})
    new = trees.build({"a": b"2"})
    assert [c.path for c in diff_trees(trees.load, old, new, "res")] == ["res/a"]


def test_sorted_by_name_with_unicode(trees: Trees) -> None:
    new = trees.build({"é": b"1", "z": b"2", "日本": b"3", "A": b"4", " sp": b"5"})
    paths = [c.path for c in diff_trees(trees.load, empty_tree(trees), new)]
    assert paths == sorted(paths)
    assert set(paths) == {"é", "z", "日本", "A", " sp"}


def empty_tree(trees: Trees) -> str:
    assert trees.build({}) == EMPTY_TREE_ID
    return EMPTY_TREE_ID


# ---- walk_tree and lookup -----------------------------------------------------------------


def test_walk_tree_yields_parents_before_children(trees: Trees) -> None:
    root = trees.build({"b": b"1", "a": {"c": {"d": b"2"}, "e": ("->", "c")}, "z": {}})
    walked = [(path, entry.kind) for path, entry in walk_tree(trees.load, root)]
    assert walked == [
        ("a", "dir"),
        ("a/c", "dir"),
        ("a/c/d", "file"),
        ("a/e", "symlink"),
        ("b", "file"),
        ("z", "dir"),
    ]


def test_walk_empty_tree(trees: Trees) -> None:
    assert list(walk_tree(trees.load, empty_tree(trees))) == []


def test_lookup(trees: Trees) -> None:
    root = trees.build({"a": {"b": {"c": b"1"}}, "f": b"2", "l": ("->", "a")})
    found = lookup(trees.load, root, "a/b/c")
    assert found is not None and found.kind == "file" and found.id == hash_bytes(b"1")
    a = lookup(trees.load, root, "a")
    assert a is not None and a.is_dir
    assert lookup(trees.load, root, "missing") is None
    assert lookup(trees.load, root, "a/missing/c") is None
    assert lookup(trees.load, root, "f/below-a-file") is None
    assert lookup(trees.load, root, "l/b") is None  # never through a symlink
    assert lookup(trees.load, None, "a") is None


def test_caching_loader_loads_each_tree_once(trees: Trees) -> None:
    root = trees.build({"a": {"b": b"1"}})
    cached = caching_loader(trees.load)
    trees.loads.clear()
    for _ in range(3):
        assert cached(root) == trees.trees[root]
    assert trees.loads == [root]


def test_caching_loader_is_bounded_by_entries_and_keeps_the_recently_used(trees: Trees) -> None:
    ids = [trees.build({f"f{i}": b"x"}) for i in range(10)]  # one entry each
    cached = caching_loader(trees.load, max_entries=4)
    for oid in ids[:8]:
        cached(oid)
    cached(ids[0])  # used again: now the most recent
    cached(ids[8])
    cached(ids[9])  # over the bound: the least recently used (ids[1], ids[2]) went
    trees.loads.clear()
    for oid in [ids[0], *ids[3:]]:
        cached(oid)
    assert trees.loads == []
    cached(ids[1])
    cached(ids[2])
    assert trees.loads == [ids[1], ids[2]]


def test_caching_loader_keeps_the_last_trees_whatever_their_size(trees: Trees) -> None:
    """A lookup goes from a small root to a large directory, over and over: neither may
    push the other out, or the large one would be decoded again for every path."""
    big = trees.build({f"f{i}": b"x" for i in range(10)})
    root = trees.build({"d": {f"f{i}": b"x" for i in range(10)}})
    cached = caching_loader(trees.load, max_entries=4)
    for _ in range(5):
        cached(root)
        cached(big)
    assert sorted(trees.loads) == sorted([root, big])


def test_encode_is_what_ids_hash(trees: Trees) -> None:
    root = trees.build({"a": b"1"})
    assert hash_bytes(encode_tree(trees.trees[root])) == root


# ---- ChangeStream -------------------------------------------------------------------------


class Produced:
    """A diff to stream, counting how often it is produced and how far it is read."""

    def __init__(self, trees: Trees, old: Spec, new: Spec) -> None:
        self.trees = trees
        self.old, self.new = trees.build(old), trees.build(new)
        self.passes = 0
        self.read = 0

    def __call__(self) -> Iterator[Change]:
        self.passes += 1
        for change in diff_trees(self.trees.load, self.old, self.new):
            self.read += 1
            yield change


def test_a_stream_small_enough_is_kept_after_its_first_pass(trees: Trees) -> None:
    produce = Produced(trees, {"a": b"1"}, {"a": b"2", "d": {"b": b"3"}})
    stream = ChangeStream(produce, keep=10)
    first = list(stream)
    assert list(stream) == first == list(diff_trees(trees.load, produce.old, produce.new))
    assert (len(stream), stream.visible_count, produce.passes) == (3, 2, 1)


def test_a_stream_too_large_to_keep_is_produced_again_on_each_pass(trees: Trees) -> None:
    produce = Produced(trees, {}, {f"f{i}": b"%d" % i for i in range(5)})
    stream = ChangeStream(produce, keep=2)
    assert len(stream) == 5
    assert stream.visible_count == 5
    assert list(stream) == list(stream)
    assert produce.passes == 3  # len() ran one, then each list() one: nothing was held


def test_a_stream_is_true_without_a_whole_pass(trees: Trees) -> None:
    produce = Produced(trees, {}, {f"f{i}": b"%d" % i for i in range(50)})
    stream = ChangeStream(produce, keep=2)
    assert stream
    assert produce.read == 1
    assert not ChangeStream(Produced(trees, {"a": b"1"}, {"a": b"1"}), keep=2)


def test_a_pass_left_part_way_counts_nothing(trees: Trees) -> None:
    produce = Produced(trees, {}, {f"f{i}": b"%d" % i for i in range(5)})
    stream = ChangeStream(produce, keep=10)
    for _ in stream:
        break
    assert len(stream) == 5  # a whole pass, run now
    assert produce.passes == 2
    assert next(iter(stream)) in stream
