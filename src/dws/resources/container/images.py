"""What a container tool knows about images: inspecting a reference in the local store,
asking a registry whether it still holds a digest, pulling by digest, tagging. Nothing
here builds, pushes or removes an image."""

from __future__ import annotations

import json
import re
from typing import Any

from msgspec import Struct, field

from dws.errors import DwsError, IntegrityError, UnreachableError, UsageError
from dws.resources.container.tool import Tool, last_line

INSPECT_SECONDS = 120.0
REGISTRY_SECONDS = 120.0
MAX_REF = 512
_IMAGE_ID = re.compile(r"(?:sha256:)?([0-9a-f]{64})")
_DIGEST_REF = re.compile(r"[^\s@]+@sha256:[0-9a-f]{64}")
_NOT_LOCAL = ("no such image", "image not known", "not found", "does not exist")
_NOT_IN_REGISTRY = ("manifest unknown", "not found", "manifest_unknown", "no such manifest")
# podman before 4.4 reads a single image's manifest, then refuses to show it as a list
_READ_BUT_NOT_A_LIST = "treating single images as manifest lists is not implemented"


class ImageInfo(Struct, frozen=True):
    """An image in the local store: its id (``sha256:<hex>``), the ``repo@sha256:...``
    digests it is known by in registries, its platform and the tags pointing at it."""

    id: str
    digests: list[str] = field(default_factory=list)
    platform: str = ""
    tags: list[str] = field(default_factory=list)


def check_reference(ref: str) -> str:
    """An image reference as docker and podman take it (``registry/repo:tag``, a local
    name, or ``repo@sha256:...``)."""
    if (
        not ref
        or len(ref) > MAX_REF
        or ref.startswith("-")
        or any(ch.isspace() or ord(ch) < 32 for ch in ref)
    ):
        raise UsageError(f"{ref[:80]!r} is not an image reference (registry/repo:tag)")
    return ref


def check_image_id(value: object, what: str) -> str:
    """``sha256:<64 hex>`` (a bare hex id is accepted and prefixed)."""
    found = _IMAGE_ID.fullmatch(value) if isinstance(value, str) else None
    if found is None:
        raise DwsError(f"{what} is not an image id")
    return "sha256:" + found[1]


def is_digest_ref(text: str) -> bool:
    """True for ``repo@sha256:<64 hex>``."""
    return _DIGEST_REF.fullmatch(text) is not None


def repository(ref: str) -> str:
    """The repository part of a reference (no tag, no digest)."""
    name = ref.split("@", 1)[0]
    slash = name.rfind("/")
    colon = name.rfind(":")
    return name[:colon] if colon > slash else name


def tag_of(ref: str) -> str | None:
    """The tag a reference names (``latest`` when none; None for a digest reference)."""
    if "@" in ref:
        return None
    name = ref
    colon, slash = name.rfind(":"), name.rfind("/")
    return name[colon + 1 :] if colon > slash else "latest"


def inspect(tool: Tool, ref: str) -> ImageInfo | None:
    """The image ``ref`` names in the tool's local store, None when there is none."""
    answer = tool.run("image", "inspect", ref, timeout=INSPECT_SECONDS)
    if answer.returncode != 0:
        message = answer.stderr.lower()
        if any(text in message for text in _NOT_LOCAL):
            return None
        raise UnreachableError(f"{tool.name} image inspect {ref}: {last_line(answer.stderr)}")
    try:
        found = json.loads(answer.stdout)
        item: dict[str, Any] = found[0] if isinstance(found, list) else found
        image = check_image_id(item.get("Id"), f"{tool.name}'s answer for {ref}")
    except (ValueError, IndexError, KeyError, TypeError, AttributeError, DwsError):
        raise UnreachableError(f"{tool.name} gave an unreadable answer for {ref}") from None
    digests = sorted({d for d in item.get("RepoDigests") or [] if isinstance(d, str)})
    tags = sorted({t for t in item.get("RepoTags") or [] if isinstance(t, str)})
    parts = [item.get("Os"), item.get("Architecture"), item.get("Variant")]
    platform = "/".join(p for p in parts if isinstance(p, str) and p)
    return ImageInfo(image, [d for d in digests if is_digest_ref(d)], platform, tags)


def registry_has(tool: Tool, digest_ref: str) -> str | None:
    """Ask the registry of ``repo@sha256:...`` for that manifest without pulling it: None
    when it holds it, else why not (one line). Raises IntegrityError-free: the caller
    decides what a missing digest means."""
    answer = tool.run("manifest", "inspect", digest_ref, timeout=REGISTRY_SECONDS)
    message = answer.stderr.lower()
    if answer.returncode == 0 or _READ_BUT_NOT_A_LIST in message:
        return None
    if any(text in message for text in _NOT_IN_REGISTRY):
        return "the registry no longer holds it"
    return f"the registry cannot be reached ({last_line(answer.stderr)})"


def pull(tool: Tool, digest_ref: str, expected: str) -> None:
    """Pull ``repo@sha256:...`` and check that it is the image ``expected``."""
    answer = tool.run("pull", digest_ref)
    if answer.returncode != 0:
        raise UnreachableError(f"{tool.name} pull {digest_ref}: {last_line(answer.stderr)}")
    found = inspect(tool, digest_ref)
    if found is None or found.id != expected:
        got = found.id[:19] if found else "nothing"
        raise IntegrityError(
            f"pulling {digest_ref} gave {got}, not the recorded image {expected[:19]}"
        )


def tag(tool: Tool, image: str, ref: str) -> None:
    """Point ``ref`` at the local image ``image`` (the image it named before stays)."""
    answer = tool.run("tag", image, ref, timeout=INSPECT_SECONDS)
    if answer.returncode != 0:
        raise UnreachableError(f"{tool.name} tag {ref}: {last_line(answer.stderr)}")
