"""Carrying out a container restore: pull by digest when planned, then point the reference
at the recorded image. No image is ever removed; the one the reference named before stays
in the local store."""

from __future__ import annotations

from dws.resources.container.images import pull, tag
from dws.resources.container.planning import ContainerRestorePlan
from dws.resources.container.tool import Tool


def apply_image(tool: Tool, plan: ContainerRestorePlan) -> None:
    """Pull (if planned), then tag."""
    if not plan.changes:
        return
    if plan.pull_from is not None:
        pull(tool, plan.pull_from, plan.image)
    if "@" not in plan.ref:  # a digest reference names its image already
        tag(tool, plan.image, plan.ref)
