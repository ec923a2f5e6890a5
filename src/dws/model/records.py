"""The JSON records under .dataworkspace/, with validating decoders."""

from __future__ import annotations

from typing import Any, ClassVar

import msgspec

from dws.errors import FormatError, UsageError
from dws.model.digest import hash_bytes
from dws.model.ids import check_object_id, shown
from dws.model.paths import META_DIR_NAME, check_resource_name
from dws.model.roles import Role

FORMAT_VERSION = 1
# A snapshot record that lists stale outputs or carries resource definitions is written as
# format 2, so a dws that reads only format 1 refuses it with its "upgrade dws" message rather
# than a checksum error; one without them stays format 1, byte for byte as before.
SNAPSHOT_FORMAT_STALE = 2
SNAPSHOT_FORMATS = (FORMAT_VERSION, SNAPSHOT_FORMAT_STALE)
# workspace.json: version 2 is the object store with framed (compressed) packs and chunk
# lists; a version-1 workspace is read as it is and marked 2 before its store is written
WORKSPACE_FORMAT = 2
WORKSPACE_FORMATS = (1, WORKSPACE_FORMAT)
MAX_RECORD_BYTES = 64 << 20


class FormatOnly(msgspec.Struct):
    """Just the format field, read before anything else (every record has one)."""

    format: int


class WorkspaceInfo(msgspec.Struct, frozen=True):
    """workspace.json: identity and format version of a workspace."""

    format: int
    id: str
    name: str
    created: str
    hash: str = "blake3"


class ResourceSpec(msgspec.Struct, frozen=True):
    """One entry of resources.json; ``params`` holds the type-specific keys."""

    name: str
    type: str
    role: Role
    params: dict[str, Any] = {}

    def to_json_obj(self) -> dict[str, Any]:
        """Flat JSON object as stored on disk."""
        return {"name": self.name, "type": self.type, "role": self.role.value, **self.params}


class ResourceSnapshot(msgspec.Struct, frozen=True):
    """A resource's part of a snapshot; ``state`` is interpreted by the resource type."""

    type: str
    role: Role
    state: dict[str, Any]


class SnapshotRecord(msgspec.Struct, frozen=True, kw_only=True):
    """snapshots/<id>.json: write-once; ``id`` is the hash of the record without it."""

    format: int = FORMAT_VERSION
    id: str = ""
    created: str
    hostname: str
    user: str
    message: str
    parent: str | None
    resources: dict[str, ResourceSnapshot]
    runs: list[str] = []
    metrics: dict[str, dict[str, float]] = {}
    stale: list[str] = []
    # name -> the type-specific keys of the resource's resources.json entry when the
    # snapshot was taken, so the snapshot carries what is needed to restore it elsewhere
    definitions: dict[str, dict[str, Any]] = {}

    omit_when_empty: ClassVar[frozenset[str]] = frozenset({"stale", "definitions"})

    @staticmethod
    def format_for(stale: list[str], definitions: dict[str, dict[str, Any]] | None = None) -> int:
        """The format a record with these stale outputs and definitions is written in."""
        return SNAPSHOT_FORMAT_STALE if stale or definitions else FORMAT_VERSION

    def with_id(self) -> SnapshotRecord:
        """Return the record with its content-derived id filled in."""
        body = msgspec.structs.replace(self, id="")
        return msgspec.structs.replace(self, id=hash_bytes(encode_record(body)))

    def definition(self, name: str) -> ResourceSpec | None:
        """The resources.json entry of resource ``name`` this snapshot carries (None for a
        resource it does not record, or a record written before snapshots carried them)."""
        recorded = self.resources.get(name)
        params = self.definitions.get(name)
        if recorded is None or params is None:
            return None
        return ResourceSpec(name, recorded.type, recorded.role, dict(params))

    def same_state(self, resources: dict[str, ResourceSnapshot]) -> bool:
        """True when ``resources`` records exactly the state this snapshot records."""
        return self.resources == resources


class Head(msgspec.Struct):
    """local/head.json: the snapshot the workspace was last snapshotted at or restored to,
    for each resource the snapshot its files are known to match (its *base*), and the
    target of a restore of that resource that has started but not finished."""

    snapshot: str | None = None
    bases: dict[str, str] = {}
    restoring: dict[str, str] = {}


_encoder = msgspec.json.Encoder(order="sorted")

# What msgspec raises on hostile JSON: besides its own errors, invalid UTF-8 inside a string
# surfaces as UnicodeDecodeError and deep nesting (even inside an ignored field) as
# RecursionError.
DECODE_ERRORS = (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError, RecursionError)


def describe_decode_error(exc: BaseException) -> str:
    """A short reason for a decoding failure (never the offending bytes)."""
    if isinstance(exc, UnicodeDecodeError):
        return f"invalid UTF-8 at byte {exc.start}"
    if isinstance(exc, RecursionError):
        return "nested too deeply"
    return str(exc)


def encode_record(record: msgspec.Struct) -> bytes:
    """Canonical JSON bytes of any record. Fields a record class lists in
    ``omit_when_empty`` are left out while empty, so a record that does not use a field
    added in a later version is byte-identical to what earlier versions wrote."""
    omit: frozenset[str] = getattr(record, "omit_when_empty", frozenset())
    if not omit:
        return _encoder.encode(record)
    body = msgspec.to_builtins(record)
    for name in omit:
        if body.get(name) in ([], {}, None, False, ""):
            body.pop(name, None)
    return _encoder.encode(body)


def record_id_of(data: bytes, what: str) -> str:
    """The id a record's bytes must carry: the hash of its canonical JSON with ``id`` set
    to "" (computed from the JSON as written, so fields this version does not know, or
    that it would omit, are covered too)."""
    body = decode_json(data, dict[str, Any], what)
    body["id"] = ""
    return hash_bytes(_encoder.encode(body))


def decode_json(data: bytes, kind: type[Any], what: str) -> Any:
    """Decode and type-check JSON bytes, refusing implausibly large input."""
    if len(data) > MAX_RECORD_BYTES:
        raise FormatError(f"{what} is implausibly large ({len(data)} bytes)")
    try:
        return msgspec.json.decode(data, type=kind)
    except DECODE_ERRORS as exc:
        raise FormatError(f"{what} is malformed: {describe_decode_error(exc)}") from None


def check_format(version: int, what: str, readable: tuple[int, ...] = (FORMAT_VERSION,)) -> None:
    """Refuse records written by an unknown (newer) format version."""
    if version not in readable:
        shown_versions = " and ".join(str(v) for v in readable)
        raise FormatError(
            f"{what} has format version {version}; this dws reads version {shown_versions} "
            "(upgrade dws to open it)"
        )


def upgraded_workspace_info(info: WorkspaceInfo) -> bytes:
    """workspace.json for ``info`` marked with the current format (nothing else changes)."""
    return encode_record(msgspec.structs.replace(info, format=WORKSPACE_FORMAT))


def decode_workspace_info(data: bytes) -> WorkspaceInfo:
    """Parse workspace.json, refusing unknown format versions."""
    raw = decode_json(data, dict[str, Any], "workspace.json")
    version = raw.get("format")
    if not isinstance(version, int):
        raise FormatError("workspace.json has no format version")
    check_format(version, "this workspace", WORKSPACE_FORMATS)
    info: WorkspaceInfo = decode_json(data, WorkspaceInfo, "workspace.json")
    if info.hash != "blake3":
        raise FormatError(f"unsupported hash {info.hash!r} in workspace.json")
    return info


def decode_resources(data: bytes) -> list[ResourceSpec]:
    """Parse resources.json into specs; names must be valid and unique."""
    raw = decode_json(data, list[dict[str, Any]], "resources.json")
    specs: list[ResourceSpec] = []
    seen: set[str] = set()
    for item in raw:
        common = {key: item.get(key) for key in ("name", "type", "role")}
        params = {key: value for key, value in item.items() if key not in common}
        try:
            spec: ResourceSpec = msgspec.convert({**common, "params": params}, ResourceSpec)
        except msgspec.ValidationError as exc:
            raise FormatError(f"resources.json: {exc}") from None
        try:
            check_resource_name(spec.name)
        except UsageError:
            raise FormatError(f"resources.json: invalid resource name {shown(spec.name)}") from None
        if spec.name in seen:
            raise FormatError(f"resources.json: duplicate resource name {spec.name!r}")
        if "path" in spec.params:
            check_resource_path(spec.name, spec.params["path"])
        seen.add(spec.name)
        specs.append(spec)
    return specs


def check_resource_path(name: str, path: object) -> str:
    """A resource's recorded directory: a normalized path (relative to the workspace, or
    absolute for a directory outside it) with no '..' or '.dataworkspace' part, so a
    crafted resources.json cannot point a resource into the metadata or, by a relative
    path, outside the workspace (where a forced restore would delete files)."""
    if not isinstance(path, str) or not path or "\x00" in path:
        raise FormatError(f"resources.json: resource {name!r} has no valid path")
    parts = path.split("/")
    if ".." in parts or META_DIR_NAME in parts:
        raise FormatError(
            f"resources.json: resource {name!r} has a path that leaves its place "
            f"({shown(path)}); only the workspace's own directories or absolute paths are valid"
        )
    return path


def encode_resources(specs: list[ResourceSpec]) -> bytes:
    """resources.json bytes (indented for humans and merges)."""
    return msgspec.json.format(msgspec.json.encode([s.to_json_obj() for s in specs]), indent=2)


def decode_snapshot(data: bytes, expected_id: str | None = None) -> SnapshotRecord:
    """Parse a snapshot record and check its id is the hash of its content."""
    check_format(
        decode_json(data, FormatOnly, "snapshot record").format,
        "snapshot record",
        readable=SNAPSHOT_FORMATS,
    )
    record: SnapshotRecord = decode_json(data, SnapshotRecord, "snapshot record")
    check_object_id(record.id, "snapshot id")
    if record.parent is not None:
        check_object_id(record.parent, "parent snapshot id")
    for name in record.resources:
        try:
            check_resource_name(name)
        except UsageError:
            raise FormatError(f"snapshot record names an invalid resource {shown(name)}") from None
    for name, params in record.definitions.items():
        if name not in record.resources or {"name", "type", "role"} & set(params):
            raise FormatError(f"snapshot record has an invalid definition of {shown(name)}")
        if "path" in params:
            check_resource_path(name, params["path"])
    for run_id in record.runs:
        check_object_id(run_id, "run id in a snapshot record")
    for path in record.stale:
        if not path or "\x00" in path:
            raise FormatError(f"snapshot record lists an invalid stale path {shown(path)}")
    if record_id_of(data, "snapshot record") != record.id or (
        expected_id and record.id != expected_id
    ):
        raise FormatError(f"snapshot record {(expected_id or record.id)[:12]} fails its checksum")
    return record


def decode_head(data: bytes) -> Head:
    """Parse local/head.json."""
    head: Head = decode_json(data, Head, "local/head.json")
    if head.snapshot is not None:
        check_object_id(head.snapshot, "head snapshot id")
    for ident in [*head.bases.values(), *head.restoring.values()]:
        check_object_id(ident, "base snapshot id")
    return head


DEFAULT_METRICS_FILES = ["metrics.json", "results.json"]


class ResultsConfig(msgspec.Struct, frozen=True):
    """config.json ``results``: which files of results resources hold metrics."""

    metrics: list[str] = msgspec.field(default_factory=lambda: list(DEFAULT_METRICS_FILES))


class ConfigShape(msgspec.Struct, frozen=True):
    """The shape config.json must have (each remote is checked where it is read)."""

    remotes: dict[str, dict[str, Any]] = {}
    results: ResultsConfig = ResultsConfig()


def decode_config(data: bytes) -> dict[str, Any]:
    """config.json as a dict, after checking its shape (a wrong type is a FormatError)."""
    decode_json(data, ConfigShape, "config.json")
    value: dict[str, Any] = decode_json(data, dict[str, Any], "config.json")
    return value
