"""Check a page's internal links and anchors, naming the line of each broken one.

``mkdocs build --strict`` checks them too, but names no line; this check runs
with the pages, so a broken link fails the test run where it is written.

A reference page (``PROVEN_TABLES``) is made of tables whose every row ends with
a link to the section, on that page or another, whose python block proves the
row: a row whose link lands anywhere else fails at its line.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

from harness.example_files import site_files
from harness.pages import fences, python_blocks

_LINK = re.compile(r"(?<!!)\[[^\]]*\]\((?P<target>[^)\s]+)(?:\s+\"[^\"]*\")?\)")
_HEADING = re.compile(
    r"^#{1,6}[ \t]+(?P<title>.+?)[ \t]*(?:\{[^}]*#(?P<id>[\w-]+)[^}]*\})?[ \t]*#*$"
)
_EXPLICIT_ID = re.compile(r"""(?:\{[^}]*#(?P<attr>[\w-]+)[^}]*\}|\bid=["'](?P<html>[\w-]+)["'])""")


def slugify(title: str) -> str:
    """The anchor Python-Markdown's toc extension gives a heading (its default)."""
    title = re.sub(r"<[^>]+>", "", title)
    title = title.replace("`", "").replace("*", "")
    value = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    value = re.sub(r"[^\w\s-]", "", value).strip().lower()
    return re.sub(r"[-\s]+", "-", value)


def anchors(text: str) -> set[str]:
    return {anchor for _, anchor, _ in _anchors_by_line(text)}


def _anchors_by_line(text: str) -> list[tuple[int, str, bool]]:
    """Every anchor of a page, in order: its line, its id, and whether a heading made it."""
    found: list[tuple[int, str, bool]] = []
    seen: set[str] = set()
    for number, line in _prose_lines(text):
        heading = _HEADING.match(line)
        if heading:
            slug = heading["id"] or slugify(heading["title"])
            unique, count = slug, 0
            while unique in seen:
                count += 1
                unique = f"{slug}_{count}"
            seen.add(unique)
            found.append((number, unique, True))
        for match in _EXPLICIT_ID.finditer(line):
            explicit = match["attr"] or match["html"]
            seen.add(explicit)
            found.append((number, explicit, False))
    return found


def _sections(text: str) -> dict[str, tuple[int, int]]:
    """Each heading's anchor, with the lines its section spans: up to the next heading."""
    headings = [(number, anchor) for number, anchor, heading in _anchors_by_line(text) if heading]
    ends = [number for number, _ in headings[1:]] + [text.count("\n") + 2]
    spans: dict[str, tuple[int, int]] = {}
    for (number, anchor), end in zip(headings, ends, strict=True):
        spans.setdefault(anchor, (number, end))
    return spans


def broken_links(page: Path, docs: Path) -> list[str]:
    """One message per broken internal link of ``page``: ``page, line N: why``."""
    text = page.read_text()
    problems = []
    for number, line in _prose_lines(text):
        for match in _LINK.finditer(re.sub(r"`[^`]*`", "", line)):
            target = match["target"]
            if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("//"):
                continue  # another site, or mailto:
            path_part, _, anchor = target.partition("#")
            where = f"{page.relative_to(docs.parent)}, line {number}"
            destination = (page.parent / path_part).resolve() if path_part else page
            if path_part and not destination.exists() and not _served(destination, docs):
                problems.append(f"{where}: the link to {target} points at no file")
                continue
            if anchor and destination.suffix == ".md":
                if anchor not in anchors(destination.read_text()):
                    problems.append(
                        f"{where}: the link to {target} names an anchor "
                        f"#{anchor} that {destination.name} does not have"
                    )
    return problems


def _served(destination: Path, docs: Path) -> bool:
    """Whether the site serves ``destination`` from elsewhere: an example's file."""
    served = site_files(docs.parent)
    try:
        return destination.relative_to(docs.resolve()).as_posix() in served
    except ValueError:
        return False


#: Reference pages: every row of their tables ends with a link to its proof.
PROVEN_TABLES = frozenset({"backend-differences.md"})

_DELIMITER_ROW = re.compile(r"^\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?$")


def unproven_rows(page: Path, docs: Path) -> list[str]:
    """One message per table row of a reference page that links to no block proving it.

    The row's last cell must hold one link to a heading's anchor (``page.md#anchor``,
    or ``#anchor`` on the same page) whose section, up to the next heading, holds a
    python block that runs.
    """
    if page.name not in PROVEN_TABLES:
        return []
    text = page.read_text()
    name = page.relative_to(docs.parent)
    rows = _table_rows(text)
    if not rows:
        return [f"{name}, line 1: a reference page needs its differences in tables"]
    problems = []
    for number, cells in rows:
        where = f"{name}, line {number}: the row {cells[0]!r}"
        links = list(_LINK.finditer(cells[-1]))
        if len(links) != 1:
            problems.append(f"{where} must end with one link, to the section whose block proves it")
            continue
        target = links[0]["target"]
        path_part, _, anchor = target.partition("#")
        destination = (page.parent / path_part).resolve() if path_part else page
        if not anchor or destination.suffix != ".md" or not destination.exists():
            problems.append(
                f"{where} links to {target}; link to the section whose block proves it, "
                "as page.md#anchor or #anchor"
            )
            continue
        destination_text = destination.read_text()
        span = _sections(destination_text).get(anchor)
        if span is None:
            problems.append(f"{where} links to {target}, which is no heading's section")
            continue
        first, end = span
        proving = [
            block
            for block in python_blocks(destination_text)
            if first < block.line < end and block.skip is None and not block.fence.hidden
        ]
        if not proving:
            problems.append(
                f"{where} links to {target}, whose section has no python block that runs "
                "to prove it"
            )
    return problems


def _table_rows(text: str) -> list[tuple[int, list[str]]]:
    """The body rows of the page's tables (``|`` lines under a delimiter row): line, cells."""
    runs: list[list[tuple[int, str]]] = []
    for number, line in _prose_lines(text):
        row = line.strip()
        if not row.startswith("|"):
            continue
        if runs and runs[-1][-1][0] == number - 1:
            runs[-1].append((number, row))
        else:
            runs.append([(number, row)])
    return [
        (number, _cells(row))
        for run in runs
        if len(run) > 1 and _DELIMITER_ROW.match(run[1][1])
        for number, row in run[2:]
    ]


def _cells(row: str) -> list[str]:
    """The cells of a table row; a ``|`` in a code span or escaped as ``\\|`` splits none."""
    cells, current, in_code, escaped = [], "", False, False
    for character in row.strip().strip("|"):
        if character == "|" and not in_code and not escaped:
            cells.append(current.strip())
            current = ""
            continue
        in_code ^= character == "`" and not escaped
        escaped = character == "\\" and not escaped
        current += character
    return [*cells, current.strip()]


def _prose_lines(text: str) -> list[tuple[int, str]]:
    """The lines of ``text`` outside code blocks, numbered from 1."""
    code_lines: set[int] = set()
    for fence in fences(text):
        last = text.count("\n", 0, fence.end) + 1
        code_lines.update(range(fence.line, last + 1))
    return [
        (number, line)
        for number, line in enumerate(text.splitlines(), start=1)
        if number not in code_lines
    ]
