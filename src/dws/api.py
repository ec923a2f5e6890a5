"""The public Python API of dws. The CLI is a thin layer over this module.

import dws
ws = dws.Workspace.open()
ws.snapshot("v1", message="baseline")
ws.restore("v1")
"""

from __future__ import annotations

import functools
import importlib
import io
import os
from collections.abc import Callable
from typing import IO, TYPE_CHECKING, Any, TypeVar, overload

from dws.core.workspace import Workspace as _CoreWorkspace
from dws.errors import NotFoundError, UsageError
from dws.model.progress import Progress, no_progress
from dws.model.records import ResourceSpec, SnapshotRecord
from dws.resources.base import Resource

# Each method imports what it calls: a command pays only for its own modules, not for
# restore, results or lineage when it takes a snapshot (see docs/performance.md).
if TYPE_CHECKING:
    from dws.core import registration
    from dws.core.lineage.execution import RunOutcome
    from dws.core.lineage.ops import CleanOutcome, RerunOutcome, RerunStep
    from dws.core.lineage.planning import RunPlan
    from dws.core.lineage.queries import PathLineage, StaleOutput
    from dws.core.lineage.step import Step
    from dws.core.lineage.swap import SwapOutcome
    from dws.core.maintenance import FsckReport, GcReport
    from dws.core.reading import Copied, ListedEntry, SnapshotFiles
    from dws.core.recovery import PutBackOutcome, RecoveryRecord
    from dws.core.remote.clone import CloneReport
    from dws.core.remote.config import RemoteConfig
    from dws.core.remote.deletion import RemoteDeleteReport
    from dws.core.remote.maintenance import RemoteFsckReport, RemoteGcReport, UnlockReport
    from dws.core.remote.pull import PullReport
    from dws.core.remote.push import PushReport
    from dws.core.restore import RestoreOutcome
    from dws.core.results import ResultsRow
    from dws.core.snapshot import SnapshotOutcome
    from dws.core.views import ResourceChanges, StatusReport
    from dws.model.argclass import ArgKind, Classified
    from dws.model.lines import OtherLine
    from dws.model.rowdiff import RowDiff
    from dws.model.runs import RunRecord
    from dws.pictures.notebook import Changes, History, ResultsTable

_Method = TypeVar("_Method", bound=Callable[..., Any])


def _releasing(method: _Method) -> _Method:
    """Close the store's open files when the call returns (or raises)."""

    @functools.wraps(method)
    def wrapper(self: Workspace, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        finally:
            self._ws.release()

    return wrapper  # type: ignore[return-value]


class _OpenMethod:
    """``Workspace.open(directory)`` opens a workspace; ``ws.open(path, snapshot=...)``
    opens a file of a snapshot of ``ws``."""

    @overload
    def __get__(self, instance: None, owner: type[Workspace]) -> Callable[..., Workspace]: ...

    @overload
    def __get__(self, instance: Workspace, owner: type[Workspace]) -> Callable[..., IO[Any]]: ...

    def __get__(
        self, instance: Workspace | None, owner: type[Workspace]
    ) -> Callable[..., Workspace] | Callable[..., IO[Any]]:
        if instance is None:
            return owner._open_workspace
        return instance._open_file


class Workspace:
    """A data workspace: resources, snapshots, restore, results."""

    def __init__(self, core: _CoreWorkspace) -> None:
        self._ws = core

    @classmethod
    def init(cls, directory: str = ".", name: str | None = None) -> Workspace:
        """Make ``directory`` a new workspace."""
        return cls(_CoreWorkspace.init(directory, name))

    @classmethod
    def _open_workspace(cls, directory: str = ".") -> Workspace:
        """Open the workspace containing ``directory``."""
        return cls(_CoreWorkspace.open(directory))

    open = _OpenMethod()

    @property
    def root(self) -> str:
        """Absolute path of the workspace directory."""
        return self._ws.root

    @property
    def name(self) -> str:
        """The workspace's name."""
        return self._ws.info.name

    def set_progress(self, progress: Progress | None) -> None:
        """Receive progress reports of long operations."""
        self._ws.progress = progress or no_progress

    # ---- resources --------------------------------------------------------------------

    def add_resource(
        self,
        type_name: str,
        location: str,
        role: str,
        *,
        name: str | None = None,
        relative_to: str | None = None,
        **options: Any,
    ) -> ResourceSpec:
        """Register a resource (e.g. ``add_resource("local-files", "data/raw", "source-data")``).
        A relative local ``location`` is relative to ``relative_to`` (default: the
        workspace directory); a URL is taken as it is."""
        from dws.core import registration

        return registration.add_resource(
            self._ws, type_name, location, role, name=name, options=options, relative_to=relative_to
        ).spec

    def ignore_suggestions(self, name: str) -> list[registration.IgnoreSuggestion]:
        """.gitignore lines that would hide the data resources inside a git resource from
        git, for the pairs that involve resource ``name`` (nothing is changed)."""
        from dws.core import registration

        return registration.ignore_suggestions(self._ws, name)

    def apply_ignore_suggestion(self, suggestion: registration.IgnoreSuggestion) -> None:
        """Append a suggestion's lines to its ignore file."""
        from dws.core import registration

        registration.apply_ignore_suggestion(self._ws, suggestion)

    def remove_resource(self, name: str) -> ResourceSpec:
        """Forget a resource; its files are left alone."""
        from dws.core import registration

        return registration.remove_resource(self._ws, name)

    def trust_resource(self, name: str) -> str | None:
        """Confirm that dws may write into resource ``name``'s directory outside the
        workspace (returns it; None when it lies inside)."""
        from dws.core.trust import trust_resource

        return trust_resource(self._ws, name)

    def resources(self) -> list[ResourceSpec]:
        """The registered resources."""
        return self._ws.resource_specs()

    def resource(self, name: str) -> Resource:
        """The resource object named ``name``."""
        return self._ws.resources([name])[0]

    def path(self, name: str) -> str:
        """Local directory of resource ``name`` (the stable handle code should use)."""
        path = self.resource(name).local_path()
        if path is None:
            raise NotFoundError(f"resource {name!r} has no local path")
        return path

    # ---- snapshots --------------------------------------------------------------------

    @_releasing
    def status(self) -> StatusReport:
        """What changed in each resource since its last snapshot."""
        from dws.core import views

        return views.status(self._ws)

    @_releasing
    def snapshot(
        self,
        tag: str | None = None,
        message: str = "",
        *,
        force: bool = False,
        strict: bool = False,
        only: list[str] | None = None,
        exclude: list[str] | None = None,
    ) -> SnapshotOutcome:
        """Record every resource's state; ``force`` moves an existing tag. Outputs of stale
        runs are listed in ``record.stale`` (and warned about in ``warnings``); ``strict``
        refuses (``RefusedError``) to record a state that has any. ``only``/``exclude``
        snapshot some resources: the others keep the state HEAD's snapshot records
        (``kept``), or are left out where it has none (``left_out``). A resource that
        cannot be reached refuses the snapshot (``RefusedError``) before anything is
        stored."""
        from dws.core.snapshot import take_snapshot

        return take_snapshot(
            self._ws, tag, message, force=force, strict=strict, only=only, exclude=exclude
        )

    @_releasing
    def restore(
        self,
        ref: str,
        *,
        only: list[str] | None = None,
        exclude: list[str] | None = None,
        force: bool = False,
        dry_run: bool = False,
        link: str = "copy",
    ) -> RestoreOutcome:
        """Bring resources (never results) back to snapshot ``ref``; ``link="hardlink"``
        restores the large files of source data as read-only hard links to the store."""
        from dws.core.restore import restore_snapshot

        return restore_snapshot(
            self._ws, ref, only=only, exclude=exclude, force=force, dry_run=dry_run, link=link
        )

    def recoveries(self) -> list[RecoveryRecord]:
        """Recovery records (what restores saved before overwriting it), newest first."""
        from dws.core.recovery import recovery_records

        return recovery_records(self._ws)

    @_releasing
    def recover(self, ref: str, *, to: str | None = None, dry_run: bool = False) -> PutBackOutcome:
        """Put the files of recovery record ``ref`` back where they were (or under
        ``to``/<resource>/), refusing before writing anything where other content stands."""
        from dws.core.recovery import put_back

        return put_back(self._ws, ref, to=to, dry_run=dry_run)

    def drop_recovery(self, ref: str) -> RecoveryRecord:
        """Delete recovery record ``ref``; `gc` then frees what only it held."""
        from dws.core.recovery import drop_recovery

        return drop_recovery(self._ws, ref)

    def history(self) -> History:
        """Snapshots, newest first, with their tags (a list of pairs; a table in a
        notebook)."""
        from dws.core import views
        from dws.pictures.notebook import History

        return History(views.history(self._ws))

    def other_lines(self) -> list[OtherLine]:
        """The lines of history that neither hold HEAD nor continue from it and whose
        newest snapshot is newer than HEAD, newest first (what `dws status` names)."""
        from dws.core.lines import newer_lines

        return newer_lines(self._ws)

    def show(self, ref: str) -> tuple[SnapshotRecord, list[str]]:
        """One snapshot record and its tags."""
        from dws.core import views

        return views.show(self._ws, ref)

    @_releasing
    def diff(self, ref_a: str, ref_b: str | None = None) -> Changes:
        """File-level changes between two snapshots, or a snapshot and the working state (a
        list of ResourceChanges; a table in a notebook)."""
        from dws.core import views
        from dws.pictures.notebook import Changes

        return Changes(views.diff(self._ws, ref_a, ref_b))

    # ---- reading snapshots ------------------------------------------------------------

    def snapshot_files(self, snapshot: str = "HEAD") -> SnapshotFiles:
        """The files of ``snapshot`` (a tag, id prefix or HEAD), read without restoring:
        ``entry``, ``listdir``, ``walk``, ``open`` and ``copy_out`` by snapshot path."""
        from dws.core.reading import workspace_snapshot

        return workspace_snapshot(self._ws, snapshot)

    def ls(
        self, path: str = "", *, snapshot: str = "HEAD", recursive: bool = False
    ) -> list[ListedEntry]:
        """The entries of directory ``path`` of ``snapshot`` (every entry below it with
        ``recursive``); a file's path lists that file alone."""
        return self.snapshot_files(snapshot).ls(path, recursive=recursive)

    def _open_file(
        self,
        path: str,
        mode: str = "rb",
        *,
        snapshot: str = "HEAD",
        encoding: str = "utf-8",
        errors: str = "strict",
        newline: str | None = None,
    ) -> IO[Any]:
        """The recorded bytes of file ``path`` of ``snapshot``, as a seekable read-only file
        (``mode="r"``: text), checked against the content id before bytes are handed out."""
        _check_read_mode(mode)
        handle = self.snapshot_files(snapshot).open(path)
        if mode == "rb":
            return handle
        return io.TextIOWrapper(handle, encoding=encoding, errors=errors, newline=newline)

    def read_bytes(self, path: str, *, snapshot: str = "HEAD") -> bytes:
        """The whole recorded content of file ``path`` of ``snapshot``."""
        with self._open_file(path, snapshot=snapshot) as handle:
            data: bytes = handle.read()
        return data

    def get(self, path: str, dest: str, *, snapshot: str = "HEAD") -> Copied:
        """Copy file or directory ``path`` of ``snapshot`` to the new path ``dest`` (into
        it when it is a directory), touching nothing in the workspace: ``Copied`` (files,
        bytes, dest)."""
        return self.snapshot_files(snapshot).copy_out(path, dest)

    def diff_rows(
        self,
        ref_a: str,
        ref_b: str,
        path: str,
        *,
        key: str | list[str] | None = None,
        limit: int = 10,
    ) -> RowDiff:
        """Row-level changes of the table at ``path`` (CSV, TSV or Parquet) from snapshot
        ``ref_a`` to ``ref_b``: rows added, removed and (with ``key`` columns) changed, exact
        counts and the first ``limit`` rows of each. ``key`` is a column name or a list of
        them."""
        from dws.core.tables import diff_rows

        if isinstance(key, str):
            key = [key]
        if limit < 0:
            raise UsageError("limit must be 0 or more")
        with self.snapshot_files(ref_a) as old, self.snapshot_files(ref_b) as new:
            return diff_rows(old, new, path, key=key, limit=limit)

    def resolve(self, ref: str) -> str:
        """Full id of a tag, id prefix or HEAD."""
        from dws.core import views

        return views.resolve(self._ws, ref)

    def head(self) -> str | None:
        """Id of the snapshot last taken or restored, if any."""
        return self._ws.head().snapshot

    def tags(self) -> dict[str, str]:
        """tag -> snapshot id."""
        from dws.core.catalog import SnapshotCatalog

        return SnapshotCatalog(self._ws.layout).tags()

    def tag(self, ref: str, tag: str, *, force: bool = False) -> str:
        """Name snapshot ``ref`` with ``tag``."""
        from dws.core.maintenance import tag_snapshot

        return tag_snapshot(self._ws, ref, tag, force=force)

    def untag(self, tag: str) -> None:
        """Remove a tag."""
        from dws.core.maintenance import untag

        untag(self._ws, tag)

    def delete_snapshot(self, ref: str, *, force: bool = False) -> tuple[str, list[str]]:
        """Delete a snapshot record and its tags; run ``gc`` to free the space."""
        from dws.core.maintenance import delete_snapshot

        return delete_snapshot(self._ws, ref, force=force)

    # ---- results ----------------------------------------------------------------------

    @_releasing
    def results(self) -> ResultsTable:
        """Metrics of every snapshot, oldest first (a list of ResultsRows; a table and
        charts in a notebook)."""
        from dws.core.results import results_table
        from dws.pictures.notebook import ResultsTable

        return ResultsTable(results_table(self._ws))

    @_releasing
    def export_results(self, ref: str, dest: str) -> dict[str, int]:
        """Copy snapshot ``ref``'s results into ``dest`` (one directory per resource)."""
        from dws.core.results import export_results

        return export_results(self._ws, ref, dest)

    # ---- maintenance ------------------------------------------------------------------

    @_releasing
    def gc(self, *, dry_run: bool = False) -> GcReport:
        """Delete objects no snapshot references."""
        from dws.core.maintenance import gc

        return gc(self._ws, dry_run=dry_run)

    @_releasing
    def fsck(self, *, verify_content: bool = True) -> FsckReport:
        """Check records and objects."""
        from dws.core.maintenance import fsck

        return fsck(self._ws, verify_content=verify_content)

    # ---- lineage ----------------------------------------------------------------------

    def plan_run(
        self,
        argv: list[str],
        *,
        cwd: str | None = None,
        step: str | None = None,
        inputs: list[str] | None = None,
        outputs: list[str] | None = None,
        params: list[str] | None = None,
        ask: Callable[[Classified], ArgKind] | None = None,
        allow_undecided: bool = False,
        observed: bool = False,
    ) -> RunPlan:
        """Classify a command line's arguments without running anything (``observed``:
        the run will be observed, so earlier runs are not consulted)."""
        from dws.core.lineage.planning import plan_run

        try:
            return plan_run(
                self._ws,
                list(argv),
                os.path.abspath(cwd or os.getcwd()),
                step=step,
                inputs=list(inputs or []),
                outputs=list(outputs or []),
                params=list(params or []),
                ask=ask,
                allow_undecided=allow_undecided,
                observed=observed,
            )
        finally:
            self._ws.release()

    def run(
        self,
        plan: RunPlan,
        *,
        env: list[str] | None = None,
        trace: bool = False,
        observer: str = "auto",
    ) -> RunOutcome:
        """Run a planned command (stdio inherited), observed (``auto``: the Python
        recorder for Python commands, strace for others; ``python``, ``strace``, or
        ``none`` for the command line only; ``trace`` means ``strace``), and write its
        run record."""
        from dws.core.lineage.execution import execute
        from dws.core.lineage.observe import OBSERVERS

        if observer not in OBSERVERS:
            raise UsageError(f"unknown observer {observer!r}; choose one of {', '.join(OBSERVERS)}")
        try:
            return execute(
                self._ws,
                plan,
                env_names=list(env or []),
                observer="strace" if trace else observer,
            )
        finally:
            self._ws.release()

    def step(
        self,
        name: str,
        *,
        inputs: list[str] | None = None,
        outputs: list[str] | None = None,
        params: dict[str, Any] | None = None,
    ) -> Step:
        """A context manager recording a step run from Python (see docs/lineage.md)."""
        from dws.core.lineage.step import Step

        return Step(self._ws, name, list(inputs or []), list(outputs or []), dict(params or {}))

    def lineage_warnings(self) -> list[str]:
        """One line per run record that is damaged and therefore left out of lineage."""
        from dws.core.lineage.catalog import RunCatalog

        catalog = RunCatalog(self._ws.layout)
        catalog.all()
        return list(catalog.warnings)

    @_releasing
    def runs(self) -> list[RunRecord]:
        """Every run record, oldest first."""
        from dws.core.lineage.catalog import RunCatalog

        return RunCatalog(self._ws.layout).all()

    def run_record(self, run_id: str) -> RunRecord:
        """One run record by its id or a unique prefix of it (at least 4 hex digits);
        NotFoundError when there is none, UsageError when the prefix is ambiguous."""
        from dws.core.lineage.catalog import RunCatalog

        return RunCatalog(self._ws.layout).find(run_id)

    @_releasing
    def lineage(self, path: str, *, snapshot: str | None = None) -> PathLineage:
        """The upstream tree of what is at ``path`` (now, or in ``snapshot``)."""
        from dws.core.lineage import queries

        ctx = queries.lineage_context(self._ws, snapshot)
        return queries.show_path(ctx, path, os.getcwd())

    @_releasing
    def lineage_graph(
        self, *, snapshot: str | None = None, everything: bool = False
    ) -> dict[str, Any]:
        """Steps and data as nodes, reads and writes as edges (JSON-ready; a picture in a
        notebook)."""
        from dws.core.lineage import queries
        from dws.pictures.notebook import LineageGraph

        ctx = queries.lineage_context(self._ws, snapshot)
        return LineageGraph(queries.graph_document(ctx, queries.graph_runs(ctx, everything)))

    @_releasing
    def lineage_runs(
        self, *, snapshot: str | None = None, everything: bool = False
    ) -> list[RunRecord]:
        """The runs explaining the current state (or a snapshot's), or all of them."""
        from dws.core.lineage import queries

        ctx = queries.lineage_context(self._ws, snapshot)
        return queries.graph_runs(ctx, everything)

    @_releasing
    def openlineage_events(
        self, *, namespace: str | None = None, everything: bool = False
    ) -> list[dict[str, Any]]:
        """OpenLineage run events (START and COMPLETE/FAIL) for the recorded runs."""
        from dws.core.lineage import queries
        from dws.core.lineage.catalog import RunCatalog
        from dws.core.lineage.openlineage import run_events

        if everything:
            records = RunCatalog(self._ws.layout).all()
        else:
            ctx = queries.lineage_context(self._ws)
            records = queries.graph_runs(ctx, False)
        name = self._ws.info.name
        code_urls = {}
        for resource in self._ws.resources():
            url = resource.code_location()
            if url:
                code_urls[resource.name] = url
        return list(
            run_events(
                records, namespace=namespace or name, workspace_name=name, code_urls=code_urls
            )
        )

    @_releasing
    def stale(self) -> list[StaleOutput]:
        """Outputs present now whose producing step is out of date."""
        from dws.core.lineage.catalog import RunCatalog

        if not RunCatalog(self._ws.layout).ids():
            return []  # no step ran here: nothing to load
        from dws.core.lineage import queries

        return queries.stale_outputs(queries.lineage_context(self._ws))

    @_releasing
    def swap(
        self,
        name: str,
        target: str | None = None,
        *,
        back: bool = False,
        dry_run: bool = False,
    ) -> SwapOutcome:
        """Put another data set (a directory, or ``NAME@REF``'s version) behind source-data
        ``name``'s path, saving what is there first; ``back`` undoes the last swap."""
        from dws.core.lineage.swap import swap_source

        return swap_source(self._ws, name, target, os.getcwd(), back=back, dry_run=dry_run)

    @_releasing
    def clean_stale(self, *, dry_run: bool = False) -> CleanOutcome:
        """Delete stale intermediate data (never results, source data or code)."""
        from dws.core.lineage.ops import clean_stale

        return clean_stale(self._ws, dry_run=dry_run)

    @_releasing
    def plan_rerun(self, path: str) -> list[RerunStep]:
        """The steps that must run again to bring ``path`` up to date, in order."""
        from dws.core.lineage.ops import plan_rerun

        return plan_rerun(self._ws, path, os.getcwd())

    @_releasing
    def rerun(
        self,
        plan: list[RerunStep],
        *,
        announce: Callable[[RunRecord], None] | None = None,
        skipped: Callable[[RunRecord], None] | None = None,
        approve: bool = False,
    ) -> RerunOutcome:
        """Run a rerun plan; a step whose inputs came out the same is skipped; stops at
        the first failing step. Command lines this machine has not run or approved (see
        ``unapproved``) are refused unless ``approve``."""
        from dws.core.lineage.ops import rerun

        return rerun(self._ws, plan, announce=announce, skipped=skipped, approve=approve)

    def unapproved(self, plan: list[RerunStep]) -> list[RerunStep]:
        """The steps of a rerun plan whose command lines this machine has not run or
        approved (records pulled from elsewhere)."""
        from dws.core.lineage.ops import unapproved

        return unapproved(self._ws, plan)

    # ---- remotes ----------------------------------------------------------------------

    def remotes(self) -> list[RemoteConfig]:
        """The configured remotes."""
        from dws.core.remote import config as remote_config

        return remote_config.list_remotes(self._ws)

    def add_remote(
        self, name: str, url: str, *, endpoint_url: str | None = None, check: bool = True
    ) -> RemoteConfig:
        """Configure a remote: a directory or ``s3://bucket/prefix`` (no credentials).
        ``check``: first make sure it can be used (reachable, readable, an empty place or
        this workspace's remote); without it, nothing is asked of the remote."""
        from dws.core.remote import config as remote_config
        from dws.core.remote.open import check_usable

        usable = functools.partial(check_usable, self._ws) if check else None
        return remote_config.add_remote(self._ws, name, url, endpoint_url, check=usable)

    def remove_remote(self, name: str) -> RemoteConfig:
        """Forget a remote (nothing on it is touched)."""
        from dws.core.remote import config as remote_config

        return remote_config.remove_remote(self._ws, name)

    @_releasing
    def push(
        self, remote: str | None = None, *, force: bool = False, verify: bool = False
    ) -> PushReport:
        """Send the snapshots the remote lacks, their objects and lineage, then tags; with
        ``verify``, also send any object the remote lacks of the snapshots it has."""
        from dws.core.remote import push as remote_push

        return remote_push.push(self._ws, remote, force=force, verify=verify)

    @_releasing
    def pull(
        self,
        remote: str | None = None,
        *,
        all_snapshots: bool = False,
        snapshot: str | None = None,
        force: bool = False,
    ) -> PullReport:
        """Fetch new snapshots, tags and lineage, and the objects of the latest snapshot
        (or ``snapshot``, or all of them)."""
        from dws.core.remote import pull as remote_pull

        return remote_pull.pull(
            self._ws, remote, everything=all_snapshots, snapshot=snapshot, force=force
        )

    @_releasing
    def gc_remote(self, remote: str | None = None, *, dry_run: bool = False) -> RemoteGcReport:
        """Delete objects on the remote that none of its snapshots reaches, and abort
        unfinished uploads, holding the remote's gc lock (refused while someone pushes)."""
        from dws.core.remote import maintenance as remote_maint

        return remote_maint.gc_remote(self._ws, remote, dry_run=dry_run)

    @_releasing
    def delete_remote_snapshot(
        self, ref: str, remote: str | None = None, *, force: bool = False, dry_run: bool = False
    ) -> RemoteDeleteReport:
        """Delete snapshot ``ref`` (a remote tag or id prefix) on the remote, leaving a
        tombstone so pushes do not bring it back; ``force`` also deletes remote tags naming
        it. This workspace keeps it; ``gc_remote`` then frees its objects."""
        from dws.core.remote import deletion

        return deletion.delete_remote_snapshot(self._ws, remote, ref, force=force, dry_run=dry_run)

    @_releasing
    def unlock_remote(
        self, remote: str | None = None, locks: list[str] | None = None
    ) -> UnlockReport:
        """Remove the remote's stale locks and those of processes of this machine that are
        gone, and the locks named in ``locks`` (whose holders you know are gone)."""
        from dws.core.remote import maintenance as remote_maint

        return remote_maint.unlock_remote(self._ws, remote, list(locks or []))

    @_releasing
    def fsck_remote(
        self, remote: str | None = None, *, verify_content: bool = True
    ) -> RemoteFsckReport:
        """Check the remote's records and the objects its snapshots need."""
        from dws.core.remote import maintenance as remote_maint

        return remote_maint.fsck_remote(self._ws, remote, verify_content=verify_content)

    @classmethod
    def clone(
        cls,
        url: str,
        directory: str,
        *,
        snapshot: str | None = None,
        maps: dict[str, str] | None = None,
        endpoint_url: str | None = None,
        ask: Callable[[str, str], str | None] | None = None,
        progress: Progress | None = None,
        repos: dict[str, str] | None = None,
        relative_to: str | None = None,
        pull_images: list[str] | None = None,
    ) -> tuple[Workspace, CloneReport]:
        """A new workspace in ``directory`` from the remote at ``url``, restored to
        ``snapshot`` (default: the remote's latest); ``maps`` gives local paths of
        resources that lived outside the workspace; ``repos`` the URLs to clone git
        resources from instead of their recorded ones (key: resource name, or "." for the
        workspace's own repository); a repository given as a relative local path is
        relative to ``relative_to`` (default: the current directory); ``pull_images`` names
        container resources whose recorded image is pulled by digest (default: none)."""
        from dws.core.remote import clone as remote_clone

        def configure(core: _CoreWorkspace) -> None:
            core.progress = progress or no_progress

        core, report = remote_clone.clone(
            url,
            directory,
            snapshot=snapshot,
            maps=maps,
            endpoint_url=endpoint_url,
            ask=ask,
            configure=configure,
            repos=repos,
            relative_to=relative_to,
            pull_images=pull_images,
        )
        return cls(core), report

    def __repr__(self) -> str:
        return f"Workspace({os.path.relpath(self.root)!r})"


__all__ = [
    "Copied",
    "FsckReport",
    "GcReport",
    "ListedEntry",
    "PutBackOutcome",
    "RecoveryRecord",
    "ResourceChanges",
    "RestoreOutcome",
    "ResultsRow",
    "SnapshotFiles",
    "SnapshotOutcome",
    "StatusReport",
    "Workspace",
    "open",
    "snapshot_files",
]


# the public record types, each from the module that defines it, imported on first use
_DEFINED_IN = {
    "Copied": "dws.core.reading",
    "FsckReport": "dws.core.maintenance",
    "GcReport": "dws.core.maintenance",
    "ListedEntry": "dws.core.reading",
    "PutBackOutcome": "dws.core.recovery",
    "RecoveryRecord": "dws.core.recovery",
    "ResourceChanges": "dws.core.views",
    "RestoreOutcome": "dws.core.restore",
    "ResultsRow": "dws.core.results",
    "SnapshotFiles": "dws.core.reading",
    "SnapshotOutcome": "dws.core.snapshot",
    "StatusReport": "dws.core.views",
}


def __getattr__(name: str) -> Any:
    if name in _DEFINED_IN:
        return getattr(importlib.import_module(_DEFINED_IN[name]), name)
    raise AttributeError(f"module 'dws.api' has no attribute {name!r}")


# ---- reading snapshots without a Workspace object ----------------------------------------


def snapshot_files(
    snapshot: str = "HEAD",
    *,
    workspace: str | None = None,
    remote: str | None = None,
    endpoint_url: str | None = None,
) -> SnapshotFiles:
    """The files of ``snapshot`` of the workspace containing ``workspace`` (default: the
    current directory), or of ``remote`` (a URL, or the name of one of the workspace's
    remotes; on a remote HEAD is its newest snapshot), read without restoring. Close it when
    done (it is a context manager)."""
    if remote is None:
        from dws.core.reading import workspace_snapshot

        core = _CoreWorkspace.open(workspace or ".")
        return workspace_snapshot(core, snapshot, closer=core.release)
    from dws.core.remote.browse import open_remote_snapshot, remote_location

    core_ws = _workspace_if_any(workspace)
    url, endpoint = remote_location(remote, endpoint_url, core_ws)
    cache = os.path.join(core_ws.layout.local, "read-cache") if core_ws is not None else None
    return open_remote_snapshot(url, snapshot, endpoint_url=endpoint, cache_dir=cache)


def _workspace_if_any(directory: str | None) -> _CoreWorkspace | None:
    """The workspace ``directory`` names (an error if it names none), or the one around the
    current directory, if any."""
    if directory is not None:
        return _CoreWorkspace.open(directory)
    try:
        return _CoreWorkspace.open(".")
    except NotFoundError:
        return None


def open(
    path: str,
    mode: str = "rb",
    *,
    snapshot: str = "HEAD",
    workspace: str | None = None,
    remote: str | None = None,
    endpoint_url: str | None = None,
    encoding: str = "utf-8",
    errors: str = "strict",
    newline: str | None = None,
) -> IO[Any]:
    """File ``path`` of ``snapshot`` as a seekable read-only file (``mode="r"``: text), from
    a workspace or straight from a remote (see ``snapshot_files``)."""
    _check_read_mode(mode)
    files = snapshot_files(snapshot, workspace=workspace, remote=remote, endpoint_url=endpoint_url)
    from dws.core.reading import open_closing

    handle = open_closing(files, path)
    if mode == "rb":
        return handle
    return io.TextIOWrapper(handle, encoding=encoding, errors=errors, newline=newline)


def _check_read_mode(mode: str) -> None:
    if mode not in ("rb", "r", "rt"):
        raise UsageError(f"mode {mode!r}: snapshots are read-only (use 'rb' or 'r')")
