"""Container images in lineage: the image a ``docker run …``/``podman run …`` command line
runs, resolved to its id and registry digests with the command's own tool and global
options; and what a recorded image reference names now, for staleness."""

from __future__ import annotations

import os
import shutil

from dws.errors import DwsError
from dws.model.runs import ImageVersion
from dws.resources.container.images import inspect
from dws.resources.container.tool import TOOLS, Tool

# global options of docker and podman that take no value (every other option does,
# unless given as --name=value)
_GLOBAL_FLAGS = frozenset(
    {"-D", "--debug", "--tls", "--tlsverify", "-r", "--remote", "--syslog", "--noout",
     "--transient-store", "--help", "-h", "-v", "--version"}
)  # fmt: skip
# options of `run` that take no value
_RUN_FLAGS = frozenset(
    {"-d", "--detach", "-i", "--interactive", "-t", "--tty", "--rm", "--init",
     "--privileged", "-P", "--publish-all", "--read-only", "--no-healthcheck",
     "--oom-kill-disable", "--sig-proxy", "--disable-content-trust", "-q", "--quiet",
     "--help", "--replace", "--rmi", "--no-hosts", "--env-host", "--http-proxy",
     "--read-only-tmpfs", "--tls-verify", "--passwd", "--no-hostname"}
)  # fmt: skip
_SHORT_RUN_FLAGS = frozenset("dittPq")
_ROOTFS = "--rootfs"  # podman: the "image" is a directory, not an image


def _skip_options(tokens: list[str], start: int, flags: frozenset[str]) -> tuple[int, list[str]]:
    """Index of the first token at or after ``start`` that is not an option (or its value),
    and the options skipped."""
    index, skipped = start, list[str]()
    while index < len(tokens):
        token = tokens[index]
        if token == "--":
            return index + 1, skipped
        if not token.startswith("-") or token == "-":
            return index, skipped
        skipped.append(token)
        index += 1
        if token in flags or "=" in token:
            continue
        if token.startswith("--"):
            if index < len(tokens):
                skipped.append(tokens[index])
                index += 1
            continue
        letters = token[1:]
        if flags is _RUN_FLAGS and all(c in _SHORT_RUN_FLAGS for c in letters):
            continue  # -it, -dit
        if len(letters) == 1 and index < len(tokens):
            skipped.append(tokens[index])  # -e VALUE
            index += 1
    return index, skipped


def command_image(argv: list[str]) -> tuple[Tool, str] | None:
    """(the tool with the command's global options, the image reference) when ``argv`` is
    ``docker|podman [global options] [container] run [options] IMAGE …``; else None."""
    if not argv or os.path.basename(argv[0]) not in TOOLS:
        return None
    name = os.path.basename(argv[0])
    index, options = _skip_options(argv, 1, _GLOBAL_FLAGS)
    if index < len(argv) and argv[index] == "container":
        index += 1
    if index >= len(argv) or argv[index] != "run":
        return None
    run_index, run_options = _skip_options(argv, index + 1, _RUN_FLAGS)
    if run_index >= len(argv) or _ROOTFS in run_options:
        return None
    path = argv[0] if os.sep in argv[0] else shutil.which(argv[0])
    if path is None:
        return None
    return Tool(name, path, tuple(options)), argv[run_index]


def resolve(tool: Tool, ref: str, resource: str | None = None) -> ImageVersion | None:
    """The image ``ref`` names now in the tool's local store (None: none, or the tool
    cannot answer)."""
    try:
        found = inspect(tool, ref)
    except DwsError:
        return None
    if found is None:
        return None
    return ImageVersion(
        ref=ref,
        id=found.id,
        digests=found.digests,
        tool=tool.name,
        options=list(tool.options),
        resource=resource,
    )


UNKNOWN = "unknown"


def current_image_id(image: ImageVersion) -> str | None:
    """The id the recorded reference names now: None when the tool says it names no image,
    ``UNKNOWN`` when the tool cannot be asked (not installed, not answering)."""
    path = shutil.which(image.tool) if image.tool in TOOLS else None
    if path is None:
        return UNKNOWN
    try:
        found = inspect(Tool(image.tool, path, tuple(image.options)), image.ref)
    except DwsError:
        return UNKNOWN
    return found.id if found is not None else None
