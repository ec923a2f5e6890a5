"""A shared resources.json may point a resource anywhere: dws writes into a directory
outside the workspace only after someone on this machine named it (add, clone
--map, or `dws resources --trust`)."""

from __future__ import annotations

import json
from pathlib import Path

from helpers.failure import assert_ok, manifest, run_dws, write_files


def _workspace(tmp_path: Path) -> tuple[Path, Path]:
    ws = tmp_path / "ws"
    outside = tmp_path / "outside"
    (ws / "data").mkdir(parents=True)
    outside.mkdir()
    write_files(outside, {"a.txt": "v1\n"})
    assert_ok(run_dws("init", cwd=ws))
    assert_ok(
        run_dws(
            "add", "local-files", str(outside), "--role", "source-data", "--name", "ext", cwd=ws
        )
    )
    assert_ok(run_dws("snapshot", "v1", cwd=ws))
    return ws, outside


def test_a_directory_added_here_is_restored(tmp_path: Path) -> None:
    ws, outside = _workspace(tmp_path)
    write_files(outside, {"a.txt": "v2\n"})
    assert_ok(run_dws("restore", "v1", "--force", cwd=ws))
    assert (outside / "a.txt").read_text() == "v1\n"


def test_a_directory_named_only_by_a_shared_resources_json_is_refused(tmp_path: Path) -> None:
    ws, _ = _workspace(tmp_path)
    victim = tmp_path / "victim"
    write_files(victim, {"precious.txt": "mine\n"})
    specs_path = ws / ".dataworkspace/resources.json"
    specs = json.loads(specs_path.read_text())
    specs[0]["path"] = str(victim)  # as a hostile or careless commit of resources.json would
    specs_path.write_text(json.dumps(specs))
    before = manifest(victim)
    result = run_dws("restore", "v1", "--force", cwd=ws)
    assert result.code == 3, result.err
    assert "ext" in result.err and str(victim) in result.err and "--trust" in result.err
    assert manifest(victim) == before
    # confirmed on purpose, it is restored
    assert_ok(run_dws("resources", "--trust", "ext", cwd=ws))
    assert_ok(run_dws("restore", "v1", "--force", cwd=ws))
    assert (victim / "a.txt").read_text() == "v1\n"


def test_trusting_an_unknown_resource_is_a_usage_error(tmp_path: Path) -> None:
    ws, _ = _workspace(tmp_path)
    assert run_dws("resources", "--trust", "nosuch", cwd=ws).code == 2
