"""`dws ui` in headless Chromium: every page loads without a console error, the chart and
the graph are drawn, a chart point opens its snapshot and a graph step its run, the forms
work, an image preview loads, and hostile names, messages and cells stay text (no script
from data runs). A screenshot of each page is kept in the test's directory."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import pytest

from browser.pages import PageEvents
from helpers.ui import (
    HOSTILE_CELL,
    HOSTILE_MESSAGE,
    HOSTILE_NAME,
    Served,
    build_project,
    serving,
)

PAGES = {
    "history": ("/", ""),
    "snapshot": ("/snapshot", "id=v2"),
    "listing": ("/snapshot", "id=v2&path=data/raw"),
    "table-preview": ("/snapshot", "id=v2&path=data/raw/table.csv"),
    "image-preview": ("/snapshot", "id=v2&path=data/raw/pixel.png"),
    "diff": ("/diff", "a=v1&b=v2"),
    "row-diff": ("/rows", "a=v1&b=v2&path=data/raw/table.csv"),
    "results": ("/results", ""),
    "lineage": ("/lineage", "snapshot=v2"),
}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    root = build_project(tmp_path_factory.mktemp("ui-browser") / "proj")
    with serving(root) as server:
        yield server


def _url(served: Served, route: str, query: str = "") -> str:
    return f"http://127.0.0.1:{served.port}{route}?token={served.token}" + (
        f"&{query}" if query else ""
    )


@pytest.mark.parametrize("name", list(PAGES))
def test_every_page_loads_cleanly(
    served: Served,
    open_page: Callable[[str], Any],
    screenshot: Callable[[Any, str], Path],
    page_events: PageEvents,
    name: str,
) -> None:
    route, query = PAGES[name]
    page = open_page(_url(served, route, query))
    assert page.locator("nav a").count() == 4
    assert page.locator("h1").inner_text()
    assert screenshot(page, f"ui-{name}").stat().st_size > 0
    assert not page_events.dialogs


def test_a_chart_point_opens_its_snapshot(served: Served, open_page: Callable[[str], Any]) -> None:
    page = open_page(_url(served, "/results"))
    points = page.locator("svg circle.point")
    assert points.count() == 2
    box = points.first.bounding_box()
    assert box and box["width"] > 0
    wanted = points.first.get_attribute("data-snapshot")
    points.first.click()
    page.wait_for_url("**/snapshot?**")
    assert parse_qs(urlsplit(page.url).query)["id"] == [wanted]
    assert page.locator("h1").inner_text().startswith(f"Snapshot {wanted[:10]}")


def test_choosing_no_metric_and_one_metric(served: Served, open_page: Callable[[str], Any]) -> None:
    page = open_page(_url(served, "/results"))
    page.locator('input[name="metric"]').first.uncheck()
    page.locator('form button[type="submit"]').click()
    page.wait_for_load_state("load")
    assert page.locator("svg g.chart").count() == 1  # none chosen: the default set
    page.locator('input[name="metric"]').first.check()
    page.locator('form button[type="submit"]').click()
    page.wait_for_load_state("load")
    assert "metric=" in page.url and page.locator("svg g.chart").count() == 1


def test_a_graph_step_opens_its_run(served: Served, open_page: Callable[[str], Any]) -> None:
    page = open_page(_url(served, "/lineage", "snapshot=v2"))
    assert page.locator("svg g.node.step").count() == 1
    assert page.locator("svg g.node.data").count() == 3
    page.locator("svg g.node.step").first.click()
    page.wait_for_url("**/run?**")
    text = page.locator("main").inner_text()
    assert "python3 code/step.py" in text and "exit code 0" in text


def test_a_data_node_shows_its_upstream(served: Served, open_page: Callable[[str], Any]) -> None:
    page = open_page(_url(served, "/lineage", "snapshot=v2"))
    page.locator("svg g.node.data", has_text="o.csv").click()
    page.wait_for_url("**node=**")
    assert "upstream of" in page.locator("main").inner_text()
    assert page.locator("svg g.node").count() == 4


def test_the_history_filter_and_a_diff_link(
    served: Served, open_page: Callable[[str], Any]
) -> None:
    page = open_page(_url(served, "/"))
    assert page.locator("table.history tbody tr").count() == 2
    page.fill('input[name="q"]', "v1")
    page.locator('form button[type="submit"]').click()
    page.wait_for_url("**q=v1**")
    assert page.locator("table.history tbody tr").count() == 1
    page = open_page(_url(served, "/"))
    page.locator("table.history a", has_text="diff").first.click()
    page.wait_for_url("**/diff?**")
    page.locator("a", has_text="rows").first.click()
    page.wait_for_url("**/rows?**")
    page.check('input[name="key"][value="id"]')
    page.locator('form button[type="submit"]').click()
    page.wait_for_url("**key=id**")
    assert page.locator("table.counts").count() == 1


def test_the_image_preview_loads(served: Served, open_page: Callable[[str], Any]) -> None:
    page = open_page(_url(served, "/snapshot", "id=v2&path=data/raw/pixel.png"))
    image = page.locator("img.preview")
    image.wait_for()
    assert page.evaluate("document.querySelector('img.preview').naturalWidth") == 1


def test_hostile_content_stays_text(
    served: Served,
    open_page: Callable[[str], Any],
    page_events: PageEvents,
    screenshot: Callable[[Any, str], Path],
) -> None:
    for route, query, literal in (
        ("/snapshot", "id=v2&path=data/raw", HOSTILE_NAME),
        ("/snapshot", f"id=v2&path=data/raw/{quote(HOSTILE_NAME, safe='')}", HOSTILE_CELL),
        ("/", "", HOSTILE_MESSAGE),
        ("/snapshot", "id=v2", HOSTILE_MESSAGE),
    ):
        page = open_page(_url(served, route, query))
        assert literal in page.locator("main").inner_text()
        assert page.locator("img[src=x], script").count() == 0
    screenshot(page, "ui-hostile")
    assert not page_events.dialogs
