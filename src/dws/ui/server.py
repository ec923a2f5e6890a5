"""`dws ui`: a small read-only web server on 127.0.0.1 over the standard library's
``http.server``.

Every request must carry the random token the server printed (``?token=…``), else 403,
and a ``Host`` of 127.0.0.1 or localhost at the served port, else 403 (a page elsewhere
cannot reach the server through a name it controls). Only GET and HEAD exist: no route
changes the workspace. Pages are built by ``dws.ui.pages`` and ``dws.ui.browse`` from the
workspace as it is at each request (it is opened afresh each time, so a snapshot taken in
another terminal shows on the next page load); requests are answered one at a time.
"""

from __future__ import annotations

import hmac
import secrets
import sys
import threading
import traceback
from collections.abc import Callable, Iterable, Iterator
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from msgspec import Struct, field

from dws.api import Workspace
from dws.errors import DwsError, NotFoundError, RefusedError, UsageError
from dws.ui.page import Links, page

HTML = "text/html; charset=utf-8"
PAGE_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
# raw file bytes (images shown in previews): nothing in them may run or load anything
RAW_POLICY = "default-src 'none'; style-src 'unsafe-inline'; sandbox"


class Request(Struct):
    """A GET request's route (the URL path) and its query parameters."""

    route: str
    query: dict[str, list[str]]

    def one(self, name: str, default: str = "") -> str:
        """The last value of parameter ``name``, or ``default``."""
        values = self.query.get(name)
        return values[-1] if values else default

    def many(self, name: str) -> list[str]:
        """Every non-empty value of parameter ``name``, in order."""
        return [value for value in self.query.get(name, []) if value]

    def number(self, name: str) -> int:
        """Parameter ``name`` as a whole number (0 when absent); UsageError otherwise."""
        text = self.one(name, "0") or "0"
        if not (text.isascii() and text.isdecimal()) or len(text) > 12:
            raise UsageError(f"{name} must be a whole number, not {text[:20]!r}")
        return int(text)


class Response(Struct):
    """What a route answers: a status, a content type, the body (bytes or chunks) and any
    extra headers."""

    body: bytes | Iterable[bytes]
    status: int = 200
    content_type: str = HTML
    headers: dict[str, str] = field(default_factory=dict)


class Context(Struct):
    """What a page is built from: the workspace (opened for this request), the request,
    and the link builder."""

    ws: Workspace
    request: Request
    links: Links


Route = Callable[[Context], "str | Response"]


def routes() -> dict[str, Route]:
    """Route path -> page builder."""
    from dws.ui import browse, pages

    return {
        "/": pages.history,
        "/results": pages.results,
        "/lineage": pages.lineage,
        "/run": pages.run,
        "/snapshot": browse.snapshot,
        "/raw": browse.raw,
        "/diff": browse.diff,
        "/rows": browse.rows,
    }


class UiApp:
    """Answers requests for one workspace: checks the token, finds the route, builds the
    page, turns errors into error pages."""

    def __init__(self, root: str, token: str | None = None) -> None:
        self.root = root
        self.token = token or secrets.token_urlsafe(24)
        self.links = Links(self.token)
        self.routes = routes()
        self.name = Workspace.open(root).name
        self._lock = threading.Lock()

    def allowed(self, request: Request) -> bool:
        """Whether ``request`` carries the token."""
        given = request.one("token")
        return hmac.compare_digest(given.encode(), self.token.encode())

    def answer(self, request: Request) -> Response:
        """The response to ``request`` (the token already checked)."""
        route = self.routes.get(request.route)
        if route is None:
            return self.error(404, f"no page {request.route}")
        with self._lock:
            try:
                ws = Workspace.open(self.root)
                built = route(Context(ws, request, self.links))
            except NotFoundError as e:
                return self.error(404, str(e))
            except UsageError as e:
                return self.error(400, str(e))
            except RefusedError as e:
                return self.error(409, str(e))
            except DwsError as e:
                return self.error(500, str(e))
            except Exception as e:  # a bug: show one line, keep the trace for the terminal
                traceback.print_exc(file=sys.stderr)
                return self.error(500, f"internal error: {type(e).__name__}: {e}")
        if isinstance(built, Response):
            return built
        return Response(built.encode())

    def error(self, status: int, message: str) -> Response:
        """An error page with ``message`` as its text."""
        body = page(f"{status}", self.name, self.links, [f'<p class="error">{escape(message)}</p>'])
        return Response(body.encode(), status=status)


def forbidden() -> Response:
    """The answer to a request without the token (or from a foreign host name)."""
    text = "403: open the address `dws ui` printed; it carries the access token.\n"
    return Response(text.encode(), status=403, content_type="text/plain; charset=utf-8")


class _Handler(BaseHTTPRequestHandler):
    server: UiServer
    protocol_version = "HTTP/1.1"
    timeout = 30  # an idle connection is closed, so it cannot hold a thread for ever

    def version_string(self) -> str:
        return "dws-ui"

    def do_GET(self) -> None:
        self._respond(send_body=True)

    def do_HEAD(self) -> None:
        self._respond(send_body=False)

    def __getattr__(self, name: str) -> object:
        # http.server calls do_<METHOD>: any method but GET and HEAD gets the 405
        if name.startswith("do_"):
            return self._refuse_method
        raise AttributeError(name)

    def _refuse_method(self) -> None:
        self.close_connection = True  # its body, if any, is never read as a request
        self._send(
            Response(
                b"405: dws ui is read-only\n",
                status=405,
                content_type="text/plain; charset=utf-8",
                headers={"Allow": "GET, HEAD", "Connection": "close"},
            ),
            send_body=True,
        )

    def _respond(self, *, send_body: bool) -> None:
        parts = urlsplit(self.path)
        request = Request(parts.path, parse_qs(parts.query, keep_blank_values=True))
        app = self.server.app
        if not self.server.host_allowed(self.headers.get("Host", "")) or not app.allowed(request):
            response = forbidden()
        else:
            response = app.answer(request)
        self._send(response, send_body=send_body)

    def _send(self, response: Response, *, send_body: bool) -> None:
        body = response.body
        chunks: Iterator[bytes] | None = None
        if not isinstance(body, bytes):
            chunks = iter(body)
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        policy = PAGE_POLICY if response.content_type == HTML else RAW_POLICY
        self.send_header("Content-Security-Policy", policy)
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("X-Frame-Options", "DENY")
        self.send_header("Cache-Control", "no-store")
        for name, value in response.headers.items():
            self.send_header(name, value)
        if chunks is None:
            assert isinstance(body, bytes)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if send_body:
                try:
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True
            return
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            if send_body:  # HEAD reads nothing
                for chunk in chunks:
                    if chunk:
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the browser went away (a cancelled download)
        finally:
            close = getattr(body, "close", None)
            if close is not None:
                close()

    def log_message(self, format: str, *args: object) -> None:
        if self.server.verbose:  # the token is left out of the log
            hidden = self.server.app.token
            super().log_message(format, *(str(a).replace(hidden, "…") for a in args))


class UiServer(ThreadingHTTPServer):
    """The HTTP server of one ``UiApp``, bound to 127.0.0.1."""

    daemon_threads = True

    def __init__(self, app: UiApp, port: int = 0, *, verbose: bool = False) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.app = app
        self.verbose = verbose

    @property
    def port(self) -> int:
        """The port it listens on."""
        return int(self.server_address[1])

    @property
    def url(self) -> str:
        """The address to open, with the token."""
        return f"http://127.0.0.1:{self.port}/?token={self.app.token}"

    def host_allowed(self, host: str) -> bool:
        """Whether a request's ``Host`` header names this server by a loopback name."""
        return host.lower() in {f"127.0.0.1:{self.port}", f"localhost:{self.port}"}
