"""Find the python blocks of a Markdown page.

The test run and the site build both read pages through this module, so what
the tests execute and what the site shows are always the same blocks.
"""

from __future__ import annotations

import ast
import doctest
import functools
import hashlib
import inspect
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from sybil import Document
from sybil.parsers.markdown.lexers import DirectiveInHTMLCommentLexer, RawFencedCodeBlockLexer

from harness.backends import BY_TITLE

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"

#: Fence languages a page may use besides ``python``. Anything else is treated as
#: a mistake, because a python block with a misspelt language would silently
#: escape execution.
OTHER_LANGUAGES = frozenset(
    {"", "text", "sql", "bash", "console", "shell", "toml", "yaml", "ini", "json"}
)

_INFO = re.compile(r"(?P<info>[^\n]*)$\n", re.MULTILINE)
_TAB = re.compile(r"""^(?P<indent>[ \t]*)===[!+]?[ \t]+(?P<q>["'])(?P<title>.*?)(?P=q)""")
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)

#: The databases a content tab can name, as readers know them, and the backends they are.
DATABASE_TITLES = BY_TITLE

_SNIPPET = re.compile(r"""^--8<--\s+["'](?P<path>[^"':]+)(?::(?P<section>[\w-]+))?["']\s*$""")


class PageError(Exception):
    """A page that cannot be read as written; the message names page and line."""


@dataclass(frozen=True)
class Fence:
    """One fenced block of a page, whatever its language."""

    language: str
    info: str
    line: int  # line of the opening fence, counted from 1
    start: int  # offset of the opening fence in the page text
    end: int  # offset just past the closing fence
    indent: str  # the white space before the opening fence
    source: str  # the block's text, without the fence lines and the indentation
    tab: str | None = None  # the title of the content tab the fence sits in, if any
    hidden: bool = False  # inside an HTML comment, where no reader sees it


@dataclass(frozen=True)
class Skip:
    """A ``<!-- skip: next "reason" -->`` before a block: shown to readers, never run."""

    line: int
    reason: str
    problem: str | None = None  # why the comment cannot be obeyed as written


@dataclass(frozen=True)
class Block:
    """One python block of a page."""

    fence: Fence
    key: str  # stable identity of the block, from its code (never its expected output)
    skip: Skip | None = None
    #: ``<!-- not in the browser: next "reason" -->``: run by the tests, but not by the
    #: site's Run buttons (``harness.run_in_browser``), and the reason shown to readers
    not_in_browser: Skip | None = None

    @property
    def databases(self) -> frozenset[str] | None:
        """The backends a block under a content tab runs on; None when it runs on all."""
        return databases_named(self.fence.tab) if self.fence.tab else None

    def runs_on(self, backend: str) -> bool:
        return self.databases is None or backend in self.databases

    @property
    def line(self) -> int:
        return self.fence.line

    @property
    def source(self) -> str:
        return self.fence.source

    @property
    def is_console(self) -> bool:
        """True for blocks written as an interactive session, with ``>>>`` prompts."""
        return self.source.lstrip().startswith(">>>")

    @property
    def first_line(self) -> str:
        return self.source.strip().splitlines()[0] if self.source.strip() else ""

    @property
    def awaits(self) -> bool:
        """Whether the block awaits at its top level, as Python's asyncio prompt allows."""
        return awaits(console_source(self.source) if self.is_console else self.source)


def awaits(code: str) -> bool:
    """Whether ``code`` awaits at its top level (``harness.run_page`` runs such code)."""
    if "await" not in code and "async" not in code:
        return False  # no keyword that makes code a coroutine: nothing to compile
    try:
        compiled = compile(code, "<block>", "exec", ast.PyCF_ALLOW_TOP_LEVEL_AWAIT, True)
    except SyntaxError:
        return False  # the test run reports it, at the block's line
    return bool(compiled.co_flags & inspect.CO_COROUTINE)


def fences(text: str) -> list[Fence]:
    """Every fenced block of ``text``, in page order, indented ones included."""
    return list(_fences(text))


@functools.lru_cache(maxsize=64)
def _fences(text: str) -> tuple[Fence, ...]:
    # Kept for the page's text: the build, the page's checks and its script each ask
    # for the fences of the same pages, and a Fence never changes.
    document = Document(text, "<page>")
    regions = list(RawFencedCodeBlockLexer(_INFO, {"info": "info", "source": "source"})(document))
    comments = _comment_spans(text, [(region.start, region.end) for region in regions])
    found = []
    line, counted = 1, 0
    for region in regions:
        info = region.lexemes["info"].strip()
        language = info.split()[0].strip("{}.").lower() if info else ""
        indent = re.match(r"[ \t]*", text[region.start :]).group()
        line += text.count("\n", counted, region.start)
        counted = region.start
        found.append(
            Fence(
                language=language,
                info=info,
                line=line,
                start=region.start,
                end=region.end,
                indent=indent,
                source=str(region.lexemes["source"]),
                tab=_enclosing_tab(text, region.start, indent),
                hidden=any(start < region.start < end for start, end in comments),
            )
        )
    return tuple(found)


def _comment_spans(text: str, fence_spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Where the HTML comments of a page are, ignoring ``<!--`` written inside fences."""
    pieces, kept = [], 0
    for start, end in fence_spans:
        inner_start = text.index("\n", start) + 1 if "\n" in text[start:end] else end
        inner_start = max(inner_start, kept)
        if end <= inner_start:
            continue
        pieces += [text[kept:inner_start], " " * (end - inner_start)]
        kept = end
    blanked = "".join([*pieces, text[kept:]])
    return [match.span() for match in _COMMENT.finditer(blanked)]


def _enclosing_tab(text: str, start: int, indent: str) -> str | None:
    """The title of the content tab (``=== "Title"``) whose body holds the fence at ``start``.

    Walking up from the fence, the first line indented less than the fence decides:
    a tab marker means the fence is in that tab, anything else means it is not.
    """
    width = len(indent.expandtabs(4))
    if width == 0:
        return None  # no line is indented less than a fence at the margin
    end = start
    while end > 0:
        begin = text.rfind("\n", 0, end) + 1
        line = text[begin:end]
        end = begin - 1
        if not line.strip():
            continue
        line_width = len(line.expandtabs(4)) - len(line.expandtabs(4).lstrip())
        if line_width >= width:
            continue
        match = _TAB.match(line)
        return match["title"] if match else None
    return None


def databases_named(title: str) -> frozenset[str] | None:
    """The backends a tab title names ("PostgreSQL", "SQLite and MariaDB"); None if none."""
    named = {
        backend
        for name, backend in DATABASE_TITLES.items()
        if re.search(rf"\b{name}\b", title, re.IGNORECASE)
    }
    return frozenset(named) or None


def block_key(source: str) -> str:
    """A short digest of a block's code: editing one block never renames another."""
    normalised = "\n".join(line.rstrip() for line in source.strip().splitlines())
    return hashlib.sha256(normalised.encode()).hexdigest()[:12]


def console_source(source: str) -> str:
    """The code of a ``>>>`` block, without prompts or expected output."""
    try:
        examples = doctest.DocTestParser().get_examples(source)
    except ValueError:  # malformed prompts: the run reports them at the block's line
        return source
    return "\n".join(example.source.rstrip("\n") for example in examples)


def python_blocks(text: str) -> list[Block]:
    """The python blocks of a page, each with a key that is unique on the page.

    The key is a digest of the block's code alone, so that correcting the output a
    block shows never orphans its recorded SQL. Two blocks with the same code get
    the same digest, so the second and later ones are told apart by a counter.
    """
    return list(_python_blocks(text))


@functools.lru_cache(maxsize=64)
def _python_blocks(text: str) -> tuple[Block, ...]:
    python = [fence for fence in fences(text) if fence.language == "python"]
    skips = skip_comments(text, python)
    browser = skip_comments(text, python, NOT_IN_BROWSER)
    blocks = []
    seen: dict[str, int] = {}
    for fence in python:
        is_console = fence.source.lstrip().startswith(">>>")
        digest = block_key(console_source(fence.source) if is_console else fence.source)
        seen[digest] = seen.get(digest, 0) + 1
        key = digest if seen[digest] == 1 else f"{digest}-{seen[digest]}"
        blocks.append(Block(fence, key, skips.get(fence.start), browser.get(fence.start)))
    return tuple(blocks)


#: The directive of the comment that keeps a block out of the browser's run.
NOT_IN_BROWSER = "not in the browser"


def skip_comments(text: str, python: list[Fence], directive: str = "skip") -> dict[int, Skip]:
    """The skip comment that applies to each python fence, by the fence's offset.

    This is the one reader of skip comments: the test run, the page's script, the
    bench and the site all ask it, and it reads them with Sybil's own lexer. The one
    form allowed is ``<!-- skip: next "reason" -->``: the block is shown and never
    run anywhere, and the reason is shown to readers too. Anything else (a blank
    reason, ``start``/``end``, a condition) is reported on the block it precedes.
    ``directive`` reads the browser's marker alike: ``<!-- not in the browser: next
    "reason" -->``.
    """
    lexer = DirectiveInHTMLCommentLexer(directive)
    found: dict[int, Skip] = {}
    for region in lexer(Document(text, "<page>")):
        line = text.count("\n", 0, region.start) + 1
        following = [fence for fence in python if fence.start >= region.end]
        if not following:
            continue  # reported by the page's checks: a skip with nothing to skip
        fence = following[0]
        arguments = str(region.lexemes.get("arguments") or "")
        found[fence.start] = _read_skip(arguments, line, directive)
    return found


def _read_skip(arguments: str, line: int, directive: str = "skip") -> Skip:
    action, _, rest = arguments.strip().partition(" ")
    rest = rest.strip()
    usage = f'write <!-- {directive}: next "why this block cannot run" -->'
    if action != "next":
        return Skip(line, "", f"`{directive}: {action}` is not supported here; {usage}")
    if rest.startswith("if"):
        return Skip(
            line,
            "",
            "a conditional skip hides from readers where a block runs; put per-database "
            'blocks under content tabs that name their databases (=== "PostgreSQL")',
        )
    try:
        reason = ast.literal_eval(rest) if rest else ""
    except (ValueError, SyntaxError):
        reason = None
    if not isinstance(reason, str) or not reason.strip():
        return Skip(line, "", f"a skip needs a reason a reader can judge; {usage}")
    return Skip(line, reason.strip())


def stray_fences(text: str) -> list[Fence]:
    """Fences in a language that is neither python nor one of ``OTHER_LANGUAGES``."""
    return [
        fence
        for fence in fences(text)
        if fence.language != "python" and fence.language not in OTHER_LANGUAGES
    ]


def expand_snippets(source: str, page: Path, line: int, root: Path = ROOT) -> str:
    """Replace ``--8<-- "path:section"`` lines as pymdownx.snippets does on the site.

    Paths are relative to the repository root; a section is the text between
    ``# --8<-- [start:name]`` and ``# --8<-- [end:name]`` in that file.
    """
    out = []
    for offset, text_line in enumerate(source.splitlines()):
        match = _SNIPPET.match(text_line.strip())
        if not match:
            out.append(text_line)
            continue
        where = f"{relative(page, root)}, line {line + 1 + offset}"
        path = root / match["path"]
        if not path.is_file():
            raise PageError(f"{where}: the snippet file {match['path']} does not exist")
        included = path.read_text()
        if match["section"]:
            included = _section(included, match["section"])
            if included is None:
                raise PageError(
                    f"{where}: {match['path']} has no section named {match['section']!r}"
                )
        # As pymdownx.snippets includes it: every line, blank ones at the end too.
        out.append(included.removesuffix("\n"))
    return "\n".join(out) + "\n"


def _section(text: str, name: str) -> str | None:
    pattern = re.compile(
        rf"^[ \t]*# --8<-- \[start:{re.escape(name)}\][ \t]*\n(?P<body>.*?)"
        rf"^[ \t]*# --8<-- \[end:{re.escape(name)}\]",
        re.MULTILINE | re.DOTALL,
    )
    match = pattern.search(text)
    if match is None:
        return None
    return re.sub(r"^[ \t]*# --8<-- \[(start|end):[\w-]+\].*\n", "", match["body"], flags=re.M)


def read_toml(path: Path) -> dict:
    """A TOML file (pyproject.toml, uv.lock), parsed once for as long as its text is the
    same: the build reads them for every page. Not to be changed by its callers."""
    return _parsed_toml(Path(path).read_text())


@functools.lru_cache(maxsize=8)
def _parsed_toml(text: str) -> dict:
    return tomllib.loads(text)


def relative(path: Path, root: Path = ROOT) -> str:
    """``path`` as a contributor types it: relative to the repository when it can be."""
    try:
        return str(Path(path).resolve().relative_to(root))
    except ValueError:
        return str(path)


def pages(docs: Path = DOCS) -> list[Path]:
    """Every Markdown page of the site."""
    return sorted(docs.rglob("*.md"))
