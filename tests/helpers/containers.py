"""Container images for tests: podman with its storage, run state and configuration inside
the test's temporary directory (the machine's images are never seen or touched), and a
local registry (the Debian package docker-registry) on 127.0.0.1 with a free port.

Both are skipped with a reason naming the missing tool when absent, except under CI
(``CI`` set), where a missing tool fails: `.ci/run` installs them."""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import signal
import socket
import subprocess
import tarfile
import time
import urllib.request
from pathlib import Path

import pytest

REGISTRY_START_SECONDS = 30.0


def need(tool: str, package: str) -> str:
    """The path of ``tool``; skip (fail under CI) when it is not installed."""
    path = shutil.which(tool)
    if path is None:
        message = f"{tool} is not installed (Debian package {package})"
        if os.environ.get("CI"):
            pytest.fail(message + "; .ci/run installs it")
        pytest.skip(message)
    return path


class Podman:
    """podman with every file it writes below ``root``; ``env`` is what a `dws` process
    needs to see the same store."""

    def __init__(self, root: Path) -> None:
        self.path = need("podman", "podman")
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        storage = root / "storage.conf"
        storage.write_text(
            f'[storage]\ndriver = "vfs"\ngraphroot = "{root}/graph"\nrunroot = "{root}/run"\n'
        )
        conf = root / "containers.conf"
        conf.write_text(
            f'[engine]\ntmp_dir = "{root}/tmp"\nvolume_path = "{root}/volumes"\n'
            f'events_logger = "file"\nevents_logfile_path = "{root}/events.log"\n'
            f'[network]\nnetwork_config_dir = "{root}/networks"\n'
        )
        self.registries = root / "registries.conf"
        self.registries.write_text("")
        self.env = {
            "CONTAINERS_STORAGE_CONF": str(storage),
            "CONTAINERS_CONF": str(conf),
            "CONTAINERS_REGISTRIES_CONF": str(self.registries),
            "DWS_CONTAINER_TOOL": "podman",
        }

    def allow_insecure(self, registry: str) -> None:
        """Let podman talk plain HTTP to ``registry`` (host:port)."""
        with self.registries.open("a") as handle:
            handle.write(f'[[registry]]\nlocation = "{registry}"\ninsecure = true\n')

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """``podman ARGS`` in this store."""
        proc = subprocess.run(
            [self.path, *args],
            env={**os.environ, **self.env},
            capture_output=True,
            text=True,
            check=False,
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"podman {' '.join(args)}: {proc.stderr}")
        return proc

    def make_image(self, ref: str, files: dict[str, str]) -> str:
        """An image holding ``files`` (from a tiny tarball, `podman import`); its id."""
        data = io.BytesIO()
        with tarfile.open(fileobj=data, mode="w") as tar:
            for name, text in sorted(files.items()):
                body = text.encode()
                info = tarfile.TarInfo(name)
                info.size, info.mtime = len(body), 0
                tar.addfile(info, io.BytesIO(body))
        tarball = self.root / "image.tar"
        tarball.write_bytes(data.getvalue())
        self.run("import", "-q", str(tarball), ref)
        return self.image_id(ref)

    def image_id(self, ref: str) -> str:
        """``sha256:<hex>`` of the image ``ref`` names."""
        found = json.loads(self.run("image", "inspect", ref).stdout)[0]
        return "sha256:" + found["Id"].removeprefix("sha256:")

    def digests(self, ref: str) -> list[str]:
        """The RepoDigests of the image ``ref`` names."""
        return sorted(json.loads(self.run("image", "inspect", ref).stdout)[0]["RepoDigests"])

    def exists(self, ref: str) -> bool:
        """True when ``ref`` names a local image."""
        return self.run("image", "exists", ref, check=False).returncode == 0

    def image_ids(self) -> set[str]:
        """Every local image id."""
        out = self.run("images", "-a", "-q", "--no-trunc").stdout.split()
        return {"sha256:" + line.removeprefix("sha256:") for line in out}

    def publish(self, ref: str) -> str:
        """Push ``ref``, remove it, pull it back by tag (so the local store knows the
        registry's digest, as an image that came from a registry does); the digest."""
        self.run("push", "-q", ref)
        self.run("rmi", "-f", ref)
        self.run("pull", "-q", ref)
        repo = ref.rsplit(":", 1)[0]
        return next(d for d in self.digests(ref) if d.startswith(repo + "@"))


def _die_with_parent() -> None:
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def free_port() -> int:
    """A port nothing listens on now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Registry:
    """A docker-registry serving from ``root`` on 127.0.0.1:<free port>."""

    def __init__(self, root: Path) -> None:
        self.path = need("docker-registry", "docker-registry")
        self.root = root
        self.port = free_port()
        self.host = f"localhost:{self.port}"
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start it and wait until it answers."""
        self.root.mkdir(parents=True, exist_ok=True)
        config = self.root / "config.yml"
        config.write_text(
            "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n"
            f"    rootdirectory: {self.root}/data\n  delete:\n    enabled: true\n"
            f"http:\n  addr: 127.0.0.1:{self.port}\n"
        )
        log = (self.root / "registry.log").open("wb")
        self._proc = subprocess.Popen(
            [self.path, "serve", str(config)],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        deadline = time.monotonic() + REGISTRY_START_SECONDS
        while time.monotonic() < deadline and self._proc.poll() is None:
            url = f"http://127.0.0.1:{self.port}/v2/"
            with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=2):
                return
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(
            f"docker-registry did not start: {(self.root / 'registry.log').read_text()}"
        )

    def stop(self) -> None:
        """Stop the server."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()

    def delete_manifest(self, digest_ref: str) -> None:
        """Remove a manifest from the registry (``repo@sha256:...``) behind everyone's back."""
        repo, digest = digest_ref.split("@", 1)
        name = repo.split("/", 1)[1]
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}/v2/{name}/manifests/{digest}", method="DELETE"
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            assert answer.status == 202
