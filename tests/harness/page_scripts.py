"""Each chapter as one Python program a reader can download and run.

A page's python blocks, in order, make a program: the first block reads
``DATABASE_URL``, and nothing else is put into a page's namespace by the test
run. This module writes that program out, from the same blocks the test run
executes (``harness.pages``), so the site build and the test suite agree on it:

- ``>>>`` sessions lose their prompts and their output, as the copy button does;
- an example whose output on the page is a traceback is wrapped in
  ``try``/``except`` for that exception, and fails loudly if it is not raised;
- a block under a content tab that names databases runs under an ``if`` on
  ``engine.dialect.name``, so the program behaves on every database as the test
  run does; a block skipped everywhere is kept as a comment, with its reason.
"""

from __future__ import annotations

import doctest
import re
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

from harness.databases import BY_NAME
from harness.pages import (
    ROOT,
    Block,
    PageError,
    expand_snippets,
    fences,
    python_blocks,
    relative,
)

#: Where the build puts the scripts, relative to the site's root.
SCRIPTS_FOLDER = "scripts"

_HEADING = re.compile(r"^(?P<level>#{1,6})\s+(?P<title>.+?)\s*#*\s*$", re.MULTILINE)
_EXCEPTION_NAME = re.compile(r"^(?P<name>[A-Za-z_][\w.]*)\s*(?::|$)")

HEADER = '''\
"""{title}: every python block of this page of SQLAlchemy, proven, as one program.

The blocks run in the order the page shows them, without the ">>>" prompts and
the printed output. As it is, the program runs on SQLite, in a file called
tutorial.db in the current directory:

    python -m pip install "sqlalchemy>=2.1,<2.2"
    python {filename}

To run it on PostgreSQL or MariaDB instead, install the driver and point
DATABASE_URL at a database made for the purpose (the program creates its own
tables and fills them; never point it at data you want to keep):

    python -m pip install "sqlalchemy>=2.1,<2.2" "psycopg[binary]"
    DATABASE_URL=postgresql+psycopg://USER@HOST:5432/DATABASE python {filename}

    python -m pip install "sqlalchemy>=2.1,<2.2" pymysql
    DATABASE_URL=mysql+pymysql://USER@HOST:3306/DATABASE python {filename}

Generated from {source} when the site was built; the test suite runs this
program on SQLite, PostgreSQL and MariaDB.
"""
'''


@dataclass
class Script:
    """A page's program, and where each of its lines came from on the page."""

    page: Path
    text: str = ""
    #: (first line of a block in the script, line of that block on the page), in order
    origins: list[tuple[int, int]] = field(default_factory=list)

    def page_line(self, script_line: int) -> int | None:
        """The line of the page whose block produced ``script_line`` of the script."""
        found = None
        for first, page_line in self.origins:
            if first > script_line:
                break
            found = page_line
        return found


@dataclass(frozen=True)
class PageBlock:
    """A python block with what the page says around it."""

    page: Path
    block: Block
    source: str  # the block's text with its snippets included
    heading: str | None  # the last heading between the previous block and this one

    @property
    def examples(self) -> list[doctest.Example]:
        """The ``>>>`` examples of a console block; none for a plain one."""
        if not self.block.is_console:
            return []
        return doctest.DocTestParser().get_examples(self.source)

    @property
    def code(self) -> str:
        """What a reader types: the block without prompts or output."""
        if not self.block.is_console:
            return self.source.rstrip("\n")
        return "\n".join(example.source.rstrip("\n") for example in self.examples)

    @property
    def expected_errors(self) -> list[str]:
        """The names of the exceptions whose tracebacks the block shows, in order."""
        return [_exception_name(example, self) for example in self.examples if example.exc_msg]


def script_name(page: Path, docs: Path) -> str:
    """``docs/engine.md`` downloads as ``scripts/engine.py``."""
    relative_page = Path(page).resolve().relative_to(Path(docs).resolve())
    return f"{SCRIPTS_FOLDER}/{relative_page.with_suffix('.py').as_posix()}"


def page_blocks(page: Path, text: str | None = None, root: Path = ROOT) -> list[PageBlock]:
    """The python blocks of ``page`` in order, each with the heading it comes under."""
    text = page.read_text() if text is None else text
    headings = _headings(text)
    found = []
    previous_end = 0
    for block in python_blocks(text):
        heading = _last_heading_between(headings, previous_end, block.fence.start)
        previous_end = block.fence.end
        if block.skip is not None and block.skip.problem:
            raise PageError(f"{relative(page, root)}, line {block.skip.line}: {block.skip.problem}")
        found.append(
            PageBlock(
                page=page,
                block=block,
                source=expand_snippets(block.source, page, block.line, root),
                heading=heading,
            )
        )
    return found


def page_script(page: Path, text: str | None = None, root: Path = ROOT) -> Script | None:
    """The program made of the python blocks of ``page``; None for a page without any."""
    text = page.read_text() if text is None else text
    blocks = page_blocks(page, text, root)
    if not blocks:
        return None
    title = _title(text) or page.stem
    filename = page.with_suffix(".py").name
    script = Script(page)
    lines = HEADER.format(title=title, filename=filename, source=relative(page, root)).splitlines()
    for item in blocks:
        if item.heading:
            lines += ["", "", f"# %% {item.heading}"]
        lines.append("")
        lines.append(f"# {relative(page, root)}, line {item.block.line}")
        script.origins.append((len(lines) + 1, item.block.line))
        lines += _guarded(_runnable(item), item.block)
    script.text = "\n".join(lines).rstrip() + "\n"
    return script


def console_code(block: Block, page: Path, root: Path = ROOT) -> str:
    """What a reader types of a ``>>>`` block: its code, without prompts or output."""
    source = expand_snippets(block.source, page, block.line, root)
    return PageBlock(page, block, source, None).code


def _title(text: str) -> str | None:
    for match in _HEADING.finditer(_without_fences(text)):
        if len(match["level"]) == 1:
            return match["title"]
    return None


def _without_fences(text: str) -> str:
    """The page with every fenced block blanked out, offsets kept."""
    for fence in fences(text):
        text = text[: fence.start] + " " * (fence.end - fence.start) + text[fence.end :]
    return text


def _headings(text: str) -> list[tuple[int, str]]:
    """(offset, title) of each second-level or deeper heading outside fences."""
    return [
        (match.start(), match["title"])
        for match in _HEADING.finditer(_without_fences(text))
        if len(match["level"]) > 1
    ]


def _last_heading_between(headings: list[tuple[int, str]], start: int, end: int) -> str | None:
    """The last heading between the previous block and this one, if there is one."""
    inside = [title for position, title in headings if start <= position < end]
    return inside[-1] if inside else None


def _runnable(item: PageBlock) -> list[str]:
    """The block's code, each example that shows a traceback wrapped to expect it."""
    if not item.block.is_console:
        return item.code.splitlines()
    lines: list[str] = []
    for example in item.examples:
        code = example.source.rstrip("\n").splitlines()
        if example.exc_msg is None:
            lines += code
        else:
            lines += _expecting(code, _exception_name(example, item))
    return lines


def _exception_name(example: doctest.Example, item: PageBlock) -> str:
    match = _EXCEPTION_NAME.match(example.exc_msg or "")
    if match is None:
        raise PageError(
            f"{relative(item.page)}, line {item.block.line + example.lineno + 1}: "
            f"cannot tell which exception this traceback shows: {example.exc_msg!r}"
        )
    return match["name"]


def _expecting(code: list[str], name: str) -> list[str]:
    """``code`` wrapped so that it must raise the exception ``name``, and only that one."""
    module = name.rpartition(".")[0]
    imports = [f"import {module}  # to recognise the error the page shows"] if module else []
    return [
        *imports,
        "try:",
        *_indented(code),
        f"except {name}:",
        "    pass  # the page shows this error on purpose",
        "else:",
        f'    raise AssertionError("expected {name}, but nothing was raised")',
    ]


def _guarded(code: list[str], block: Block) -> list[str]:
    """A skipped block as a comment; a block under a database's tab behind an ``if``."""
    if block.skip is not None:
        return [f"# Not run: {block.skip.reason}", *(f"# {line}".rstrip() for line in code)]
    if block.databases is None:
        return code
    names = [name for backend in sorted(block.databases) for name in BY_NAME[backend].dialects]
    return [
        f"# {block.fence.tab} only",
        f"if engine.dialect.name in {tuple(names)!r}:",
        *_indented(code),
    ]


def _indented(code: list[str]) -> list[str]:
    body = textwrap.indent("\n".join(code), "    ").splitlines()
    return body or ["    pass"]
