"""The interface every resource type implements."""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Collection, Iterator
from typing import Any, ClassVar

from msgspec import Struct, field

from dws.errors import FormatError, UsageError
from dws.model.paths import default_resource_name
from dws.model.progress import Progress, no_progress
from dws.model.records import ResourceSpec
from dws.model.roles import Role
from dws.model.runs import ImageVersion
from dws.model.treediff import Change, visible_count
from dws.resources.pathhash import MISSING, PathId, hash_path
from dws.resources.recorded import NotHereError, RecordedView
from dws.store.base import ObjectStore

State = dict[str, Any]


class ResourceContext(Struct):
    """What a resource needs from its workspace."""

    workspace_root: str
    local_dir: str
    store: ObjectStore
    store_generation: int
    progress: Progress = no_progress


class RestorePlan(Struct):
    """What restoring one resource would do, computed before anything is touched."""

    resource: str
    # a list, or a ChangeStream that produces them again on each pass (local files: a
    # restore of a million files never holds them all)
    changes: Collection[Change]
    conflicts: list[str] = field(default_factory=list)
    verify_failures: list[str] = field(default_factory=list)
    missing_objects: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)
    leftovers: list[str] = field(default_factory=list)
    # overwritten content no saved state holds but the store does: nothing is lost, and
    # the restore names it in a recovery record (so gc keeps it); no --force needed
    recoverable: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what the user should know (printed)
    link: bool = False  # restore --link hardlink: large files as read-only hard links

    @property
    def visible_changes(self) -> list[Change]:
        """Changes worth showing a user (no implied directory markers)."""
        return [change for change in self.changes if change.visible]

    @property
    def visible_count(self) -> int:
        """How many changes are worth showing a user."""
        return visible_count(self.changes)


class PutBackPlan(Struct):
    """How content saved in a recovery record goes back under ``root``: what is written
    (never over anything), what is there already, and what stands in the way."""

    resource: str
    root: str
    writes: list[str] = field(default_factory=list)
    present: list[str] = field(default_factory=list)
    clashes: list[str] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)  # for the resource type


MAX_LISTED = 20  # paths a refusal names before "... and N more"


def listed(items: list[str], most: int = MAX_LISTED) -> list[str]:
    """The first ``most`` items, and how many more there are."""
    shown = items[:most]
    if len(items) > most:
        shown.append(f"... and {len(items) - most} more")
    return shown


class ObjectRef(Struct, frozen=True):
    """An object a state references; ``tree`` ones are parsed to find more."""

    oid: str
    tree: bool


class Resource(ABC):
    """One registered resource: a directory, a repository, a bucket."""

    type_name: ClassVar[str]
    allowed_roles: ClassVar[frozenset[Role]] = frozenset(Role)
    # The only nesting dws allows (docs/git.md, "Overlaps"): resources of these types may
    # lie inside this one's directory, and (if true) so may the workspace's .dataworkspace/;
    # the type then leaves those paths out of its own state.
    may_contain: ClassVar[frozenset[str]] = frozenset()
    may_contain_meta: ClassVar[bool] = False
    # the options of `dws add` (besides the name) this type reads; others are refused
    add_options: ClassVar[frozenset[str]] = frozenset({"keep", "create"})

    def __init__(self, spec: ResourceSpec, context: ResourceContext) -> None:
        self.spec = spec
        self.context = context
        self.warnings: list[str] = []

    @property
    def name(self) -> str:
        """The resource's stable handle."""
        return self.spec.name

    @property
    def role(self) -> Role:
        """The role the resource plays."""
        return self.spec.role

    @classmethod
    def default_name(cls, location: str) -> str:
        """The name a resource added from ``location`` gets when none is given."""
        return default_resource_name(location)

    @classmethod
    def is_local_location(cls, location: str) -> bool:
        """True when ``location`` is a path on this machine (a relative one is resolved
        against the caller's directory); False for a URL."""
        return "://" not in location

    @classmethod
    @abstractmethod
    def prepare_params(
        cls, location: str, workspace_root: str, options: dict[str, Any]
    ) -> dict[str, Any]:
        """Validate a new resource's location and options; return the params to record."""

    def recorded_path(self) -> str:
        """The absolute directory named by the spec's ``path`` parameter (relative paths are
        relative to the workspace)."""
        path = self.spec.params.get("path")
        if not isinstance(path, str) or not path or "\x00" in path:
            raise FormatError(f"resource {self.name!r} has no valid path in resources.json")
        return os.path.normpath(os.path.join(self.context.workspace_root, path))

    @abstractmethod
    def local_path(self) -> str | None:
        """Absolute local path the resource occupies (None if it has none)."""

    @abstractmethod
    def status(self, base: State | None) -> list[Change]:
        """Changes in the working state since ``base`` (None: everything is new)."""

    def status_report(self, base: State | None) -> tuple[list[Change], list[str]]:
        """``status``, and the paths left out of it because the working state cannot
        record them (file names that are not UTF-8, escaped) where ``status`` refuses."""
        return self.status(base), []

    def check_reachable(self) -> None:  # noqa: B027 - optional hook
        """Raise ``UnreachableError`` (its message: why, in one line) when the content
        cannot be reached now: a server down, credentials refused, a bucket gone. Status
        and snapshot ask first, so it answers within seconds. A type whose content is on
        this machine reaches nothing: a missing directory is reported by ``status``."""

    @abstractmethod
    def snapshot(self, base: State | None) -> State:
        """Record the current state, storing whatever restore will need."""

    @abstractmethod
    def plan_restore(self, target: State, saved: list[State]) -> RestorePlan:
        """Work out how to bring the working state to ``target``; touch nothing. A file
        whose content matches its version in one of the ``saved`` states (the base, and
        the target of an interrupted restore) is safe to overwrite; others are conflicts."""

    @abstractmethod
    def apply_restore(self, plan: RestorePlan) -> None:
        """Carry out a plan produced by ``plan_restore``."""

    @abstractmethod
    def diff_states(self, old: State, new: State | None) -> list[Change]:
        """Changes from ``old`` to ``new`` (None: the working state)."""

    @abstractmethod
    def references(self, state: State) -> Iterator[ObjectRef]:
        """Objects ``state`` needs in the store (for gc and fsck)."""

    @abstractmethod
    def export(self, state: State, dest: str) -> int:
        """Write the files of ``state`` into the new directory ``dest``; return file count."""

    @abstractmethod
    def read_files(self, state: State, names: list[str]) -> Iterator[tuple[str, bytes]]:
        """(path, bytes) of recorded files whose path matches one of the glob ``names``."""

    def recorded_view(self, state: State) -> RecordedView:
        """A read-only view of what ``state`` records: its directories and the bytes of its
        files (see ``resources.recorded``). Types that cannot be read so refuse."""
        raise NotHereError(
            f"resource {self.name!r} ({self.spec.type}) has no files to read from a snapshot"
        )

    def records_path(self, path: str) -> bool:
        """Whether what is at ``path`` (a local path below this resource's directory) is part
        of what this resource records; a type that leaves some paths out says so."""
        return True

    @abstractmethod
    def describe(self, state: State | None = None) -> dict[str, Any]:
        """A JSON-friendly description (location, and counts of ``state`` if given)."""

    def setup(self, location: str, options: dict[str, Any]) -> None:  # noqa: B027 - optional hook
        """Called by `add` once every check has passed, before the resource is recorded:
        bring the resource into being (a clone, for instance)."""

    def notes(self, old: State | None, new: State | None) -> list[str]:
        """Lines that say more than the list of changed files about the change from ``old``
        to ``new`` (None: the working state), e.g. a repository's branch and commits."""
        return []

    def ignore_suggestion(self, nested: list[str]) -> tuple[str, list[str]] | None:
        """For other resources' directories (absolute) inside this one: the ignore file
        this resource's own tool reads and the lines it lacks, or None."""
        return None

    def committed(self) -> None:  # noqa: B027 - optional hook
        """Called once the snapshot record that used ``snapshot()``'s state is durable."""

    def forget(self) -> None:  # noqa: B027 - optional hook
        """Drop machine-local caches when the resource is removed."""

    # ---- clone (optional) ----------------------------------------------------------------
    # A type whose content a clone fetches from the resource's own source (a repository),
    # not from the remote's object store, sets ``fetched_from_source`` and implements these.
    fetched_from_source: ClassVar[bool] = False
    # A type a clone leaves alone (``shared_note``) unless asked by name (clone
    # --pull-image NAME: a container image, pulled by its recorded digest).
    pulled_on_request: ClassVar[bool] = False

    @classmethod
    def source_url(cls, params: dict[str, Any], recorded: State | None) -> str | None:
        """Where a clone fetches the content of a resource with these ``params`` (and this
        ``recorded`` state), or None when no source is known."""
        return None

    @classmethod
    def fetch_source(cls, url: str, dest: str) -> None:
        """Fetch the content at ``url`` into ``dest`` (absent or empty); on failure leave
        nothing behind."""
        raise UsageError(f"{cls.type_name} resources are not fetched from a source")

    @classmethod
    def shown_source(cls, url: str) -> str:
        """``url`` as a message may show it (without credentials)."""
        return url

    def shared_note(self) -> str | None:
        """Why a clone leaves this resource as it is (its content is shared storage, not
        copied into the workspace), or None when a clone restores it."""
        if self.local_path() is not None:
            return None
        return (
            "it is shared storage (a bucket) that a clone never changes; `dws restore --only` "
            "it if you mean to change it"
        )

    def is_fetched(self) -> bool:
        """True when the content's source is already here (a clone does not fetch it)."""
        return True

    # ---- recovery (optional; docs/reliability.md, "Recovery records") ---------------------
    # What a restore is about to overwrite and no snapshot holds is stored first, in a
    # recovery record. A type whose plans can hold such paths implements these three.

    def save_paths(self, paths: list[str]) -> State | None:
        """Store what is at ``paths`` now and return a state holding exactly them; None
        when the type keeps such content its own way (a git resource writes a patch as it
        restores)."""
        return None

    def plan_put_back(self, state: State, dest: str | None) -> PutBackPlan:
        """How the content of a state from ``save_paths`` goes back into the resource's
        directory (or under ``dest``); touch nothing."""
        raise UsageError(f"resource {self.name!r} ({self.type_name}) keeps no recovered files")

    def apply_put_back(self, plan: PutBackPlan) -> None:
        """Write a put-back planned by ``plan_put_back`` that has no clashes."""
        raise UsageError(f"resource {self.name!r} ({self.type_name}) keeps no recovered files")

    # ---- swap (optional; docs/swap.md) ------------------------------------------------
    # `dws swap` puts other content behind a resource's unchanged path. A type that can
    # take its content from a plain directory implements these three; the defaults refuse.

    def check_swappable(self) -> None:
        """Raise (a one-line DwsError) unless ``save_state`` and ``import_directory`` work
        for this resource and a restore to a saved state brings back every byte."""
        raise UsageError(
            f"resource {self.name!r} ({self.type_name}) cannot take its content from a "
            "directory; swap works on local-files resources"
        )

    def save_state(self, *, store: bool) -> State:
        """The state of the content now, as ``snapshot`` records it. ``store``: every byte
        is put in the store (call ``committed`` once a record naming the state is durable);
        without, content is only hashed and nothing is written (a plan)."""
        self.check_swappable()
        raise NotImplementedError

    def import_directory(self, path: str, *, store: bool) -> State:
        """The state this resource would have if its content were exactly that of the plain
        directory ``path``, which is only read. ``store``: its content is put in the store;
        without, nothing is written, and the state serves ``plan_restore`` on this same
        object only."""
        self.check_swappable()
        raise NotImplementedError

    # ---- lineage ----------------------------------------------------------------------

    def content_ids(self, paths: list[str], *, keep_trees: bool = False) -> dict[str, PathId]:
        """(kind, id) of the current content of each path inside the resource ("" is its
        root): a file's blob id, a directory's tree id (its trees stored when
        ``keep_trees``), ("missing", None) for nothing there."""
        root = self.local_path()
        if root is None:
            return dict.fromkeys(paths, MISSING)
        store = self.context.store if keep_trees else None
        return {
            path: hash_path(os.path.join(root, path) if path else root, store) for path in paths
        }

    def listing_ids(self, paths: list[str]) -> dict[str, str | None]:
        """The listing id (names and kinds of its entries, ``model.tree.listing_id``) of
        each directory path now; None where there is no directory or the type cannot
        tell."""
        return dict.fromkeys(paths)

    def recorded_ids(self, state: State, paths: list[str]) -> dict[str, PathId]:
        """(kind, id) of each path in a recorded ``state``; paths the type cannot look up
        are left out."""
        return {}

    def code_version(self) -> tuple[str | None, str | None, list[str]] | None:
        """For a code resource: (commit, branch, uncommitted paths) now; else None."""
        return None

    def image_version(self) -> ImageVersion | None:
        """For a code resource that is a container image: the image its reference names
        now (id and registry digests), recorded with every run; else None."""
        return None

    def code_location(self) -> str | None:
        """For a code resource kept in a version-controlled repository: the URL others
        fetch that repository from (no credentials), or None when there is none."""
        return None
