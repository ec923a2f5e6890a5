"""Fixtures of the browser tests: one headless Chromium per test process, a fresh page per
test that fails the test on a console error or an uncaught error, and helpers to open a
URL and keep a screenshot.

Use them for any page dws makes: a report opened as ``file://``, or a `dws ui` page on
127.0.0.1 (``open_page(f"http://127.0.0.1:{port}/?token={token}")``). A test that expects
errors on its page opts out with ``@pytest.mark.page_errors_allowed``."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from browser.pages import (
    TIMEOUT_MS,
    VIEWPORT,
    PageEvents,
    chromium_executable,
    launch_options,
    playwright_module,
    screenshot_path,
)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "page_errors_allowed: console or page errors do not fail this browser test"
    )


@pytest.fixture(scope="session")
def browser(
    tmp_path_factory: pytest.TempPathFactory, _private_temporary_directory: Path
) -> Iterator[Any]:
    """Headless Chromium (the Debian package), started once for this test process. Its
    profile and temporary files go below pytest's temporary directory."""
    executable = chromium_executable()
    sync_api = playwright_module()
    home = tmp_path_factory.mktemp("chromium-home")
    with sync_api.sync_playwright() as playwright:
        started = playwright.chromium.launch(**launch_options(executable, home))
        try:
            yield started
        finally:
            started.close()


@pytest.fixture
def page_events() -> PageEvents:
    """What the test's page did (see ``PageEvents``)."""
    return PageEvents()


@pytest.fixture
def page(browser: Any, page_events: PageEvents, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A page in a fresh browser context. At teardown the test fails if the page logged a
    console error, threw an uncaught error or tried to reach another machine, unless it is
    marked ``page_errors_allowed``."""
    context = browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(TIMEOUT_MS)
    opened = context.new_page()
    page_events.watch(opened)
    try:
        yield opened
    finally:
        context.close()
    problems = page_events.problems()
    if problems and request.node.get_closest_marker("page_errors_allowed") is None:
        pytest.fail("the page reported problems:\n" + "\n".join(problems), pytrace=False)


@pytest.fixture
def open_page(page: Any) -> Callable[[str], Any]:
    """``open_page(url)``: load ``url`` in the test's page and wait until it has loaded;
    an HTTP error status fails the test. Returns the page."""

    def load(url: str) -> Any:
        response = page.goto(url, wait_until="load")
        if response is not None and not response.ok:
            pytest.fail(f"{url} answered {response.status} {response.status_text}")
        return page

    return load


@pytest.fixture(scope="session")
def screenshot_dir() -> Path:
    """Where screenshots are kept after the run: ``$DWS_SCREENSHOTS``, else
    ``test-output/screenshots`` in the project (ignored by git); each page's file is
    replaced by the next run."""
    chosen = os.environ.get("DWS_SCREENSHOTS")
    directory = Path(chosen) if chosen else Path(__file__).parents[2] / "test-output/screenshots"
    directory.mkdir(parents=True, exist_ok=True)
    return directory


@pytest.fixture
def screenshot(screenshot_dir: Path) -> Callable[[Any, str], Path]:
    """``screenshot(page, name)``: save a full-page PNG of ``page`` as ``name.png`` in
    ``screenshot_dir`` (kept after the run, passed or failed) and return its path."""

    def take(shown: Any, name: str) -> Path:
        path = screenshot_path(screenshot_dir, name)
        shown.screenshot(path=str(path), full_page=True)
        return path

    return take
