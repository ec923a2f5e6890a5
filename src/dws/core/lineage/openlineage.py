"""Run records as OpenLineage run events (spec 2-0-2), for Marquez or any other consumer.

Every run becomes a START event at its start time and a COMPLETE or FAIL event at its end.
The job is the step; datasets are paths inside resources, namespaced by workspace and
resource, each with its content id as the dataset version. Events are plain dicts, ready
for ``json.dumps``.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from dws.errors import FormatError
from dws.model.runs import PathVersion, RunRecord

DEFAULT_PRODUCER = "https://github.com/dws/data-workspaces"
SPEC = "https://openlineage.io/spec"
RUN_EVENT_SCHEMA = f"{SPEC}/2-0-2/OpenLineage.json#/$defs/RunEvent"
ERROR_FACET_SCHEMA = f"{SPEC}/facets/1-0-1/ErrorMessageRunFacet.json#/$defs/ErrorMessageRunFacet"
SOURCE_FACET_SCHEMA = (
    f"{SPEC}/facets/1-0-1/SourceCodeLocationJobFacet.json#/$defs/SourceCodeLocationJobFacet"
)
JOB_TYPE_FACET_SCHEMA = f"{SPEC}/facets/2-0-2/JobTypeJobFacet.json#/$defs/JobTypeJobFacet"
VERSION_FACET_SCHEMA = (
    f"{SPEC}/facets/1-0-0/DatasetVersionDatasetFacet.json#/$defs/DatasetVersionDatasetFacet"
)
DWS_RUN_FACET = "dws_run"
# The custom facet carries the run record's own fields; the record is described there.
DWS_RUN_FACET_SCHEMA = f"{DEFAULT_PRODUCER}/blob/main/docs/lineage.md#the-run-record"


def run_uuid(run_id: str) -> str:
    """A UUID for a run, derived from its id: the first 16 bytes of the id, marked as a
    version 8 (custom) UUID with the RFC 9562 variant, so the same run always gets the
    same runId."""
    try:
        raw = bytearray(bytes.fromhex(run_id)[:16])
    except ValueError:
        raise FormatError(f"malformed run id {run_id[:80]!r}") from None
    if len(raw) != 16:
        raise FormatError(f"malformed run id {run_id[:80]!r}")
    raw[6] = (raw[6] & 0x0F) | 0x80  # version 8
    raw[8] = (raw[8] & 0x3F) | 0x80  # variant 10xx
    return str(uuid.UUID(bytes=bytes(raw)))


def run_events(
    records: list[RunRecord],
    *,
    namespace: str,
    workspace_name: str,
    producer: str = DEFAULT_PRODUCER,
    resource_urls: dict[str, str] | None = None,
    code_urls: dict[str, str] | None = None,
) -> Iterator[dict[str, Any]]:
    """START and COMPLETE/FAIL events for every run, in order of event time (ties keep the
    order of ``records``). ``namespace`` is the jobs' namespace; datasets are in
    ``dws://<workspace_name>/<resource>`` unless ``resource_urls`` names the resource.
    ``code_urls`` maps code resources to their repository's URL, which becomes the job's
    source code location (with the run's commit as its version) without changing how
    the code files are named as datasets; ``resource_urls`` is used when it has none."""
    builder = _EventBuilder(
        namespace, workspace_name, producer, resource_urls or {}, code_urls or {}
    )
    timed: list[tuple[datetime, dict[str, Any]]] = []
    for record in records:
        started = _parse_time(record.started, record)
        ended = max(_parse_time(record.ended, record), started)  # START always comes first
        timed.append((started, builder.start(record)))
        timed.append((ended, builder.end(record)))
    timed.sort(key=lambda item: item[0])
    for _, event in timed:
        yield event


class _EventBuilder:
    def __init__(
        self,
        namespace: str,
        workspace: str,
        producer: str,
        resource_urls: dict[str, str],
        code_urls: dict[str, str],
    ) -> None:
        self.namespace = namespace
        self.workspace = workspace
        self.producer = producer
        self.resource_urls = resource_urls
        self.code_urls = code_urls

    def start(self, record: RunRecord) -> dict[str, Any]:
        return self._event("START", record.started, record, outputs=[])

    def end(self, record: RunRecord) -> dict[str, Any]:
        outputs = record.outputs
        if not record.succeeded:
            outputs = [item for item in outputs if item.id is not None]
        kind = "COMPLETE" if record.succeeded else "FAIL"
        return self._event(kind, record.ended, record, outputs=outputs)

    def _event(
        self, kind: str, when: str, record: RunRecord, outputs: list[PathVersion]
    ) -> dict[str, Any]:
        run_facets: dict[str, Any] = {DWS_RUN_FACET: self._dws_run_facet(record)}
        if kind == "FAIL":
            run_facets["errorMessage"] = self._facet(
                ERROR_FACET_SCHEMA,
                message=_failure_message(record),
                programmingLanguage="PYTHON" if record.via == "python" else "UNKNOWN",
            )
        return {
            "eventType": kind,
            "eventTime": _format_time(_parse_time(when, record)),
            "producer": self.producer,
            "schemaURL": RUN_EVENT_SCHEMA,
            "run": {"runId": run_uuid(record.id), "facets": run_facets},
            "job": {"namespace": self.namespace, "name": record.step, "facets": self._job(record)},
            "inputs": [self._dataset(item) for item in record.inputs],
            "outputs": [self._dataset(item) for item in outputs],
        }

    def _facet(self, schema: str, **fields: Any) -> dict[str, Any]:
        return {"_producer": self.producer, "_schemaURL": schema, **fields}

    def _dws_run_facet(self, record: RunRecord) -> dict[str, Any]:
        return self._facet(
            DWS_RUN_FACET_SCHEMA,
            runRecord=record.id,
            argv=list(record.argv),
            cwd=record.cwd,
            exitCode=record.exit_code,
            status=record.status,
            host=record.hostname,
            user=record.user,
            params=record.params,
            metrics={key: _json_number(value) for key, value in record.metrics.items()},
            code=[
                {"resource": c.resource, "commit": c.commit, "branch": c.branch, "dirty": c.dirty}
                for c in record.code
            ],
            traced=record.traced,
        )

    def _job(self, record: RunRecord) -> dict[str, Any]:
        facets: dict[str, Any] = {
            "jobType": self._facet(
                JOB_TYPE_FACET_SCHEMA, processingType="BATCH", integration="DWS", jobType="STEP"
            )
        }
        for code in record.code:
            url = self.code_urls.get(code.resource) or self.resource_urls.get(code.resource)
            if code.commit and url:
                location = self._facet(SOURCE_FACET_SCHEMA, type="git", url=url)
                location["version"] = code.commit
                if code.branch:
                    location["branch"] = code.branch
                facets["sourceCodeLocation"] = location
                break
        return facets

    def _dataset(self, item: PathVersion) -> dict[str, Any]:
        namespace = self.resource_urls.get(item.resource) or (
            f"dws://{quote(self.workspace, safe='')}/{item.resource}"
        )
        dataset: dict[str, Any] = {"namespace": namespace, "name": item.path or "."}
        if item.id is not None:
            dataset["facets"] = {
                "version": self._facet(VERSION_FACET_SCHEMA, datasetVersion=item.id)
            }
        return dataset


def _failure_message(record: RunRecord) -> str:
    if record.exit_code is None:
        return "failed without an exit code"
    return f"exit code {record.exit_code}"


def _json_number(value: float) -> float | None:
    """NaN and infinities are not JSON: they become null."""
    return value if math.isfinite(value) else None


def _parse_time(text: str, record: RunRecord) -> datetime:
    """A run time as an aware datetime; times without a zone are taken as UTC."""
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise FormatError(f"run {record.id[:12]} has a malformed time {text[:40]!r}") from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _format_time(when: datetime) -> str:
    """ISO 8601 in UTC with a 'Z', as OpenLineage consumers expect."""
    return when.astimezone(UTC).isoformat().replace("+00:00", "Z")
