"""Loaded by every Python process `dws run` starts (through ``PYTHONPATH``): starts the
file-event recorder, then hands over to the ``sitecustomize`` this one shadows, if any."""

from __future__ import annotations

import os
import sys


def _start() -> None:
    here = os.path.dirname(os.path.abspath(__file__))
    if here not in sys.path:
        sys.path.insert(0, here)
    import dws_recorder  # type: ignore[import-not-found]

    dws_recorder.start_from_environment()
    _chain(here)


def _chain(here: str) -> None:
    """Import the next ``sitecustomize`` on sys.path (a distribution's or a venv's own)."""
    saved_path = list(sys.path)
    saved_module = sys.modules.pop("sitecustomize", None)
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != here]
    try:
        import sitecustomize  # type: ignore[import-not-found]  # noqa: F401
    except ImportError:
        pass
    finally:
        sys.path[:] = saved_path
        if saved_module is not None:
            sys.modules["sitecustomize"] = saved_module


_start()
