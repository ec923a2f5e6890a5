"""``pictures.raster``: SVG pictures as PNG through resvg-py, text drawn with the system's
fonts, and the install hint of the plot extra when resvg-py is missing."""

from __future__ import annotations

import struct
import sys
from pathlib import Path

import pytest

from dws.errors import UsageError
from dws.pictures import raster
from dws.pictures.charts import metrics_svg

FONT_DIRS = ("/usr/share/fonts", "/usr/local/share/fonts")


def _has_fonts() -> bool:
    return any(
        path.suffix.lower() in (".ttf", ".otf", ".ttc")
        for root in FONT_DIRS
        if Path(root).is_dir()
        for path in Path(root).rglob("*")
    )


def test_png_is_the_svg_at_twice_its_size() -> None:
    svg = metrics_svg(["v1", "v2"], ["a" * 64, "b" * 64], [("acc", [0.5, 0.75], [False, True])])
    png = raster.png_of(svg)
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and png[12:16] == b"IHDR"
    assert struct.unpack(">II", png[16:24]) == (380 * raster.SCALE, 200 * raster.SCALE)


@pytest.mark.skipif(not _has_fonts(), reason="no system fonts (e.g. Debian fonts-dejavu-core)")
def test_text_is_drawn_with_the_system_fonts() -> None:
    def picture(text: str) -> bytes:
        return raster.png_of(
            '<svg xmlns="http://www.w3.org/2000/svg" width="120" height="30" '
            f'font-family="sans-serif" font-size="11"><text x="4" y="20">{text}</text></svg>'
        )

    assert picture("accuracy") != picture("")
    assert picture("accuracy") != picture("loss")


def test_without_fontconfig_the_renderer_keeps_its_own_fonts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    raster._families.cache_clear()
    monkeypatch.setattr(raster.shutil, "which", lambda name: None)
    try:
        assert raster._families() == {}
        png = raster.png_of('<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"/>')
        assert png[:8] == b"\x89PNG\r\n\x1a\n"
    finally:
        raster._families.cache_clear()


def test_a_failing_fontconfig_is_the_same_as_none(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object, **kwargs: object) -> object:
        raise OSError("fc-match: cannot run")

    raster._families.cache_clear()
    monkeypatch.setattr(raster.shutil, "which", lambda name: "/usr/bin/fc-match")
    monkeypatch.setattr(raster.subprocess, "run", broken)
    try:
        assert raster._families() == {}
    finally:
        raster._families.cache_clear()


def test_without_resvg_the_error_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "resvg_py", None)  # makes `import resvg_py` fail
    with pytest.raises(UsageError, match=r"pip install 'dws-workspaces\[plot\]'"):
        raster.require_png()
    with pytest.raises(UsageError, match=r"needs resvg-py"):
        raster.png_of('<svg xmlns="http://www.w3.org/2000/svg" width="1" height="1"/>')


def test_the_cli_does_not_load_resvg_until_a_png_is_asked_for() -> None:
    import subprocess

    code = (
        "import sys, dws.cli.main, dws.cli.commands.results, dws.cli.commands.lineage, "
        "dws.pictures.charts, dws.pictures.graph; sys.exit('resvg_py' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
