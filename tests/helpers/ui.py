"""Running `dws ui` for a test: the real command as a subprocess, on a free port of
127.0.0.1, stopped (with Ctrl-C, as a user stops it) when the test ends."""

from __future__ import annotations

import http.client
import os
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from helpers.common import DWS


@dataclass
class Served:
    """A running `dws ui`: its address (with the token) and the parts of it."""

    url: str
    port: int
    token: str

    def get(
        self, target: str, *, method: str = "GET", headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        """Request ``target`` (a path and query, sent as given) from the server: status,
        headers (lower-case names) and body."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            conn.request(method, target, headers=headers or {})
            response = conn.getresponse()
            body = response.read()
            return response.status, {k.lower(): v for k, v in response.getheaders()}, body
        finally:
            conn.close()

    def page(self, route: str, query: str = "") -> str:
        """The HTML of ``route`` with the token (and ``query``), asserting a 200."""
        target = f"{route}?token={self.token}" + (f"&{query}" if query else "")
        status, _, body = self.get(target)
        assert status == 200, (target, status, body[:500])
        return body.decode("utf-8")


@contextmanager
def serving(root: Path, *extra: str) -> Iterator[Served]:
    """`dws ui --port 0 --no-browser` in ``root`` until the block ends; then Ctrl-C, and
    the server must stop cleanly (exit 0)."""
    assert DWS
    proc = subprocess.Popen(
        [DWS, "ui", "--port", "0", "--no-browser", *extra],
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "DWS_LOCK_TIMEOUT": "1"},
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if "http://" not in line:
            proc.kill()
            _, err = proc.communicate(timeout=30)
            raise AssertionError(f"dws ui did not start: {line!r} {err!r}")
        url = line.split(" at ", 1)[1].strip()
        parts = urlsplit(url)
        assert parts.hostname == "127.0.0.1" and parts.port
        token = parts.query.removeprefix("token=")
        yield Served(url, parts.port, token)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
        try:
            _, err = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            raise
    assert proc.returncode == 0, err
