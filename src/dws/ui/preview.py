"""Previews of one file of a snapshot, for the snapshot page of `dws ui`: text and JSON
(the first 64 KiB), CSV and TSV (the first rows, the columns, the row count), Parquet (the
first rows, the schema and the row count from its footer; pyarrow is imported only here),
images (shown from the raw route), anything else as a binary summary.

A preview never loads a big file whole: it reads the first KiB or the first rows through
the snapshot's checked reader. Counting a CSV's rows streams the file, and only up to
``COUNT_LIMIT`` bytes; above that the count is left out. Every value is escaped.
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
        text = io.TextIOWrapper(handle, encoding="utf-8", errors="replace", newline="")
        reader = csv.reader(text, delimiter=delimiter)
        try:
            header = next(reader, [])
            rows = [row for _, row in zip(range(ROWS), reader, strict=False)]
            counted: int | None = None
            if length <= COUNT_LIMIT:
                counted = len(rows) + sum(1 for _ in reader)
        except csv.Error as e:
            return [
                f'<p class="muted">Not read as a table ({escape(str(e))}).</p>',
                *_text(files, path, length),
            ]
    total = (
        f"{counted} rows" if counted is not None else f"rows not counted (over {size(COUNT_LIMIT)})"
    )
    summary = f'<p class="muted">{len(header)} columns, {total}; the first {len(rows)} shown.</p>'
    return [summary, table(header, ([_cell(v) for v in row] for row in rows))]


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
            first = [0] if reader.num_row_groups else []  # the first rows only
            batch = next(reader.iter_batches(batch_size=ROWS, row_groups=first), None)
        except Exception as e:  # pyarrow raises its own error types for damaged files
            return [f'<p class="error">Not a readable Parquet file: {escape(str(e))}</p>']
    names = list(schema.names)
    rows = batch.to_pylist() if batch is not None else []
    columns = table(["column", "type"], ([escape(f.name), escape(str(f.type))] for f in schema))
    return [
        f'<p class="muted">{len(names)} columns, {count} rows; the first {len(rows)} shown.</p>',
        table(names, ([_cell(row.get(n)) for n in names] for row in rows)),
        "<h2>Schema</h2>",
        columns,
    ]
