"""The current state of a bucket prefix as key records, seen against a recorded manifest.

A key whose current object holds a recorded version's bytes (equal ETag and size, the
recorded version still existing) counts as that recorded version, and so does a current
version that restore copied from a recorded one; otherwise it is its current version. This
keeps status clean after a restore (copies get new version ids) and after re-uploading the
same bytes.
"""

from __future__ import annotations

from dws.model.digest import hash_bytes
from dws.model.tree import TreeEntry
from dws.resources.s3.copies import CopyMemory
from dws.resources.s3.listing import Listing
from dws.resources.s3.manifest import KeyRecord, ManifestReader, encode_record


def current_records(
    listing: Listing,
    copies: CopyMemory,
    reader: ManifestReader | None = None,
    recorded: dict[str, TreeEntry] | None = None,
) -> dict[str, KeyRecord]:
    """path -> the record of each key now (see the module docstring)."""
    out: dict[str, KeyRecord] = {}
    recorded = recorded or {}
    for path, found in listing.current.items():
        source = copies.source_of(path, found.version)
        original = listing.version(path, source) if source is not None else None
        if original is not None:
            out[path] = KeyRecord.of(original)
            continue
        fresh = KeyRecord.of(found)
        entry = recorded.get(path)
        if (
            entry is not None
            and reader is not None
            and entry.size == found.size
            and hash_bytes(encode_record(fresh)) != entry.id
        ):
            earlier = reader.record(entry.id)
            if earlier.same_bytes(found) and listing.version(path, earlier.version):
                fresh = earlier
        out[path] = fresh
    return out
