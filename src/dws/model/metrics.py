"""Metrics: numeric leaves of a JSON document flattened to dotted keys."""

from __future__ import annotations

import math
from typing import Any


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
