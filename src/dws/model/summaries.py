"""Short texts for people that several front ends share (the CLI, the web view, the
report): byte counts, and a resource's recorded state in a few words."""

from __future__ import annotations

from typing import Any


def human_bytes(count: int | None) -> str:
    """1536 -> '1.5 KiB'."""
    if count is None:
        return "?"
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{count} B"  # pragma: no cover (the loop returns at TiB)


def _short(ident: object) -> str:
    return str(ident)[:10] if ident else "-"


def state_summary(state: dict[str, Any]) -> str:
    """'12 files, 3.4 MiB' for a local-files state; 'commit ... on main' for a git one;
    'ref @ sha256:…' for an image."""
    if "commit" in state and "dirty" in state:
        commit = state["commit"]
        where = f"commit {_short(commit)}" if commit else "no commit yet"
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
    if "ref" in state and "image" in state:
        return f"{state['ref']} @ {str(state['image'])[:19]}"
    return ", ".join(
        f"{k}={', '.join(map(str, v)) if isinstance(v, list) else v}" for k, v in state.items()
    )
