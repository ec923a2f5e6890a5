"""The pieces every page of `dws ui` is built from: the page shell with its navigation,
links that carry the access token, tables, and the error page.

Every text that comes from the workspace goes through ``escape`` (or ``quoteattr`` for
attributes) before it reaches the page; URLs are built only by ``Links``, which quotes
each query value. The pages carry no script: the server's Content-Security-Policy forbids
any, so even markup that slipped through could not run.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from html import escape
from urllib.parse import urlencode

from msgspec import Struct

from dws.model.summaries import human_bytes

STYLE = """
body { font-family: sans-serif; margin: 0; color: #202124; }
nav { background: #f1f3f4; padding: 0.6em 2em; border-bottom: 1px solid #dadce0; }
nav a { margin-right: 1.5em; color: #1a0dab; text-decoration: none; }
nav .ws { font-weight: bold; margin-right: 2em; }
main { margin: 1em 2em 3em; }
h1 { font-size: 1.4em; } h2 { font-size: 1.15em; margin-top: 1.6em; }
table { border-collapse: collapse; font-size: 0.9em; }
th, td { border-bottom: 1px solid #dadce0; padding: 4px 10px; text-align: left;
  vertical-align: top; }
th { background: #f8f9fa; }
code, pre { font-size: 0.92em; } pre { background: #f8f9fa; padding: 0.8em;
  overflow-x: auto; white-space: pre-wrap; word-break: break-all; max-width: 110em; }
.muted { color: #5f6368; } .stale { color: #d93025; } .head { font-weight: bold; }
.added { background: #e6f4ea; } .removed { background: #fce8e6; }
.changed { background: #fef7e0; } .picture { overflow-x: auto; }
.error { color: #d93025; } form { margin: 0.8em 0; } .num { text-align: right; }
img.preview { max-width: 100%; max-height: 40em; border: 1px solid #dadce0; }
"""


class Links(Struct, frozen=True):
    """Builds the URLs of the UI's routes, each carrying the access token."""

    token: str

    def to(self, route: str, **params: str | int | list[str] | None) -> str:
        """``route`` with ``params`` (None left out, lists repeated) and the token, ready
        for an HTML attribute (escaped)."""
        return escape(self.raw(route, **params))

    def raw(self, route: str, **params: str | int | list[str] | None) -> str:
        """``to`` without the HTML escaping: a URL for a header or for ``quoteattr``."""
        pairs: list[tuple[str, str]] = [("token", self.token)]
        for name, value in params.items():
            if value is None:
                continue
            values = value if isinstance(value, list) else [value]
            pairs.extend((name, str(item)) for item in values)
        return f"{route}?{urlencode(pairs)}"

    def hidden_token(self) -> str:
        """The token as a hidden form field, so a GET form keeps it."""
        return f'<input type="hidden" name="token" value="{escape(self.token)}">'


def page(title: str, workspace: str, links: Links, body: Iterable[str]) -> str:
    """A whole HTML page: navigation bar, ``title`` as heading, then ``body``."""
    nav = (
        f'<nav><span class="ws">{escape(workspace)}</span>'
        f'<a href="{links.to("/")}">History</a>'
        f'<a href="{links.to("/results")}">Results</a>'
        f'<a href="{links.to("/lineage")}">Lineage</a>'
        f'<a href="{links.to("/diff")}">Diff</a></nav>'
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="referrer" content="no-referrer">'
        f"<title>{escape(title)} · {escape(workspace)} · dws</title>"
        f"<style>{STYLE}</style></head><body>{nav}<main>"
        f"<h1>{escape(title)}</h1>\n" + "\n".join(body) + "\n</main></body></html>\n"
    )


def table(headers: Iterable[str], rows: Iterable[Iterable[str]], *, attrs: str = "") -> str:
    """A table of already-escaped cells under escaped ``headers``."""
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table{attrs}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def size(count: int | None) -> str:
    """A byte count for people: 1.2 MiB (nothing for None)."""
    return "" if count is None else human_bytes(count)


def when(stamp: str) -> str:
    """A recorded time as shown everywhere in the UI: ``2026-12-06 18:37:35 UTC``."""
    try:
        moment = datetime.datetime.fromisoformat(stamp)
    except ValueError:
        return escape(stamp[:19].replace("T", " "))
    if moment.tzinfo is not None:
        moment = moment.astimezone(datetime.UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S") + (" UTC" if moment.tzinfo else "")


def last_page(total: int, step: int) -> int:
    """Where the last page of ``total`` items, ``step`` a page, starts (0 for none)."""
    return max(0, (total - 1) // step * step)


def short(snapshot_id: str) -> str:
    """A snapshot or run id as shown: its first 10 characters, escaped."""
    return escape(snapshot_id[:10])
