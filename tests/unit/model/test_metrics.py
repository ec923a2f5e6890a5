"""Metrics: numeric leaves of JSON documents flattened to dotted keys."""

from __future__ import annotations

import json
from typing import Any

import pytest

from dws.model.metrics import flatten_metrics


def test_nested_dicts_become_dotted_keys() -> None:
    doc = {"train": {"loss": 0.5, "acc": 0.9}, "epochs": 10}
    assert flatten_metrics(doc) == {"train.loss": 0.5, "train.acc": 0.9, "epochs": 10.0}


def test_nested_lists_are_indexed() -> None:
    doc = {"c": [2, "x", [3, {"d": 4}]], "e": [[1.5]]}
    assert flatten_metrics(doc) == {"c.0": 2.0, "c.2.0": 3.0, "c.2.1.d": 4.0, "e.0.0": 1.5}


def test_a_top_level_list() -> None:
    assert flatten_metrics([1, {"a": 2}]) == {"0": 1.0, "1.a": 2.0}


def test_values_are_floats() -> None:
    out = flatten_metrics({"n": 3})
    assert type(out["n"]) is float


@pytest.mark.parametrize("value", [True, False])
def test_booleans_are_not_metrics(value: bool) -> None:
    assert flatten_metrics({"flag": value, "nested": {"b": value}, "list": [value]}) == {}


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_numbers_are_excluded(value: float) -> None:
    assert flatten_metrics({"bad": value, "good": 1}) == {"good": 1.0}


def test_non_finite_numbers_from_json_text_are_excluded() -> None:
    doc = json.loads('{"a": NaN, "b": Infinity, "c": -Infinity, "d": 1e400, "e": 2}')
    assert flatten_metrics(doc) == {"e": 2.0}


def test_integers_too_large_for_a_float_are_excluded_not_fatal() -> None:
    # json.loads happily returns such an int from a results file; it is not a finite float
    doc = json.loads('{"huge": 1' + "0" * 400 + ', "ok": 1}')
    assert flatten_metrics(doc) == {"ok": 1.0}


@pytest.mark.parametrize("doc", [None, 1, 1.5, "text", True])
def test_scalars_at_the_top_have_no_keys(doc: Any) -> None:
    assert flatten_metrics(doc) == {}


def test_strings_and_nulls_are_skipped() -> None:
    assert flatten_metrics({"name": "resnet", "none": None, "x": 0}) == {"x": 0.0}


def test_non_string_keys_are_stringified() -> None:
    assert flatten_metrics({1: 2}) == {"1": 2.0}


def test_prefix() -> None:
    assert flatten_metrics({"a": 1}, "run") == {"run.a": 1.0}


def test_empty_containers() -> None:
    assert flatten_metrics({}) == {}
    assert flatten_metrics({"a": {}, "b": []}) == {}
