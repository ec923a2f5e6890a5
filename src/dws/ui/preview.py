"""Previews of one file of a snapshot, for the snapshot page of `dws ui`: text and JSON
(the first 64 KiB), CSV and TSV (the first rows, the columns, the row count), Parquet (the
first rows, the schema and the row count from its footer; pyarrow is imported only here),
images (shown from the raw route), anything else as a binary summary.

A preview never loads a big file whole: it reads the first KiB or the first rows through
the snapshot's checked reader. A CSV's rows are parsed from its first MiB only, and its
rows are counted as line breaks in blocks, up to ``COUNT_LIMIT`` bytes (above that the
count is left out); a Parquet file's first rows are read only when its first row group is
small. At most 100 columns are shown. Every value is escaped.
"""

from __future__ import annotations

import csv
import io
import json
from html import escape
from typing import Any

from dws.core.reading import SnapshotFiles
from dws.model.distribution import install_hint
from dws.ui.page import size, table

TEXT_BYTES = 64 * 1024
JSON_BYTES = 1 << 20  # JSON up to this size is parsed and shown indented
ROWS = 50
COUNT_LIMIT = 64 << 20
TABLE_BYTES = 1 << 20  # the rows of a CSV preview come from its first MiB
COLUMNS = 100  # columns shown in a table preview
PARQUET_GROUP_LIMIT = 32 << 20  # the first rows of a Parquet file are read from its first group
IMAGE_LIMIT = 20 << 20
CELL_CHARS = 200
IMAGES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".bmp": "image/bmp",
    ".svg": "image/svg+xml",
}
PARQUET_HINT = install_hint("ui", "previews of Parquet files need pyarrow")


def kind_of(path: str) -> str:
    """How a file is previewed, from its extension: csv, tsv, parquet, json, image or
    text."""
    lowered = path.lower()
    suffix = lowered[lowered.rfind(".") :] if "." in lowered.rsplit("/", 1)[-1] else ""
    if suffix in (".csv", ".tsv"):
        return suffix[1:]
    if suffix in (".parquet", ".pq"):
        return "parquet"
    if suffix == ".json":
        return "json"
    if suffix in IMAGES:
        return "image"
    return "text"


def preview(files: SnapshotFiles, path: str, length: int, raw_url: str) -> list[str]:
    """HTML parts previewing file ``path`` (``length`` bytes) of ``files``; ``raw_url`` (an
    escaped URL) serves its bytes."""
    kind = kind_of(path)
    if kind in ("csv", "tsv"):
        return _delimited(files, path, length, "," if kind == "csv" else "\t")
    if kind == "parquet":
        return _parquet(files, path)
    if kind == "json" and length <= JSON_BYTES:
        return _json(files, path, length)
    if kind == "image":
        if length > IMAGE_LIMIT:
            return [f'<p class="muted">An image of {size(length)}: too large to show here.</p>']
        return [f'<img class="preview" src="{raw_url}" alt="{escape(path)}">']
    return _text(files, path, length)


def _text(files: SnapshotFiles, path: str, length: int) -> list[str]:
    with files.open(path) as handle:
        head = handle.read(TEXT_BYTES)
    if b"\x00" in head[:8192]:
        hexed = " ".join(f"{b:02x}" for b in head[:256])
        return [
            f'<p class="muted">Binary file of {size(length)}; its first bytes:</p>',
            f"<pre>{escape(hexed)}</pre>",
        ]
    text = head.decode("utf-8", errors="replace")
    if len(head) == TEXT_BYTES and length > TEXT_BYTES:
        text = text.rstrip("\ufffd")  # a character cut at the end of the slice
    parts = [f"<pre>{escape(text)}</pre>"]
    if length > len(head):
        parts.insert(0, f'<p class="muted">The first {size(len(head))} of {size(length)}.</p>')
    return parts


def _json(files: SnapshotFiles, path: str, length: int) -> list[str]:
    with files.open(path) as handle:
        data = handle.read(JSON_BYTES + 1)
    try:
        shown = json.dumps(json.loads(data), indent=2, ensure_ascii=False)
    except (ValueError, RecursionError) as e:
        note = f'<p class="muted">Not valid JSON ({escape(str(e))}).</p>'
        return [note, *_text(files, path, length)]
    cut = len(shown) > TEXT_BYTES
    return [f"<pre>{escape(shown[:TEXT_BYTES])}{'…' if cut else ''}</pre>"]


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    if len(text) > CELL_CHARS:
        text = text[:CELL_CHARS] + "…"
    return escape(text)


def _delimited(files: SnapshotFiles, path: str, length: int, delimiter: str) -> list[str]:
    with files.open(path) as handle:
        head = handle.read(TABLE_BYTES)
        complete = len(head) < TABLE_BYTES
        cut = head if complete else head[: head.rfind(b"\n") + 1]
        if not cut:
            return [
                f'<p class="muted">Its first line is longer than {size(TABLE_BYTES)}: not '
                "shown as a table.</p>",
                *_text(files, path, length),
            ]
        lines: int | None = head.count(b"\n")
        if not complete and length <= COUNT_LIMIT:
            while block := handle.read(1 << 20):
                lines = (lines or 0) + block.count(b"\n")
        elif not complete:
            lines = None
    if lines is not None and length and not _ends_with_newline(files, path, length):
        lines += 1  # a last line without its newline
    reader = csv.reader(io.StringIO(cut.decode("utf-8-sig", "replace")), delimiter=delimiter)
    try:
        header = next(reader, [])
        rows = [row for _, row in zip(range(ROWS), reader, strict=False)]
    except csv.Error as e:
        return [
            f'<p class="muted">Not read as a table ({escape(str(e))}).</p>',
            *_text(files, path, length),
        ]
    if lines is None:
        total = f"rows not counted (over {size(COUNT_LIMIT)})"
    elif b'"' in cut:  # quoted values may hold line breaks: lines, not rows
        total = f"{max(lines - 1, 0)} lines after the header"
    else:
        total = f"{max(lines - 1, 0)} rows"
    more = len(header) - COLUMNS
    summary = (
        f'<p class="muted">{len(header)} columns, {total}; the first {len(rows)} shown'
        + (f", and the first {COLUMNS} columns" if more > 0 else "")
        + ".</p>"
    )
    shown = header[:COLUMNS]
    return [summary, table(shown, ([_cell(v) for v in row[:COLUMNS]] for row in rows))]


def _ends_with_newline(files: SnapshotFiles, path: str, length: int) -> bool:
    with files.open(path) as handle:
        handle.seek(length - 1)
        return handle.read(1) == b"\n"


def _parquet(files: SnapshotFiles, path: str) -> list[str]:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        return [f'<p class="muted">{escape(PARQUET_HINT)}</p>']
    with files.open(path) as handle:
        try:
            reader = pq.ParquetFile(handle, pre_buffer=False)
            schema = reader.schema_arrow
            count = reader.metadata.num_rows
            names = list(schema.names)[:COLUMNS]
            groups = reader.num_row_groups
            # the first rows come from the first row group, read whole: only when it is small
            small = groups and reader.metadata.row_group(0).total_byte_size <= PARQUET_GROUP_LIMIT
            batch = None
            if small:
                first = reader.iter_batches(batch_size=ROWS, row_groups=[0], columns=names)
                batch = next(first, None)
        except Exception as e:  # pyarrow raises its own error types for damaged files
            return [f'<p class="error">Not a readable Parquet file: {escape(str(e))}</p>']
    if groups and not small:
        return [
            f'<p class="muted">{len(schema.names)} columns, {count} rows; its first row group '
            f"is over {size(PARQUET_GROUP_LIMIT)}, so no rows are shown.</p>",
            "<h2>Schema</h2>",
            table(["column", "type"], ([escape(f.name), escape(str(f.type))] for f in schema)),
        ]
    rows = batch.to_pylist() if batch is not None else []
    columns = table(["column", "type"], ([escape(f.name), escape(str(f.type))] for f in schema))
    return [
        f'<p class="muted">{len(names)} columns, {count} rows; the first {len(rows)} shown.</p>',
        table(names, ([_cell(row.get(n)) for n in names] for row in rows)),
        "<h2>Schema</h2>",
        columns,
    ]
