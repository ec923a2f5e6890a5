"""The JSON records under .dataworkspace/ and their validating decoders."""

from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest

from dws.errors import FormatError
from dws.model.digest import hash_bytes
from dws.model.records import (
    FORMAT_VERSION,
    SNAPSHOT_FORMATS,
    WORKSPACE_FORMAT,
    Head,
    ResourceSnapshot,
    ResourceSpec,
    SnapshotRecord,
    WorkspaceInfo,
    check_format,
    decode_head,
    decode_resources,
    decode_snapshot,
    decode_workspace_info,
    encode_record,
    encode_resources,
)
from dws.model.roles import Role
from dws.model.tree import EMPTY_TREE_ID

OTHER_ID = hash_bytes(b"other")


def make_record(**changes: Any) -> SnapshotRecord:
    fields: dict[str, Any] = {
        "created": "2024-01-02T03:04:05.000006Z",
        "hostname": "host",
        "user": "me",
        "message": "baseline",
        "parent": None,
        "resources": {
            "raw": ResourceSnapshot(
                "local-files", Role.SOURCE_DATA, {"tree": EMPTY_TREE_ID, "files": 0}
            ),
            "results": ResourceSnapshot("local-files", Role.RESULTS, {"tree": EMPTY_TREE_ID}),
        },
        "metrics": {"results/metrics.json": {"acc": 0.9}},
    }
    fields.update(changes)
    return SnapshotRecord(**fields).with_id()


def as_json(record: SnapshotRecord) -> dict[str, Any]:
    value: dict[str, Any] = json.loads(encode_record(record))
    return value


# ---- snapshot records ---------------------------------------------------------------------


def test_snapshot_id_is_the_hash_of_the_record_without_its_id() -> None:
    record = make_record()
    body = msgspec.structs.replace(record, id="")
    assert record.id == hash_bytes(encode_record(body))
    assert decode_snapshot(encode_record(record)) == record
    assert decode_snapshot(encode_record(record), record.id) == record


def test_snapshot_id_depends_on_every_field() -> None:
    base = make_record()
    variants = [
        make_record(message="other"),
        make_record(hostname="elsewhere"),
        make_record(parent=OTHER_ID),
        make_record(created="2024-01-02T03:04:05.000007Z"),
        make_record(runs=[OTHER_ID]),
        make_record(metrics={}),
        make_record(resources={}),
    ]
    assert len({base.id, *(v.id for v in variants)}) == len(variants) + 1


def test_encoding_is_canonical() -> None:
    record = make_record()
    again = SnapshotRecord(**{f: getattr(record, f) for f in record.__struct_fields__})
    assert encode_record(record) == encode_record(again)
    data = encode_record(record)
    keys = list(json.loads(data))
    assert keys == sorted(keys)


@pytest.mark.parametrize(
    "tamper",
    [
        lambda d: d.update(message="evil"),
        lambda d: d.update(parent=OTHER_ID),
        lambda d: d["resources"]["raw"]["state"].update(tree=OTHER_ID),
        lambda d: d["resources"]["raw"].update(role="intermediate-data"),
        lambda d: d["metrics"]["results/metrics.json"].update(acc=1.0),
        lambda d: d.update(id=OTHER_ID),
    ],
)
def test_a_tampered_record_fails_its_checksum(tamper: Any) -> None:
    data = as_json(make_record())
    tamper(data)
    with pytest.raises(FormatError, match="fails its checksum"):
        decode_snapshot(json.dumps(data).encode())


def test_a_record_under_the_wrong_name_fails() -> None:
    record = make_record()
    with pytest.raises(FormatError, match="checksum"):
        decode_snapshot(encode_record(record), OTHER_ID)


def test_a_record_without_id_is_refused() -> None:
    data = as_json(make_record())
    data["id"] = ""
    with pytest.raises(FormatError, match="snapshot id"):
        decode_snapshot(json.dumps(data).encode())


def test_malformed_parent_id_is_refused() -> None:
    record = make_record(parent="../../etc")
    with pytest.raises(FormatError, match="parent"):
        decode_snapshot(encode_record(record))


def test_invalid_resource_name_in_record_is_refused() -> None:
    record = make_record(
        resources={"../x": ResourceSnapshot("local-files", Role.RESULTS, {"tree": EMPTY_TREE_ID})}
    )
    with pytest.raises(FormatError, match="invalid resource"):
        decode_snapshot(encode_record(record))


@pytest.mark.parametrize(
    "data",
    [b"", b"garbage", b"[]", b'{"format": 1}', b"\xff", b'{"format": "1"}'],
)
def test_malformed_snapshot_records_are_refused(data: bytes) -> None:
    with pytest.raises(FormatError):
        decode_snapshot(data)


def test_unknown_role_in_snapshot_is_refused() -> None:
    data = as_json(make_record())
    data["resources"]["raw"]["role"] = "bogus"
    with pytest.raises(FormatError):
        decode_snapshot(json.dumps(data).encode())


def test_unknown_format_version_is_refused_with_a_clear_message() -> None:
    unknown = max(SNAPSHOT_FORMATS) + 1
    record = make_record(format=unknown)
    with pytest.raises(FormatError) as info:
        decode_snapshot(encode_record(record))
    assert f"format version {unknown}" in info.value.message
    assert "upgrade dws" in info.value.message


def test_a_future_record_of_a_different_shape_still_gets_the_version_message() -> None:
    # a later format may change anything but the "format" key; the reader must look at the
    # version before the shape, as decode_workspace_info does
    unknown = max(SNAPSHOT_FORMATS) + 1
    future = {"format": unknown, "id": OTHER_ID, "resources": [{"name": "raw"}]}
    with pytest.raises(FormatError) as info:
        decode_snapshot(json.dumps(future).encode())
    assert f"format version {unknown}" in info.value.message


def test_stale_outputs_are_left_out_while_empty_and_need_format_2() -> None:
    plain = make_record()
    assert b"stale" not in encode_record(plain) and plain.format == FORMAT_VERSION
    assert SnapshotRecord.format_for([]) == FORMAT_VERSION
    stale = ["results/metrics.json"]
    record = msgspec.structs.replace(
        plain, id="", format=SnapshotRecord.format_for(stale), stale=stale
    ).with_id()
    data = encode_record(record)
    assert record.format == 2 and b'"stale":["results/metrics.json"]' in data
    assert decode_snapshot(data, record.id) == record
    with pytest.raises(FormatError, match="upgrade dws"):  # what a format-1 reader says
        check_format(json.loads(data)["format"], "snapshot record")


def test_oversized_record_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    from dws.model import records

    monkeypatch.setattr(records, "MAX_RECORD_BYTES", 100)
    with pytest.raises(FormatError, match="implausibly large"):
        decode_snapshot(encode_record(make_record()))


def test_same_state_compares_resources_only() -> None:
    record = make_record()
    assert record.same_state(dict(record.resources))
    changed = dict(record.resources)
    changed["raw"] = ResourceSnapshot("local-files", Role.SOURCE_DATA, {"tree": OTHER_ID})
    assert not record.same_state(changed)


# ---- workspace.json -----------------------------------------------------------------------


def workspace_json(**changes: Any) -> bytes:
    value: dict[str, Any] = {
        "format": FORMAT_VERSION,
        "id": "8d1b7a2e-0000-4000-8000-000000000000",
        "name": "ws",
        "created": "2024-01-01T00:00:00Z",
        "hash": "blake3",
    }
    value.update(changes)
    return json.dumps({k: v for k, v in value.items() if v is not None}).encode()


def test_workspace_info_round_trip() -> None:
    info = decode_workspace_info(workspace_json())
    assert info == WorkspaceInfo(
        FORMAT_VERSION, "8d1b7a2e-0000-4000-8000-000000000000", "ws", "2024-01-01T00:00:00Z"
    )
    assert decode_workspace_info(encode_record(info)) == info


@pytest.mark.parametrize("version", [0, WORKSPACE_FORMAT + 1, 99])
def test_workspace_of_unknown_version_is_refused_clearly(version: int) -> None:
    with pytest.raises(FormatError) as info:
        decode_workspace_info(workspace_json(format=version, name=None, extra=[1, 2]))
    assert f"format version {version}" in info.value.message
    assert "upgrade dws" in info.value.message


@pytest.mark.parametrize(
    "data",
    [
        workspace_json(format=None),
        workspace_json(format="1"),
        workspace_json(hash="sha1"),
        workspace_json(name=None),
        b"[]",
        b"nope",
    ],
)
def test_malformed_workspace_json_is_refused(data: bytes) -> None:
    with pytest.raises(FormatError):
        decode_workspace_info(data)


# ---- resources.json -----------------------------------------------------------------------


def spec(name: str, role: Role = Role.SOURCE_DATA, **params: Any) -> ResourceSpec:
    return ResourceSpec(name, "local-files", role, {"path": f"data/{name}", **params})


def test_resources_round_trip_with_flat_params() -> None:
    specs = [spec("raw", keep="hashes"), spec("results", Role.RESULTS)]
    data = encode_resources(specs)
    assert json.loads(data)[0] == {
        "name": "raw",
        "type": "local-files",
        "role": "source-data",
        "path": "data/raw",
        "keep": "hashes",
    }
    assert decode_resources(data) == specs


def test_resources_with_duplicate_names_are_refused() -> None:
    data = encode_resources([spec("raw"), spec("raw", Role.RESULTS)])
    with pytest.raises(FormatError, match="duplicate resource name 'raw'"):
        decode_resources(data)


@pytest.mark.parametrize("name", ["../x", "2x", "", "class"])
def test_resources_with_invalid_names_are_refused(name: str) -> None:
    data = json.dumps([{"name": name, "type": "local-files", "role": "results"}]).encode()
    with pytest.raises(FormatError, match="invalid resource name"):
        decode_resources(data)


@pytest.mark.parametrize(
    "item",
    [
        {"name": "raw", "type": "local-files", "role": "bogus"},
        {"name": "raw", "type": "local-files"},
        {"type": "local-files", "role": "results"},
        {"name": "raw", "type": 7, "role": "results"},
        {"name": 7, "type": "local-files", "role": "results"},
    ],
)
def test_malformed_resource_entries_are_format_errors(item: dict[str, Any]) -> None:
    with pytest.raises(FormatError):
        decode_resources(json.dumps([item]).encode())


@pytest.mark.parametrize("data", [b"{}", b"[1]", b"nope", b""])
def test_malformed_resources_json_is_refused(data: bytes) -> None:
    with pytest.raises(FormatError):
        decode_resources(data)


# ---- local/head.json ----------------------------------------------------------------------


def test_head_round_trip() -> None:
    head = Head(OTHER_ID, {"raw": OTHER_ID})
    assert decode_head(encode_record(head)) == head
    assert decode_head(b"{}") == Head()


@pytest.mark.parametrize(
    "data",
    [
        b'{"snapshot": "../x"}',
        json.dumps({"snapshot": None, "bases": {"raw": "zz"}}).encode(),
        b"nope",
    ],
)
def test_malformed_head_is_refused(data: bytes) -> None:
    with pytest.raises(FormatError):
        decode_head(data)
