"""Where things live on a remote, as ``dws.core.layout`` says where they live in
``.dataworkspace/``: every key of a remote is named here and nowhere else.

A key is a ``/``-separated path below the remote's root: the directory of a directory
remote, ``s3://bucket/prefix/`` of an S3 remote (docs/format.md, "Layout of a remote").
A remote mirrors ``.dataworkspace/`` minus ``local/`` and ``config.json``.
"""

from __future__ import annotations

from dws.errors import UsageError
from dws.model.ids import is_object_id
from dws.model.runs import check_step_name
from dws.store.remote_backend import RemotePlaces

WORKSPACE_JSON = "workspace.json"  # the workspace's identity, copied by the first push
RESOURCES_JSON = "resources.json"  # the last pusher's resources.json
SNAPSHOTS = "snapshots"  # snapshots/<id>.json: snapshot records
TAGS = "tags"  # tags/<tag>: "<snapshot id>\n"
RUNS = "lineage/runs"  # lineage/runs/<id>.json: run records the snapshots name
STEPS = "lineage/steps"  # lineage/steps/<step>.json: remembered step answers
OBJECTS = "objects"  # the object store (a directory remote: a workspace's pack store)
PACKS = "objects/packs"  # S3: packs/<name>.pack and .idx (a pack store keeps its own there)
LOCK = "lock"  # a directory remote's lock file (tag updates, gc)
LOCKS = "locks"  # locks/<kind>-<random>.json: who pushes or collects garbage (remote.locks)
DELETED = "deleted"  # deleted/<id>.json: tombstones of snapshots deleted on the remote

# what the backends lay out themselves, told where
PLACES = RemotePlaces(
    objects=OBJECTS, packs=PACKS, lock=LOCK, directories=(SNAPSHOTS, TAGS, RUNS, STEPS)
)

RECORD_SUFFIX = ".json"


def snapshot_key(snapshot_id: str) -> str:
    """The key of a snapshot record."""
    return f"{SNAPSHOTS}/{snapshot_id}{RECORD_SUFFIX}"


def tag_key(tag: str) -> str:
    """The key of a tag."""
    return f"{TAGS}/{tag}"


def run_key(run_id: str) -> str:
    """The key of a run record."""
    return f"{RUNS}/{run_id}{RECORD_SUFFIX}"


def step_key(file_name: str) -> str:
    """The key of a step file (``file_name``: ``<step>.json``, as in a workspace)."""
    return f"{STEPS}/{file_name}"


def lock_key(name: str) -> str:
    """The key of a lock (``name``: ``<kind>-<random>``)."""
    return f"{LOCKS}/{name}{RECORD_SUFFIX}"


def tombstone_key(snapshot_id: str) -> str:
    """The key of the tombstone of a snapshot deleted on the remote."""
    return f"{DELETED}/{snapshot_id}{RECORD_SUFFIX}"


def record_id(file_name: str) -> str | None:
    """The id a ``<id>.json`` file name (snapshot or run record) stands for, else None."""
    if not file_name.endswith(RECORD_SUFFIX):
        return None
    candidate = file_name[: -len(RECORD_SUFFIX)]
    return candidate if is_object_id(candidate) else None


def step_name(file_name: str) -> str | None:
    """The step a ``<step>.json`` file name stands for (a valid step name), else None."""
    if not file_name.endswith(RECORD_SUFFIX):
        return None
    candidate = file_name[: -len(RECORD_SUFFIX)]
    try:
        return check_step_name(candidate)
    except UsageError:
        return None
