"""Lineage run records and remembered step answers, with validating decoders.

A run record is written once, to ``lineage/runs/<id>.json``; like a snapshot record its id
is the BLAKE3 hash of its canonical JSON with the ``id`` field empty.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar, Literal

import msgspec

from dws.errors import FormatError, UsageError
from dws.model.digest import hash_bytes
from dws.model.ids import check_object_id, shown
from dws.model.paths import check_file_like_name, check_relative_path, check_resource_name
from dws.model.records import (
    FORMAT_VERSION,
    FormatOnly,
    check_format,
    decode_json,
    encode_record,
    record_id_of,
)

RunStatus = Literal["succeeded", "failed"]
PathKind = Literal["file", "dir", "symlink", "missing", "listing"]
MAX_ARGV = 10_000
# environment variables every run record notes when they are set
DEFAULT_ENV_VARS = (
    "CUDA_VISIBLE_DEVICES",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "PYTHONHASHSEED",
)
RUN_FORMAT = 2  # version 2 added what observation found: observer, removed, unexplained, ...
READABLE_RUN_FORMATS = (1, 2)


class PathVersion(msgspec.Struct, frozen=True):
    """A path inside a resource and the id of its content when the run saw it.

    ``path`` is relative to the resource root ("" is the root itself); ``id`` is a blob id
    for a file, a tree id for a directory, the hash of the link text for a symbolic link, and
    None when the path did not exist. A ``listing`` is a directory whose names (not
    contents) were read; its id is the hash of its sorted names and kinds."""

    resource: str
    path: str
    id: str | None
    kind: PathKind

    @property
    def label(self) -> str:
        """``resource/path`` as shown to users."""
        return f"{self.resource}/{self.path}" if self.path else self.resource


class CodeVersion(msgspec.Struct, frozen=True):
    """A code resource's commit when the run started; ``dirty`` lists uncommitted paths."""

    resource: str
    commit: str | None
    branch: str | None
    dirty: list[str] = []


class ImageVersion(msgspec.Struct, frozen=True, omit_defaults=True):
    """A container image a run's code ran in: the reference as named (by a container code
    resource, or on a ``docker run``/``podman run`` command line), the image id it resolved
    to when the run started (``sha256:<hex>``), the ``repo@sha256:...`` digests the image is
    known by in registries, the tool that answered and the global options given to it on
    the command line (``--root DIR``), and the container resource naming it (None for an
    image only the command line named)."""

    ref: str
    id: str
    digests: list[str] = []
    tool: str = ""
    options: list[str] = []
    resource: str | None = None


class ExternalCode(msgspec.Struct, frozen=True):
    """Code a run executed from outside every resource: its absolute path as run (or the
    name an interpreter gave code that only memory held, such as ``<ipython-input-3>``
    or a notebook cell's), and the id of its content (stored, so the run can be
    reproduced)."""

    path: str
    id: str


class RunRecord(msgspec.Struct, frozen=True, kw_only=True):
    """lineage/runs/<id>.json: one execution of a step.

    ``observer`` says how inputs and outputs were found: ``python`` (the recorder in every
    Python process), ``strace``, ``declared`` (the command line and -i/-o only, checked
    against what changed). ``removed`` holds what the run deleted or moved away (as it was
    before); ``unexplained`` data that changed during the run that no observed process
    wrote; ``unstable`` inputs that changed while the run could read them (the version
    found after it); ``unobserved`` programs the run started that nothing observed."""

    omit_when_empty: ClassVar[frozenset[str]] = frozenset(
        {
            "observer",
            "removed",
            "unexplained",
            "unstable",
            "unobserved",
            "external_code",
            "images",
        }
    )

    format: int = RUN_FORMAT
    id: str = ""
    step: str
    via: Literal["command", "python"]
    argv: list[str]
    cwd: str
    started: str
    ended: str
    exit_code: int | None
    status: RunStatus
    hostname: str
    user: str
    environment: dict[str, str]
    code: list[CodeVersion]
    inputs: list[PathVersion]
    outputs: list[PathVersion]
    params: dict[str, Any]
    metrics: dict[str, float] = {}
    traced: bool = False
    observer: str = ""
    removed: list[PathVersion] = []
    unexplained: list[PathVersion] = []
    unstable: list[PathVersion] = []
    unobserved: list[str] = []
    external_code: list[ExternalCode] = []
    images: list[ImageVersion] = []

    def with_id(self) -> RunRecord:
        """The record with its content-derived id filled in."""
        body = msgspec.structs.replace(self, id="")
        return msgspec.structs.replace(self, id=hash_bytes(encode_record(body)))

    @property
    def succeeded(self) -> bool:
        """Only a successful run may be the producer of an output."""
        return self.status == "succeeded"

    def recorded_env(self) -> dict[str, str]:
        """The variables the run was asked to record (``--env``), with their values: part
        of what the step was run with, so `dws rerun` sets them again."""
        return {
            key[4:]: value
            for key, value in self.environment.items()
            if key.startswith("env.") and key[4:] not in DEFAULT_ENV_VARS
        }

    def left(self, resource: str, path: str) -> PathVersion | None:
        """What this run itself left at a path it wrote or removed (None: it did not)."""
        for item in self.outputs:
            if item.resource == resource and item.path == path:
                return item
        for item in self.removed:
            if item.resource == resource and item.path == path:
                return PathVersion(resource, path, None, "missing")
        return None


class StepMemory(msgspec.Struct, kw_only=True):
    """lineage/steps/<step>.json: answers given for a step's ambiguous arguments, keyed by
    workspace-relative path ("input" or "output")."""

    format: int = FORMAT_VERSION
    step: str
    answers: dict[str, Literal["input", "output"]] = {}


def check_step_name(name: str) -> str:
    """Step names become file names (lineage/steps/<step>.json)."""
    return check_file_like_name(name, "step name", 100)


# resource names and paths already found valid in this process: records name the same few
# resources and paths again and again, and checking each again dominated decoding
_VALID_NAMES: set[str] = set()
_VALID_PATHS: set[str] = set()
VALID_LIMIT = 100_000


def _check_path_version(item: PathVersion, what: str) -> None:
    if item.resource not in _VALID_NAMES:
        try:
            check_resource_name(item.resource)
        except UsageError:
            raise FormatError(f"{what} names an invalid resource {shown(item.resource)}") from None
        _remember(_VALID_NAMES, item.resource)
    if item.path and item.path not in _VALID_PATHS:
        check_relative_path(item.path)
        _remember(_VALID_PATHS, item.path)
    if item.id is None:
        if item.kind != "missing":
            raise FormatError(f"{what}: {item.label} has no id")
    else:
        check_object_id(item.id, f"id of {item.label} in {what}")


def _remember(valid: set[str], value: str) -> None:
    if len(valid) >= VALID_LIMIT:
        valid.clear()
    valid.add(value)


def decode_run_record(data: bytes, expected_id: str | None = None) -> RunRecord:
    """Parse a run record; check its paths, ids and that its id is the hash of its content."""
    check_format(
        decode_json(data, FormatOnly, "run record").format, "run record", READABLE_RUN_FORMATS
    )
    record: RunRecord = decode_json(data, RunRecord, "run record")
    check_object_id(record.id, "run id")
    try:
        check_step_name(record.step)
    except UsageError:
        raise FormatError(f"run record has an invalid step name {record.step[:80]!r}") from None
    if len(record.argv) > MAX_ARGV or any("\x00" in arg for arg in record.argv):
        raise FormatError("run record has an implausible argv")
    if record.cwd != ".":
        check_relative_path(record.cwd)
    for item in [
        *record.inputs,
        *record.outputs,
        *record.removed,
        *record.unexplained,
        *record.unstable,
    ]:
        _check_path_version(item, f"run {record.id[:12]}")
    for code_file in record.external_code:
        named = code_file.path.startswith(("/", "<")) and len(code_file.path) <= 4096
        if not named or "\x00" in code_file.path:
            raise FormatError(f"run {record.id[:12]}: external code path is not absolute")
        check_object_id(code_file.id, f"id of {code_file.path[:80]!r} in run {record.id[:12]}")
    if len(record.unobserved) > MAX_ARGV:
        raise FormatError("run record has an implausible list of unobserved programs")
    for code in record.code:
        try:
            check_resource_name(code.resource)
        except UsageError:
            raise FormatError(
                f"run {record.id[:12]} names an invalid code resource {shown(code.resource)}"
            ) from None
        if code.commit is not None and not re.fullmatch(r"[0-9a-f]{40}|[0-9a-f]{64}", code.commit):
            raise FormatError(f"run {record.id[:12]}: malformed commit {code.commit[:80]!r}")
    for image in record.images:
        _check_image(image, record.id[:12])
    if record_id_of(data, "run record") != record.id or (expected_id and record.id != expected_id):
        raise FormatError(f"run record {(expected_id or record.id)[:12]} fails its checksum")
    return record


_IMAGE_ID = re.compile(r"sha256:[0-9a-f]{64}")
_DIGEST_REF = re.compile(r"[^\s@]{1,512}@sha256:[0-9a-f]{64}")


def _check_image(image: ImageVersion, run: str) -> None:
    """An image of a run record: a plausible reference, an id, digests, tool and options."""
    if not image.ref or len(image.ref) > 512 or any(c.isspace() for c in image.ref):
        raise FormatError(f"run {run}: malformed image reference {image.ref[:80]!r}")
    if not _IMAGE_ID.fullmatch(image.id):
        raise FormatError(f"run {run}: malformed image id {image.id[:80]!r}")
    if any(not _DIGEST_REF.fullmatch(d) for d in image.digests):
        raise FormatError(f"run {run}: malformed image digest of {image.ref[:80]!r}")
    if image.tool not in ("docker", "podman") or len(image.options) > 100:
        raise FormatError(f"run {run}: implausible container tool for {image.ref[:80]!r}")
    if any("\x00" in option or len(option) > 4096 for option in image.options):
        raise FormatError(f"run {run}: implausible container tool options")
    if image.resource is not None:
        try:
            check_resource_name(image.resource)
        except UsageError:
            raise FormatError(f"run {run} names an invalid container resource") from None


def decode_step_memory(data: bytes, step: str) -> StepMemory:
    """Parse lineage/steps/<step>.json."""
    check_format(decode_json(data, FormatOnly, "step file").format, "step file")
    memory: StepMemory = decode_json(data, StepMemory, f"lineage/steps/{step}.json")
    if memory.step != step:
        raise FormatError(f"lineage/steps/{step}.json is for step {memory.step[:80]!r}")
    for path in memory.answers:
        if path != ".":
            check_relative_path(path)
    return memory
