"""Check a page's internal links and anchors, naming the line of each broken one.

``mkdocs build --strict`` checks them too, but names no line; this check runs
with the pages, so a broken link fails the test run where it is written.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

from harness.pages import fences

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
    found: set[str] = set()
    for line in _prose_lines(text):
        heading = _HEADING.match(line[1])
        if heading:
            slug = heading["id"] or slugify(heading["title"])
            unique, count = slug, 0
            while unique in found:
                count += 1
                unique = f"{slug}_{count}"
            found.add(unique)
        for match in _EXPLICIT_ID.finditer(line[1]):
            found.add(match["attr"] or match["html"])
    return found


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
            if path_part and not destination.exists():
                problems.append(f"{where}: the link to {target} points at no file")
                continue
            if anchor and destination.suffix == ".md":
                if anchor not in anchors(destination.read_text()):
                    problems.append(
                        f"{where}: the link to {target} names an anchor "
                        f"#{anchor} that {destination.name} does not have"
                    )
    return problems


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
