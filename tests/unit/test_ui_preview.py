"""Previews in `dws ui` read only the head of a big file: the first KiB or rows, never the
whole file (counting a CSV's rows stops at a size bound), and escape every value."""

from __future__ import annotations

import io
from typing import Any

import pytest

from dws.ui import preview as previews


class _Counting(io.BytesIO):
    def __init__(self, data: bytes, tally: list[int]) -> None:
        super().__init__(data)
        self.tally = tally

    def read(self, size: int | None = -1) -> bytes:
        chunk = super().read(size)
        self.tally.append(len(chunk))
        return chunk

    def readinto(self, buffer: Any) -> int:
        count = super().readinto(buffer)
        self.tally.append(count)
        return count


class _Files:
    """The part of SnapshotFiles a preview uses, counting the bytes read."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.tally: list[int] = []

    def open(self, path: str) -> io.BytesIO:
        return _Counting(self.data, self.tally)

    @property
    def read(self) -> int:
        return sum(self.tally)


def _show(data: bytes, path: str) -> tuple[str, int]:
    files = _Files(data)
    html = "".join(previews.preview(files, path, len(data), "/raw?x"))  # type: ignore[arg-type]
    return html, files.read


def test_a_big_text_file_is_read_only_at_its_head() -> None:
    html, read = _show(b"line of text\n" * 2_000_000, "big.log")
    assert read <= 2 * previews.TEXT_BYTES
    assert "The first 64.0 KiB of 24.8 MiB" in html


def test_a_big_csv_shows_its_first_rows_without_counting_past_the_bound(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(previews, "COUNT_LIMIT", 1 << 20)
    monkeypatch.setattr(previews, "TABLE_BYTES", 64 << 10)
    data = b"a,b\n" + b"1,2\n" * 2_000_000
    html, read = _show(data, "t.csv")
    assert read <= (64 << 10) + 1
    assert "rows not counted (over 1.0 MiB)" in html and "the first 50 shown" in html
    small, _ = _show(b"a,b\n" + b"1,2\n" * 70, "t.csv")
    assert "70 rows" in small
    unterminated, _ = _show(b"a,b\n1,2\n3,4", "t.csv")
    assert "2 rows" in unterminated
    quoted, _ = _show(b'a,b\n"x\ny",2\n', "t.csv")
    assert "2 lines after the header" in quoted


def test_a_csv_line_longer_than_the_preview_is_not_parsed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(previews, "TABLE_BYTES", 64 << 10)
    html, read = _show(b"x" * (10 << 20) + b"\n", "t.csv")
    assert "longer than 64.0 KiB: not shown as a table" in html
    assert read <= 3 * (64 << 10)


def test_a_wide_csv_shows_its_first_columns() -> None:
    header = ",".join(f"c{i}" for i in range(5000))
    html, _ = _show(f"{header}\n{header}\n".encode(), "t.csv")
    assert "5000 columns" in html and "the first 100 columns" in html
    assert "<th>c99</th>" in html and "<th>c100</th>" not in html


def test_big_json_is_shown_as_text_not_parsed() -> None:
    data = b'{"k": "' + b"v" * (previews.JSON_BYTES + 10) + b'"}'
    html, read = _show(data, "big.json")
    assert read <= 2 * previews.TEXT_BYTES and "The first" in html


def test_values_are_escaped_in_every_kind() -> None:
    hostile = "<script>alert(1)</script>"
    for path, data in (
        ("t.csv", f"{hostile}\n{hostile}\n".encode()),
        ("t.tsv", f"a\tb\n{hostile}\tx\n".encode()),
        ("t.json", f'{{"{hostile}": 1}}'.encode()),
        ("t.txt", hostile.encode()),
        ("t.json", hostile.encode()),  # not JSON: shown as text
    ):
        html, _ = _show(data, path)
        assert "<script>" not in html and "&lt;script&gt;" in html, path
    image, _ = _show(b"x", '"><img src=x onerror=alert(1)>.png')
    assert "<img src=x" not in image and "&quot;&gt;&lt;img" in image


def test_binary_files_show_their_first_bytes() -> None:
    html, read = _show(b"\x00\x01\x02" * 1_000_000, "data.bin")
    assert "Binary file of 2.9 MiB" in html and "00 01 02" in html
    assert read <= 2 * previews.TEXT_BYTES


def test_parquet_shows_schema_count_and_first_rows(tmp_path: Any) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    import pyarrow as pa

    rows = 100_000
    table = pa.table({"id": list(range(rows)), "name": [f"<b>{i}</b>" for i in range(rows)]})
    sink = io.BytesIO()
    pq.write_table(table, sink, row_group_size=1000)
    html, read = _show(sink.getvalue(), "t.parquet")
    assert read < len(sink.getvalue()) / 4  # the footer and the first row group
    assert "2 columns, 100000 rows; the first 50 shown" in html
    assert "int64" in html and "&lt;b&gt;0&lt;/b&gt;" in html
    big_group, _ = _show_with(previews, "PARQUET_GROUP_LIMIT", 1000, sink.getvalue(), "t.parquet")
    assert "no rows are shown" in big_group and "100000 rows" in big_group
    broken, _ = _show(b"PAR1 not really", "t.parquet")
    assert "Not a readable Parquet file" in broken


def _show_with(module: Any, name: str, value: int, data: bytes, path: str) -> tuple[str, int]:
    saved = getattr(module, name)
    setattr(module, name, value)
    try:
        return _show(data, path)
    finally:
        setattr(module, name, saved)
