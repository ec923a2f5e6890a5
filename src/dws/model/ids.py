"""Object ids, snapshot ids and tag names."""

from __future__ import annotations

import re

from dws.errors import FormatError, UsageError

ID_LENGTH = 64
_ID_RE = re.compile(r"[0-9a-f]{64}")
_HEX_RE = re.compile(r"[0-9a-f]+")
_TAG_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
MIN_PREFIX = 4
RESERVED_TAGS = frozenset({"HEAD", "latest", "working"})


def is_object_id(value: object) -> bool:
    """True when ``value`` is a well-formed BLAKE3 object id (64 lower-case hex digits)."""
    return isinstance(value, str) and _ID_RE.fullmatch(value) is not None


def check_object_id(value: object, what: str = "object id") -> str:
    """Return ``value`` if it is a well-formed id, else raise FormatError."""
    if not is_object_id(value):
        raise FormatError(f"malformed {what}: {shown(value)}")
    assert isinstance(value, str)
    return value


def shown(value: object) -> str:
    """A short, safe rendering of a value read from metadata, for error messages: a string's
    first 80 characters, else only its type (a hostile value may be huge or deeply nested,
    and an integer of more than 4,300 digits cannot even be converted to text)."""
    if isinstance(value, str):
        return repr(value[:80])
    if value is None or isinstance(value, bool | float):
        return repr(value)
    if isinstance(value, int):
        return repr(value) if abs(value) < 10**20 else "a huge integer"
    return f"a JSON {type(value).__name__}"


def looks_like_id_prefix(text: str) -> bool:
    """True for strings that could abbreviate an id (hex, at least MIN_PREFIX digits)."""
    return len(text) >= MIN_PREFIX and len(text) <= ID_LENGTH and bool(_HEX_RE.fullmatch(text))


def check_tag_name(tag: str) -> str:
    """Validate a tag name for creation; raise UsageError with the rule otherwise."""
    if not _TAG_RE.fullmatch(tag) or tag.endswith(".lock") or ".." in tag:
        raise UsageError(
            f"invalid tag {tag!r}: use letters, digits, '.', '_' or '-', starting with a "
            "letter or digit (at most 100 characters)"
        )
    if tag in RESERVED_TAGS:
        raise UsageError(f"invalid tag {tag!r}: the name is reserved")
    if looks_like_id_prefix(tag.lower()):
        raise UsageError(f"invalid tag {tag!r}: it looks like a snapshot id; add a letter")
    return tag


def is_valid_tag_file_name(name: str) -> bool:
    """True when a file found under tags/ has a name dws could have written."""
    try:
        check_tag_name(name)
    except UsageError:
        return False
    return True


def shortest_unique_prefixes(ids: list[str], minimum: int = 8) -> dict[str, str]:
    """Map each id to its shortest prefix (at least ``minimum`` long) unique among ``ids``."""
    ordered = sorted(set(ids))
    result: dict[str, str] = {}
    for index, ident in enumerate(ordered):
        need = minimum
        for neighbour_index in (index - 1, index + 1):
            if 0 <= neighbour_index < len(ordered):
                other = ordered[neighbour_index]
                common = 0
                while common < len(ident) and ident[common] == other[common]:
                    common += 1
                need = max(need, common + 1)
        result[ident] = ident[:need]
    return result
