"""PNG pictures: `dws results --plot FILE.png` and `dws lineage graph --format png -o FILE`
rasterise the same SVG as their .svg forms (the plot extra); without the extra, one error
line with the install hint and nothing written."""

from __future__ import annotations

import json
import os
import re
import struct
import zlib
from pathlib import Path

import pytest

import dws
from helpers.cli import api_snapshot, assert_error, assert_usage_error, ok, write_files
from helpers.cli import dws as run

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SCALE = 2  # pixels per SVG unit (dws.pictures.raster.SCALE)


def _chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """The (type, payload) chunks of a PNG file, each checked against its CRC."""
    assert data[:8] == PNG_SIGNATURE
    chunks, at = [], 8
    while at < len(data):
        (length,) = struct.unpack(">I", data[at : at + 4])
        kind, payload = data[at + 4 : at + 8], data[at + 8 : at + 8 + length]
        (crc,) = struct.unpack(">I", data[at + 8 + length : at + 12 + length])
        assert zlib.crc32(kind + payload) == crc, kind
        chunks.append((kind, payload))
        at += 12 + length
    assert chunks[0][0] == b"IHDR" and chunks[-1][0] == b"IEND"
    return chunks


def png_size(path: Path) -> tuple[int, int]:
    """Width and height from the IHDR chunk."""
    width, height = struct.unpack(">II", _chunks(path.read_bytes())[0][1][:8])
    return width, height


def assert_drawn(path: Path) -> None:
    """The image is not one flat colour: a uniform image, whatever the row filters, inflates
    to filter bytes (0-4) and one repeated colour or zero differences; lines, anti-aliased
    edges and text give many distinct byte values."""
    pixels = zlib.decompress(b"".join(p for k, p in _chunks(path.read_bytes()) if k == b"IDAT"))
    assert len(set(pixels) - {0, 1, 2, 3, 4, 255}) > 16


def svg_size(text: str) -> tuple[int, int]:
    match = re.search(r'<svg [^>]*width="(\d+)" height="(\d+)"', text)
    assert match, text[:200]
    return int(match.group(1)), int(match.group(2))


def leftovers(directory: Path) -> list[str]:
    return [p.name for p in directory.iterdir() if p.name.startswith(".dws-tmp")]


@pytest.fixture
def charted(ws: Path) -> Path:
    """Five snapshots whose results hold accuracy (all five) and loss (the first only)."""
    for version in range(1, 6):
        metrics = {"accuracy": version / 10} | ({"loss": 2.5} if version == 1 else {})
        write_files(ws, {"results/metrics.json": json.dumps(metrics)})
        api_snapshot(ws, f"v{version}")
    return ws


@pytest.fixture
def without_resvg(tmp_path: Path) -> dict[str, str]:
    """An environment in which `import resvg_py` fails, as where the extra is missing."""
    shim = tmp_path / "shim"
    write_files(shim, {"resvg_py.py": "raise ImportError('no resvg_py here')\n"})
    path = os.pathsep.join(p for p in (str(shim), os.environ.get("PYTHONPATH", "")) if p)
    return {"PYTHONPATH": path}


def test_results_plot_png_is_the_svg_rasterised(charted: Path, tmp_path: Path) -> None:
    svg, png = tmp_path / "charts.svg", tmp_path / "charts.png"
    ok(run(charted, "results", "--plot", str(svg)))
    said = ok(run(charted, "results", "--plot", str(png)))
    assert "wrote 2 chart(s)" in said.err
    width, height = svg_size(svg.read_text())
    assert png_size(png) == (width * SCALE, height * SCALE)
    assert_drawn(png)
    assert leftovers(tmp_path) == []


def test_results_plot_png_follows_the_metrics(charted: Path, tmp_path: Path) -> None:
    one, both = tmp_path / "one.png", tmp_path / "both.png"
    ok(run(charted, "results", "--metric", "loss", "--plot", str(one)))
    ok(run(charted, "results", "--plot", str(both.with_suffix(".PNG"))))
    # one panel (one point) against two side by side (five points and one)
    (w1, h1), (w2, h2) = png_size(one), png_size(both.with_suffix(".PNG"))
    assert h1 == h2 and w2 == 2 * w1
    assert one.stat().st_size < both.with_suffix(".PNG").stat().st_size


def test_results_plot_other_extensions_are_usage_errors(charted: Path, tmp_path: Path) -> None:
    for name in ("x.jpg", "x", "x.svg.gz"):
        assert_usage_error(run(charted, "results", "--plot", str(tmp_path / name)))
        assert not (tmp_path / name).exists()
    assert leftovers(tmp_path) == []


def test_results_plot_png_without_the_extra(
    charted: Path, tmp_path: Path, without_resvg: dict[str, str]
) -> None:
    target = tmp_path / "charts.png"
    result = run(charted, "results", "--plot", str(target), env=without_resvg)
    assert_error(result, 2, max_lines=1, contains="pip install 'dws-workspaces[plot]'")
    assert result.out == ""
    assert not target.exists() and leftovers(tmp_path) == []
    # SVG needs no extra
    ok(run(charted, "results", "--plot", str(tmp_path / "charts.svg"), env=without_resvg))


@pytest.fixture
def stepped(ws: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """One recorded step: data/raw/a.csv -> data/features/f.csv."""
    write_files(ws, {"data/raw/a.csv": "1\n"})
    monkeypatch.chdir(ws)
    with dws.Workspace.open(str(ws)).step(
        "prepare", inputs=["data/raw/a.csv"], outputs=["data/features/f.csv"]
    ):
        write_files(ws, {"data/features/f.csv": "1\n"})
    return ws


def test_lineage_graph_png_is_the_svg_rasterised(stepped: Path, tmp_path: Path) -> None:
    svg = ok(run(stepped, "lineage", "graph", "--format", "svg")).out
    target = tmp_path / "lineage.png"
    said = ok(run(stepped, "lineage", "graph", "--format", "png", "-o", str(target)))
    assert said.out == "" and "wrote" in said.err
    width, height = svg_size(svg)
    assert png_size(target) == (width * SCALE, height * SCALE)
    assert_drawn(target)
    assert leftovers(tmp_path) == []


def test_lineage_graph_output_file_holds_the_format(stepped: Path, tmp_path: Path) -> None:
    for fmt in ("dot", "mermaid", "svg", "json"):
        target = tmp_path / f"graph.{fmt}"
        ok(run(stepped, "lineage", "graph", "--format", fmt, "--output", str(target)))
        shown = ok(run(stepped, "lineage", "graph", "--format", fmt)).out
        if fmt == "json":
            assert json.loads(target.read_text()) == json.loads(shown)
        else:
            assert target.read_text() == shown


def test_lineage_graph_png_needs_a_file_and_the_extra(
    stepped: Path, tmp_path: Path, without_resvg: dict[str, str]
) -> None:
    assert_usage_error(run(stepped, "lineage", "graph", "--format", "png"))
    target = tmp_path / "lineage.png"
    result = run(
        stepped, "lineage", "graph", "--format", "png", "-o", str(target), env=without_resvg
    )
    assert_error(result, 2, max_lines=1, contains="pip install 'dws-workspaces[plot]'")
    assert not target.exists() and leftovers(tmp_path) == []
