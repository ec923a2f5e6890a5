"""did_you_mean: the closest known names to one that was not found."""

from __future__ import annotations

import pytest

from dws.model.suggest import did_you_mean


@pytest.mark.parametrize(
    ("typed", "known", "expected"),
    [
        ("V1", ["v1", "v2"], " (did you mean v1?)"),
        ("baselien", ["baseline", "v1"], " (did you mean baseline?)"),
        ("rwa", ["raw", "features", "results"], " (did you mean raw?)"),
        ("RAW", ["raw", "features"], " (did you mean raw?)"),
        ("BASELINE-2024", ["baseline-2024"], " (did you mean baseline-2024?)"),
        ("v3", ["v1", "v2", "best"], " (did you mean v1 or v2?)"),
        ("v9", ["v1", "v2", "v3", "v4"], " (did you mean v1, v2 or v3?)"),
        ("run-7", ["run-1", "run-17", "run-77"], " (did you mean run-1, run-17 or run-77?)"),
    ],
)
def test_close_names_are_suggested_closest_first(
    typed: str, known: list[str], expected: str
) -> None:
    assert did_you_mean(typed, known) == expected


@pytest.mark.parametrize(
    ("typed", "known"),
    [
        ("nosuch", ["v1", "v2"]),
        ("ab", ["v1"]),  # two edits, but nothing of what was typed is left
        ("x", ["y"]),
        ("features", ["raw"]),
        ("anything", []),
        ("x" * 10_000, ["x" * 100]),
    ],
)
def test_far_names_are_not_suggested(typed: str, known: list[str]) -> None:
    assert did_you_mean(typed, known) == ""


def test_the_name_itself_is_never_suggested() -> None:
    assert did_you_mean("v1", ["v1"]) == ""


def test_only_the_closest_names_are_suggested() -> None:
    assert did_you_mean("Raw", ["rax", "raw"]) == " (did you mean raw?)"
    assert did_you_mean("featuers", ["features", "features2"]) == " (did you mean features?)"
