"""docs/cli.md against the CLI itself: `dws --help` and the `--help` of every command and
sub-command, run as a user would.

docs/cli.md must have one section per command and sub-command (a heading that starts
with the command in backticks, `` `dws lineage show` ``), none for a command that does not
exist, and each section must name every option (by its long name; by its short name when
it has no long one) and every argument its `--help` lists. Adding a command, an option or
an argument without documenting it fails here.
"""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from .docs_support import DOCS, headings, run_dws

CLI_MD = DOCS / "cli.md"

# `` `dws` `` or `` `dws lineage show` `` at the start of a heading
_COMMAND_HEADING = re.compile(r"^`dws((?: [a-z][a-z0-9-]*)*)`")
# a section of --help: "Options:", "Commands:" at the start of a line
_HELP_SECTION = re.compile(r"^([A-Z][A-Za-z ]*):\s*$")
# an entry of such a section: exactly two spaces of indent (continuations have more)
_HELP_ENTRY = re.compile(r"^  (\S.*)$")
_OPTION_NAME = re.compile(r"(?<![\w-])(--?[A-Za-z0-9][\w-]*)")
# options every command has; they need no mention in each section
_EVERYWHERE = {"--help"}
# words of a group's usage line that stand for its sub-commands
_GROUP_WORDS = {"COMMAND", "ARGS"}


@dataclass
class HelpPage:
    """What one command's --help says."""

    path: tuple[str, ...]
    usage: str
    options: list[list[str]]  # the names of each option, as listed
    commands: list[str]

    @property
    def title(self) -> str:
        return " ".join(("dws", *self.path))

    def documented_names(self) -> list[str]:
        """For each option, the names a section must mention: every long name, or the
        short ones when there is no long name (``-C DIR``)."""
        wanted: list[str] = []
        for names in self.options:
            longs = [n for n in names if n.startswith("--")]
            for name in longs or names:
                if name not in _EVERYWHERE and name not in wanted:
                    wanted.append(name)
        return wanted

    def arguments(self) -> list[str]:
        """The argument names of the usage line (``SNAPSHOT``, ``NAME@SNAPSHOT``)."""
        rest = self.usage.split(self.title, 1)[1]
        words = re.findall(r"[A-Z][A-Z0-9_@]*", rest.replace("[OPTIONS]", ""))
        return [w for w in dict.fromkeys(words) if not (self.commands and w in _GROUP_WORDS)]


def _parse_help(path: tuple[str, ...], text: str) -> HelpPage:
    usage = next(line for line in text.splitlines() if line.startswith("Usage: "))
    sections: dict[str, list[str]] = {}
    current: str | None = None
    for line in text.splitlines():
        header = _HELP_SECTION.match(line)
        if header:
            current = header.group(1)
            sections[current] = []
            continue
        if not line.strip() or not line.startswith(" "):
            current = None  # a blank line or unindented text ends a section
        entry = _HELP_ENTRY.match(line)
        if current is not None and entry:
            sections[current].append(entry.group(1))
    options = []
    for entry in sections.get("Options", []):
        if entry.startswith("-"):
            term = re.split(r"\s{2,}", entry, maxsplit=1)[0]
            options.append(_OPTION_NAME.findall(term))
    commands = [re.split(r"\s+", entry, maxsplit=1)[0] for entry in sections.get("Commands", [])]
    assert all(re.fullmatch(r"[a-z][a-z0-9-]*", c) for c in commands), commands
    return HelpPage(path, usage, options, commands)


def _help(path: tuple[str, ...], cwd: Path) -> HelpPage:
    result = run_dws(*path, "--help", cwd=cwd)
    assert result.code == 0, f"dws {' '.join(path)} --help failed: {result.err}"
    return _parse_help(path, result.out)


@pytest.fixture(scope="module")
def cli_pages(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, ...], HelpPage]:
    """Every command and sub-command of the installed `dws`, from its --help pages."""
    cwd = tmp_path_factory.mktemp("help")
    pages: dict[tuple[str, ...], HelpPage] = {}
    level: list[tuple[str, ...]] = [()]
    with ThreadPoolExecutor(max_workers=8) as pool:
        while level:  # one level of sub-commands at a time, their --help in parallel
            found = list(pool.map(lambda path: _help(path, cwd), level))
            pages.update((page.path, page) for page in found)
            level = [(*page.path, name) for page in found for name in page.commands]
    return pages


@dataclass
class Section:
    """A command's section of docs/cli.md."""

    path: tuple[str, ...]
    heading: str
    body: str


def _sections(text: str) -> list[Section]:
    """The command sections: from a command heading to the next heading of its level or
    above, or to the next command heading, whichever comes first."""
    lines = text.splitlines()
    found = headings(text)
    out = []
    for index, heading in enumerate(found):
        match = _COMMAND_HEADING.match(heading.text)
        if not match:
            continue
        end = len(lines)
        for later in found[index + 1 :]:
            if later.level <= heading.level or _COMMAND_HEADING.match(later.text):
                end = later.line
                break
        path = tuple(match.group(1).split())
        body = "\n".join(lines[heading.line + 1 : end])
        out.append(Section(path, heading.text, body))
    return out


def _mentions(body: str, word: str) -> bool:
    return re.search(rf"(?<![\w-]){re.escape(word)}(?![\w-])", body) is not None


def _title(path: tuple[str, ...]) -> str:
    return " ".join(("dws", *path))


@pytest.fixture(scope="module")
def sections() -> dict[tuple[str, ...], Section]:
    found = _sections(CLI_MD.read_text(encoding="utf-8"))
    return {section.path: section for section in found}


def test_the_help_pages_were_read(cli_pages: dict[tuple[str, ...], HelpPage]) -> None:
    # guards the parser: a change of click's layout must not make every check vacuous
    assert {("snapshot",), ("restore",), ("lineage", "show"), ("remote", "add")} <= set(cli_pages)
    assert ["-C"] in cli_pages[()].options
    assert ["-n", "--dry-run"] in cli_pages[("restore",)].options
    assert "--link" in cli_pages[("restore",)].documented_names()
    assert cli_pages[("restore",)].arguments() == ["SNAPSHOT"]
    assert cli_pages[("lineage",)].arguments() == []


def test_every_command_has_a_section(
    cli_pages: dict[tuple[str, ...], HelpPage], sections: dict[tuple[str, ...], Section]
) -> None:
    missing = [_title(path) for path in cli_pages if path not in sections]

    assert not missing, f"docs/cli.md has no section for: {', '.join(missing)}"


def test_no_section_for_a_command_that_does_not_exist(
    cli_pages: dict[tuple[str, ...], HelpPage],
) -> None:
    found = _sections(CLI_MD.read_text(encoding="utf-8"))
    unknown = [section.heading for section in found if section.path not in cli_pages]

    assert not unknown, f"docs/cli.md documents commands dws does not have: {unknown}"


def test_no_command_has_two_sections() -> None:
    found = [s.path for s in _sections(CLI_MD.read_text(encoding="utf-8"))]
    twice = sorted({_title(path) for path in found if found.count(path) > 1})

    assert not twice, f"docs/cli.md has more than one section for: {', '.join(twice)}"


def test_every_option_is_in_its_commands_section(
    cli_pages: dict[tuple[str, ...], HelpPage], sections: dict[tuple[str, ...], Section]
) -> None:
    undocumented = []
    for path, page in cli_pages.items():
        section = sections.get(path)
        if section is None:
            continue  # reported by test_every_command_has_a_section
        for name in page.documented_names():
            if not _mentions(section.body, name):
                undocumented.append(f"{_title(path)} {name}")

    assert not undocumented, "options missing from their section of docs/cli.md: " + ", ".join(
        undocumented
    )


def test_every_argument_is_in_its_commands_section(
    cli_pages: dict[tuple[str, ...], HelpPage], sections: dict[tuple[str, ...], Section]
) -> None:
    undocumented = []
    for path, page in cli_pages.items():
        section = sections.get(path)
        if section is None:
            continue
        for word in page.arguments():
            if not _mentions(section.body, word):
                undocumented.append(f"{_title(path)} {word}")

    assert not undocumented, "arguments missing from their section of docs/cli.md: " + ", ".join(
        undocumented
    )
