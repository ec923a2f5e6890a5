"""Working out a container restore before anything is touched: is the recorded image
still in the local store (re-tag it), or in a registry by digest (pull it, then tag), or
nowhere (refuse, exit 4, naming the digest)."""

from __future__ import annotations

from dws.errors import IntegrityError
from dws.model.tree import TreeEntry
from dws.model.treediff import Change
from dws.resources.base import RestorePlan
from dws.resources.container.images import ImageInfo, inspect, registry_has, repository
from dws.resources.container.tool import Tool


class ContainerRestorePlan(RestorePlan):
    """A restore plan with the image operations it implies."""

    ref: str = ""
    image: str = ""
    pull_from: str | None = None  # repo@sha256:... to pull first (None: the image is local)


def image_entry(ref: str, image: str) -> TreeEntry:
    """How a reference and the image it names appear in a change list."""
    return TreeEntry(name=ref.rsplit("/", 1)[-1], kind="file", id=image.split(":", 1)[-1], size=0)


def image_change(ref: str, old: str | None, new: str | None) -> list[Change]:
    """The one change (or none) between two image ids of ``ref``."""
    if old == new:
        return []
    return [
        Change(
            ref,
            image_entry(ref, old) if old else None,
            image_entry(ref, new) if new else None,
        )
    ]


def ordered_digests(ref: str, digests: list[str]) -> list[str]:
    """The digests of the reference's own repository first."""
    own = repository(ref)
    return sorted(digests, key=lambda d: (repository(d) != own, d))


def plan_image(
    name: str, tool: Tool, ref: str, image: str, digests: list[str], now: ImageInfo | None
) -> ContainerRestorePlan:
    """Bring ``ref`` back to ``image``; refuse (IntegrityError) when it can be found
    neither in the local store nor by digest in a registry."""
    current = now.id if now is not None else None
    plan = ContainerRestorePlan(name, image_change(ref, current, image), ref=ref, image=image)
    if current == image:
        return plan
    if current is not None:
        plan.notes.append(
            f"{ref} names image {current[:19]} now; it stays in the local store, untagged "
            f"(tag it to keep a name for it: {tool.name} tag {current[:19]} NAME)"
        )
    if inspect(tool, image) is not None:
        plan.notes.append(f"{ref} will point at the local image {image[:19]} again")
        return plan
    reasons = []
    for digest in ordered_digests(ref, digests):
        why = registry_has(tool, digest)
        if why is None:
            plan.pull_from = digest
            plan.notes.append(f"{ref}: the image is no longer local; {digest} will be pulled")
            return plan
        reasons.append(f"{digest}: {why}")
    if not digests:
        raise IntegrityError(
            f"resource {name!r}: image {image} is no longer in {tool.name}'s local store and "
            "no registry digest was recorded for it; nothing was changed"
        )
    raise IntegrityError(
        f"resource {name!r}: image {image} of {ref} is no longer local and cannot be "
        f"pulled by digest ({'; '.join(reasons)}); nothing was changed",
    )
