"""Container images as code resources, with real podman (a private store) and a real local
registry: what a snapshot records, status, restore by re-tag and by pull by digest, the
refusals (unknown image, no tool, registry unreachable, digest gone), clone."""

from __future__ import annotations

import json
from pathlib import Path

import dws
from helpers.cli import as_json, assert_error, ok
from helpers.cli import dws as run
from helpers.common import write_files
from helpers.containers import Podman, Registry


def _workspace(tmp_path: Path, ref: str) -> Path:
    root = tmp_path / "ws"
    write_files(root, {"data/out/a.txt": "one\n"})
    dws.Workspace.init(str(root))
    ok(run(root, "add", "local-files", "data/out", "-r", "intermediate-data", "--name", "out"))
    ok(run(root, "add", "container", ref, "--role", "code", "--name", "env"))
    return root


def tiny(registry: Registry) -> str:
    """The reference of the test image in ``registry``."""
    return f"{registry.host}/tiny:v1"


def _published_v1(tmp_path: Path, podman: Podman, registry: Registry) -> tuple[str, str, Path]:
    """The test image pushed to the registry, and a workspace naming it snapshotted as v1:
    (digest, image id, workspace root)."""
    ref = tiny(registry)
    podman.make_image(ref, {"hello.txt": "v1\n"})
    digest = podman.publish(ref)
    root = _workspace(tmp_path, ref)
    ok(run(root, "snapshot", "v1"))
    return digest, podman.image_id(ref), root


def _state(root: Path, tag: str) -> dict:
    target = (root / ".dataworkspace/tags" / tag).read_text().strip()
    record = json.loads((root / ".dataworkspace/snapshots" / f"{target}.json").read_text())
    return record["resources"]["env"]


def test_snapshot_records_the_image_and_status_follows_the_tag(
    tmp_path: Path, podman: Podman, registry: Registry
) -> None:
    ref = f"{registry.host}/tiny:v1"
    podman.make_image(ref, {"hello.txt": "v1\n"})
    digest = podman.publish(ref)
    first = podman.image_id(ref)
    root = _workspace(tmp_path, ref)
    images_before = podman.image_ids()
    ok(run(root, "snapshot", "v1"))
    assert podman.image_ids() == images_before  # nothing pulled, pushed, built or tagged
    state = _state(root, "v1")
    assert state["type"] == "container" and state["role"] == "code"
    assert state["state"] == {
        "ref": ref,
        "image": first,
        "digests": [digest],
        "tag": "v1",
        "platform": "linux/amd64",
        "tool": "podman",
    }
    assert as_json(run(root, "--json", "status"))["resources"][1]["changes"] == []

    second = podman.make_image(ref, {"hello.txt": "v2\n"})  # rebuilt under the same tag
    shown = run(root, "status")
    assert f"now names image {second[:19]}, not {first[:19]}" in ok(shown).out
    podman.run("rmi", "-f", second)
    assert "the image is gone" in ok(run(root, "status")).out


def test_restore_retags_a_local_image_and_deletes_nothing(
    tmp_path: Path, podman: Podman, registry: Registry
) -> None:
    ref = f"{registry.host}/tiny:v1"
    first = podman.make_image(ref, {"hello.txt": "v1\n"})
    root = _workspace(tmp_path, ref)
    ok(run(root, "snapshot", "v1"))
    second = podman.make_image(ref, {"hello.txt": "v2\n"})
    said = ok(run(root, "restore", "v1"))
    assert f"names image {second[:19]} now; it stays in the local store, untagged" in (
        said.out + said.err
    )
    assert podman.image_id(tiny(registry)) == first
    assert second in podman.image_ids()  # restore never deletes an image
    assert as_json(run(root, "--json", "status"))["resources"][1]["changes"] == []


def test_restore_pulls_by_digest_when_the_image_is_gone(
    tmp_path: Path, podman: Podman, registry: Registry
) -> None:
    _, first, root = _published_v1(tmp_path, podman, registry)
    podman.run("rmi", "-a", "-f")
    assert podman.image_ids() == set()
    restored = ok(run(root, "restore", "v1"))
    assert "will be pulled" in restored.out + restored.err
    assert podman.image_id(tiny(registry)) == first


def _gone_then_restore(root: Path, podman: Podman) -> None:
    (root / "data/out/a.txt").write_text("changed\n")
    podman.run("rmi", "-a", "-f")


def test_registry_unreachable_refuses_before_anything_is_touched(
    tmp_path: Path, podman: Podman, registry: Registry
) -> None:
    digest, _, root = _published_v1(tmp_path, podman, registry)
    _gone_then_restore(root, podman)
    registry.stop()
    result = run(root, "restore", "v1", "--force")
    assert_error(result, 4, contains=digest)
    assert "cannot be reached" in result.err
    assert (root / "data/out/a.txt").read_text() == "changed\n"  # planned first: untouched
    assert podman.image_ids() == set()


def test_digest_gone_from_the_registry_refuses(
    tmp_path: Path, podman: Podman, registry: Registry
) -> None:
    digest, _, root = _published_v1(tmp_path, podman, registry)
    _gone_then_restore(root, podman)
    registry.delete_manifest(digest)
    result = run(root, "restore", "v1", "--force")
    assert_error(result, 4, contains=digest)
    assert "no longer holds it" in result.err
    assert (root / "data/out/a.txt").read_text() == "changed\n"


def test_image_never_pushed_and_gone_refuses_naming_it(tmp_path: Path, podman: Podman) -> None:
    first = podman.make_image("localhost/solo:1", {"a": "1\n"})
    root = _workspace(tmp_path, "localhost/solo:1")
    ok(run(root, "snapshot", "v1"))
    podman.run("rmi", "-a", "-f")
    assert_error(run(root, "restore", "v1"), 4, contains=first)


def test_unknown_image_is_refused(tmp_path: Path, podman: Podman) -> None:
    root = tmp_path / "ws"
    root.mkdir()
    dws.Workspace.init(str(root))
    result = run(root, "add", "container", "localhost/nothing:here", "--role", "code")
    assert_error(result, 2, contains="no such image")
    assert json.loads((root / ".dataworkspace/resources.json").read_text()) == []


def test_container_role_must_be_code(tmp_path: Path, podman: Podman) -> None:
    podman.make_image("localhost/solo:1", {"a": "1\n"})
    root = tmp_path / "ws"
    root.mkdir()
    dws.Workspace.init(str(root))
    result = run(root, "add", "container", "localhost/solo:1", "--role", "source-data")
    assert_error(result, 2, contains="cannot have role source-data")


def test_no_container_tool_names_what_to_install(tmp_path: Path, podman: Podman) -> None:
    podman.make_image("localhost/solo:1", {"a": "1\n"})
    root = _workspace(tmp_path, "localhost/solo:1")
    empty = tmp_path / "empty-path"
    empty.mkdir()
    env = {"PATH": str(empty), "DWS_CONTAINER_TOOL": ""}
    result = run(root, "snapshot", "v1", env=env)
    assert_error(result, 3, contains="install podman (Debian package podman) or docker")
    result = run(root, "add", "container", "localhost/solo:1", "-r", "c", "--name", "x", env=env)
    assert_error(result, 3, contains="install podman")


def test_api_adds_and_snapshots_a_container(tmp_path: Path, podman: Podman) -> None:
    image = podman.make_image("localhost/solo:1", {"a": "1\n"})
    root = tmp_path / "ws"
    root.mkdir()
    ws = dws.Workspace.init(str(root))
    spec = ws.add_resource("container", "localhost/solo:1", "code", container_tool="podman")
    assert spec.name == "solo" and spec.params == {"ref": "localhost/solo:1", "tool": "podman"}
    record = ws.snapshot("v1", "").record
    assert record.resources["solo"].state["image"] == image


def test_clone_keeps_the_record_and_pulls_only_when_asked(
    tmp_path: Path, podman: Podman, registry: Registry
) -> None:
    _, first, root = _published_v1(tmp_path, podman, registry)
    remote = tmp_path / "remote"
    ok(run(root, "remote", "add", "origin", str(remote)))
    ok(run(root, "push"))
    podman.run("rmi", "-a", "-f")
    cloned = ok(run(tmp_path, "clone", str(remote), "copy"))
    assert "env" in cloned.out + cloned.err
    assert podman.image_ids() == set()  # not pulled by default
    assert _state(tmp_path / "copy", "v1")["state"]["image"] == first
    ok(run(tmp_path, "clone", str(remote), "copy2", "--pull-image", "env"))
    assert podman.image_id(tiny(registry)) == first


def test_reading_a_snapshot_leaves_the_image_out_and_says_so(
    tmp_path: Path, podman: Podman
) -> None:
    podman.make_image("localhost/tiny:v1", {"hello.txt": "v1\n"})
    root = _workspace(tmp_path, "localhost/tiny:v1")
    ok(run(root, "snapshot", "v1"))
    shown = run(root, "ls", "-r", "v1", "--json")
    listed = {e["path"]: e["resource"] for e in as_json(shown)}
    assert listed == {"data": None, "data/out": "out", "data/out/a.txt": "out"}
    assert "not listed: resource 'env' (container) has no files" in shown.err
    assert ok(run(root, "cat", "v1:data/out/a.txt")).out == "one\n"
    assert_error(run(root, "cat", "v1:@env/hello.txt"), 1, contains="no files to read")
