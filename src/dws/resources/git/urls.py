"""Telling repository URLs from local paths, and keeping credentials out of records."""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

_SCHEME_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")
_SCP_RE = re.compile(r"[^/@:\s]+@[^/@:\s]+:")  # user@host:path, as ssh and git accept it
_SECRET_SCHEMES = frozenset({"http", "https", "ftp", "ftps"})


def looks_like_url(location: str) -> bool:
    """True for ``scheme://...`` (file:// included) and ``user@host:path``."""
    return bool(_SCHEME_RE.match(location) or _SCP_RE.match(location))


def strip_credentials(url: str) -> str:
    """The URL without a password, and for http(s)/ftp(s) without any user part (tokens
    often travel as the user name there); ``user@host:path`` keeps its user name."""
    if not _SCHEME_RE.match(url):
        return url
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    userinfo, host = parts.netloc.rsplit("@", 1)
    if parts.scheme.lower() in _SECRET_SCHEMES:
        netloc = host
    else:
        netloc = f"{userinfo.split(':', 1)[0]}@{host}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def name_from_url(url: str) -> str:
    """The last path component without ``.git``: ``https://h/org/lib.git`` -> ``lib``."""
    tail = re.split(r"[/:]", url.rstrip("/"))[-1]
    if tail.endswith(".git") and len(tail) > 4:
        tail = tail[:-4]
    return tail or "repo"
