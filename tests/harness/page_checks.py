"""Checks of a page's text that need no database: each problem names page and line.

They run once per page, as the last item of the page's test run, so that a
block that escapes execution, a skip without a reason or a legacy idiom shown
as current practice fails where it is written.
"""

from __future__ import annotations

import re

from harness.pages import Block, python_blocks, stray_fences

UNREASONED_SKIP = re.compile(r"<!--+\s*skip:\s*(next|start)\s*(if\s*\([^,]*\))?\s*-->")

#: A fence opening that any Markdown renderer would take for a python block,
#: found without the lexer the tests use, so that the two can be compared.
PYTHON_FENCE = re.compile(r"^[ \t>]*(`{3,}|~{3,})[ \t]*python\b", re.MULTILINE)

#: Idioms of SQLAlchemy 1.x that a page may show only when it says why.
LEGACY_MARKER = "<!-- legacy: next"
LEGACY_IDIOMS = {
    "session.query()": re.compile(r"\.query\("),
    "declarative_base()": re.compile(r"\bdeclarative_base\("),
    "backref": re.compile(r"\bbackref\b"),
    "sqlalchemy.ext.declarative": re.compile(r"sqlalchemy\.ext\.declarative"),
    # a driver's own cursor.execute() takes plain SQL, and that is fine
    "execute() with a plain SQL string": re.compile(r"(?<!cursor)\.execute\(\s*[fr]?[\"']"),
    "autocommit=True": re.compile(r"\bautocommit\s*=\s*True"),
}


def page_problems(text: str, name: str) -> list[str]:
    """Everything wrong with a page's text, one message per problem."""
    blocks = python_blocks(text)
    return [
        *_stray_fences(text, name),
        *_uncounted_blocks(text, name, blocks),
        *_unreasoned_skips(text, name),
        *_legacy_idioms(text, name, blocks),
    ]


def _line(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def _stray_fences(text: str, name: str) -> list[str]:
    return [
        f"{name}, line {fence.line}: a block in language {fence.language!r} is neither "
        "run nor a known kind of text; write ```python if it is Python"
        for fence in stray_fences(text)
    ]


def _uncounted_blocks(text: str, name: str, blocks: list[Block]) -> list[str]:
    """Python fences that the lexer did not turn into blocks would never run."""
    collected = {block.line for block in blocks}
    return [
        f"{name}, line {_line(text, match.start())}: this python block is not collected "
        "(is its fence indented or nested in a way Markdown does not allow?)"
        for match in PYTHON_FENCE.finditer(text)
        if _line(text, match.start()) not in collected
    ]


def _unreasoned_skips(text: str, name: str) -> list[str]:
    return [
        f"{name}, line {_line(text, match.start())}: a skip needs a reason a reviewer can "
        'judge, e.g. <!-- skip: next "needs a second terminal" -->'
        for match in UNREASONED_SKIP.finditer(text)
    ]


def _legacy_idioms(text: str, name: str, blocks: list[Block]) -> list[str]:
    problems = []
    previous_end = 0
    for block in blocks:
        before = text[previous_end : block.fence.start]
        previous_end = block.fence.end
        if LEGACY_MARKER in before:
            continue
        for idiom, pattern in LEGACY_IDIOMS.items():
            if pattern.search(block.source):
                problems.append(
                    f"{name}, line {block.line}: {idiom} is SQLAlchemy 1.x style; show the "
                    f'2.x way, or say why with <!-- legacy: next "reason" --> before the block'
                )
    return problems
