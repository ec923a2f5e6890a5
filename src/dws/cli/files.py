"""Files the CLI writes for the user (a report, a chart, a picture): complete or not at all."""

from __future__ import annotations

import os
import secrets

from dws.errors import UsageError


def write_output_file(target: str, text: str | bytes) -> int:
    """Write ``text`` (bytes, or a string as UTF-8) to ``target`` through a temporary name
    in the same directory, renamed over it at the end, with the permissions a new file gets
    here (the umask); return the bytes written."""
    data = text.encode("utf-8") if isinstance(text, str) else text
    directory = os.path.dirname(os.path.abspath(target))
    if not os.path.isdir(directory):
        raise UsageError(f"cannot write {target}: there is no directory {directory}")
    if os.path.isdir(target):
        raise UsageError(f"cannot write {target}: it is a directory")
    tmp = os.path.join(directory, f".dws-tmp.{secrets.token_hex(8)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # the umask applies
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return len(data)
