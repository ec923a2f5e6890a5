"""dws.core.lineage.openlineage: run records as OpenLineage run events."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from typing import Any

import msgspec
import pytest

import dws
from dws.core.lineage.openlineage import run_events, run_uuid
from dws.errors import FormatError
from dws.model.runs import CodeVersion, PathVersion, RunRecord
from helpers.git import GIT_ENV
from helpers.git import git as run_git

BLOB = "b" * 64
TREE = "7" * 64
COMMIT = "c" * 40
UTC_TIME_RE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z")


def record(step: str = "train", **changes: Any) -> RunRecord:
    fields: dict[str, Any] = {
        "step": step,
        "via": "command",
        "argv": ["python", "code/train.py", "--epochs", "5"],
        "cwd": ".",
        "started": "2026-11-25T10:00:00.000001Z",
        "ended": "2026-11-25T10:05:00.000001Z",
        "exit_code": 0,
        "status": "succeeded",
        "hostname": "box",
        "user": "ana",
        "environment": {"python": "3.11"},
        "code": [],
        "inputs": [PathVersion("intermediate", "features/train.parquet", BLOB, "file")],
        "outputs": [PathVersion("results", "model.pkl", BLOB, "file")],
        "params": {"epochs": 5},
    }
    fields.update(changes)
    return RunRecord(**fields).with_id()


def events(records: list[RunRecord], **options: Any) -> list[dict[str, Any]]:
    produced = list(run_events(records, namespace="dws-ns", workspace_name="demo ws", **options))
    for event in produced:
        check_run_event(event)
    return produced


# ---- a structural check of the spec's required fields ----------------------------------


def check_facet(facet: Any) -> None:
    assert isinstance(facet, dict)
    assert isinstance(facet["_producer"], str) and facet["_producer"].startswith("https://")
    assert isinstance(facet["_schemaURL"], str) and facet["_schemaURL"].startswith("https://")


def check_facets(facets: Any, required: dict[str, list[str]]) -> None:
    assert isinstance(facets, dict)
    for name, facet in facets.items():
        check_facet(facet)
        for key in required.get(name, []):
            assert key in facet, f"facet {name} lacks {key}"


def check_dataset(dataset: Any) -> None:
    assert isinstance(dataset["namespace"], str) and dataset["namespace"]
    assert isinstance(dataset["name"], str) and dataset["name"]
    check_facets(dataset.get("facets", {}), {"version": ["datasetVersion"]})


def check_run_event(event: dict[str, Any]) -> None:
    """The RunEvent rules of OpenLineage 2-0-2 that a consumer relies on."""
    json.loads(json.dumps(event, allow_nan=False))
    for key in ("eventTime", "producer", "schemaURL", "run", "job"):
        assert key in event, f"event lacks {key}"
    assert event["eventType"] in {"START", "RUNNING", "COMPLETE", "ABORT", "FAIL", "OTHER"}
    assert UTC_TIME_RE.fullmatch(event["eventTime"])
    assert event["schemaURL"].endswith("OpenLineage.json#/$defs/RunEvent")
    assert str(uuid.UUID(event["run"]["runId"])) == event["run"]["runId"]
    check_facets(
        event["run"].get("facets", {}), {"errorMessage": ["message", "programmingLanguage"]}
    )
    job = event["job"]
    assert isinstance(job["namespace"], str) and isinstance(job["name"], str)
    check_facets(
        job.get("facets", {}),
        {"sourceCodeLocation": ["type", "url"], "jobType": ["processingType", "integration"]},
    )
    for dataset in [*event.get("inputs", []), *event.get("outputs", [])]:
        check_dataset(dataset)


# ---- behaviour --------------------------------------------------------------------------


def test_a_successful_run_is_start_then_complete() -> None:
    run = record()
    start, complete = events([run])
    assert (start["eventType"], complete["eventType"]) == ("START", "COMPLETE")
    assert start["eventTime"] == "2026-11-25T10:00:00.000001Z"
    assert complete["eventTime"] == "2026-11-25T10:05:00.000001Z"
    assert start["run"]["runId"] == complete["run"]["runId"] == run_uuid(run.id)
    assert start["job"] == complete["job"]
    assert complete["job"]["name"] == "train" and complete["job"]["namespace"] == "dws-ns"
    assert complete["job"]["facets"]["jobType"]["jobType"] == "STEP"
    assert start["inputs"] == complete["inputs"]
    assert start["inputs"][0]["namespace"] == "dws://demo%20ws/intermediate"
    assert start["inputs"][0]["name"] == "features/train.parquet"
    assert start["inputs"][0]["facets"]["version"]["datasetVersion"] == BLOB
    assert start["outputs"] == []
    assert [o["name"] for o in complete["outputs"]] == ["model.pkl"]
    facet = complete["run"]["facets"]["dws_run"]
    assert facet["argv"] == ["python", "code/train.py", "--epochs", "5"]
    assert (facet["exitCode"], facet["host"], facet["user"]) == (0, "box", "ana")
    assert facet["params"] == {"epochs": 5} and facet["runRecord"] == run.id
    assert "errorMessage" not in complete["run"]["facets"]


def test_run_id_is_deterministic_and_a_version_8_uuid() -> None:
    run = record()
    first, again = run_uuid(run.id), run_uuid(run.id)
    assert first == again
    parsed = uuid.UUID(first)
    assert parsed.variant == uuid.RFC_4122 and first[14] == "8"
    assert run_uuid(record(step="other").id) != first
    with pytest.raises(FormatError):
        run_uuid("not hex")


def test_a_failed_run_is_fail_with_an_error_message_and_no_missing_outputs() -> None:
    outputs = [
        PathVersion("results", "model.pkl", None, "missing"),
        PathVersion("results", "partial.csv", BLOB, "file"),
    ]
    run = record(exit_code=3, status="failed", outputs=outputs, metrics={"loss": float("nan")})
    _, fail = events([run])
    assert fail["eventType"] == "FAIL"
    assert fail["run"]["facets"]["errorMessage"]["message"] == "exit code 3"
    assert [o["name"] for o in fail["outputs"]] == ["partial.csv"]
    assert fail["run"]["facets"]["dws_run"]["metrics"] == {"loss": None}


def test_a_directory_input_and_a_code_resource() -> None:
    run = record(
        inputs=[
            PathVersion("raw", "", TREE, "dir"),
            PathVersion("intermediate", "features", TREE, "dir"),
        ],
        code=[
            CodeVersion("notes", None, None),
            CodeVersion("code", COMMIT, "main", ["train.py"]),
        ],
    )
    urls = {"code": "https://git.example/org/repo", "raw": "s3://bucket/raw"}
    start, complete = events([run], resource_urls=urls)
    assert start["inputs"] == complete["inputs"]
    raw, features = complete["inputs"]
    assert (raw["namespace"], raw["name"]) == ("s3://bucket/raw", ".")
    assert raw["facets"]["version"]["datasetVersion"] == TREE
    assert (features["namespace"], features["name"]) == ("dws://demo%20ws/intermediate", "features")
    location = complete["job"]["facets"]["sourceCodeLocation"]
    assert location["type"] == "git"
    assert (location["url"], location["version"], location["branch"]) == (
        urls["code"],
        COMMIT,
        "main",
    )
    assert complete["run"]["facets"]["dws_run"]["code"][1]["dirty"] == ["train.py"]


def test_no_source_location_without_a_url() -> None:
    run = record(code=[CodeVersion("code", COMMIT, "main")])
    _, complete = events([run])
    assert "sourceCodeLocation" not in complete["job"]["facets"]


def test_events_are_in_chronological_order() -> None:
    first = record("prepare", started="2026-11-25T09:00:00Z", ended="2026-11-25T09:30:00Z")
    overlapping = record("train", started="2026-11-25T09:10:00+01:00", ended="2026-11-25T09:20:00")
    same_time = record("evaluate", started="2026-11-25T09:40:00Z", ended="2026-11-25T09:40:00Z")
    produced = events([same_time, first, overlapping])
    order = [(e["job"]["name"], e["eventType"]) for e in produced]
    assert order == [
        ("train", "START"),  # 08:10 UTC
        ("prepare", "START"),
        ("train", "COMPLETE"),  # 09:20, a time without zone is UTC
        ("prepare", "COMPLETE"),
        ("evaluate", "START"),
        ("evaluate", "COMPLETE"),
    ]
    assert produced[0]["eventTime"] == "2026-11-25T08:10:00Z"


def test_a_malformed_time_is_a_format_error() -> None:
    with pytest.raises(FormatError, match="malformed time"):
        list(run_events([record(started="yesterday")], namespace="n", workspace_name="w"))


def test_events_survive_a_json_round_trip_of_a_decoded_record() -> None:
    run = record(params={"lr": 0.1, "layers": [3, 4], "name": "é"})
    decoded = msgspec.json.decode(msgspec.json.encode(run), type=RunRecord)
    lines = [json.dumps(event) for event in events([decoded])]
    assert all("\n" not in line for line in lines)
    assert json.loads(lines[1])["run"]["facets"]["dws_run"]["params"]["name"] == "é"


# ---- the repository URL of a git code resource ------------------------------------------


@pytest.fixture
def code_workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, dws.Workspace]:
    """A workspace that is its own git repository (the code resource), with a results
    directory, and one run of a step recorded from Python."""
    for key, value in GIT_ENV.items():
        monkeypatch.setenv(key, value)
    root = tmp_path / "proj"
    (root / "results").mkdir(parents=True)
    (root / "train.py").write_text("print('train')\n")
    (root / ".gitignore").write_text("/results/\n")
    run_git(root, "init", "-q")
    run_git(root, "add", "-A")
    run_git(root, "commit", "-qm", "code")
    ws = dws.Workspace.init(str(root))
    ws.add_resource("local-files", str(root / "results"), "results", name="results")
    ws.add_resource("git", str(root), "code", name="code")
    return root, ws


def record_a_step(root: Path, ws: dws.Workspace) -> None:
    with ws.step("train", outputs=[str(root / "results/model.txt")]):
        (root / "results/model.txt").write_text("model\n")


def test_a_repository_with_a_remote_gives_its_url_and_commit(
    code_workspace: tuple[Path, dws.Workspace],
) -> None:
    root, ws = code_workspace
    run_git(root, "remote", "add", "origin", "https://ana:s3cret@git.example/org/proj.git")
    record_a_step(root, ws)
    commit = run_git(root, "rev-parse", "HEAD").strip()
    produced = ws.openlineage_events(everything=True)
    assert [e["eventType"] for e in produced] == ["START", "COMPLETE"]
    for event in produced:
        check_run_event(event)
        location = event["job"]["facets"]["sourceCodeLocation"]
        assert location["type"] == "git"
        assert location["url"] == "https://git.example/org/proj.git"  # no credentials
        assert location["version"] == commit and location["branch"] == "main"
        assert location["_schemaURL"].endswith(
            "SourceCodeLocationJobFacet.json#/$defs/SourceCodeLocationJobFacet"
        )
        assert location["_producer"] == event["producer"]
    # the code files stay datasets of the workspace, whatever the repository's URL
    assert all(d["namespace"].startswith("dws://") for d in produced[1]["outputs"])


def test_a_repository_without_a_remote_has_no_source_location(
    code_workspace: tuple[Path, dws.Workspace],
) -> None:
    root, ws = code_workspace
    record_a_step(root, ws)
    (start, complete) = ws.openlineage_events(everything=True)
    assert "sourceCodeLocation" not in start["job"]["facets"]
    assert "sourceCodeLocation" not in complete["job"]["facets"]
    assert complete["run"]["facets"]["dws_run"]["code"][0]["commit"]


def test_code_urls_name_the_source_without_renaming_datasets() -> None:
    run = record(
        inputs=[PathVersion("code", "train.py", BLOB, "file")],
        code=[CodeVersion("code", COMMIT, None)],
    )
    _, complete = events([run], code_urls={"code": "git@git.example:org/repo.git"})
    location = complete["job"]["facets"]["sourceCodeLocation"]
    assert (location["url"], location["version"]) == ("git@git.example:org/repo.git", COMMIT)
    assert "branch" not in location
    assert complete["inputs"][0]["namespace"] == "dws://demo%20ws/code"
