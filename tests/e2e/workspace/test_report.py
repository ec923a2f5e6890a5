"""`dws report`: one self-contained HTML file with the history, the metric charts and the
lineage graph; its internal links lead somewhere, it loads nothing from outside, and
hostile names and messages show as text."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path

import pytest

import dws
from helpers.cli import assert_error, ok
from helpers.cli import dws as run
from helpers.common import write_files

HOSTILE = "<img src=x onerror=alert(1)>"
STEP = "import shutil, sys\nshutil.copy(sys.argv[1], sys.argv[2])\n"


class _Page(HTMLParser):
    """Every start tag with its attributes, and the text."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _parse(path: Path) -> _Page:
    page = _Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    write_files(root, {"code/step.py": STEP, f"data/raw/{HOSTILE}.csv": "a\n", "results/.keep": ""})
    ws = dws.Workspace.init(str(root))
    ws.add_resource("local-files", str(root / "code"), "code", name="code")
    ws.add_resource("local-files", str(root / "data/raw"), "source-data", name="raw")
    ws.add_resource("local-files", str(root / "data/out"), "intermediate-data", create=True)
    ws.add_resource("local-files", str(root / "results"), "results")
    for version, accuracy in enumerate((0.5, 0.75), start=1):
        ok(
            run(
                root,
                "run",
                "--",
                "python3",
                "code/step.py",
                f"data/raw/{HOSTILE}.csv",
                "data/out/o.csv",
            )
        )
        (root / "results/metrics.json").write_text(json.dumps({"accuracy": accuracy}))
        ok(run(root, "snapshot", f"v{version}", "-m", f"<script>alert({version})</script>"))
    return root


def test_the_report_holds_history_charts_and_lineage(project: Path) -> None:
    said = ok(run(project, "report"))
    assert "wrote dws-report.html" in said.err
    page = _parse(project / "dws-report.html")
    tags = [tag for tag, _ in page.tags]
    assert "script" not in tags and "iframe" not in tags
    attributes = [(name, value) for _, attrs in page.tags for name, value in attrs.items()]
    assert not [n for n, _ in attributes if n.lower().startswith("on")]
    assert not [v for n, v in attributes if n in ("src", "href") and v and "://" in v]
    assert any(
        t == "meta" and "default-src 'none'" in (a.get("content") or "") for t, a in page.tags
    )
    text = "".join(page.text)
    assert "<script>alert(1)</script>" in text and HOSTILE in text  # shown, as text
    ids = {attrs["id"] for _, attrs in page.tags if attrs.get("id")}
    links = [attrs["href"] for tag, attrs in page.tags if tag == "a" and attrs.get("href")]
    snapshot_links = [h for h in links if h.startswith("#snap-")]
    run_links = [h for h in links if h.startswith("#run-")]
    assert len(snapshot_links) == 2 and len(run_links) == 1  # two points, one step
    assert all(link[1:] in ids for link in links)  # every link leads to a section
    assert sum(1 for tag, _ in page.tags if tag == "svg") == 2  # the chart and the graph


def test_snapshots_named_limit_the_report(project: Path, tmp_path: Path) -> None:
    out = tmp_path / "v1.html"
    ok(run(project, "report", "v1", "-o", str(out)))
    page = _parse(out)
    rows = [a["id"] for t, a in page.tags if t == "tr" and (a.get("id") or "").startswith("snap-")]
    assert rows == [f"snap-{dws.Workspace.open(str(project)).resolve('v1')}"]


def test_an_unknown_snapshot_writes_nothing(project: Path, tmp_path: Path) -> None:
    out = tmp_path / "never.html"
    assert_error(run(project, "report", "v9", "-o", str(out)), 2, contains="v9")
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".dws-tmp")]
