"""Turning API results into JSON documents and text lines, shared by several commands."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dws.cli.output import Output, human_bytes, short

if TYPE_CHECKING:
    from dws.api import ResourceChanges
    from dws.core.lineage.queries import StaleOutput
    from dws.model.records import SnapshotRecord
    from dws.model.treediff import Change

STATUS_STYLE = {"added": "green", "deleted": "red", "modified": "yellow"}
MAX_LINES = 200


def change_json(change: Change) -> dict[str, Any]:
    """One changed path for --json."""
    entry = change.new or change.old
    assert entry is not None
    return {
        "path": change.path,
        "status": change.status,
        "kind": entry.kind,
        "old": change.old.id if change.old else None,
        "new": change.new.id if change.new else None,
        "size": change.new.size if change.new else None,
    }


def resource_changes_json(item: ResourceChanges) -> dict[str, Any]:
    """A resource's changes for --json."""
    return {
        "name": item.name,
        "type": item.type,
        "role": item.role.value,
        "base": item.base,
        "note": item.note,
        "changes": [change_json(c) for c in item.visible],
        "notes": item.notes,
        "warnings": item.warnings,
    }


def print_changes(output: Output, changes: list[Change], indent: str = "  ") -> None:
    """List changed paths, one per line, with a limit."""
    for change in changes[:MAX_LINES]:
        entry = change.new or change.old
        suffix = "/" if entry is not None and entry.is_dir else ""
        label = change.status
        if change.old and change.new and change.old.id == change.new.id:
            label = "mode"
        output.line(f"{indent}{label:<9} {change.path}{suffix}", STATUS_STYLE.get(change.status))
    if len(changes) > MAX_LINES:
        output.line(f"{indent}... and {len(changes) - MAX_LINES} more (use --json for all)")


def record_json(record: SnapshotRecord, tags: list[str]) -> dict[str, Any]:
    """A snapshot record (plus tags) for --json."""
    return {
        "id": record.id,
        "tags": tags,
        "created": record.created,
        "hostname": record.hostname,
        "user": record.user,
        "message": record.message,
        "parent": record.parent,
        "resources": {
            name: {"type": r.type, "role": r.role.value, "state": r.state}
            for name, r in record.resources.items()
        },
        "runs": record.runs,
        "metrics": record.metrics,
        "stale": record.stale,
    }


def record_summary(record: SnapshotRecord, tags: list[str], shown_id: str | None = None) -> str:
    """'abc1234567 [v1] 2026-... message' in one line (``shown_id``: the id's abbreviation)."""
    tag_text = f" [{', '.join(tags)}]" if tags else ""
    message = f"  {record.message}" if record.message else ""
    when = record.created[:19].replace("T", " ")
    return f"{shown_id or short(record.id)}{tag_text}  {when}{message}"


def print_notes(output: Output, notes: list[str], indent: str = "  ") -> None:
    """A resource's notes (a repository's branch, commits, uncommitted paths)."""
    for note in notes:
        output.line(f"{indent}{note}", "cyan")


def state_summary(state: dict[str, Any]) -> str:
    """'12 files, 3.4 MiB' for a local-files state; 'commit ... on main' for a git one."""
    if "commit" in state and "dirty" in state:
        commit = state["commit"]
        where = f"commit {short(commit)}" if commit else "no commit yet"
        branch = f" on {state['branch']}" if state.get("branch") else " (detached)"
        dirty = len(state.get("dirty") or [])
        return where + branch + (f", {dirty} uncommitted path(s)" if dirty else ", clean")
    if "files" in state:
        kept = " (hashes only)" if state.get("keep") == "hashes" else ""
        count = state["files"]
        noun = "file" if count == 1 else "files"
        return f"{count} {noun}, {human_bytes(state.get('bytes'))}{kept}"
    if "objects" in state and "manifest" in state:
        count = state["objects"]
        noun = "object" if count == 1 else "objects"
        kept = " (hashes only)" if state.get("keep") == "hashes" else ""
        return f"{count} {noun}, {human_bytes(state.get('bytes'))} in {state.get('url')}{kept}"
    return ", ".join(f"{k}={v}" for k, v in state.items())


def run_json(record: Any) -> dict[str, Any]:
    """A run record for --json (the record as stored)."""
    import msgspec

    result: dict[str, Any] = msgspec.to_builtins(record)
    return result


def stale_json(item: StaleOutput) -> dict[str, Any]:
    """A stale output for --json."""
    return {
        "path": item.key,
        "resource": item.output.resource,
        "role": item.role.value,
        "step": item.run.step,
        "run": item.run.id,
        "reasons": item.reasons,
    }


def print_stale(output: Output, stale: list[StaleOutput]) -> None:
    """The stale outputs section of `dws status`."""
    if not stale:
        return
    output.line(
        f"stale outputs ({len(stale)}): an input or the code changed since they were made", "bold"
    )
    for item in stale[:MAX_LINES]:
        why = "; ".join(item.reasons[:3]) + ("; ..." if len(item.reasons) > 3 else "")
        output.line(f"  {item.key}  (step {item.run.step}: {why})", "yellow")
    output.line(
        "  rerun with `dws rerun PATH`; `dws clean --stale` deletes stale intermediate data"
    )
