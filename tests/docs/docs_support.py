"""Helpers of the documentation tests: the repository's paths, running the installed `dws`,
and reading a Markdown file's headings and code blocks.

"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from helpers import common

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"


run_dws = common.run_dws

_FENCE = re.compile(r"^\s*(```|~~~)")
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")


@dataclass
class Heading:
    """One Markdown heading: its level (1 for ``#``), text and line index."""

    level: int
    text: str
    line: int


def prose_lines(text: str) -> list[str]:
    """The file's lines with those inside fenced code blocks blanked, so that a shell
    comment (``# ...``) in a code block is never taken for a heading."""
    out: list[str] = []
    fenced = False
    for line in text.splitlines():
        if _FENCE.match(line):
            fenced = not fenced
            out.append("")
            continue
        out.append("" if fenced else line)
    return out


def headings(text: str) -> list[Heading]:
    """Every heading outside code blocks, in order."""
    found = []
    for index, line in enumerate(prose_lines(text)):
        match = _HEADING.match(line)
        if match:
            found.append(Heading(len(match.group(1)), match.group(2), index))
    return found


def python_blocks(text: str) -> list[str]:
    """The content of every ```python fenced block, in order."""
    return re.findall(r"^```python\n(.*?)^```", text, flags=re.S | re.M)
