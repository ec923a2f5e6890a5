"""The four roles a resource can play."""

from __future__ import annotations

from enum import StrEnum

from dws.errors import UsageError


class Role(StrEnum):
    """What a resource holds; decides how snapshot and restore treat it."""

    SOURCE_DATA = "source-data"
    INTERMEDIATE_DATA = "intermediate-data"
    RESULTS = "results"
    CODE = "code"

    @property
    def restored(self) -> bool:
        """Results are never reverted by restore; every other role is."""
        return self is not Role.RESULTS


_SHORT = {"s": Role.SOURCE_DATA, "i": Role.INTERMEDIATE_DATA, "r": Role.RESULTS, "c": Role.CODE}


def parse_role(text: str) -> Role:
    """Accept a role's full name or its one-letter short form (s, i, r, c)."""
    lowered = text.strip().lower()
    if lowered in _SHORT:
        return _SHORT[lowered]
    try:
        return Role(lowered)
    except ValueError:
        choices = ", ".join(f"{r.value} ({r.value[0]})" for r in Role)
        raise UsageError(f"unknown role {text!r}: choose one of {choices}") from None
