"""`dws report` in a real browser (headless Chromium): the page loads with no console
error, draws its chart and lineage graph, its links lead to the right snapshot row and run,
and hostile names, messages and metric names show as text without running anything."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from browser.pages import PageEvents
from helpers.cli import as_json, ok
from helpers.cli import dws as run
from helpers.common import write_files

COPY = "import shutil, sys\nshutil.copy(sys.argv[1], sys.argv[2])\n"
# metrics.json of each snapshot: accuracy in all three, loss from v2 on
METRICS = {
    "v1": {"accuracy": 0.5},
    "v2": {"accuracy": 0.7, "loss": 2},
    "v3": {"accuracy": 0.9, "loss": 1},
}
# the two steps run before the first snapshot: script, what it reads, what it writes
STEPS = [
    ("code/prepare.py", "data/raw/a.csv", "data/out/clean.csv"),
    ("code/train.py", "data/out/clean.csv", "data/out/model.csv"),
]
STEP_NODES = {"prepare", "train"}
DATA_NODES = {
    "code/prepare.py",
    "code/train.py",
    "data/raw/a.csv",
    "data/out/clean.csv",
    "data/out/model.csv",
}

HOSTILE_FILE = "<img src=x onerror=alert(1)>"
HOSTILE_MESSAGE = "<script>alert(1)</script>"
HOSTILE_METRIC = "<img src=m onerror=alert(2)>"

# everything drawn in the report's pictures, by what it stands for
CHART_POINTS = "svg g.chart[data-metric={metric}] circle.point"
GRAPH_NODES = "svg g.node.{kind}"


def _workspace(root: Path) -> None:
    """A workspace over ``root`` with code, source data, intermediate data and results."""
    ok(run(root, "init"))
    ok(run(root, "add", "local-files", "code", "--role", "code"))
    ok(run(root, "add", "local-files", "data/raw", "--role", "source-data", "--name", "raw"))
    ok(run(root, "add", "local-files", "data/out", "--role", "intermediate-data", "--create"))
    ok(run(root, "add", "local-files", "results", "--role", "results"))


def _ids(root: Path) -> tuple[dict[str, str], dict[str, str]]:
    """Snapshot ids by tag, run ids by step, as `dws` reports them."""
    snapshots = {tag: s["id"] for s in as_json(run(root, "history", "--json")) for tag in s["tags"]}
    runs = {r["step"]: r["id"] for r in as_json(run(root, "lineage", "runs", "--json"))}
    return snapshots, runs


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str], dict[str, str]]:
    """The report of a workspace with two steps (prepare, train) and three snapshots whose
    metrics are ``METRICS``; with the snapshot ids by tag and the run ids by step."""
    root = tmp_path_factory.mktemp("report") / "proj"
    write_files(
        root,
        {"code/prepare.py": COPY, "code/train.py": COPY, "data/raw/a.csv": "a,b\n1,2\n"},
    )
    (root / "results").mkdir()
    _workspace(root)
    for script, source, made in STEPS:
        ok(run(root, "run", "--", "python3", script, source, made))
    for tag, metrics in METRICS.items():
        (root / "results/metrics.json").write_text(json.dumps(metrics))
        ok(run(root, "snapshot", tag, "-m", f"message of {tag}"))
    ok(run(root, "report", "-o", "report.html"))
    snapshots, runs = _ids(root)
    return root / "report.html", snapshots, runs


def test_the_report_draws_its_chart_and_graph(
    report: tuple[Path, dict[str, str], dict[str, str]],
    open_page: Callable[[str], Any],
    page_events: PageEvents,
    screenshot: Callable[[Any, str], Path],
) -> None:
    path, snapshots, runs = report
    page = open_page(path.as_uri())
    assert page.title().endswith("dws report")
    for metric in ("accuracy", "loss"):
        points = page.locator(CHART_POINTS.format(metric=metric))
        expected = [snapshots[tag] for tag, values in METRICS.items() if metric in values]
        assert points.count() == len(expected), metric
        assert [points.nth(i).get_attribute("data-snapshot") for i in range(len(expected))] == (
            expected
        )
        for i in range(len(expected)):  # drawn: laid out with a size on the page
            box = points.nth(i).bounding_box()
            assert box is not None and box["width"] > 0 and box["height"] > 0
    steps = page.locator(GRAPH_NODES.format(kind="step"))
    data = page.locator(GRAPH_NODES.format(kind="data"))
    assert {t.strip() for t in steps.locator("text").all_text_contents()} == STEP_NODES
    assert {t.strip() for t in data.locator("text").all_text_contents()} == DATA_NODES
    assert steps.locator("rect").first.bounding_box() is not None
    assert set(runs) == STEP_NODES
    shot = screenshot(page, "report")
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 1000
    assert page_events.console_of("error", "warning") == [] and page_events.errors == []


def test_a_chart_point_opens_its_snapshot_row(
    report: tuple[Path, dict[str, str], dict[str, str]], open_page: Callable[[str], Any]
) -> None:
    path, snapshots, _ = report
    page = open_page(path.as_uri())
    wanted = snapshots["v2"]
    page.locator(CHART_POINTS.format(metric="loss")).first.click()
    page.wait_for_url(f"**#snap-{wanted}")
    target = page.locator(":target")
    assert target.count() == 1
    assert target.evaluate("e => e.tagName") == "TR"
    assert target.get_attribute("id") == f"snap-{wanted}"
    assert "message of v2" in target.inner_text()
    assert target.evaluate("e => getComputedStyle(e).backgroundColor") != "rgba(0, 0, 0, 0)"


def test_a_graph_step_opens_its_run(
    report: tuple[Path, dict[str, str], dict[str, str]], open_page: Callable[[str], Any]
) -> None:
    path, _, runs = report
    page = open_page(path.as_uri())
    step = page.locator(GRAPH_NODES.format(kind="step")).filter(has_text="train")
    step.click()
    page.wait_for_url(f"**#run-{runs['train']}")
    target = page.locator(":target")
    assert target.get_attribute("id") == f"run-{runs['train']}"
    assert target.locator("h3").inner_text().startswith("step train")
    assert "code/train.py data/out/clean.csv data/out/model.csv" in target.inner_text()


@pytest.fixture(scope="module")
def hostile_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The report of a workspace whose file name, snapshot message and metric name are
    markup that would run a script if it were not escaped."""
    root = tmp_path_factory.mktemp("hostile") / "proj"
    write_files(root, {"code/step.py": COPY, f"data/raw/{HOSTILE_FILE}.csv": "a\n1\n"})
    (root / "results").mkdir()
    _workspace(root)
    source = f"data/raw/{HOSTILE_FILE}.csv"
    ok(run(root, "run", "--", "python3", "code/step.py", source, "data/out/o.csv"))
    (root / "results/metrics.json").write_text(json.dumps({HOSTILE_METRIC: 0.5}))
    ok(run(root, "snapshot", "v1", "-m", HOSTILE_MESSAGE))
    ok(run(root, "report", "-o", "report.html"))
    return root / "report.html"


def test_hostile_names_show_as_text_and_run_nothing(
    hostile_report: Path,
    open_page: Callable[[str], Any],
    page_events: PageEvents,
    screenshot: Callable[[Any, str], Path],
) -> None:
    page = open_page(hostile_report.as_uri())
    shown = page.inner_text("body")
    assert HOSTILE_MESSAGE in shown  # the history's message column
    assert f"raw/{HOSTILE_FILE}.csv" in shown  # the run's inputs
    assert f"data/raw/{HOSTILE_FILE}.csv" in page.locator("g.node.data text").all_text_contents()
    assert HOSTILE_METRIC in page.locator("g.chart text").all_text_contents()
    made = page.evaluate(
        """() => ({
            elements: document.querySelectorAll('img, script, iframe, object, embed').length,
            handlers: [...document.querySelectorAll('*')].flatMap(
                e => [...e.attributes].map(a => a.name).filter(n => n.startsWith('on'))),
        })"""
    )
    assert made == {"elements": 0, "handlers": []}
    screenshot(page, "hostile-report")
    assert page_events.dialogs == []
    assert page_events.problems() == []


@pytest.mark.page_errors_allowed
def test_the_page_fixture_sees_errors_dialogs_and_requests(
    page: Any, page_events: PageEvents
) -> None:
    """What the other tests rely on: this Chromium reports console errors, uncaught errors
    and dialogs to the fixture (so their absence elsewhere means something), and a request
    to another machine is blocked and recorded."""
    outside = "http://192.0.2.1/pixel.png"  # TEST-NET-1: never reached, the route aborts it
    page.set_content(
        f'<img src="{outside}"><script>console.error("logged"); alert("ran");'
        ' throw new Error("thrown")</script>'
    )
    assert "logged" in page_events.console_of("error")
    assert page_events.dialogs == [("alert", "ran")]
    assert len(page_events.errors) == 1 and "thrown" in page_events.errors[0]
    assert page_events.outside == [outside]
