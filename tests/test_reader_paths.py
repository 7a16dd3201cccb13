"""The ways a reader runs a chapter's code, each proven on every database.

A reader meets the code of a chapter in three ways:

1. Block by block, at the Python prompt or in Jupyter. That is how the test run
   executes ``>>>`` blocks (doctest compiles each line as the prompt does), so a
   block that shows an error raises exactly that error, and the blocks after it
   go on in the same namespace, as the reader's do.
2. Copied into a file with the copy buttons, block after block. Here the site is
   built once, and each chapter's copy texts are taken from its HTML as the copy
   button takes them: the ``data-copy`` of the block's ``.console-block`` when it
   has one, the text of its code otherwise. Of each set of content tabs naming
   databases, the tab of the database under test is copied. The file runs as a
   separate process, in a fresh folder, on a fresh database.
3. The downloaded script: ``tests/test_page_scripts.py``.
"""

from __future__ import annotations

import html.parser
import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from harness.databases import isolated_database
from harness.page_scripts import copy_text
from harness.pages import DOCS, databases_named, pages, python_blocks, relative
from harness.pytest_plugin import RUN

CHAPTERS = [page for page in pages(DOCS) if python_blocks(page.read_text())]
PROGRAM_TIMEOUT = 300  # seconds; a whole chapter takes a few


@pytest.fixture(scope="session")
def site(tmp_path_factory) -> Path:
    """The site, built strictly once for the whole run."""
    from harness.site_browser import build_site

    return build_site(tmp_path_factory.mktemp("site"))


@dataclass(eq=False)  # compared by identity: an element is where it is in the page
class Element:
    """Just enough of an HTML element to find code blocks, their tabs and their copy text."""

    tag: str
    attrs: dict[str, str]
    parent: Element | None = None
    children: list[Element | str] = field(default_factory=list)

    @property
    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())

    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def elements(self):
        for child in self.children:
            if isinstance(child, Element):
                yield child
                yield from child.elements()

    def ancestors(self):
        node = self.parent
        while node is not None:
            yield node
            node = node.parent


class _TreeBuilder(html.parser.HTMLParser):
    VOID = frozenset({"area", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = self.current = Element("document", {})

    def handle_starttag(self, tag, attrs):
        element = Element(tag, {k: v or "" for k, v in attrs}, self.current)
        self.current.children.append(element)
        if tag not in self.VOID:
            self.current = element

    def handle_startendtag(self, tag, attrs):
        self.current.children.append(Element(tag, {k: v or "" for k, v in attrs}, self.current))

    def handle_endtag(self, tag):
        for node in [self.current, *self.current.ancestors()]:
            if node.tag == tag:
                self.current = node.parent or self.root
                return

    def handle_data(self, data):
        self.current.children.append(data)


def parse_html(text: str) -> Element:
    builder = _TreeBuilder()
    builder.feed(text)
    builder.close()
    return builder.root


def tab_title(code: Element) -> str | None:
    """The title of the content tab a code block sits in, if it sits in one."""
    for node in code.ancestors():
        if "tabbed-block" not in node.classes:
            continue
        content = node.parent
        blocks = [c for c in content.children if isinstance(c, Element)]
        tab_set = content.parent
        labels = next(e for e in tab_set.elements() if "tabbed-labels" in e.classes)
        titles = [e.text().strip() for e in labels.elements() if e.tag == "label"]
        return titles[blocks.index(node)]
    return None


def copied(code: Element) -> str:
    """What Material's copy button copies from a code block (its ``hs`` function)."""
    for node in code.ancestors():
        if "data-copy" in node.attrs:
            return node.attrs["data-copy"].rstrip()
    inner = next(e for e in code.elements() if e.tag == "code")
    return inner.text().rstrip()


def copied_blocks(site: Path, page: Path, backend: str) -> list[tuple[str | None, str]]:
    """(tab title, copied text) of each python block of the built page a reader on
    ``backend`` copies: every block outside tabs, and the tab naming ``backend``."""
    built = site / page.relative_to(DOCS).with_suffix("") / "index.html"
    article = next(e for e in parse_html(built.read_text()).elements() if e.tag == "article")
    found = []
    for element in article.elements():
        if not element.classes & {"language-python", "language-pycon"}:
            continue
        if "highlight" not in element.classes:
            continue
        if any("doc" in node.classes for node in element.ancestors()):
            continue  # the API reference's signatures and source, which nobody runs as a page
        title = tab_title(element)
        named = databases_named(title) if title else None
        if named is not None and backend not in named:
            continue
        found.append((title, copied(element)))
    return found


@pytest.mark.parametrize("page", CHAPTERS, ids=lambda page: page.stem)
def test_a_chapter_copied_block_by_block_runs_as_a_program(page, backend, site, tmp_path, request):
    text = page.read_text()
    blocks = [b for b in python_blocks(text) if b.skip is None and b.runs_on(backend.name)]
    copies = copied_blocks(site, page, backend.name)
    name = relative(page)
    assert len(copies) == len(blocks), (
        f"{name} [{backend.name}]: the built page offers {len(copies)} python blocks to copy "
        f"on {backend.title}, the page has {len(blocks)} that run there"
    )
    program, starts = [], []
    for block, (_, copy) in zip(blocks, copies, strict=True):
        where = f"{name}, line {block.line} [{backend.name}]"
        # Blank lines aside: the site's snippet inclusion keeps those it finds around sections.
        assert code_lines(copy) == code_lines(copy_text(block, page)), (
            f"{where}: the copy button copies other code than the block's"
        )
        starts.append((sum(len(part.splitlines()) + 1 for part in program) + 1, block.line))
        program.append(copy)
    path = tmp_path / "copied.py"
    path.write_text("\n\n".join(program) + "\n")

    run = request.config.stash[RUN]
    url = dict((b.name, u) for b, u in run.backends)[backend.name]
    with isolated_database(backend, url, request.node.name) as database:
        result = subprocess.run(
            [sys.executable, *as_the_asyncio_prompt(path), path.name],
            cwd=tmp_path,
            env={**os.environ, "DATABASE_URL": database.url},
            capture_output=True,
            text=True,
            timeout=PROGRAM_TIMEOUT,
        )
    assert result.returncode == 0, failure(name, backend.name, starts, result)


#: What a program of blocks that await at their top level is pasted into: one event
#: loop for the whole program, as `python -m asyncio` and Jupyter give (the Async chapter).
ASYNCIO_PROMPT = """\
import ast, asyncio, sys
path = sys.argv[1]
code = compile(open(path).read(), path, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
awaiting = eval(code, {"__name__": "__main__", "__file__": path})
if awaiting is not None:
    asyncio.run(awaiting)
"""


def as_the_asyncio_prompt(path: Path) -> list[str]:
    """The interpreter's arguments that run ``path`` as the asyncio prompt would, if it awaits
    at its top level; none for a plain program."""
    try:
        compile(path.read_text(), str(path), "exec")
    except SyntaxError:
        return ["-c", ASYNCIO_PROMPT]
    return []


def code_lines(code: str) -> list[str]:
    return [line.rstrip() for line in code.splitlines() if line.strip()]


def failure(name: str, backend: str, starts: list[tuple[int, int]], result) -> str:
    """The error of the copied program, at the line of the page whose block raised it."""
    lines = [int(n) for n in re.findall(r'File ".*copied\.py", line (\d+)', result.stderr)]
    where = name
    if lines:
        page_lines = [page_line for first, page_line in starts if first <= lines[-1]]
        if page_lines:
            where += f", line {page_lines[-1]}"
    tail = "\n".join(result.stderr.strip().splitlines()[-20:])
    return (
        f"{where} [{backend}]: the page's blocks, copied one after another into a file, "
        f"stop with exit status {result.returncode}:\n{tail}"
    )
