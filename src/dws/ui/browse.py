"""The pages of `dws ui` about a snapshot's content: the snapshot page (its record, its
resources, a browser of its files with previews), the raw bytes of one file, the diff of
two snapshots and the row-level diff of one table.

Files are read only through the read-access API (``SnapshotFiles``), which takes paths as
the snapshot names them: ``..``, absolute paths and symbolic links out of the snapshot are
refused there, and nothing outside the store and the workspace's records is ever opened.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator
from html import escape
from typing import BinaryIO
from urllib.parse import quote

from dws.core.reading import ListedEntry, SnapshotFiles
from dws.errors import NotFoundError, UsageError
from dws.model.ids import shown
from dws.model.metrics import shown_number
from dws.model.records import ResourceSnapshot, SnapshotRecord
from dws.model.rowdiff import RowDiff
from dws.model.summaries import state_summary
from dws.model.tree import TreeEntry
from dws.ui.page import Links, last_page, page, short, size, table, when
from dws.ui.preview import IMAGES, preview
from dws.ui.server import Context, Response

LISTING_PAGE = 500  # entries per page of a directory listing
ROW_LIMIT = 50  # rows of each kind in a row-level diff
CHANGES_SHOWN = 1000  # changes listed per resource in a diff
RAW_CHUNK = 1 << 16
TABLES = (".csv", ".tsv", ".parquet", ".pq")


def snapshot(ctx: Context) -> str:
    """A snapshot: its record and resources, and the directory or file at ``path``."""
    ws, links, request = ctx.ws, ctx.links, ctx.request
    ref = request.one("id", "HEAD") or "HEAD"
    record, tags = ws.show(ref)
    path = request.one("path")
    with ws.snapshot_files(record.id) as files:
        entry = files.entry(path)
        if entry is None:
            raise NotFoundError(f"{shown(path)} is not in snapshot {record.id[:10]}")
        body = [_summary(ctx, record, tags)]
        if not path:
            body.append(_resources(ctx, record.id, record.resources))
            body.extend(_metrics_and_stale(record))
        body.append(_crumbs(links, record.id, path))
        if entry.kind == "dir":
            body.extend(_listing(ctx, files, record.id, path))
        else:
            body.extend(_file(links, files, record.id, path, entry))
        for name, why in sorted(files.left_out.items()):
            body.append(f'<p class="muted">not shown: {escape(name)}: {escape(why)}</p>')
    title = f"Snapshot {record.id[:10]}" + (f" ({', '.join(tags)})" if tags else "")
    return page(title, ws.name, links, body)


def _summary(ctx: Context, record: SnapshotRecord, tags: list[str]) -> str:
    links = ctx.links
    parent = record.parent
    is_head = record.id == ctx.ws.head()
    facts = [
        ("id", f"<code>{escape(record.id)}</code>" + (" <b>HEAD</b>" if is_head else "")),
        ("tags", escape(", ".join(tags)) or "-"),
        ("message", escape(record.message) or "-"),
        ("by", f"{escape(record.user)} on {escape(record.hostname)}, {when(record.created)}"),
        (
            "parent",
            f'<a href="{links.to("/snapshot", id=parent)}"><code>{short(parent)}</code></a> · '
            f'<a href="{links.to("/diff", a=parent, b=record.id)}">diff with it</a>'
            if parent
            else "-",
        ),
        ("lineage", f'<a href="{links.to("/lineage", snapshot=record.id)}">graph</a>'),
    ]
    rows = "".join(f"<tr><th>{name}</th><td>{value}</td></tr>" for name, value in facts)
    return f"<table>{rows}</table>"


def _metrics_and_stale(record: SnapshotRecord) -> list[str]:
    out = []
    values = [
        [escape(source), escape(key), escape(shown_number(value))]
        for source, found in record.metrics.items()
        for key, value in found.items()
    ]
    if values:
        out.append("<h2>Metrics</h2>" + table(["file", "metric", "value"], values))
    if record.stale:
        out.append(
            f'<h2 class="stale">Stale outputs ({len(record.stale)})</h2><p>An input or the code '
            "of the step that made them had changed when this snapshot was taken.</p>"
        )
        out.append(table(["path"], ([f"<code>{escape(p)}</code>"] for p in record.stale)))
    return out


def _resources(ctx: Context, snapshot_id: str, resources: dict[str, ResourceSnapshot]) -> str:
    links = ctx.links
    rows = [
        [
            f'<a href="{links.to("/snapshot", id=snapshot_id, path="@" + name)}">'
            f"{escape(name)}</a>",
            escape(recorded.type),
            escape(recorded.role.value),
            escape(state_summary(recorded.state)),
        ]
        for name, recorded in resources.items()
    ]
    return "<h2>Resources</h2>" + table(["resource", "type", "role", "recorded"], rows)


def _crumbs(links: Links, snapshot_id: str, path: str) -> str:
    parts = [p for p in path.split("/") if p]
    out = [f'<a href="{links.to("/snapshot", id=snapshot_id)}">(top)</a>']
    for index, part in enumerate(parts):
        inner = "/".join(parts[: index + 1])
        out.append(
            f'<a href="{links.to("/snapshot", id=snapshot_id, path=inner)}">{escape(part)}</a>'
        )
    return "<h2>Files</h2><p>" + " / ".join(out) + "</p>"


def _listing(ctx: Context, files: SnapshotFiles, snapshot_id: str, path: str) -> list[str]:
    links = ctx.links
    entries = files.listdir(path)
    first = min(ctx.request.number("from"), last_page(len(entries), LISTING_PAGE))
    rows = [_listed(links, snapshot_id, item) for item in entries[first : first + LISTING_PAGE]]
    out = [table(["name", "size", "resource"], rows, attrs=' class="listing"')]
    more = []
    for label, at in (("previous", first - LISTING_PAGE), ("next", first + LISTING_PAGE)):
        if (at < first and first > 0) or (first < at < len(entries)):
            where = links.to("/snapshot", id=snapshot_id, path=path or None, **{"from": max(0, at)})
            more.append(f'<a href="{where}">{label}</a>')
    shown_range = f"{first + 1}–{min(first + LISTING_PAGE, len(entries))} of {len(entries)}"
    out.append(
        f'<p class="muted">{shown_range if entries else "empty"} ' + " · ".join(more) + "</p>"
    )
    return out


def _listed(links: Links, snapshot_id: str, item: ListedEntry) -> list[str]:
    entry = item.entry
    name = entry.name + ("/" if entry.kind == "dir" else "")
    if entry.kind == "symlink":
        name += f" → {entry.target or ''}"
    return [
        f'<a href="{links.to("/snapshot", id=snapshot_id, path=item.path)}">{escape(name)}</a>',
        escape(size(entry.size)) if entry.kind != "symlink" else "",
        escape(item.resource or ""),
    ]


def _file(
    links: Links, files: SnapshotFiles, snapshot_id: str, path: str, entry: TreeEntry
) -> list[str]:
    out = []
    target = path
    if entry.kind == "symlink":
        out.append(f"<p>A symbolic link to <code>{escape(entry.target or '')}</code>.</p>")
        try:
            target = files.resolve_links(path)
        except UsageError as e:  # out of the snapshot, or a loop: shown, never followed
            return [*out, f'<p class="muted">Not followed: {escape(str(e))}</p>']
        found = files.entry(target)
        if found is None:
            return [*out, "<p>Its target is not in the snapshot.</p>"]
        if found.kind == "dir":
            where = links.to("/snapshot", id=snapshot_id, path=target)
            return [
                *out,
                f'<p>It leads to the directory <a href="{where}">{escape(target)}</a>.</p>',
            ]
        entry = found
    raw = links.to("/raw", snapshot=snapshot_id, path=target)
    out.append(
        f'<p class="muted">{escape(size(entry.size))} · content <code>{escape(entry.id[:16])}'
        f'</code>{" · executable" if entry.exec else ""} · <a href="{raw}">raw bytes</a></p>'
    )
    out.extend(preview(files, target, entry.size, raw))
    return out


def raw(ctx: Context) -> Response:
    """The bytes of one file of a snapshot, streamed: images with their type (for the
    previews), anything else as a download. Nothing served here can run: the response
    forbids scripts and sandboxes the document."""
    ws, request = ctx.ws, ctx.request
    snapshot_id = ws.resolve(request.one("snapshot", "HEAD") or "HEAD")
    files = ws.snapshot_files(snapshot_id)
    try:
        path = files.resolve_links(request.one("path"))
        entry = files.entry(path)
        if entry is None or entry.kind != "file":
            raise NotFoundError(f"{shown(path)} is not a file of snapshot {snapshot_id[:10]}")
        handle = files.open(path)
    except BaseException:
        files.close()
        raise
    suffix = posixpath.splitext(path)[1].lower()
    kind = IMAGES.get(suffix)
    name = quote(posixpath.basename(path), safe="")
    disposition = "inline" if kind else "attachment"
    headers = {"Content-Disposition": f"{disposition}; filename*=UTF-8''{name}"}
    stream = _Stream(handle, files)
    return Response(stream, content_type=kind or "application/octet-stream", headers=headers)


class _Stream:
    """A file's bytes in blocks; ``close`` (called by the server, whether or not the
    bytes were sent) closes the file and the snapshot."""

    def __init__(self, handle: BinaryIO, files: SnapshotFiles) -> None:
        self.handle, self.files = handle, files

    def __iter__(self) -> Iterator[bytes]:
        while block := self.handle.read(RAW_CHUNK):
            yield block

    def close(self) -> None:
        try:
            self.handle.close()
        finally:
            self.files.close()


def diff(ctx: Context) -> str:
    """Files added, removed and modified in each resource between snapshots ``a`` and
    ``b``; a modified table links to its row-level diff."""
    ws, links, request = ctx.ws, ctx.links, ctx.request
    ref_a, ref_b = request.one("a").strip(), request.one("b").strip()
    form = (
        f'<form method="get" action="/diff">{links.hidden_token()}'
        f'<input name="a" value="{escape(ref_a)}" placeholder="from (tag or id)"> → '
        f'<input name="b" value="{escape(ref_b)}" placeholder="to (tag or id)"> '
        '<button type="submit">Compare</button></form>'
    )
    if not ref_a or not ref_b:
        hint = "<p>Give two snapshots (a tag, an id prefix or HEAD).</p>"
        return page("Diff", ws.name, links, [form, hint])
    (old, old_tags), (new, new_tags) = ws.show(ref_a), ws.show(ref_b)
    a, b = old.id, new.id
    body = [
        form,
        f"<p>From {_named(links, a, old_tags)} to {_named(links, b, new_tags)}.</p>",
        *_metric_changes(old, new),
    ]
    for item in ws.diff(a, b):
        visible = item.visible
        body.append(
            f"<h2>{escape(item.name)} <span class=muted>({escape(item.type)}, "
            f"{escape(item.role.value)})</span></h2>"
        )
        for note in [item.note, *item.warnings, *item.notes]:
            if note:
                body.append(f'<p class="muted">{escape(note)}</p>')
        if not visible:
            if not item.note:
                body.append("<p>No changes.</p>")
            continue
        rows = []
        for change in visible[:CHANGES_SHOWN]:
            inner = f"@{item.name}/{change.path}"
            side = b if change.new is not None else a
            old, new = change.old, change.new
            link = (
                f'<a href="{links.to("/snapshot", id=side, path=inner)}">{escape(change.path)}</a>'
            )
            extra = ""
            if (
                change.status == "modified"
                and old is not None
                and new is not None
                and old.kind == new.kind == "file"
                and change.path.lower().endswith(TABLES)
            ):
                extra = f'<a href="{links.to("/rows", a=a, b=b, path=inner)}">rows</a>'
            rows.append(
                [
                    f'<span class="{_status_class(change.status)}">{escape(change.status)}</span>',
                    link,
                    escape(size(old.size)) if old is not None and old.kind == "file" else "",
                    escape(size(new.size)) if new is not None and new.kind == "file" else "",
                    extra,
                ]
            )
        body.append(table(["change", "path", "before", "after", ""], rows))
        if len(visible) > CHANGES_SHOWN:
            body.append(f'<p class="muted">the first {CHANGES_SHOWN} of {len(visible)}</p>')
    return page("Diff", ws.name, links, body)


def _named(links: Links, snapshot_id: str, tags: list[str]) -> str:
    """A snapshot as a link: its short id and its tags."""
    shown_tags = f" ({escape(', '.join(tags))})" if tags else ""
    where = links.to("/snapshot", id=snapshot_id)
    return f'<a href="{where}"><code>{short(snapshot_id)}</code></a>{shown_tags}'


def _flat_metrics(record: SnapshotRecord) -> dict[str, float]:
    return {
        f"{source}:{key}": value
        for source, found in record.metrics.items()
        for key, value in found.items()
    }


def _metric_changes(old: SnapshotRecord, new: SnapshotRecord) -> list[str]:
    """The metrics that differ between two snapshots: before, after and the change."""
    before, after = _flat_metrics(old), _flat_metrics(new)
    rows = []
    for name in dict.fromkeys([*before, *after]):
        was, now = before.get(name), after.get(name)
        if was == now:
            continue
        change = f"{now - was:+.4g}" if was is not None and now is not None else ""
        rows.append(
            [
                escape(name),
                "" if was is None else escape(shown_number(was)),
                "" if now is None else escape(shown_number(now)),
                escape(change),
            ]
        )
    if not rows:
        return []
    return ["<h2>Metrics</h2>", table(["metric", "before", "after", "change"], rows)]


def _status_class(status: str) -> str:
    return {"added": "added", "removed": "removed", "deleted": "removed"}.get(status, "changed")


def rows(ctx: Context) -> str:
    """The row-level diff of the table at ``path`` between snapshots ``a`` and ``b``,
    matched by the ``key`` columns the user picks (or by whole rows). A key that does not
    work (missing, not unique) is said on the page, above the picker."""
    from dws.core.tables import open_table

    ws, links, request = ctx.ws, ctx.links, ctx.request
    (old, old_tags), (new, new_tags) = ws.show(request.one("a")), ws.show(request.one("b"))
    a, b = old.id, new.id
    path = request.one("path")
    keys = request.many("key")
    with ws.snapshot_files(b) as files:
        columns = open_table(files, path).columns
    boxes = "".join(
        f'<label><input type="checkbox" name="key" value="{escape(c)}"'
        f"{' checked' if c in keys else ''}> {escape(c)}</label> "
        for c in columns
    )
    form = (
        f'<form method="get" action="/rows">{links.hidden_token()}'
        f'<input type="hidden" name="a" value="{escape(a)}">'
        f'<input type="hidden" name="b" value="{escape(b)}">'
        f'<input type="hidden" name="path" value="{escape(path)}">'
        f"Match rows by the key {boxes}<button type=submit>Compare</button> "
        '<span class="muted">(no key: rows are matched whole)</span></form>'
    )
    matched = f"by the key {escape(', '.join(keys))}" if keys else "whole (no key)"
    body = [
        f"<p><code>{escape(path)}</code> from {_named(links, a, old_tags)} to "
        f"{_named(links, b, new_tags)}; rows matched {matched}.</p>",
        form,
    ]
    try:
        result = ws.diff_rows(a, b, path, key=keys or None, limit=ROW_LIMIT)
    except UsageError as e:
        body.append(f'<p class="error">{escape(str(e))}</p>')
    else:
        body.extend(_row_diff(result))
    return page("Row diff", ws.name, links, body)


def _row_diff(result: RowDiff) -> list[str]:
    counts = [
        ("rows before", result.old_rows),
        ("rows after", result.new_rows),
        ("added", result.added),
        ("removed", result.removed),
        ("changed", result.changed),
        ("unchanged", result.unchanged),
    ]
    out = [
        table([name for name, _ in counts], [[str(n) for _, n in counts]], attrs=' class="counts"')
    ]
    if result.columns_added or result.columns_removed:
        out.append(
            f"<p>Columns added: {escape(', '.join(result.columns_added)) or '-'}; "
            f"removed: {escape(', '.join(result.columns_removed)) or '-'}.</p>"
        )
    for title, items, css in (
        ("Added rows", result.added_rows, "added"),
        ("Removed rows", result.removed_rows, "removed"),
    ):
        if items:
            columns = list(dict.fromkeys(c for item in items for c in item))
            out.append(f"<h2>{title}</h2>")
            out.append(
                table(
                    columns,
                    ([_value(item.get(c)) for c in columns] for item in items),
                    attrs=f' class="{css}"',
                )
            )
    if result.changed_rows:
        out.append("<h2>Changed rows</h2>")
        rows = [
            [
                escape(", ".join(_plain(v) for v in changed.key)),
                escape(column),
                f'<span class="removed">{_value(changed.old.get(column))}</span>',
                f'<span class="added">{_value(changed.new.get(column))}</span>',
            ]
            for changed in result.changed_rows
            for column in changed.columns
        ]
        heading = ", ".join(result.key) or "key"
        out.append(table([heading, "column", "before", "after"], rows, attrs=' class="changed"'))
    return out


def _plain(value: object) -> str:
    if isinstance(value, float):
        return shown_number(value)
    return "" if value is None else str(value)


def _value(value: object) -> str:
    text = _plain(value)
    return escape(text if len(text) <= 200 else text[:200] + "…")
