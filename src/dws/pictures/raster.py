"""Pictures as PNG: the SVG text of ``charts`` and ``graph`` rasterised with resvg (the
``plot`` extra, imported only when a PNG is asked for). Text is drawn with the system's
fonts (resvg loads them); on a machine with no font at all, text is left out."""

from __future__ import annotations

import functools
import shutil
import subprocess
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
    return bytes(
        resvg.svg_to_bytes(svg_string=svg, background=BACKGROUND, zoom=SCALE, **_families())
    )


@functools.cache
def _families() -> dict[str, str]:
    """The fonts the system gives the generic families our pictures name, as fontconfig
    chooses them: resvg's own defaults (Arial, Times New Roman, Courier New) are missing
    on most Linux systems, which would leave the text out. Empty without fontconfig."""
    matcher = shutil.which("fc-match")
    if matcher is None:
        return {}
    chosen: dict[str, str] = {}
    for generic in ("sans-serif", "serif", "monospace"):
        try:
            found = subprocess.run(
                [matcher, "-f", "%{family[0]}", generic],
                capture_output=True,
                text=True,
                timeout=10,
                check=False,
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return {}
        if found:
            chosen[generic.replace("-", "_") + "_family"] = found
    return chosen


def _resvg() -> ModuleType:
    try:
        import resvg_py
    except ImportError:
        raise UsageError(PNG_HINT) from None
    return resvg_py
