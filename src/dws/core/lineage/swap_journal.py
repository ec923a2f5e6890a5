"""The swap journal: ``local/swaps.json``, what each `dws swap` replaced (docs/swap.md).

For every resource, a stack of entries, newest last. An entry names the state the
resource had before the swap (stored in full before anything changed: `dws swap NAME
--back` restores it) and the state the swap put there. It also remembers the head's
base for the resource and the head's snapshot, so `--back` can put them back too. The
file is machine-local (it describes this machine's files) and is replaced atomically
and durably; gc keeps every object an entry references.
"""

from __future__ import annotations

from collections.abc import Iterator

import msgspec

from dws.core.workspace import Workspace, utc_now
from dws.errors import FormatError
from dws.model.ids import check_object_id
from dws.model.records import ResourceSnapshot, check_format, decode_json, encode_record
from dws.store.fileio import write_atomic

JOURNAL_FILE = "swaps.json"
FORMAT = 1


class SwapEntry(msgspec.Struct, frozen=True, kw_only=True):
    """One swap: what was there before, what the swap put there, and from where."""

    at: str
    source: str  # the directory swapped in, or NAME@REF, as given
    before: ResourceSnapshot
    after: ResourceSnapshot
    base: str | None = None  # the head's base for the resource before the swap
    snapshot: str | None = None  # the head's snapshot before the swap
    restored_to: str | None = None  # the snapshot id a NAME@REF swap restored


class SwapJournal(msgspec.Struct, kw_only=True):
    """Every resource's stack of swaps, newest last."""

    format: int = FORMAT
    swaps: dict[str, list[SwapEntry]] = {}


def read_journal(ws: Workspace) -> SwapJournal:
    """The journal (empty when there is none)."""
    try:
        with open(ws.layout.local_file(JOURNAL_FILE), "rb") as handle:
            data = handle.read()
    except FileNotFoundError:
        return SwapJournal()
    journal: SwapJournal = decode_json(data, SwapJournal, f"local/{JOURNAL_FILE}")
    check_format(journal.format, f"local/{JOURNAL_FILE}", (FORMAT,))
    for entries in journal.swaps.values():
        for entry in entries:
            for ident in (entry.base, entry.snapshot, entry.restored_to):
                if ident is not None:
                    check_object_id(ident, f"snapshot id in local/{JOURNAL_FILE}")
    return journal


def _write(ws: Workspace, journal: SwapJournal) -> None:
    swaps = {name: entries for name, entries in journal.swaps.items() if entries}
    data = encode_record(SwapJournal(swaps=swaps))
    write_atomic(ws.layout.local_file(JOURNAL_FILE), data + b"\n", durable=True)


def push_swap(
    ws: Workspace,
    name: str,
    *,
    source: str,
    before: ResourceSnapshot,
    after: ResourceSnapshot,
    restored_to: str | None = None,
) -> SwapEntry:
    """Record a swap of resource ``name`` before it is carried out (callers hold the lock,
    and every object ``before`` and ``after`` reference is durable in the store)."""
    head = ws.head()
    entry = SwapEntry(
        at=utc_now(),
        source=source,
        before=before,
        after=after,
        base=head.bases.get(name),
        snapshot=head.snapshot,
        restored_to=restored_to,
    )
    journal = read_journal(ws)
    journal.swaps.setdefault(name, []).append(entry)
    _write(ws, journal)
    return entry


def last_swap(ws: Workspace, name: str) -> SwapEntry | None:
    """The newest swap of ``name`` still journaled, or None."""
    entries = read_journal(ws).swaps.get(name) or []
    return entries[-1] if entries else None


def swaps_left(ws: Workspace, name: str) -> int:
    """How many swaps of ``name`` `--back` can still undo."""
    return len(read_journal(ws).swaps.get(name) or [])


def pop_swap(ws: Workspace, name: str, entry: SwapEntry) -> None:
    """Drop ``entry``, the newest swap of ``name``, once `--back` has undone it."""
    journal = read_journal(ws)
    entries = journal.swaps.get(name) or []
    if not entries or entries[-1] != entry:
        raise FormatError(f"local/{JOURNAL_FILE} changed while `dws swap --back` ran")
    entries.pop()
    _write(ws, journal)


def journaled_states(ws: Workspace) -> Iterator[tuple[str, ResourceSnapshot]]:
    """(resource name, state) of every state the journal references (gc keeps them)."""
    for name, entries in read_journal(ws).swaps.items():
        for entry in entries:
            yield name, entry.before
            yield name, entry.after
