"""Notebooks: the API's results render as HTML (`_repr_html_`), escaped, and `%load_ext dws`
gives a `%dws` magic that runs commands in the notebook's process."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

import dws
from helpers.cli import api_snapshot, write_files

HOSTILE = "<script>alert(1)</script>"


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text += data


def _inert(html: str) -> _Tags:
    page = _Tags()
    page.feed(html)
    assert "script" not in [tag for tag, _ in page.tags]
    assert not [a for _, attrs in page.tags for a in attrs if a.lower().startswith("on")]
    return page


@pytest.fixture
def two(ws: Path) -> Path:
    write_files(ws, {"data/raw/t.csv": "id,v\n1,a\n", "results/metrics.json": '{"acc": 0.5}'})
    api_snapshot(ws, "v1", HOSTILE)
    write_files(ws, {"data/raw/t.csv": "id,v\n1,b\n", "results/metrics.json": '{"acc": 0.7}'})
    api_snapshot(ws, "v2")
    return ws


def test_results_history_and_diffs_render_as_html(two: Path) -> None:
    ws = dws.Workspace.open(str(two))
    history = _inert(ws.history()._repr_html_())
    assert HOSTILE in history.text and "v2" in history.text
    results = _inert(ws.results()._repr_html_())
    assert "acc" in results.text and sum(1 for t, _ in results.tags if t == "circle") == 2
    assert ws.results()[0].metrics == {"results/metrics.json:acc": 0.5}  # still a list
    diff = _inert(ws.diff("v1", "v2")._repr_html_())
    assert "data/raw/t.csv" in diff.text or "t.csv" in diff.text
    rows = _inert(ws.diff_rows("v1", "v2", "data/raw/t.csv", key=["id"])._repr_html_())
    assert "a → b" in rows.text
    graph = ws.lineage_graph()
    assert json.loads(json.dumps(graph)) == graph  # still the JSON document
    _inert(graph._repr_html_())


class _FakeIPython:
    def __init__(self) -> None:
        self.magics: dict[str, Any] = {}

    def register_magic_function(self, func: Any, magic_kind: str, magic_name: str) -> None:
        assert magic_kind == "line"
        self.magics[magic_name] = func


def test_the_dws_magic_runs_commands(
    two: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    shell = _FakeIPython()
    dws.load_ipython_extension(shell)
    magic = shell.magics["dws"]
    monkeypatch.chdir(two)
    assert magic("cat v1:data/raw/t.csv") == 0
    assert "1,a" in capsys.readouterr().out
    write_files(two, {"data/raw/t.csv": "id,v\n1,c\n"})
    assert magic('snapshot v3 -m "from a notebook"') == 0
    assert dws.Workspace.open(str(two)).show("v3")[0].message == "from a notebook"
    assert magic("cat v9:data/raw/t.csv") == 2
    assert "no snapshot or tag named 'v9'" in capsys.readouterr().err
