"""Metrics: numeric leaves of a JSON document flattened to dotted keys, and the short names
and patterns a results table picks them by."""

from __future__ import annotations

import fnmatch
import math
from typing import Any

from dws.errors import UsageError


def flatten_metrics(document: Any, prefix: str = "") -> dict[str, float]:
    """{"a": {"b": 1}, "c": [2, "x"]} -> {"a.b": 1.0, "c.0": 2.0}; booleans are not metrics."""
    out: dict[str, float] = {}
    if isinstance(document, dict):
        items: list[tuple[str, Any]] = [(str(k), v) for k, v in document.items()]
    elif isinstance(document, list):
        items = [(str(i), v) for i, v in enumerate(document)]
    else:
        return out
    for key, value in items:
        dotted = f"{prefix}.{key}" if prefix else key
        if isinstance(value, bool):
            continue
        if isinstance(value, int | float):
            try:
                number = float(value)
            except OverflowError:
                continue  # an integer too large for a float is no usable metric
            if math.isfinite(number):
                out[dotted] = number
        else:
            out.update(flatten_metrics(value, dotted))
    return out


def metric_names(columns: list[str]) -> dict[str, str]:
    """Short names for metric columns ('resource/file:key') that still tell them apart: the
    key alone when every metric comes from one file, else 'place/key', where the place is
    what differs between the files' paths (their common leading directories and common file
    name dropped, '.json' too): 'results/a/metrics.json:acc' and 'results/b/metrics.json:acc'
    are 'a/acc' and 'b/acc'. A name that would still be ambiguous stays whole."""
    if not columns:
        return {}
    split = {c: tuple(c.split(":", 1)) if ":" in c else (c, "") for c in columns}
    sources = list(dict.fromkeys(source for source, _ in split.values()))
    if len(sources) == 1:
        names = {c: key or c for c, (_, key) in split.items()}
    else:
        places = _distinct_tails([s.split("/") for s in sources])
        names = {c: f"{places[source]}/{key}" for c, (source, key) in split.items()}
    taken: dict[str, int] = {}
    for name in names.values():
        taken[name] = taken.get(name, 0) + 1
    return {c: name if taken[name] == 1 else c for c, name in names.items()}


def _distinct_tails(paths: list[list[str]]) -> dict[str, str]:
    """'results/a/metrics.json' -> 'a' for paths that share 'results/' and 'metrics.json'."""
    if not paths:
        return {}
    lead = 0
    while all(len(p) > lead + 1 and p[lead] == paths[0][lead] for p in paths):
        lead += 1
    trail = 0
    while all(len(p) > lead + trail + 1 and p[-1 - trail] == paths[0][-1 - trail] for p in paths):
        trail += 1
    out = {}
    for path in paths:
        kept = path[lead : len(path) - trail]
        if not trail and kept[-1].endswith(".json") and len(kept[-1]) > len(".json"):
            kept = [*kept[:-1], kept[-1][: -len(".json")]]
        out["/".join(path)] = "/".join(kept)
    if len(set(out.values())) < len(out):
        return {"/".join(path): "/".join(path) for path in paths}
    return out


def select_metrics(columns: list[str], patterns: list[str]) -> list[str]:
    """The columns any of ``patterns`` (shell-style: ``*``, ``?``, ``[...]``) matches, whole
    ('results/metrics.json:acc'), by the short name of ``metric_names`` ('a/acc') or by the
    key alone ('acc', 'eval.*'); in the order of ``columns``. A pattern that matches nothing
    is an error naming the metrics there are."""
    names = metric_names(columns)
    chosen: set[str] = set()
    for pattern in patterns:
        found = {
            c
            for c in columns
            if any(
                fnmatch.fnmatchcase(text, pattern) for text in (c, names[c], c.split(":", 1)[-1])
            )
        }
        if not found:
            known = ", ".join(names[c] for c in columns[:30]) or "none recorded yet"
            more = f", ... ({len(columns)} in all)" if len(columns) > 30 else ""
            raise UsageError(f"no metric matches {pattern!r}", details=[f"metrics: {known}{more}"])
        chosen |= found
    return [c for c in columns if c in chosen]


def shown_number(value: float) -> str:
    """A metric for people: whole numbers as integers (5000.0 -> '5000'), others to four
    decimals (12.345678 -> '12.3457') or, below 1, four significant digits (0.0123456 ->
    '0.01235')."""
    if not math.isfinite(value):
        return str(value)
    if value.is_integer() and abs(value) < 1e16:
        return str(int(value))
    if abs(value) >= 1:
        text = f"{value:.4f}".rstrip("0").rstrip(".")
        return text if abs(value) < 1e16 else f"{value:.6g}"
    return f"{value:.4g}"
