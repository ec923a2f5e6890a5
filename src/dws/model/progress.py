"""How long operations report progress without knowing who displays it."""

from __future__ import annotations

from typing import Protocol


class Progress(Protocol):
    """Called as work advances: ``phase`` names the step, ``total`` is None when unknown."""

    def __call__(self, phase: str, done: int, total: int | None) -> None: ...


def no_progress(phase: str, done: int, total: int | None) -> None:
    """A progress callback that shows nothing."""
