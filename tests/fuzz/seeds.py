"""Valid encodings and hand-crafted hostile inputs for every decoder; ``make_corpus.py``
writes them to corpus/<decoder>/ (accept-*: must decode; refuse-*: must be refused).

Inputs that once found a bug are named ``refuse-bug-*`` and must stay in the corpus.
"""

from __future__ import annotations

import json
from typing import Any

import msgspec

from dws.model.digest import hash_bytes
from dws.model.records import (
    Head,
    ResourceSnapshot,
    ResourceSpec,
    SnapshotRecord,
    WorkspaceInfo,
    encode_record,
    encode_resources,
    record_id_of,
)
from dws.model.roles import Role
from dws.model.runs import CodeVersion, PathVersion, RunRecord, StepMemory
from dws.model.tree import EMPTY_TREE_ID, Tree, TreeEntry, encode_tree, make_tree
from dws.store.packfile import INDEX_MAGIC, PackEntry, encode_index

A = hash_bytes(b"alpha\n")
B = hash_bytes(b"bravo\n")
C = hash_bytes(b"charlie\n")
COMMIT = "e3778b195cb65bfcaa110c2da9d67ef3b8667fc9"
TIME = "2026-11-25T09:21:22.945355Z"
STEP = "train"

# ---- JSON helpers ---------------------------------------------------------------------


def canonical(doc: Any) -> bytes:
    """Canonical JSON of a plain document (what dws writes)."""
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def reseal(doc: Any, kind: type[SnapshotRecord] | type[RunRecord]) -> Any:
    """Recompute the id of an edited record the way dws computes it (when it still has the
    record's shape), so a crafted record passes the checksum and meets the later checks."""
    if not isinstance(doc, dict):
        return doc
    try:
        msgspec.convert(doc, kind)
    except (msgspec.ValidationError, TypeError, ValueError):
        return doc
    doc["id"] = record_id_of(canonical({**doc, "id": ""}), "record")
    return doc


def reseal_snapshot(doc: Any) -> Any:
    """``reseal`` for snapshot records."""
    return reseal(doc, SnapshotRecord)


def reseal_run(doc: Any) -> Any:
    """``reseal`` for run records."""
    return reseal(doc, RunRecord)


def edited(data: bytes, change: Any, *, seal: Any = None) -> bytes:
    """Apply ``change(doc)`` to a JSON encoding, re-seal it if asked, encode canonically."""
    doc = json.loads(data)
    change(doc)
    if seal is not None:
        doc = seal(doc)
    return canonical(doc) + b"\n"


def splice(data: bytes, old: bytes, new: bytes) -> bytes:
    """Replace the first ``old`` in ``data`` (which must contain it)."""
    assert old in data, (old, data[:200])
    return data.replace(old, new, 1)


DEEP = b"[" * 5000 + b"]" * 5000

# ---- snapshot records -----------------------------------------------------------------


def snapshot_full() -> SnapshotRecord:
    """A record with a local-files, a git and an s3 resource, runs and metrics."""
    return SnapshotRecord(
        created=TIME,
        hostname="lab-3",
        user="ana",
        message="baseline on the 2023 data é",
        parent=hash_bytes(b"parent"),
        resources={
            "raw": ResourceSnapshot(
                "local-files",
                Role.SOURCE_DATA,
                {"tree": EMPTY_TREE_ID, "files": 0, "bytes": 0, "keep": "content"},
            ),
            "code": ResourceSnapshot(
                "git",
                Role.CODE,
                {
                    "commit": COMMIT,
                    "branch": "main",
                    "url": None,
                    "dirty": [],
                    "staged": [],
                    "patch": None,
                },
            ),
            "events": ResourceSnapshot(
                "s3",
                Role.SOURCE_DATA,
                {
                    "manifest": EMPTY_TREE_ID,
                    "objects": 0,
                    "bytes": 0,
                    "keep": "versions",
                    "url": "s3://bucket/ev/",
                    "versioned": True,
                },
            ),
        },
        runs=sorted([hash_bytes(b"run1"), hash_bytes(b"run2")]),
        metrics={"results/metrics.json": {"r2": 0.773, "rows.test": 60.0}},
    ).with_id()


def snapshot_minimal() -> SnapshotRecord:
    """No resources, no parent."""
    return SnapshotRecord(
        created=TIME, hostname="h", user="u", message="", parent=None, resources={}
    ).with_id()


def snapshot_stale() -> SnapshotRecord:
    """A record listing stale outputs: format 2."""
    stale = ["data/features/train.csv", "results/metrics.json"]
    return msgspec.structs.replace(
        snapshot_full(), id="", format=SnapshotRecord.format_for(stale), stale=stale
    ).with_id()


def _record_bytes(record: msgspec.Struct) -> bytes:
    return encode_record(record) + b"\n"


def snapshot_cases() -> dict[str, bytes]:
    full = _record_bytes(snapshot_full())
    seal = reseal_snapshot

    def set_key(key: str, value: Any) -> Any:
        return lambda doc: doc.__setitem__(key, value)

    pretty = json.dumps(json.loads(full), indent=2).encode()
    return {
        "accept-full.json": full,
        "accept-minimal.json": _record_bytes(snapshot_minimal()),
        "accept-stale.json": _record_bytes(snapshot_stale()),
        "accept-indented.json": pretty,
        "accept-unknown-field.json": edited(full, set_key("future_field", [1, 2]), seal=seal),
        "refuse-empty.json": b"",
        "refuse-not-json.json": b"not json at all",
        "refuse-array.json": b"[]",
        "refuse-truncated.json": full[: len(full) // 2],
        "refuse-bom.json": b"\xef\xbb\xbf" + full,
        "refuse-edited-message.json": edited(full, set_key("message", "forged")),
        "refuse-format-3.json": edited(full, set_key("format", 3), seal=seal),
        "refuse-stale-format-3.json": edited(
            _record_bytes(snapshot_stale()), set_key("format", 3), seal=seal
        ),
        "refuse-stale-nul.json": edited(full, set_key("stale", ["results/a\u0000b"]), seal=seal),
        "refuse-stale-empty-path.json": edited(full, set_key("stale", [""]), seal=seal),
        "refuse-stale-not-a-list.json": edited(full, set_key("stale", "results"), seal=seal),
        "refuse-stale-unsealed.json": edited(full, set_key("stale", ["results/metrics.json"])),
        "refuse-format-huge.json": edited(full, set_key("format", 10**30), seal=seal),
        "refuse-format-string.json": edited(full, set_key("format", "1"), seal=seal),
        "refuse-no-format.json": edited(full, lambda doc: doc.pop("format"), seal=seal),
        "refuse-id-uppercase.json": edited(full, lambda d: d.__setitem__("id", d["id"].upper())),
        "refuse-parent-path.json": edited(full, set_key("parent", "../x"), seal=seal),
        "refuse-resource-name-path.json": edited(
            full, lambda d: d["resources"].__setitem__("../raw", d["resources"]["raw"]), seal=seal
        ),
        "refuse-role-unknown.json": edited(
            full, lambda d: d["resources"]["raw"].__setitem__("role", "boss"), seal=seal
        ),
        "refuse-metric-inf.json": splice(full, b"0.773", b"1e400"),
        "refuse-metric-string.json": edited(
            full, lambda d: d["metrics"]["results/metrics.json"].__setitem__("r2", "x"), seal=seal
        ),
        "refuse-bug-run-id-is-a-path.json": edited(
            full, set_key("runs", ["../../snapshots/x"]), seal=seal
        ),
        "refuse-bug-non-utf8-message.json": splice(full, b"baseline", b"base\xffline"),
        "refuse-bug-non-utf8-surrogate.json": splice(full, b"baseline", b"base\xed\xa0\x80line"),
        "refuse-bug-deep-state.json": splice(full, b'"keep":"content"', b'"keep":' + DEEP),
        "refuse-bug-deep-unknown-field.json": splice(full, b"{", b'{"future":' + DEEP + b","),
    }


# ---- run records and step memory ------------------------------------------------------


def run_record(via: str = "command") -> RunRecord:
    """A run of `dws run -- python code/train.py data/features results/model.pkl`."""
    return RunRecord(
        step=STEP,
        via=via,  # type: ignore[arg-type]
        argv=["python3", "code/train.py", "data/features", "results/model.pkl"],
        cwd=".",
        started=TIME,
        ended=TIME,
        exit_code=0,
        status="succeeded",
        hostname="lab-3",
        user="ana",
        environment={"python": "3.11.7", "dws": "0.1.0"},
        code=[CodeVersion("code", COMMIT, "main", ["a.txt"])],
        inputs=[
            PathVersion("code", "code/train.py", A, "file"),
            PathVersion("features", "", B, "dir"),
            PathVersion("raw", "missing.csv", None, "missing"),
        ],
        outputs=[PathVersion("results", "model.pkl", C, "file")],
        params={"epochs": "5", "nested": {"lr": 0.1, "layers": [1, 2]}},
        metrics={"accuracy": 0.93},
    ).with_id()


def run_cases() -> dict[str, bytes]:
    good = _record_bytes(run_record())
    seal = reseal_run

    def set_key(key: str, value: Any) -> Any:
        return lambda doc: doc.__setitem__(key, value)

    def set_input(key: str, value: Any) -> Any:
        return lambda doc: doc["inputs"][0].__setitem__(key, value)

    return {
        "accept-command.json": good,
        "accept-python.json": _record_bytes(run_record("python")),
        "accept-failed-no-exit-code.json": edited(
            good,
            lambda d: d.update(status="failed", exit_code=None, outputs=[]),
            seal=seal,
        ),
        "refuse-empty.json": b"",
        "refuse-truncated.json": good[:-20],
        "refuse-edited-argv.json": edited(good, set_key("argv", ["rm", "-rf", "/"])),
        "accept-format-1.json": edited(good, set_key("format", 1), seal=seal),
        "accept-observed.json": edited(
            good,
            lambda d: d.update(
                observer="python",
                removed=[dict(d["inputs"][0])],
                unexplained=[{"resource": "raw", "path": "x.csv", "id": None, "kind": "missing"}],
                unstable=[dict(d["inputs"][0])],
                unobserved=["sh"],
                external_code=[{"path": "/opt/tools/helper.py", "id": d["inputs"][0]["id"]}],
            ),
            seal=seal,
        ),
        "refuse-format-3.json": edited(good, set_key("format", 3), seal=seal),
        "refuse-external-code-relative.json": edited(
            good,
            set_key("external_code", [{"path": "helper.py", "id": A}]),
            seal=seal,
        ),
        "refuse-unexplained-dotdot.json": edited(
            good,
            set_key("unexplained", [{"resource": "raw", "path": "../x", "id": A, "kind": "file"}]),
            seal=seal,
        ),
        "refuse-input-dotdot.json": edited(good, set_input("path", "../../etc/passwd"), seal=seal),
        "refuse-input-absolute.json": edited(good, set_input("path", "/etc/passwd"), seal=seal),
        "refuse-input-nul.json": edited(good, set_input("path", "a\x00b"), seal=seal),
        "refuse-input-metadata.json": edited(
            good, set_input("path", ".dataworkspace/workspace.json"), seal=seal
        ),
        "refuse-input-resource-path.json": edited(good, set_input("resource", "../x"), seal=seal),
        "refuse-input-id-null.json": edited(good, set_input("id", None), seal=seal),
        "refuse-input-id-path.json": edited(good, set_input("id", "../x"), seal=seal),
        "refuse-output-kind.json": edited(
            good, lambda d: d["outputs"][0].__setitem__("kind", "device"), seal=seal
        ),
        "refuse-cwd-dotdot.json": edited(good, set_key("cwd", "../.."), seal=seal),
        "refuse-cwd-absolute.json": edited(good, set_key("cwd", "/tmp"), seal=seal),
        "refuse-step-is-a-path.json": edited(good, set_key("step", "../../x"), seal=seal),
        "refuse-step-with-slash.json": edited(good, set_key("step", "a/b"), seal=seal),
        "refuse-argv-nul.json": edited(good, set_key("argv", ["a\x00b"]), seal=seal),
        "refuse-commit-path.json": edited(
            good, lambda d: d["code"][0].__setitem__("commit", "../HEAD"), seal=seal
        ),
        "refuse-bug-code-resource-path.json": edited(
            good, lambda d: d["code"][0].__setitem__("resource", "../x"), seal=seal
        ),
        "refuse-bug-non-utf8-argv.json": splice(good, b"python3", b"python\xff"),
        "refuse-bug-deep-params.json": splice(good, b'"epochs":"5"', b'"epochs":' + DEEP),
        "refuse-exit-code-float.json": edited(good, set_key("exit_code", 1.5), seal=seal),
    }


def step_memory_cases() -> dict[str, bytes]:
    good = encode_record(StepMemory(step=STEP, answers={"data/x.csv": "input", ".": "output"}))

    def answers(value: Any) -> Any:
        return lambda doc: doc.__setitem__("answers", value)

    return {
        "accept-answers.json": good,
        "accept-empty.json": encode_record(StepMemory(step=STEP)),
        "refuse-other-step.json": edited(good, lambda d: d.__setitem__("step", "other")),
        "refuse-format-2.json": edited(good, lambda d: d.__setitem__("format", 2)),
        "refuse-answer-dotdot.json": edited(good, answers({"../x": "input"})),
        "refuse-answer-absolute.json": edited(good, answers({"/x": "output"})),
        "refuse-answer-metadata.json": edited(good, answers({".dataworkspace/x": "output"})),
        "refuse-answer-value.json": edited(good, answers({"x": "both"})),
        "refuse-bug-non-utf8.json": splice(good, b"data/x", b"data/\xff"),
        "refuse-not-json.json": b"{answers}",
    }


# ---- workspace.json, resources.json, head.json ----------------------------------------


def workspace_cases() -> dict[str, bytes]:
    good = encode_record(
        WorkspaceInfo(1, "7b8327d7-3b74-4e4a-ad6a-a964e759ff6f", "flat-prices", TIME)
    )

    def set_key(key: str, value: Any) -> Any:
        return lambda doc: doc.__setitem__(key, value)

    return {
        "accept-good.json": good,
        "accept-unknown-field.json": edited(good, set_key("future", {"a": 1})),
        "refuse-empty.json": b"",
        "accept-format-2.json": edited(good, set_key("format", 2)),
        "refuse-format-3.json": edited(good, set_key("format", 3)),
        "refuse-format-huge.json": edited(good, set_key("format", 10**40)),
        "refuse-format-float.json": edited(good, set_key("format", 1.0)),
        "refuse-format-bool.json": edited(good, set_key("format", True)),
        "refuse-no-format.json": edited(good, lambda d: d.pop("format")),
        "refuse-md5.json": edited(good, set_key("hash", "md5")),
        "refuse-array.json": b"[1]",
        "refuse-bug-non-utf8-name.json": splice(good, b"flat", b"fl\xffat"),
        "refuse-bug-deep.json": splice(good, b'"hash"', b'"x":' + DEEP + b',"hash"'),
    }


def resources_specs() -> list[ResourceSpec]:
    """One resource of each type, as `dws add` writes them."""
    return [
        ResourceSpec(
            "raw", "local-files", Role.SOURCE_DATA, {"path": "data/raw", "keep": "content"}
        ),
        ResourceSpec("code", "git", Role.CODE, {"path": "."}),
        ResourceSpec(
            "events",
            "s3",
            Role.SOURCE_DATA,
            {"url": "s3://bucket/ev/", "keep": "versions", "endpoint_url": "http://127.0.0.1:9"},
        ),
    ]


def resources_cases() -> dict[str, bytes]:
    good = encode_resources(resources_specs())

    def first(key: str, value: Any) -> Any:
        return lambda doc: doc[0].__setitem__(key, value)

    return {
        "accept-three-types.json": good,
        "accept-empty.json": b"[]",
        "refuse-object.json": b"{}",
        "refuse-entry-not-object.json": b"[1]",
        "refuse-name-path.json": edited(good, first("name", "../x")),
        "refuse-name-keyword.json": edited(good, first("name", "class")),
        "refuse-name-number.json": edited(good, first("name", 7)),
        "refuse-role.json": edited(good, first("role", "boss")),
        "refuse-duplicate.json": edited(good, lambda d: d.append(dict(d[0]))),
        "refuse-no-type.json": edited(good, lambda d: d[0].pop("type")),
        "accept-absolute-path.json": edited(good, first("path", "/mnt/big/imagenet")),
        "accept-root-path.json": edited(good, first("path", ".")),
        "refuse-bug-path-escapes.json": edited(good, first("path", "../outside")),
        "refuse-bug-path-dotdot-inside.json": edited(good, first("path", "data/../../x")),
        "refuse-bug-path-into-metadata.json": edited(good, first("path", ".dataworkspace")),
        "refuse-bug-path-into-tags.json": edited(good, first("path", ".dataworkspace/tags")),
        "refuse-bug-absolute-into-metadata.json": edited(
            good, first("path", "/work/ws/.dataworkspace/objects")
        ),
        "refuse-path-nul.json": edited(good, first("path", "data\x00raw")),
        "refuse-path-empty.json": edited(good, first("path", "")),
        "refuse-path-number.json": edited(good, first("path", 7)),
        "refuse-bug-non-utf8-path.json": splice(good, b"data/raw", b"data/\xffraw"),
        "refuse-bug-deep-param.json": splice(good, b'"content"', DEEP),
    }


def head_cases() -> dict[str, bytes]:
    snap = hash_bytes(b"snapshot")
    good = encode_record(Head(snap, {"raw": snap, "results": hash_bytes(b"other")}, {}))
    return {
        "accept-good.json": good,
        "accept-empty.json": b"{}",
        "accept-restoring.json": encode_record(Head(snap, {"raw": snap}, {"raw": snap})),
        "refuse-snapshot-path.json": b'{"snapshot": "../../x"}',
        "refuse-base-path.json": b'{"bases": {"raw": "/etc/passwd"}}',
        "refuse-restoring-short.json": b'{"restoring": {"raw": "abcd"}}',
        "refuse-array.json": b"[]",
        "refuse-truncated.json": good[:30],
        "refuse-bug-non-utf8.json": b'{"bases": {"r\xffaw": "x"}}',
        "refuse-bug-deep.json": b'{"x":' + DEEP + b"}",
    }


# ---- trees ----------------------------------------------------------------------------


def tree_entries() -> list[TreeEntry]:
    """Every kind of entry a tree holds."""
    return [
        TreeEntry("b.txt", "file", A, 6),
        TreeEntry("run.sh", "file", B, 6, exec=True),
        TreeEntry("sub", "dir", EMPTY_TREE_ID, 0),
        TreeEntry("link", "symlink", hash_bytes(b"b.txt"), 5, target="b.txt"),
        TreeEntry("outside", "symlink", hash_bytes(b"/tmp/x"), 6, target="/tmp/x"),
        TreeEntry("日本 é.csv", "file", C, 8),
        TreeEntry(".hidden", "file", A, 6),
    ]


def raw_tree(entries: list[dict[str, Any]]) -> bytes:
    """A tree's bytes with exactly these entries, in this order, canonically encoded."""
    return canonical({"entries": entries})


def _entry(name: str = "a", **changes: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {"name": name, "kind": "file", "id": A, "size": 6}
    doc.update(changes)
    return {key: value for key, value in doc.items() if value is not None}


def tree_cases() -> dict[str, bytes]:
    good = encode_tree(make_tree(tree_entries()))
    return {
        "accept-empty.json": encode_tree(Tree([])),
        "accept-every-kind.json": good,
        "accept-max-size.json": raw_tree([_entry(size=(1 << 62) - 1)]),
        "refuse-dotdot.json": raw_tree([_entry("..")]),
        "refuse-dot.json": raw_tree([_entry(".")]),
        "refuse-slash-dotdot.json": raw_tree([_entry("../escape")]),
        "refuse-absolute.json": raw_tree([_entry("/etc/passwd")]),
        "refuse-nul.json": raw_tree([_entry("a\x00b")]),
        "refuse-empty-name.json": raw_tree([_entry("")]),
        "refuse-metadata-dir.json": raw_tree([_entry(".dataworkspace", kind="dir")]),
        "refuse-duplicate.json": raw_tree([_entry("a"), _entry("a", kind="dir")]),
        "refuse-unsorted.json": raw_tree([_entry("b"), _entry("a")]),
        "refuse-size-negative.json": raw_tree([_entry(size=-1)]),
        "refuse-size-2-62.json": raw_tree([_entry(size=1 << 62)]),
        "refuse-size-2-64.json": raw_tree([_entry(size=1 << 64)]),
        "refuse-size-huge.json": raw_tree([_entry(size=10**300)]),
        "refuse-size-float.json": raw_tree([_entry(size=1.0)]),
        "refuse-exec-dir.json": raw_tree([_entry(kind="dir", exec=True)]),
        "refuse-symlink-without-target.json": raw_tree([_entry(kind="symlink")]),
        "refuse-symlink-empty-target.json": raw_tree([_entry(kind="symlink", target="")]),
        "refuse-symlink-nul-target.json": raw_tree([_entry(kind="symlink", target="a\x00")]),
        "refuse-file-with-target.json": raw_tree([_entry(target="x")]),
        "refuse-kind-device.json": raw_tree([_entry(kind="device")]),
        "refuse-id-uppercase.json": raw_tree([_entry(id=A.upper())]),
        "refuse-id-path.json": raw_tree([_entry(id="../../../../etc/passwd")]),
        "refuse-exec-false-written.json": raw_tree([_entry(exec=False)]),
        "refuse-whitespace.json": json.dumps(json.loads(good), indent=1).encode(),
        "refuse-trailing-newline.json": good + b"\n",
        "refuse-unknown-field.json": raw_tree([_entry(mode=0o4755)]),
        "refuse-duplicate-key.json": splice(good, b'{"entries":', b'{"entries":[],"entries":'),
        "refuse-ascii-escapes.json": json.dumps(json.loads(good), sort_keys=True).encode(),
        "refuse-bug-non-utf8-name.json": splice(good, b'"b.txt"', b'"b\xff.txt"'),
        "refuse-bug-deep-unknown-field.json": splice(good, b"{", b'{"x":' + DEEP + b","),
        "refuse-bom.json": b"\xef\xbb\xbf" + good,
    }


# ---- pack indexes ---------------------------------------------------------------------


def pack_index(entries: dict[bytes, PackEntry]) -> bytes:
    """The bytes of a valid index."""
    return encode_index(entries)[1]


def resealed_index(body: bytes) -> bytes:
    """Index bytes with a correct trailer for an arbitrary body."""
    from blake3 import blake3

    return body + blake3(body).digest()


def pack_index_cases() -> dict[str, bytes]:
    keys = sorted(bytes.fromhex(hash_bytes(bytes([i]))) for i in range(5))
    entries = {key: PackEntry(8 + 10 * i, 10) for i, key in enumerate(keys)}
    good = pack_index(entries)
    body = good[:-32]
    header = 8 + 4
    fanout_end = header + 256 * 4

    def with_fanout(values: list[int]) -> bytes:
        import struct

        return resealed_index(body[:header] + struct.pack("<256I", *values) + body[fanout_end:])

    import struct

    fanout = list(struct.unpack_from("<256I", body, header))
    not_monotone = list(fanout)
    not_monotone[10] = 0xFFFFFFFF
    beyond = [min(value + 3, 0xFFFFFFFF) for value in fanout]
    first_entry = fanout_end
    huge_length = bytearray(body)
    struct.pack_into("<Q", huge_length, first_entry + 40, 1 << 63)
    zero_offset = bytearray(body)
    struct.pack_into("<Q", zero_offset, first_entry + 32, 0)
    count_lie = bytearray(body)
    struct.pack_into("<I", count_lie, 8, 0xFFFFFFFF)
    return {
        "accept-five.idx": good,
        "accept-empty.idx": pack_index({}),
        "refuse-empty-file.idx": b"",
        "refuse-truncated.idx": good[:100],
        "refuse-one-byte-short.idx": good[:-1],
        "accept-version-1.idx": resealed_index(b"DWSIDX01" + body[8:]),
        "refuse-magic.idx": b"DWSIDX03" + good[8:],
        "refuse-count-lie.idx": resealed_index(bytes(count_lie)),
        "refuse-pack-magic.idx": b"DWSPACK1" + good[8:],
        "refuse-bug-fanout-not-monotone.idx": with_fanout(not_monotone),
        "refuse-bug-fanout-beyond-count.idx": with_fanout(beyond),
        "refuse-bug-huge-length.idx": resealed_index(bytes(huge_length)),
        "refuse-bug-offset-in-magic.idx": resealed_index(bytes(zero_offset)),
        "refuse-index-magic-only.idx": INDEX_MAGIC,
    }


# ---- chunk lists and pack entries ------------------------------------------------------


def chunk_list_cases() -> dict[str, bytes]:
    import struct

    from dws.store.chunklist import ZERO_ID, ChunkList, Piece

    chunks = ChunkList()
    for piece in (
        Piece(bytes.fromhex(hash_bytes(b"a")), 70_000),
        Piece(ZERO_ID, 1 << 30, True),
        Piece(bytes.fromhex(hash_bytes(b"b")), 5),
    ):
        chunks.append(piece)
    good = chunks.encode()
    body = good[:-32]
    header, piece = 8 + 8 + 4, 32 + 8 + 1

    def patched(offset: int, fmt: str, value: int) -> bytes:
        changed = bytearray(body)
        struct.pack_into(fmt, changed, offset, value)
        return resealed_index(bytes(changed))

    nonzero_hole = bytearray(body)
    nonzero_hole[header + piece] = 1
    return {
        "accept-three.lst": good,
        "accept-empty.lst": ChunkList().encode(),
        "refuse-empty-file.lst": b"",
        "refuse-truncated.lst": good[:50],
        "refuse-trailer.lst": body + bytes(32),
        "refuse-magic.lst": resealed_index(b"DWSCHK02" + body[8:]),
        "refuse-size-lie.lst": patched(8, "<Q", chunks.size + 1),
        "refuse-count-lie.lst": patched(16, "<I", 4),
        "refuse-huge-count.lst": patched(16, "<I", 0xFFFFFFFF),
        "refuse-zero-length.lst": patched(header + 32, "<Q", 0),
        "refuse-long-chunk.lst": patched(header + 2 * piece + 32, "<Q", 1 << 40),
        "refuse-flags.lst": patched(header + 40, "<B", 7),
        "refuse-hole-with-id.lst": resealed_index(bytes(nonzero_hole)),
    }


def pack_entry_cases() -> dict[str, bytes]:
    import zstandard

    text = b"1,2.5,0.25,17,alpha\n" * 400
    frame = zstandard.ZstdCompressor(level=1, write_checksum=False).compress(text)
    no_size = zstandard.ZstdCompressor(write_content_size=False).compress(text)
    huge = zstandard.ZstdCompressor().compress(bytes(32 << 20))
    return {
        "accept-raw.ent": b"\x00" + text,
        "accept-raw-empty.ent": b"\x00",
        "accept-zstd.ent": b"\x01" + frame,
        "refuse-empty.ent": b"",
        "refuse-codec.ent": b"\x02" + text,
        "refuse-zstd-garbage.ent": b"\x01" + text,
        "refuse-zstd-truncated.ent": b"\x01" + frame[:-5],
        "refuse-zstd-no-size.ent": b"\x01" + no_size,
        "refuse-zstd-huge.ent": b"\x01" + huge,
    }


# ---- S3 key records -------------------------------------------------------------------


def s3_key_record_cases() -> dict[str, bytes]:
    good = canonical(
        {
            "etag": '"9a0364b9e99bb480dd25e1f0284c8555"',
            "modified": TIME,
            "size": 7,
            "version": "3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY",
        }
    )

    def set_key(key: str, value: Any) -> Any:
        return lambda doc: doc.__setitem__(key, value)

    return {
        "accept-good.json": good,
        "accept-null-version.json": edited(good, set_key("version", "null"))[:-1],
        "refuse-version-control-chars.json": edited(good, set_key("version", "a\x1b[2J")),
        "refuse-version-empty.json": edited(good, set_key("version", "")),
        "refuse-etag-long.json": edited(good, set_key("etag", "e" * 2000)),
        "refuse-size-negative.json": edited(good, set_key("size", -1)),
        "refuse-size-huge.json": edited(good, set_key("size", 1 << 62)),
        "refuse-modified-nul.json": edited(good, set_key("modified", "a\x00")),
        "refuse-missing-size.json": edited(good, lambda d: d.pop("size")),
        "refuse-too-large.json": b" " * 5000 + good,
        "refuse-non-utf8-version.json": splice(good, b"3HL4", b"3H\xffL4"),
        "refuse-deep-unknown-field.json": splice(
            good, b"{", b'{"x":' + b"[" * 1500 + b"]" * 1500 + b","
        ),
    }


# ---- names, ids and paths (one text per file, UTF-8) ------------------------------------


def name_cases() -> dict[str, bytes]:
    accepted = {"plain": "data.csv", "unicode": "日本 é.csv", "hidden": ".hidden", "dots": "..."}
    refused = {
        "dotdot": "..",
        "dot": ".",
        "empty": "",
        "slash": "a/b",
        "absolute": "/etc",
        "nul": "a\x00b",
        "metadata": ".dataworkspace",
    }
    out = {f"accept-{k}.txt": v.encode() for k, v in accepted.items()}
    out.update({f"refuse-{k}.txt": v.encode() for k, v in refused.items()})
    return out


CASES = {
    "snapshot": snapshot_cases,
    "run_record": run_cases,
    "step_memory": step_memory_cases,
    "workspace_info": workspace_cases,
    "resources": resources_cases,
    "head": head_cases,
    "tree": tree_cases,
    "pack_index": pack_index_cases,
    "chunk_list": chunk_list_cases,
    "pack_entry": pack_entry_cases,
    "s3_key_record": s3_key_record_cases,
    "entry_name": name_cases,
}
