"""Pictures as PNG: the SVG text of ``charts`` and ``graph`` rasterised with resvg (the
``plot`` extra, imported only when a PNG is asked for). Text is drawn with the system's
fonts (resvg loads them); on a machine with no font at all, text is left out."""

from __future__ import annotations

from types import ModuleType

from dws.errors import UsageError
from dws.model.distribution import install_hint

PNG_HINT = install_hint("plot", "writing PNG pictures needs resvg-py")
SCALE = 2.0  # pixels per SVG unit: sharp text on high-density screens
BACKGROUND = "white"  # SVG pictures are transparent; a PNG is read on any background


def require_png() -> None:
    """Raise UsageError with the install hint unless PNG pictures can be drawn."""
    _resvg()


def png_of(svg: str) -> bytes:
    """``svg`` (standalone SVG text) as PNG bytes, ``SCALE`` times its size, on white."""
    resvg = _resvg()
    return bytes(resvg.svg_to_bytes(svg_string=svg, background=BACKGROUND, zoom=SCALE))


def _resvg() -> ModuleType:
    try:
        import resvg_py
    except ImportError:
        raise UsageError(PNG_HINT) from None
    return resvg_py
