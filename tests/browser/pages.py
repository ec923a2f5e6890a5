"""Headless Chromium for the browser tests: the Debian `chromium` driven by Playwright, and
what a page did while a test looked at it (console messages, uncaught errors, dialogs,
requests that left the machine).

Playwright never downloads a browser here: it drives the executable the Debian package
installs. Everything the browser writes (profile, crash reports, caches) goes below the
test session's temporary directory."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from helpers.containers import need

PACKAGE = "chromium"  # the Debian package that installs the executable
VIEWPORT = {"width": 1280, "height": 900}
TIMEOUT_MS = 15_000  # a step that hangs fails the test instead of waiting forever
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}
ALLOWED_SCHEMES = {"file", "data", "about", "blob"}


def chromium_executable() -> str:
    """The Chromium executable; skip (fail under CI) when the package is missing."""
    return need("chromium", PACKAGE)


def playwright_module() -> Any:
    """``playwright.sync_api``; skip (fail under CI) when the dev extra is not installed."""
    try:
        from playwright import sync_api
    except ImportError:
        message = "playwright is not installed (pip install -e '.[dev]')"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return sync_api


def launch_options(executable: str, home: Path) -> dict[str, Any]:
    """How the browser is started: headless, from ``executable``, with ``home`` as its home
    directory (its config and caches go there, not in the user's); no sandbox as root,
    where Chromium refuses to start with one."""
    args = ["--no-first-run", "--no-default-browser-check", "--disable-background-networking"]
    if os.geteuid() == 0:
        args.insert(0, "--no-sandbox")
    env = {
        **os.environ,
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_CACHE_HOME": str(home / ".cache"),
    }
    return {
        "executable_path": executable,
        "headless": True,
        "args": args,
        "env": env,
        "timeout": 60_000,
    }


@dataclass
class PageEvents:
    """What one page did: console messages by type, uncaught errors, dialogs (each means a
    script ran), and requests to anywhere but this machine (blocked)."""

    console: list[tuple[str, str]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    dialogs: list[tuple[str, str]] = field(default_factory=list)
    outside: list[str] = field(default_factory=list)

    def console_of(self, *kinds: str) -> list[str]:
        """The console messages of the given types (``error``, ``warning``, ...)."""
        return [text for kind, text in self.console if kind in kinds]

    def problems(self) -> list[str]:
        """What fails a test that did not expect it: console errors, uncaught errors and
        requests that tried to leave the machine."""
        return (
            [f"console error: {text}" for text in self.console_of("error")]
            + [f"page error: {text}" for text in self.errors]
            + [f"request to outside: {url}" for url in self.outside]
        )

    def watch(self, page: Any) -> None:
        """Record what ``page`` does from now on; dialogs are recorded and dismissed."""
        page.on("console", lambda message: self.console.append((message.type, message.text)))
        page.on("pageerror", lambda error: self.errors.append(str(error)))

        def dialog(d: Any) -> None:
            self.dialogs.append((d.type, d.message))
            d.dismiss()

        page.on("dialog", dialog)

        def route(route: Any) -> None:
            if is_local(route.request.url):
                route.continue_()
            else:
                self.outside.append(route.request.url)
                route.abort()

        page.route("**/*", route)


def is_local(url: str) -> bool:
    """Whether ``url`` stays on this machine (a file, inline data, or 127.0.0.1)."""
    parts = urlsplit(url)
    if parts.scheme in ALLOWED_SCHEMES:
        return True
    return parts.scheme in ("http", "https", "ws") and (parts.hostname or "") in LOCAL_HOSTS


def screenshot_path(directory: Path, name: str) -> Path:
    """Where the screenshot called ``name`` goes in ``directory`` (a safe file name)."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.") or "page"
    return directory / f"{stem}.png"
