"""The ``SNAPSHOT:PATH`` argument of `dws ls`, `dws cat` and `dws get`."""

from __future__ import annotations

import click

SEPARATOR = ":"


def split_target(text: str, *, need_path: bool) -> tuple[str, str]:
    """``SNAPSHOT[:PATH]`` -> (snapshot reference, path); ``:PATH`` means HEAD. With
    ``need_path``, the ``:`` is required (a bare word would be ambiguous)."""
    ref, sep, path = text.partition(SEPARATOR)
    if not sep:
        if need_path:
            raise click.UsageError(
                f"{text!r}: give SNAPSHOT:PATH, e.g. HEAD:data/raw/train.csv or v1:results"
            )
        return text or "HEAD", ""
    return ref or "HEAD", path
