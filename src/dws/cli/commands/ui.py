"""dws ui"""

from __future__ import annotations

import contextlib
import errno
import html
import os
import sys
import tempfile
import threading
from typing import TYPE_CHECKING

import click

from dws.cli.context import CliState, pass_state
from dws.errors import DwsError, UsageError

if TYPE_CHECKING:
    from dws.ui.server import UiApp, UiServer

DEFAULT_PORT = 8765
PORTS_TRIED = 20  # the default port and the ones after it, before any free port


@click.command()
@click.option(
    "--port",
    type=int,
    default=None,
    metavar="N",
    help=f"Port on 127.0.0.1 (0: any free port). [default: {DEFAULT_PORT}, or the next free one]",
)
@click.option("--no-browser", is_flag=True, help="Print the address; do not open a browser.")
@click.option("--verbose", is_flag=True, help="Log each request on stderr.")
@pass_state
def ui(state: CliState, port: int | None, no_browser: bool, verbose: bool) -> None:
    """Serve a read-only web view of the workspace on 127.0.0.1: the history, any
    snapshot's files with previews, diffs down to table rows, metric charts and the lineage
    graph. No page changes anything.

    The address it prints carries a random access token; requests without it are refused.
    Ctrl-C stops the server.

    \b
    Examples:
      dws ui
      dws ui --port 9000 --no-browser
    """
    from dws.ui.server import UiApp

    if port is not None and not 0 <= port <= 65535:
        raise UsageError(f"--port must be between 0 and 65535, not {port}")
    app = UiApp(state.open().root)
    server = _bind(app, port, verbose)
    print(f"dws ui: serving {app.name} at {server.url}", flush=True)
    print("Ctrl-C stops it.", file=sys.stderr, flush=True)
    opener = None if no_browser else _open_browser(server.url)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        print("dws ui: stopped", file=sys.stderr, flush=True)
    finally:
        server.server_close()
        if opener is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(opener)


def _open_browser(url: str) -> str:
    """Open ``url`` in the browser through a private file that redirects to it, so the
    token is not on a command line others can list; the file's path (removed at the end)."""
    import webbrowser

    fd, path = tempfile.mkstemp(prefix="dws-ui-", suffix=".html")  # mode 0600
    with os.fdopen(fd, "w", encoding="utf-8") as page:
        page.write(
            '<!DOCTYPE html><meta charset="utf-8">'
            f'<meta http-equiv="refresh" content="0;url={html.escape(url)}">'
            f'<a href="{html.escape(url)}">dws ui</a>\n'
        )
    threading.Thread(target=webbrowser.open, args=(f"file://{path}",), daemon=True).start()
    return path


def _bind(app: UiApp, port: int | None, verbose: bool) -> UiServer:
    from dws.ui.server import UiServer

    tries = [port] if port is not None else [*range(DEFAULT_PORT, DEFAULT_PORT + PORTS_TRIED), 0]
    for candidate in tries:
        try:
            return UiServer(app, candidate, verbose=verbose)
        except OSError as e:
            if e.errno != errno.EADDRINUSE or port is not None:
                raise DwsError(
                    f"cannot serve on 127.0.0.1:{candidate}: {e.strerror}"
                    + (" (give another --port, or 0 for any free one)" if port else "")
                ) from None
    raise DwsError("no free port on 127.0.0.1")  # pragma: no cover (port 0 always binds)
