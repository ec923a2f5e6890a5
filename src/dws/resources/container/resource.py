"""The container resource: an image reference (``registry/repo:tag`` or a local name) in
the local store of docker or podman. A snapshot records which image the reference names
(id, registry digests, tag, platform, the tool that answered); the bytes stay in the local
store and in their registries. Restore points the reference at the recorded image again,
pulling it by digest when it is no longer local (docs/code-resources.md)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import cached_property
from typing import Any

from dws.errors import DwsError, FormatError, UsageError
from dws.model.roles import Role
from dws.model.runs import ImageVersion
from dws.model.treediff import Change
from dws.resources.base import ObjectRef, Resource, RestorePlan, State
from dws.resources.container.applying import apply_image
from dws.resources.container.images import (
    ImageInfo,
    check_image_id,
    check_reference,
    inspect,
    is_digest_ref,
    tag_of,
)
from dws.resources.container.planning import ContainerRestorePlan, image_change, plan_image
from dws.resources.container.tool import Tool, check_tool_name, choose_tool
from dws.resources.pathhash import MISSING, PathId


class ContainerResource(Resource):
    """An image reference whose image is pinned by id and registry digest."""

    type_name = "container"
    allowed_roles = frozenset({Role.CODE})
    add_options = frozenset({"container_tool"})
    pulled_on_request = True

    # ---- set-up -----------------------------------------------------------------------

    @classmethod
    def default_name(cls, location: str) -> str:
        base = location.split("@", 1)[0].rstrip("/").rsplit("/", 1)[-1].split(":", 1)[0]
        name = re.sub(r"[^A-Za-z0-9_-]", "_", base) or "image"
        return name if not name[0].isdigit() else f"image_{name}"

    @classmethod
    def is_local_location(cls, location: str) -> bool:
        return False

    @classmethod
    def prepare_params(
        cls, location: str, workspace_root: str, options: dict[str, Any]
    ) -> dict[str, Any]:
        ref = check_reference(location)
        preferred = options.get("container_tool")
        if preferred is not None:
            check_tool_name(preferred)
        tool = choose_tool(preferred)
        if inspect(tool, ref) is None:
            raise UsageError(
                f"{ref}: no such image in {tool.name}'s local store (pull or build it first)"
            )
        params: dict[str, Any] = {"ref": ref}
        if preferred is not None:
            params["tool"] = preferred
        return params

    @cached_property
    def ref(self) -> str:
        """The image reference from resources.json (validated)."""
        value = self.spec.params.get("ref")
        try:
            return check_reference(value if isinstance(value, str) else "")
        except UsageError:
            raise FormatError(f"resource {self.name!r} has no valid image reference") from None

    @cached_property
    def tool(self) -> Tool:
        """The container tool that answers for this resource (chosen on first use)."""
        preferred = self.spec.params.get("tool")
        if preferred is not None and not isinstance(preferred, str):
            raise FormatError(f"resource {self.name!r} has an invalid tool in resources.json")
        return choose_tool(preferred)

    def local_path(self) -> str | None:
        return None

    def shared_note(self) -> str | None:
        return (
            "its image stays in its registry; clone --pull-image NAME, or `dws restore "
            "--only NAME` later, pulls it by digest"
        )

    def check_reachable(self) -> None:
        """The tool is installed and answers (the image itself may be gone: status says so)."""
        _ = self.tool

    # ---- the working state ------------------------------------------------------------

    def _now(self) -> ImageInfo | None:
        return inspect(self.tool, self.ref)

    def _recorded(self, state: State | None, what: str = "snapshot") -> str | None:
        if state is None:
            return None
        try:
            return check_image_id(state.get("image"), f"the image of {self.name!r} in the {what}")
        except DwsError as exc:
            raise FormatError(exc.message) from None

    def status(self, base: State | None) -> list[Change]:
        now = self._now()
        return image_change(self.ref, self._recorded(base), now.id if now else None)

    def notes(self, old: State | None, new: State | None) -> list[str]:
        before = self._recorded(old)
        if new is None:
            now = self._now()
            after = now.id if now else None
            if before is not None and after is None:
                return [f"{self.ref}: the image is gone from {self.tool.name}'s local store"]
        else:
            after = self._recorded(new)
        if before is not None and after is not None and before != after:
            return [f"{self.ref} now names image {after[:19]}, not {before[:19]}"]
        return []

    def snapshot(self, base: State | None) -> State:
        now = self._now()
        if now is None:
            raise UsageError(
                f"resource {self.name!r}: {self.ref} names no image in {self.tool.name}'s "
                "local store (pull or build it, or restore a snapshot)"
            )
        return {
            "ref": self.ref,
            "image": now.id,
            "digests": now.digests,
            "tag": tag_of(self.ref),
            "platform": now.platform,
            "tool": self.tool.name,
        }

    # ---- restore ----------------------------------------------------------------------

    def _digests(self, state: State) -> list[str]:
        digests = state.get("digests") or []
        if not isinstance(digests, list) or not all(
            isinstance(d, str) and is_digest_ref(d) for d in digests
        ):
            raise FormatError(f"resource {self.name!r}: the snapshot's digests are invalid")
        return list(digests)

    def plan_restore(self, target: State, saved: list[State]) -> RestorePlan:
        image = self._recorded(target)
        assert image is not None
        return plan_image(self.name, self.tool, self.ref, image, self._digests(target), self._now())

    def apply_restore(self, plan: RestorePlan) -> None:
        if not plan.changes:
            return
        if not isinstance(plan, ContainerRestorePlan):
            raise UsageError(f"resource {self.name!r}: this restore plan is not an image plan")
        apply_image(self.tool, plan)

    # ---- reading recorded states ------------------------------------------------------

    def diff_states(self, old: State, new: State | None) -> list[Change]:
        if new is None:
            return self.status(old)
        return image_change(self.ref, self._recorded(old), self._recorded(new))

    def references(self, state: State) -> Iterator[ObjectRef]:
        return iter(())  # the image stays in its local store and registries

    def export(self, state: State, dest: str) -> int:
        raise UsageError(
            f"resource {self.name!r} is a container image; its bytes are in the image store "
            "and registries, not in dws (use docker/podman save)"
        )

    def read_files(self, state: State, names: list[str]) -> Iterator[tuple[str, bytes]]:
        return iter(())

    def describe(self, state: State | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {"ref": self.spec.params.get("ref")}
        if "tool" in self.spec.params:
            out["tool"] = self.spec.params["tool"]
        if state is not None:
            out.update(
                image=state.get("image"),
                digests=state.get("digests"),
                platform=state.get("platform"),
                answered_by=state.get("tool"),
            )
        return out

    # ---- lineage ----------------------------------------------------------------------

    def content_ids(self, paths: list[str], *, keep_trees: bool = False) -> dict[str, PathId]:
        return dict.fromkeys(paths, MISSING)

    def image_version(self) -> ImageVersion | None:
        now = self._now()
        if now is None:
            return None
        return ImageVersion(
            ref=self.ref, id=now.id, digests=now.digests, tool=self.tool.name, resource=self.name
        )
