"""Running `dws ui` for a test: the real command as a subprocess, on a free port of
127.0.0.1, stopped (with Ctrl-C, as a user stops it) when the test ends; and the small
project the UI tests serve (history, metrics, lineage, tables, an image, symbolic links
and hostile names)."""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from helpers.cli import dws as run
from helpers.cli import ok
from helpers.common import DWS, write_files


@dataclass
class Served:
    """A running `dws ui`: its address (with the token) and the parts of it."""

    url: str
    port: int
    token: str
    stderr: str = ""  # what the server wrote on stderr, once it has stopped

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
def serving(
    root: Path, *extra: str, browser: bool = False, env: dict[str, str] | None = None
) -> Iterator[Served]:
    """`dws ui --port 0 --no-browser` (``browser``: without --no-browser) in ``root`` until
    the block ends; then Ctrl-C, and the server must stop cleanly (exit 0)."""
    assert DWS
    proc = subprocess.Popen(
        [DWS, "ui", "--port", "0", *([] if browser else ["--no-browser"]), *extra],
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "DWS_LOCK_TIMEOUT": "1", **(env or {})},
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
        served = Served(url, parts.port, token)
        yield served
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
    served.stderr = err


HOSTILE_NAME = "<img src=x onerror=alert(1)>.csv"
HOSTILE_MESSAGE = "<script>alert('message')</script>"
HOSTILE_CELL = "<script>alert('cell')</script>"
STEP = "import shutil, sys\nshutil.copy(sys.argv[1], sys.argv[2])\n"
# the smallest PNG: one transparent pixel
PIXEL = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082"
)


def build_project(root: Path) -> Path:
    """Two snapshots (v1, v2) of a small project, each after a `dws run` step."""
    write_files(
        root,
        {
            "code/step.py": STEP,
            "data/raw/table.csv": "id,name,score\n1,a,0.5\n2,b,0.7\n",
            f"data/raw/{HOSTILE_NAME}": f"id,text\n1,{HOSTILE_CELL}\n",
            "data/raw/notes.txt": "plain notes\n",
            "data/raw/pixel.png": PIXEL,
            "data/raw/blob.bin": b"\x00\x01binary\x00" * 100,
            "results/.keep": "",
        },
    )
    os.symlink("table.csv", root / "data/raw/inside-link.csv")
    os.symlink("/etc/passwd", root / "data/raw/outside-link")
    os.symlink("../../../../../etc", root / "data/raw/up-link")
    ok(run(root, "init"))
    ok(run(root, "add", "local-files", "code", "--role", "code"))
    ok(run(root, "add", "local-files", "data/raw", "--role", "source-data"))
    ok(run(root, "add", "local-files", "data/out", "--role", "intermediate-data", "--create"))
    ok(run(root, "add", "local-files", "results", "--role", "results"))
    for version, accuracy in ((1, 0.5), (2, 0.75)):
        ok(
            run(
                root, "run", "--", "python3", "code/step.py", "data/raw/table.csv", "data/out/o.csv"
            )
        )
        (root / "results/metrics.json").write_text(json.dumps({"accuracy": accuracy}))
        ok(run(root, "snapshot", f"v{version}", "-m", HOSTILE_MESSAGE))
        with open(root / "data/raw/table.csv", "a") as table:
            table.write("3,c,0.9\n")
    return root
