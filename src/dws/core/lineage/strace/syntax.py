"""Reading strace's log lines: one system call per line, its arguments and result, and the
C escapes strace writes strings with (pure functions, no I/O)."""

from __future__ import annotations

import re

from msgspec import Struct

_SIMPLE_ESCAPES = {
    "a": 7, "b": 8, "t": 9, "n": 10, "v": 11, "f": 12, "r": 13, "e": 27,
    "\\": 92, '"': 34, "'": 39, "?": 63,
}  # fmt: skip
_ESCAPE_RE = re.compile(r"\\(x[0-9a-fA-F]{1,2}|[0-7]{1,3}|.)", re.S)


def decode_c_string(text: str) -> bytes:
    """Bytes of a string as strace prints it, without the quotes: C escapes (``\\n``,
    ``\\"``, ``\\\\``, octal ``\\303``, hex ``\\xc3``) decoded; other characters are taken
    as the bytes they stand for (Latin-1)."""
    out = bytearray()
    pos = 0
    for match in _ESCAPE_RE.finditer(text):
        out += _raw_bytes(text[pos : match.start()])
        code = match.group(1)
        if code[0] == "x" and len(code) > 1:
            out.append(int(code[1:], 16))
        elif code[0] in "01234567":
            out.append(int(code, 8) & 0xFF)
        else:
            out.append(_SIMPLE_ESCAPES.get(code, ord(code) & 0xFF))
        pos = match.end()
    out += _raw_bytes(text[pos:])
    return bytes(out)


def _raw_bytes(text: str) -> bytes:
    """Unescaped text: Latin-1 when read from a log file, UTF-8 for text given as such."""
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogateescape")


LINE_RE = re.compile(r"(?:\[pid\s+)?(\d+)\]?\s+(?:\d\d:\d\d:\d\d(?:\.\d+)?\s+)?(.*)", re.S)
UNFINISHED_RE = re.compile(r"(.*?)\s*<unfinished \.\.\.>\s*$", re.S)
RESUMED_RE = re.compile(r"<\.\.\. (\w+) resumed>\s?(.*)", re.S)
CALL_NAME_RE = re.compile(r"(\w+)\(")
_TOKEN_RE = re.compile(
    r'"(?:[^"\\]|\\.)*"(?:\.\.\.)?'  # a string, maybe truncated
    r"|(?<=\w)<(?:[^>\\]|\\.)*>"  # an fd annotation (-y): 3</path>, AT_FDCWD</cwd>
    r"|[(\[{]|[)\]}]|,"
    r'|[^"(\[{)\]},<]+|<',
    re.S,
)
_RETURN_RE = re.compile(r"\s*=\s*(-?\d+|0x[0-9a-fA-F]+|\?)(?:<((?:[^>\\]|\\.)*)>)?")
_OPENERS = {"(", "[", "{"}
_CLOSERS = {")", "]", "}"}
_STRING_ARG_RE = re.compile(r'"((?:[^"\\]|\\.)*)"(\.\.\.)?', re.S)
FD_ARG_RE = re.compile(r"(AT_FDCWD|-?\d+)(?:<((?:[^>\\]|\\.)*)>)?", re.S)


class Call(Struct):
    """One completed system call: who made it, its raw arguments and its return value."""

    line: int
    pid: int
    name: str
    args: list[str]
    result: int | None  # None: "?" or unparsable
    result_fd_path: str | None  # the -y annotation of a returned fd, still escaped


def _split_args(text: str) -> tuple[list[str], str] | None:
    """Top-level arguments of ``name(args) rest`` and the rest; None if unbalanced."""
    args: list[str] = []
    current: list[str] = []
    depth = 0
    for match in _TOKEN_RE.finditer(text):
        token = match.group()
        if token in _OPENERS:
            depth += 1
            if depth == 1:
                continue
        elif token in _CLOSERS:
            depth -= 1
            if depth == 0:
                args.append("".join(current).strip())
                return [a for a in args if a or len(args) > 1], text[match.end() :]
        elif token == "," and depth == 1:
            args.append("".join(current).strip())
            current = []
            continue
        if depth >= 1:
            current.append(token)
    return None


def parse_call(line: int, pid: int, text: str) -> Call | None:
    name_match = CALL_NAME_RE.match(text)
    if name_match is None:
        return None
    split = _split_args(text[name_match.end() - 1 :])
    if split is None:
        return None
    args, rest = split
    ret = _RETURN_RE.match(rest)
    if ret is None:
        return None
    value = ret.group(1)
    result = None if value == "?" else int(value, 16 if value.startswith("0x") else 10)
    return Call(line, pid, name_match.group(1), args, result, ret.group(2))


def string_arg(args: list[str], index: int) -> bytes | None:
    if index >= len(args):
        return None
    match = _STRING_ARG_RE.fullmatch(args[index])
    if match is None or match.group(2):
        return None  # not a string, or truncated by -s
    return decode_c_string(match.group(1))
