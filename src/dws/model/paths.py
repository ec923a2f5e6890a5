"""Validation of names and relative paths read from records."""

from __future__ import annotations

import keyword
import os
import re

from dws.errors import FormatError, UsageError
from dws.model.ids import shown

META_DIR_NAME = ".dataworkspace"
_RESOURCE_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_-]{0,63}")


def check_entry_name(name: object) -> str:
    """A single path component from a tree or record: refuse anything that could escape."""
    if not isinstance(name, str) or not name or name in (".", ".."):
        raise FormatError(f"invalid file name in metadata: {shown(name)}")
    if "/" in name or "\x00" in name:
        raise FormatError(f"invalid file name in metadata: {name[:80]!r}")
    if name == META_DIR_NAME:
        raise FormatError(f"refusing metadata that names {META_DIR_NAME!r} as a file")
    return name


def check_relative_path(path: object) -> str:
    """A '/'-separated relative path from a record: no '..', no absolute path, no NUL."""
    if not isinstance(path, str) or not path:
        raise FormatError(f"invalid relative path in metadata: {shown(path)}")
    if path.startswith("/"):
        raise FormatError(f"absolute path in metadata: {path[:80]!r}")
    for part in path.split("/"):
        check_entry_name(part)
    return path


def check_resource_name(name: str) -> str:
    """Resource names are stable handles that code uses, and become file names and JSON
    keys: letters, digits, '_' and '-', starting with a letter or '_'."""
    if not _RESOURCE_NAME_RE.fullmatch(name) or keyword.iskeyword(name):
        raise UsageError(
            f"invalid resource name {name!r}: use letters, digits, '_' or '-', starting "
            "with a letter or '_' (at most 64 characters, not a Python keyword)"
        )
    return name


def default_resource_name(path_text: str) -> str:
    """Derive an identifier from a path's last component ('data/my-raw' -> 'my_raw')."""
    base = path_text.rstrip("/").split("/")[-1] or "data"
    name = re.sub(r"[^A-Za-z0-9_]", "_", base)
    if name[0].isdigit():
        name = "r_" + name
    return name[:64]


_FILE_LIKE_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def is_file_like_name(name: object, limit: int) -> bool:
    """True for names that become file names: letters, digits, '.', '_', '-', starting
    with a letter or digit, no '..', at most ``limit`` characters."""
    return (
        isinstance(name, str)
        and len(name) <= limit
        and _FILE_LIKE_NAME_RE.fullmatch(name) is not None
        and ".." not in name
    )


def check_file_like_name(name: str, what: str, limit: int) -> str:
    """Validate a name that becomes a file name; UsageError with the rule otherwise."""
    if not is_file_like_name(name, limit):
        raise UsageError(
            f"invalid {what} {name!r}: use letters, digits, '.', '_' or '-', starting "
            f"with a letter or digit (at most {limit} characters)"
        )
    return name


def is_within(path: str, directory: str) -> bool:
    """True when the OS path ``path`` is ``directory`` or lies below it (textually: resolve
    symlinks first where that matters)."""
    return path == directory or path.startswith(directory.rstrip(os.sep) + os.sep)
