"""Find the python blocks of a Markdown page.

The test run and the site build both read pages through this module, so what
the tests execute and what the site shows are always the same blocks.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from sybil import Document
from sybil.parsers.markdown.lexers import RawFencedCodeBlockLexer

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"

#: Fence languages a page may use besides ``python``. Anything else is treated as
#: a mistake, because a python block with a misspelt language would silently
#: escape execution.
OTHER_LANGUAGES = frozenset(
    {"", "text", "sql", "bash", "console", "shell", "toml", "yaml", "ini", "json"}
)

_INFO = re.compile(r"(?P<info>[^\n]*)$\n", re.MULTILINE)
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


@dataclass(frozen=True)
class Block:
    """One python block of a page."""

    fence: Fence
    key: str  # stable identity of the block, from its text

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


def fences(text: str) -> list[Fence]:
    """Every fenced block of ``text``, in page order, indented ones included."""
    document = Document(text, "<page>")
    found = []
    for region in RawFencedCodeBlockLexer(_INFO, {"info": "info", "source": "source"})(document):
        info = region.lexemes["info"].strip()
        language = info.split()[0].strip("{}.").lower() if info else ""
        indent = re.match(r"[ \t]*", text[region.start :]).group()
        found.append(
            Fence(
                language=language,
                info=info,
                line=text.count("\n", 0, region.start) + 1,
                start=region.start,
                end=region.end,
                indent=indent,
                source=str(region.lexemes["source"]),
            )
        )
    return found


def block_key(source: str) -> str:
    """A short digest of a block's text: editing one block never renames another."""
    normalised = "\n".join(line.rstrip() for line in source.strip().splitlines())
    return hashlib.sha256(normalised.encode()).hexdigest()[:12]


def python_blocks(text: str) -> list[Block]:
    """The python blocks of a page, each with a key that is unique on the page.

    Two blocks with the same text get the same digest, so the second and later
    ones are told apart by a counter.
    """
    blocks = []
    seen: dict[str, int] = {}
    for fence in fences(text):
        if fence.language != "python":
            continue
        digest = block_key(fence.source)
        seen[digest] = seen.get(digest, 0) + 1
        key = digest if seen[digest] == 1 else f"{digest}-{seen[digest]}"
        blocks.append(Block(fence, key))
    return blocks


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
        out.append(included.rstrip("\n"))
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


def relative(path: Path, root: Path = ROOT) -> str:
    """``path`` as a contributor types it: relative to the repository when it can be."""
    try:
        return str(Path(path).resolve().relative_to(root))
    except ValueError:
        return str(path)


def pages(docs: Path = DOCS) -> list[Path]:
    """Every Markdown page of the site."""
    return sorted(docs.rglob("*.md"))
