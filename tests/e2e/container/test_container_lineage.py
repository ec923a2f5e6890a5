"""Container images in lineage: `dws run` records the image of every container code
resource, and the image a `podman run …` command line runs (resolved to its id and
registry digest with the command's own tool), and staleness follows image changes."""

from __future__ import annotations

import json
from pathlib import Path

import dws
from helpers.cli import as_json, ok
from helpers.cli import dws as run
from helpers.common import write_files
from helpers.containers import Podman, Registry

STEP = """\
import sys
open(sys.argv[2], "w").write(open(sys.argv[1]).read().upper())
"""


def _runs(root: Path) -> list[dict]:
    folder = root / ".dataworkspace/lineage/runs"
    return [json.loads(p.read_text()) for p in sorted(folder.iterdir())]


def test_podman_run_records_the_image_digest_and_the_exit_code(
    tmp_path: Path, podman: Podman, registry: Registry
) -> None:
    ref = f"{registry.host}/tiny:v1"
    podman.make_image(ref, {"hello": "v1\n"})
    digest = podman.publish(ref)
    image = podman.image_id(ref)
    root = tmp_path / "ws"
    write_files(root, {"data/out/.keep": ""})
    dws.Workspace.init(str(root))
    ok(run(root, "add", "local-files", "data/out", "-r", "i", "--name", "out"))
    # no container resource names the image; the container cannot start on this machine
    # (or starts and fails to find /nothing): either way podman exits non-zero
    argv = ["podman", "run", "--rm", "-v", f"{root}/data:/data", "-e", "A=1", ref, "/nothing"]
    result = run(root, "run", "-n", "boot", "--observe", "none", "--", *argv)
    assert result.code != 0
    (record,) = _runs(root)
    assert record["exit_code"] == result.code and record["status"] == "failed"
    assert record["images"] == [{"digests": [digest], "id": image, "ref": ref, "tool": "podman"}]


def test_runs_record_container_code_resources_and_go_stale_with_the_image(
    tmp_path: Path, podman: Podman
) -> None:
    ref = "localhost/env:latest"
    first = podman.make_image(ref, {"a": "1\n"})
    root = tmp_path / "ws"
    write_files(root, {"code/step.py": STEP, "data/raw/in.txt": "abc\n", "data/out/.keep": ""})
    dws.Workspace.init(str(root))
    ok(run(root, "add", "local-files", "code", "-r", "code"))
    ok(run(root, "add", "local-files", "data/raw", "-r", "s", "--name", "raw"))
    ok(run(root, "add", "local-files", "data/out", "-r", "i", "--name", "out"))
    ok(run(root, "add", "container", ref, "-r", "code", "--name", "env"))
    argv = ["python3", "code/step.py", "data/raw/in.txt", "data/out/o.txt"]
    ok(run(root, "run", "--", *argv))
    (record,) = _runs(root)
    digests = podman.digests(ref)  # podman's own digest of an image never pushed
    assert record["images"] == [
        {"digests": digests, "id": first, "ref": ref, "resource": "env", "tool": "podman"}
    ]
    assert as_json(run(root, "--json", "status"))["stale"] == []
    shown = as_json(run(root, "lineage", "show", "data/out/o.txt", "--json"))
    assert shown["produced_by"][0]["images"] == [
        {"ref": ref, "id": first, "digests": digests, "resource": "env"}
    ]
    assert f"image {ref} @ {first[:19]}" in ok(run(root, "lineage", "show", "data/out/o.txt")).out

    podman.make_image(ref, {"a": "2\n"})  # rebuilt under the same tag
    stale = as_json(run(root, "--json", "status"))["stale"]
    assert [s["path"] for s in stale] == ["data/out/o.txt"]
    assert f"image {ref} changed" in stale[0]["reasons"]

    podman.run("tag", first, ref)  # the same image again: current
    assert as_json(run(root, "--json", "status"))["stale"] == []
    podman.run("rmi", "-a", "-f")
    stale = as_json(run(root, "--json", "status"))["stale"]
    assert f"image {ref} is gone" in stale[0]["reasons"]
