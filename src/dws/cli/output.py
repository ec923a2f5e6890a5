"""Everything the CLI shows: text on stdout, JSON for --json, errors and progress on stderr."""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console


def _console(stderr: bool) -> Console:
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=True)


class Output:
    """Output settings from the global options. Consoles are made on first use, so
    commands that print little do not pay for importing rich (a plain class: a struct's
    signature would need rich's ``Console`` at run time)."""

    __slots__ = ("_err", "_out", "batch", "json", "quiet", "verbose")

    def __init__(
        self, *, json: bool = False, quiet: bool = False, verbose: bool = False, batch: bool = False
    ) -> None:
        self.json = json
        self.quiet = quiet
        self.verbose = verbose
        self.batch = batch
        self._out: Console | None = None
        self._err: Console | None = None

    @property
    def out(self) -> Console:
        """The stdout console."""
        if self._out is None:
            self._out = _console(stderr=False)
        return self._out

    @property
    def err(self) -> Console:
        """The stderr console."""
        if self._err is None:
            self._err = _console(stderr=True)
        return self._err

    def line(self, text: str = "", style: str | None = None) -> None:
        """A line of human output on stdout (suppressed by --quiet and --json)."""
        if not self.quiet and not self.json:
            if not _styled(sys.stdout):
                _write_plain(sys.stdout, text)
                return
            self.out.print(_text(text, style or ""))

    def width(self) -> int | None:
        """Columns a layout for people may use on a terminal (``$COLUMNS`` when set, else
        the terminal's width); None when stdout is not a terminal (output for other
        programs, laid out for them and never cut)."""
        if not _styled(sys.stdout):
            return None
        return shutil.get_terminal_size().columns

    def table(self, headers: list[str], rows: list[list[str]]) -> None:
        """Aligned columns on a terminal; tab-separated lines otherwise (never truncated)."""
        if self.quiet or self.json:
            return
        rows = [
            [printable(cell).replace("\t", " ").replace("\n", " ") for cell in row] for row in rows
        ]
        if not self.out.is_terminal:
            for row in [headers, *rows]:
                sys.stdout.write("\t".join(row) + "\n")
            return
        from rich.table import Table

        table = Table(*headers, box=None)
        for row in rows:
            table.add_row(*(_text(cell, "") for cell in row))
        self.out.print(table)

    def note(self, text: str, style: str = "yellow") -> None:
        """A remark on stderr (warnings, hints); shown even with --json."""
        if not self.quiet:
            if not _styled(sys.stderr):
                _write_plain(sys.stderr, text)
                return
            self.err.print(_text(text, style))

    def emit_json(self, value: Any) -> None:
        """The --json document on stdout."""
        sys.stdout.write(json.dumps(value, indent=2, ensure_ascii=False, sort_keys=False) + "\n")

    def error(self, message: str, details: list[str]) -> None:
        """An error: one line, then any details indented."""
        if not _styled(sys.stderr):
            for text in ["error: " + message, *("  " + detail for detail in details)]:
                _write_plain(sys.stderr, text)
            return
        self.err.print(_text("error: " + message, "bold red"))
        for detail in details:
            self.err.print(_text("  " + detail, ""))

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
            auto_refresh=False,  # no refresh thread: restore may fork (see workers.py)
        ) as progress:

            def report(phase: str, done: int, total: int | None) -> None:
                if phase not in bars:
                    bars[phase] = progress.add_task(phase, total=total)
                progress.update(bars[phase], completed=done, total=total, refresh=True)

            yield report


def printable(text: str) -> str:
    """``text`` with control characters shown as escapes: names, messages and command lines
    come from records and file systems, and must not drive the terminal."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() or ch in "\n\t" else ascii(ch)[1:-1] for ch in text)


def _styled(stream: Any) -> bool:
    """Styles only on a terminal; elsewhere plain lines, without importing rich (about
    30 ms of every short command)."""
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def _write_plain(stream: Any, text: str) -> None:
    stream.write(printable(text) + "\n")
    stream.flush()


def _text(text: str, style: str) -> Any:
    """Plain text (file names may contain [brackets] that must not be read as markup)."""
    from rich.text import Text

    return Text(printable(text), style=style)


def short(ident: str | None, length: int = 10) -> str:
    """Abbreviated id for display."""
    return ident[:length] if ident else "-"


def count(number: int) -> str:
    """12345 -> '12,345'."""
    return f"{number:,}"


def align(rows: list[list[str]], right: list[bool], gap: int = 2) -> list[str]:
    """Rows of cells as lines of aligned columns (``right``: which columns are right-aligned;
    trailing blanks removed)."""
    if not rows:
        return []
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for row in rows:
        cells = [
            cell.rjust(width) if right[i] else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append((" " * gap).join(cells).rstrip())
    return lines


def clip(text: str, width: int, keep: str = "end") -> str:
    """``text`` cut to ``width`` characters with an ellipsis; ``keep`` says which end stays."""
    if len(text) <= width:
        return text
    if width <= 1:
        return text[:width]
    return "…" + text[-(width - 1) :] if keep == "end" else text[: width - 1] + "…"
