"""Tables of a snapshot (CSV, TSV, Parquet) read as streams of rows, for row-level diffs.

CSV and TSV are read with the standard library (UTF-8, a byte-order mark ignored as
spreadsheets write one; the first row names the columns;
every value is a string, as written); Parquet with pyarrow (the ``tables`` extra), in
batches, with its own types. A file is opened again for each pass over its rows."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator

from dws.core.reading import SnapshotFiles
from dws.errors import UsageError
from dws.model.distribution import install_hint
from dws.model.ids import shown
from dws.model.rowdiff import Row, RowDiff, Table, diff_tables

PARQUET_HINT = install_hint("tables", "reading Parquet tables needs pyarrow")
BATCH_ROWS = 65536
_DELIMITERS = {".csv": ",", ".tsv": "\t"}


def table_kind(path: str) -> str:
    """``csv``, ``tsv`` or ``parquet`` from the file's extension; UsageError otherwise."""
    lowered = path.lower()
    for suffix in (".csv", ".tsv"):
        if lowered.endswith(suffix):
            return suffix[1:]
    if lowered.endswith((".parquet", ".pq")):
        return "parquet"
    raise UsageError(
        f"{shown(path)}: row-level diffs read .csv, .tsv and .parquet files (by extension)"
    )


def open_table(files: SnapshotFiles, path: str) -> Table:
    """The table at ``path`` of ``files`` (its columns read now, its rows on each call)."""
    kind = table_kind(path)
    if kind == "parquet":
        return _parquet(files, path)
    delimiter = _DELIMITERS["." + kind]

    def rows() -> Iterator[Row]:
        with files.open(path) as handle:
            text = io.TextIOWrapper(handle, encoding="utf-8-sig", newline="")
            reader = csv.reader(text, delimiter=delimiter)
            width = len(next(reader, []))
            for number, record in enumerate(reader, start=2):
                if not record:
                    continue
                if len(record) != width:
                    raise UsageError(
                        f"{shown(path)} line {number}: {len(record)} values, the header names "
                        f"{width} columns"
                    )
                yield tuple(record)

    try:
        with files.open(path) as handle:
            header = next(
                csv.reader(io.TextIOWrapper(handle, "utf-8-sig", newline=""), delimiter=delimiter),
                [],
            )
    except UnicodeDecodeError:
        raise UsageError(f"{shown(path)} is not UTF-8 text") from None
    except csv.Error as exc:
        raise UsageError(f"{shown(path)} cannot be read as CSV: {exc}") from None
    if len(set(header)) != len(header):
        raise UsageError(f"{shown(path)}: the header names a column twice")
    return Table(list(header), _decoding(rows, path))


def _decoding(rows: Callable[[], Iterator[Row]], path: str) -> Callable[[], Iterator[Row]]:
    def guarded() -> Iterator[Row]:
        try:
            yield from rows()
        except UnicodeDecodeError:
            raise UsageError(f"{shown(path)} is not UTF-8 text") from None
        except csv.Error as exc:
            raise UsageError(f"{shown(path)} cannot be read as CSV: {exc}") from None

    return guarded


def _parquet(files: SnapshotFiles, path: str) -> Table:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise UsageError(PARQUET_HINT) from None
    import pyarrow as pa

    def refused(exc: Exception) -> UsageError:
        return UsageError(f"{shown(path)} cannot be read as Parquet: {str(exc)[:200]}")

    try:
        with files.open(path) as handle:
            columns = list(pq.ParquetFile(handle).schema_arrow.names)
    except pa.ArrowException as exc:
        raise refused(exc) from None

    def rows() -> Iterator[Row]:
        with files.open(path) as handle:
            try:
                for batch in pq.ParquetFile(handle).iter_batches(batch_size=BATCH_ROWS):
                    values = [batch.column(i).to_pylist() for i in range(batch.num_columns)]
                    yield from zip(*values, strict=True)
            except pa.ArrowException as exc:
                raise refused(exc) from None

    return Table(columns, rows)


def diff_rows(
    old: SnapshotFiles,
    new: SnapshotFiles,
    path: str,
    *,
    key: list[str] | None = None,
    limit: int = 10,
) -> RowDiff:
    """The row-level diff of the table at ``path`` from ``old`` to ``new``."""
    return diff_tables(open_table(old, path), open_table(new, path), key, limit)
