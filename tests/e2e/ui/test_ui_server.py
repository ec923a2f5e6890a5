"""`dws ui` over HTTP: the token, read-only methods, every page, previews, diffs, and what
hostile input cannot do (path traversal, markup in names, messages and cells)."""

from __future__ import annotations

import re
import sys
import time
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import quote

import pytest

from helpers.cli import assert_error, disk_state, ok
from helpers.cli import dws as run
from helpers.ui import (
    HOSTILE_CELL,
    HOSTILE_MESSAGE,
    HOSTILE_NAME,
    PIXEL,
    Served,
    build_project,
    serving,
)

ROUTES = ["/", "/results", "/lineage", "/diff", "/snapshot", "/run", "/raw", "/rows"]


class _Tags(HTMLParser):
    """Every start tag with its attributes, and the text."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def inert(self) -> None:
        """No script, no event handler, no image or frame the data could have made."""
        names = [tag for tag, _ in self.tags]
        assert "script" not in names and "iframe" not in names and "object" not in names
        handlers = [n for _, attrs in self.tags for n in attrs if n.lower().startswith("on")]
        assert not handlers
        assert not [a for tag, a in self.tags if tag == "img" and a.get("src") == "x"]

    def links(self) -> list[str]:
        return [str(a["href"]) for tag, a in self.tags if tag == "a" and a.get("href")]


def _q(value: str) -> str:
    return quote(value, safe="")


def test_every_route_needs_the_token(served: Served) -> None:
    for route in ROUTES:
        for target in (route, f"{route}?token=wrong", f"{route}?token={served.token[:-1]}"):
            status, _, body = served.get(target)
            assert status == 403, target
            assert b"token" in body and b"<" not in body
    status, _, _ = served.get(f"/?token={served.token}")
    assert status == 200


def test_a_foreign_host_name_is_refused(served: Served) -> None:
    # a page of another site cannot reach the server through a DNS name it controls
    target = f"/?token={served.token}"
    for host in ("evil.example", f"evil.example:{served.port}", "127.0.0.1"):
        status, _, _ = served.get(target, headers={"Host": host})
        assert status == 403, host
    for host in (f"localhost:{served.port}", f"127.0.0.1:{served.port}"):
        assert served.get(target, headers={"Host": host})[0] == 200


def test_no_method_changes_anything(served: Served, project: Path) -> None:
    before = disk_state(project)
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        status, headers, _ = served.get(f"/?token={served.token}", method=method)
        assert status == 405 and headers["allow"] == "GET, HEAD"
    status, headers, body = served.get(f"/?token={served.token}", method="HEAD")
    assert status == 200 and body == b"" and headers["content-type"].startswith("text/html")
    for route in ("/", "/results", "/lineage", "/diff"):
        served.page(route)
    assert disk_state(project) == before


def test_pages_forbid_scripts_and_framing(served: Served) -> None:
    status, headers, _ = served.get(f"/?token={served.token}")
    assert status == 200
    policy = headers["content-security-policy"]
    assert "default-src 'none'" in policy and "script-src" not in policy
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"
    assert headers["referrer-policy"] == "no-referrer"


def test_history_lists_snapshots_head_first_and_filters(served: Served) -> None:
    html = served.page("/")
    page = _Tags(html)
    page.inert()
    text = "".join(page.text)
    assert text.index("v2") < text.index("v1")
    assert "HEAD" in text and HOSTILE_MESSAGE in text
    assert "2 of 2 snapshot(s)" in text
    filtered = "".join(_Tags(served.page("/", "q=v1")).text)
    assert "1 of 2 snapshot(s)" in filtered
    none = "".join(_Tags(served.page("/", "q=nothing-like-this")).text)
    assert "0 of 2" in none and "No snapshots match." in none
    status, _, body = served.get(f"/?token={served.token}&from=-1")
    assert status == 400 and b"whole number" in body


def test_every_link_on_every_page_answers(served: Served) -> None:
    seen: set[str] = set()
    queue = [f"/?token={served.token}"]
    while queue and len(seen) < 150:
        target = queue.pop()
        if target in seen:
            continue
        seen.add(target)
        status, headers, body = served.get(target)
        assert status == 200, (target, status, body[:300])
        if not headers["content-type"].startswith("text/html"):
            continue
        page = _Tags(body.decode("utf-8"))
        page.inert()
        for link in page.links():
            assert link.startswith("/") and f"token={served.token}" in link, link
            queue.append(link)
    assert any(t.startswith("/run?") for t in seen) and any(t.startswith("/rows?") for t in seen)


def test_results_chart_has_a_point_per_snapshot_linking_to_it(served: Served) -> None:
    html = served.page("/results")
    points = re.findall(r'<a href="(/snapshot\?[^"]+)"><circle class="point"', html)
    assert len(points) == 2
    status, _, _ = served.get(points[0].replace("&amp;", "&"))
    assert status == 200
    unknown = served.get(f"/results?token={served.token}&metric=nope")
    assert unknown[0] == 400 and b"no metric" in unknown[2]


def test_lineage_graph_and_run_details(served: Served) -> None:
    html = served.page("/lineage", "snapshot=v2")
    assert html.count('class="node step') == 1
    assert html.count('class="node data') == 3  # code, input, output
    run_link = re.search(r'href="(/run\?[^"]+)"', html)
    assert run_link
    status, _, body = served.get(run_link.group(1).replace("&amp;", "&"))
    assert status == 200
    details = "".join(_Tags(body.decode()).text)
    for part in ("command", "python3 code/step.py", "exit code 0", "inputs", "outputs"):
        assert part in details
    output = re.search(r'href="(/lineage\?[^"]*node=data[^"]*o\.csv[^"]*)"', html)
    assert output
    status, _, body = served.get(output.group(1).replace("&amp;", "&"))
    assert status == 200 and b"upstream of" in body
    bad = served.get(f"/run?token={served.token}&id=zz")
    assert bad[0] in (400, 404)


def test_file_browser_previews_each_kind(served: Served) -> None:
    listing = served.page("/snapshot", "id=v2&path=data/raw")
    assert "table.csv" in listing and "pixel.png" in listing
    table = _Tags(served.page("/snapshot", "id=v2&path=data/raw/table.csv"))
    text = " ".join(table.text)
    assert "3 columns, 3 rows" in text and "score" in text
    notes = served.page("/snapshot", "id=v2&path=data/raw/notes.txt")
    assert "plain notes" in notes
    binary = served.page("/snapshot", "id=v2&path=data/raw/blob.bin")
    assert "Binary file" in binary and "00 01 62 69" in binary
    image = _Tags(served.page("/snapshot", "id=v2&path=data/raw/pixel.png"))
    [src] = [a["src"] for tag, a in image.tags if tag == "img"]
    status, headers, body = served.get(str(src))
    assert status == 200 and body == PIXEL and headers["content-type"] == "image/png"
    assert "sandbox" in headers["content-security-policy"]
    status, headers, body = served.get(
        f"/raw?token={served.token}&snapshot=v2&path=data/raw/blob.bin"
    )
    assert headers["content-type"] == "application/octet-stream"
    assert headers["content-disposition"] == "attachment; filename*=UTF-8''blob.bin"
    _, headers, _ = served.get(
        f"/raw?token={served.token}&snapshot=v2&path=data/raw/{_q(HOSTILE_NAME)}", method="HEAD"
    )
    disposition = headers["content-disposition"]  # a hostile name cannot add a header
    assert disposition.startswith("attachment; filename*=UTF-8''%3Cimg%20src%3Dx")
    assert "\r" not in disposition and "\n" not in disposition
    linked = served.page("/snapshot", "id=v2&path=data/raw/inside-link.csv")
    assert "symbolic link" in linked and "3 columns" in linked
    outside = " ".join(_Tags(served.page("/snapshot", "id=v2&path=data/raw/outside-link")).text)
    assert "/etc/passwd" in outside and "outside the snapshot" in outside


def test_the_snapshot_page_shows_metrics_and_resources_as_recorded(served: Served) -> None:
    text = " ".join(_Tags(served.page("/snapshot", "id=v2")).text)
    assert "accuracy" in text and "0.75" in text
    assert "5 files" in text  # the raw resource's recorded summary
    assert " UTC" in text


def test_the_diff_shows_metric_changes(served: Served) -> None:
    text = " ".join(_Tags(served.page("/diff", "a=v1&b=v2")).text)
    assert "results/metrics.json:accuracy" in text and "+0.25" in text


def test_a_run_is_found_by_a_prefix_of_its_id(served: Served) -> None:
    html = served.page("/lineage", "snapshot=v2")
    found = re.search(r"id=([0-9a-f]{64})", html)
    assert found
    prefix = found.group(1)[:8]
    assert "exit code 0" in served.page("/run", f"id={prefix}")
    assert served.get(f"/run?token={served.token}&id=0000zz")[0] == 400


def test_an_older_version_shows_its_own_bytes(served: Served) -> None:
    v1 = " ".join(_Tags(served.page("/snapshot", "id=v1&path=data/raw/table.csv")).text)
    assert "2 rows" in v1


def test_hostile_names_messages_and_cells_are_text(served: Served) -> None:
    listing = _Tags(served.page("/snapshot", "id=v2&path=data/raw"))
    listing.inert()
    assert HOSTILE_NAME in "".join(listing.text)
    cell = _Tags(served.page("/snapshot", f"id=v2&path=data/raw/{_q(HOSTILE_NAME)}"))
    cell.inert()
    assert HOSTILE_CELL in "".join(cell.text)
    shown = _Tags(served.page("/snapshot", "id=v2"))
    shown.inert()
    assert HOSTILE_MESSAGE in "".join(shown.text)


@pytest.mark.parametrize(
    "path",
    [
        "../../../../etc/passwd",
        "%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "data/../../../etc/passwd",
        "/etc/passwd",
        "data/raw/outside-link",
        "data/raw/up-link/passwd",
        "data/raw/nothing-here",
        "data%00/raw",
    ],
)
def test_no_route_reads_outside_the_snapshot(served: Served, path: str) -> None:
    for route, name in (("/snapshot", "path"), ("/raw", "path"), ("/rows", "path")):
        extra = "&a=v1&b=v2" if route == "/rows" else "&id=v2&snapshot=v2"
        status, _, body = served.get(f"{route}?token={served.token}{extra}&{name}={path}")
        # the snapshot page may show a link that leads out, without following it
        expected = (200, 400, 404) if route == "/snapshot" and "link" in path else (400, 404)
        assert status in expected, (route, path, status)
        assert b"root:" not in body
        page = _Tags(body.decode("utf-8", "replace"))
        page.inert()
    status, _, _ = served.get(f"/../../etc/passwd?token={served.token}")
    assert status == 404


def test_diff_lists_changes_and_row_diff_counts(served: Served) -> None:
    html = served.page("/diff", "a=v1&b=v2")
    text = " ".join(_Tags(html).text)
    assert "modified" in text and "table.csv" in text
    rows_link = re.search(r'href="(/rows\?[^"]*table\.csv[^"]*)"', html)
    assert rows_link
    by_rows = served.get(rows_link.group(1).replace("&amp;", "&"))[2].decode()
    assert re.search(r"<td>2</td><td>3</td><td>1</td><td>0</td><td>0</td><td>2</td>", by_rows)
    keyed = served.page("/rows", "a=v1&b=v2&path=data/raw/table.csv&key=id")
    assert 'value="id" checked' in keyed and "rows matched by the key id" in keyed
    missing = served.page("/rows", "a=v1&b=v2&path=data/raw/table.csv&key=x")
    assert 'class="error"' in missing and "no column" in missing  # said, picker kept
    assert 'name="key" value="id"' in missing
    empty = served.page("/diff")
    assert "Give two snapshots" in empty
    unknown = served.get(f"/diff?token={served.token}&a=v1&b=nope")
    assert unknown[0] in (400, 404)


def test_a_snapshot_taken_meanwhile_shows_on_the_next_load(tmp_path: Path) -> None:
    root = build_project(tmp_path / "proj")
    with serving(root) as server:
        assert "2 of 2" in server.page("/")
        ok(run(root, "snapshot", "v3", "-m", "later"))
        assert "3 of 3" in server.page("/")


def test_a_busy_or_bad_port_is_one_line_error(served: Served, project: Path) -> None:
    taken = run(project, "ui", "--port", str(served.port), "--no-browser")
    assert_error(taken, 1, max_lines=1, contains="cannot serve on 127.0.0.1")
    assert_error(run(project, "ui", "--port", "70000", "--no-browser"), 2, max_lines=1)


def test_outside_a_workspace_it_does_not_start(tmp_path: Path) -> None:
    assert_error(run(tmp_path, "ui", "--no-browser"), 2, contains="not in a workspace")


def test_an_empty_workspace_and_one_without_metrics_answer_every_page(tmp_path: Path) -> None:
    root = tmp_path / "empty"
    root.mkdir()
    ok(run(root, "init"))
    with serving(root) as server:
        for route in ROUTES:
            status, _, body = server.get(f"{route}?token={server.token}")
            assert status in (200, 400, 404), (route, status)
            _Tags(body.decode()).inert()
        (root / "data").mkdir()
        (root / "data/a.csv").write_text("id\n1\n")
        ok(run(root, "add", "local-files", "data", "--role", "source-data"))
        ok(run(root, "snapshot", "v1"))
        assert "No metrics recorded." in server.page("/results")
        assert "1 of 1" in server.page("/")
        assert "No recorded runs" in server.page("/lineage")


def test_page_numbers_are_checked_and_clamped(served: Served) -> None:
    for bad in ("%C2%B2", "-1", "1" * 40, "x"):
        status, _, body = served.get(f"/?token={served.token}&from={bad}")
        assert status == 400 and b"whole number" in body, bad
    past = " ".join(_Tags(served.page("/", "from=500")).text)
    assert "v1" in past and "v2" in past  # the last page, not an empty one
    listing = " ".join(_Tags(served.page("/snapshot", "id=v2&path=data/raw&from=900")).text)
    assert "table.csv" in listing


def test_every_other_method_is_refused_and_the_connection_closed(served: Served) -> None:
    for method in ("TRACE", "CONNECT", "FOO", "OPTIONS"):
        status, headers, _ = served.get(f"/?token={served.token}", method=method)
        assert status == 405 and headers["allow"] == "GET, HEAD", method
        assert headers.get("connection") == "close", method


def test_verbose_logs_leave_the_token_out(project: Path) -> None:
    with serving(project, "--verbose") as server:
        server.page("/")
        assert server.get("/?token=wrong")[0] == 403
    assert "GET /?token=" in server.stderr and server.token not in server.stderr


def test_the_browser_gets_the_token_through_a_private_file(project: Path, tmp_path: Path) -> None:
    seen = tmp_path / "seen.txt"
    recorder = tmp_path / "browser.py"
    recorder.write_text(
        "import sys, pathlib\n"
        "url = sys.argv[1]\n"
        "page = pathlib.Path(url.removeprefix('file://')).read_text()\n"
        f"pathlib.Path({str(seen)!r}).write_text(url + '\\n' + page)\n"
    )
    with serving(project, browser=True, env={"BROWSER": f"{sys.executable} {recorder} %s"}) as s:
        for _ in range(300):
            if seen.exists():
                break
            time.sleep(0.05)
        url, page = seen.read_text().split("\n", 1)
        assert url.startswith("file://") and s.token not in url  # not on a command line
        assert f"token={s.token}" in page and "http-equiv" in page
        opened = Path(url.removeprefix("file://"))
        assert opened.stat().st_mode & 0o077 == 0
    assert not opened.exists()  # removed when the server stops
