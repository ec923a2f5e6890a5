"""The container tool (docker or podman) that answers for images: chosen once per process,
run with argument lists only. ``DWS_CONTAINER_TOOL`` (or a resource's recorded ``tool``)
names one; otherwise the first of docker and podman that is installed and answers."""

from __future__ import annotations

import os
import shutil
import subprocess

from msgspec import Struct

from dws.errors import UnreachableError, UsageError

TOOLS = ("docker", "podman")
TOOL_ENV = "DWS_CONTAINER_TOOL"
PROBE_SECONDS = 30.0
INSTALL_HINT = "install podman (Debian package podman) or docker"


class Tool(Struct, frozen=True):
    """One container tool: its name as recorded (``docker``/``podman``), its executable, and
    the global options given before its sub-command on a command line (``--root DIR``)."""

    name: str
    path: str
    options: tuple[str, ...] = ()

    def run(self, *args: str, timeout: float | None = None) -> subprocess.CompletedProcess[str]:
        """Run ``tool [options] args`` and capture its output; never raises for its exit code."""
        try:
            return subprocess.run(
                [self.path, *self.options, *args],
                capture_output=True,
                text=True,
                errors="replace",
                stdin=subprocess.DEVNULL,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise UnreachableError(
                f"{self.name} did not answer within {timeout:.0f}s ({' '.join(args[:2])})"
            ) from None
        except OSError as exc:
            raise UnreachableError(f"cannot run {self.name}: {exc.strerror or exc}") from None


def check_tool_name(name: str) -> str:
    """``docker`` or ``podman``."""
    if name not in TOOLS:
        raise UsageError(f"the container tool is docker or podman, not {name[:40]!r}")
    return name


def last_line(text: str) -> str:
    """The last non-empty line of a tool's stderr, shortened (for one-line errors)."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1][:300] if lines else "no message"


_chosen: dict[tuple[str | None, str], Tool] = {}


def choose_tool(preferred: str | None = None) -> Tool:
    """The tool to ask: ``preferred`` (a resource's recorded choice), else the one
    ``DWS_CONTAINER_TOOL`` names, else the first of docker and podman that is installed and
    answers. Raises UnreachableError (exit 3) with an install hint when none is there."""
    wanted = preferred or os.environ.get(TOOL_ENV) or None
    key = (wanted, os.environ.get("PATH", ""))
    found = _chosen.get(key)
    if found is not None:
        return found
    if wanted is not None:
        name = check_tool_name(wanted)
        path = shutil.which(name)
        if path is None:
            source = "the resource" if preferred else TOOL_ENV
            raise UnreachableError(
                f"{source} names {name}, which is not installed: install it (Debian package "
                f"{name}) or choose the other tool",
                exit_code=3,
            )
        found = Tool(name, path)
    else:
        installed = [Tool(name, path) for name in TOOLS if (path := shutil.which(name))]
        if not installed:
            raise UnreachableError(f"no docker or podman found: {INSTALL_HINT}", exit_code=3)
        found = next((tool for tool in installed if _answers(tool)), None)
        if found is None:
            names = " and ".join(tool.name for tool in installed)
            raise UnreachableError(
                f"{names} installed but not answering (is the docker daemon running?); "
                f"set {TOOL_ENV} to choose, or {INSTALL_HINT}",
                exit_code=3,
            )
    _chosen[key] = found
    return found


def _answers(tool: Tool) -> bool:
    """True when the tool (and, for docker, its daemon) answers a version query."""
    try:
        probe = tool.run(
            "version",
            "--format",
            "{{.Server.Version}}" if tool.name == "docker" else "{{.Version}}",
            timeout=PROBE_SECONDS,
        )
    except UnreachableError:
        return False
    return probe.returncode == 0
