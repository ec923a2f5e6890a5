"""The four roles and their parsing."""

from __future__ import annotations

import pytest

from dws.errors import UsageError
from dws.model.roles import Role, parse_role


@pytest.mark.parametrize(
    ("text", "role"),
    [
        ("s", Role.SOURCE_DATA),
        ("i", Role.INTERMEDIATE_DATA),
        ("r", Role.RESULTS),
        ("c", Role.CODE),
        ("S", Role.SOURCE_DATA),
        (" r ", Role.RESULTS),
        ("source-data", Role.SOURCE_DATA),
        ("intermediate-data", Role.INTERMEDIATE_DATA),
        ("results", Role.RESULTS),
        ("code", Role.CODE),
        ("Results", Role.RESULTS),
    ],
)
def test_parse_role_accepts_full_and_short_forms(text: str, role: Role) -> None:
    assert parse_role(text) is role


@pytest.mark.parametrize(
    "text", ["", "x", "source", "result", "source_data", "sd", "data", "intermediate"]
)
def test_bad_roles_are_refused_listing_the_choices(text: str) -> None:
    with pytest.raises(UsageError) as info:
        parse_role(text)
    message = info.value.message
    assert "unknown role" in message
    for role in Role:
        assert role.value in message
    assert info.value.exit_code == 2


def test_only_results_are_not_restored() -> None:
    assert [role for role in Role if not role.restored] == [Role.RESULTS]


def test_role_values_are_the_on_disk_names() -> None:
    assert {r.value for r in Role} == {"source-data", "intermediate-data", "results", "code"}
