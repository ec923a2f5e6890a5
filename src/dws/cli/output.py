"""Everything the CLI shows: text on stdout, JSON for --json, errors and progress on stderr."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
from rich.text import Text


@dataclass
class Output:
    """Output settings from the global options."""

    json: bool = False
    quiet: bool = False
    verbose: bool = False
    batch: bool = False
    out: Console = field(default_factory=lambda: Console(highlight=False, soft_wrap=True))
    err: Console = field(
        default_factory=lambda: Console(stderr=True, highlight=False, soft_wrap=True)
    )

    def line(self, text: str = "", style: str | None = None) -> None:
        """A line of human output on stdout (suppressed by --quiet and --json)."""
        if not self.quiet and not self.json:
            self.out.print(Text(text, style=style or ""))

    def rich(self, renderable: Any) -> None:
        """A rich renderable (table) on stdout, unless --quiet/--json."""
        if not self.quiet and not self.json:
            self.out.print(renderable)

    def note(self, text: str, style: str = "yellow") -> None:
        """A remark on stderr (warnings, hints); shown even with --json."""
        if not self.quiet:
            self.err.print(Text(text, style=style))

    def emit_json(self, value: Any) -> None:
        """The --json document on stdout."""
        sys.stdout.write(json.dumps(value, indent=2, ensure_ascii=False, sort_keys=False) + "\n")

    def error(self, message: str, details: list[str]) -> None:
        """An error: one line, then any details indented."""
        self.err.print(Text("error: " + message, style="bold red"))
        for detail in details:
            self.err.print(Text("  " + detail))

    @contextmanager
    def progress(self) -> Iterator[Any]:
        """A progress callback: a bar on a terminal, nothing otherwise."""
        if self.quiet or self.batch or not sys.stderr.isatty():
            yield None
            return
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        bars: dict[str, Any] = {}
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            console=self.err,
            transient=True,
        ) as progress:

            def report(phase: str, done: int, total: int | None) -> None:
                if phase not in bars:
                    bars[phase] = progress.add_task(phase, total=total)
                progress.update(bars[phase], completed=done, total=total)

            yield report


def short(ident: str | None, length: int = 10) -> str:
    """Abbreviated id for display."""
    return ident[:length] if ident else "-"


def human_bytes(count: int | None) -> str:
    """1536 -> '1.5 KiB'."""
    if count is None:
        return "?"
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{count} B"
