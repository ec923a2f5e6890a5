"""One run's details as an HTML section (command, status, parameters, code, images,
inputs and outputs with their versions, environment): shared by `dws report` and the run
page of `dws ui`. Everything from the record is escaped."""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterable
from html import escape
from typing import Any

from dws.model.runs import RunRecord
from dws.ui.page import when


def run_section(run: RunRecord, *, anchor: str | None = None) -> str:
    """``run`` as a titled table (``anchor``, if given, is the section's id)."""
    rows = [
        ("command", f"<code>{escape(' '.join(run.argv))}</code>"),
        ("status", f"{escape(run.status)} (exit code {run.exit_code})"),
        (
            "ran",
            f"{when(run.started)} to {when(run.ended)}{_duration(run)} on {escape(run.hostname)}",
        ),
        (
            "parameters",
            "<br>".join(f"{escape(k)} = {escape(_plain(v))}" for k, v in sorted(run.params.items()))
            or "-",
        ),
        (
            "code",
            "<br>".join(
                f"{escape(c.resource)} @ {escape(str(c.commit)[:10])}"
                + (" +uncommitted changes" if c.dirty else "")
                for c in run.code
            )
            or "-",
        ),
        (
            "images",
            "<br>".join(f"{escape(i.ref)} @ {escape(i.id[:19])}" for i in run.images) or "-",
        ),
        ("inputs", _versions(run.inputs)),
        ("outputs", _versions(run.outputs)),
        (
            "environment",
            "<br>".join(f"{escape(k)}={escape(v)}" for k, v in sorted(run.environment.items()))
            or "-",
        ),
    ]
    body = "".join(f"<tr><th>{name}</th><td>{value}</td></tr>" for name, value in rows)
    where = f' id="{escape(anchor)}"' if anchor else ""
    return (
        f'<section class="run"{where}><h3>step {escape(run.step)} '
        f'<span class="muted">run {escape(run.id[:10])}</span></h3><table>{body}</table></section>'
    )


def _versions(items: Iterable[Any]) -> str:
    shown = [
        f"{escape(item.resource)}/{escape(item.path)} "
        f'<span class="muted">{escape((item.id or "")[:10])}</span>'
        for item in items
    ]
    return "<br>".join(shown) or "-"


def _duration(run: RunRecord) -> str:
    try:
        took = datetime.datetime.fromisoformat(run.ended) - datetime.datetime.fromisoformat(
            run.started
        )
    except (ValueError, TypeError):
        return ""
    return f" ({took.total_seconds():.1f} s)"


def _plain(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)
