"""Checks of a page's text that need no database: each problem names page and line.

They run once per page, as the last item of the page's test run, so that a
block that escapes execution, a skip without a reason, a legacy idiom shown
as current practice, output typed by hand under a block that prints, a
traceback shown as a ``>>>`` example's output, an ``except Exception: pass``
that would hide a block's failure, or a ``not in the browser`` marker written
wrongly or where the browser would not run the block anyway, fails where it is
written.
"""

from __future__ import annotations

import ast
import doctest
import re
from collections.abc import Collection

from harness.pages import Block, fences, python_blocks, stray_fences

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


def page_problems(text: str, name: str, printed: Collection[str] = ()) -> list[str]:
    """Everything wrong with a page's text, one message per problem.

    ``printed`` holds the keys of the plain blocks whose snapshot records printed output.
    """
    blocks = python_blocks(text)
    return [
        *_stray_fences(text, name),
        *_uncounted_blocks(text, name, blocks),
        *_unreasoned_skips(text, name),
        *_legacy_idioms(text, name, blocks),
        *_hand_typed_output(text, name, blocks, printed),
        *_shown_tracebacks(name, blocks),
        *_swallowed_errors(name, blocks),
        *_browser_markers(name, blocks),
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


#: Fences in which a page might type out what a block printed: SQL a block compiled
#: and printed, typed out again as SQL, is output typed by hand too.
_OUTPUT_FENCES = frozenset({"text", "", "sql"})


def _hand_typed_output(
    text: str, name: str, blocks: list[Block], printed: Collection[str]
) -> list[str]:
    """Output typed under a plain block that prints: the site shows what it really printed.

    What a plain block prints is recorded per database in its snapshot and shown under
    it, so a text fence right after it can only repeat that, or drift from it.
    """
    following = {fence.start: fence for fence in fences(text)}
    starts = sorted(following)
    problems = []
    for block in blocks:
        if block.is_console:
            continue
        prints = block.key in printed or re.search(r"\bprint\(", block.source)
        later = [start for start in starts if start >= block.fence.end]
        if not prints or not later:
            continue
        fence = following[later[0]]
        if fence.language in _OUTPUT_FENCES and not text[block.fence.end : fence.start].strip():
            problems.append(
                f"{name}, line {fence.line}: output typed by hand under the block at line "
                f"{block.line}, which prints; the site shows what it printed on each "
                "database under it, from the snapshot the run checks, so remove this fence"
            )
    return problems


def _shown_tracebacks(name: str, blocks: list[Block]) -> list[str]:
    """A ``>>>`` example whose output is a traceback: copied into a file, it stops the program.

    Doctest passes such an example when the error is raised, but the code a reader
    copies has no output, so the error ends their program there.
    """
    problems = []
    for block in blocks:
        if not block.is_console:
            continue
        try:
            examples = doctest.DocTestParser().get_examples(block.source)
        except ValueError:
            continue  # the run reports it, at the block's line
        problems += [
            f"{name}, line {block.line + 1 + example.lineno}: this example's output is a "
            "traceback; catch the error in a visible try/except that prints it, so that the "
            "page's blocks copied into a file run as a program"
            for example in examples
            if example.exc_msg is not None
        ]
    return problems


def _browser_markers(name: str, blocks: list[Block]) -> list[str]:
    """``<!-- not in the browser: next "reason" -->`` as written, on a block the browser runs.

    The browser runs a page on SQLite: a block that never runs there (skipped,
    or under another database's tab) needs no marker. A block that awaits at
    its top level needs one: the Run buttons run none that does.
    """
    problems = []
    for block in blocks:
        marker = block.not_in_browser
        if marker is None:
            if block.awaits and block.skip is None and block.runs_on("sqlite"):
                problems.append(
                    f"{name}, line {block.line}: this block awaits at its top level, and the "
                    "Run buttons run no block that does; say why before it, "
                    '<!-- not in the browser: next "why" -->'
                )
            continue
        if marker.problem:
            problems.append(f"{name}, line {marker.line}: {marker.problem}")
        elif block.skip is not None or not block.runs_on("sqlite"):
            problems.append(
                f"{name}, line {marker.line}: the block at line {block.line} never runs in the "
                "browser anyway (it is skipped, or not run on SQLite); remove this marker"
            )
    return problems


_CATCH_ALL = frozenset({"Exception", "BaseException"})


def _swallowed_errors(name: str, blocks: list[Block]) -> list[str]:
    """``except Exception: pass`` and its kin: a block that hides its errors proves nothing."""
    problems = []
    for block in blocks:
        for tree, first_line in _parsed(block):
            for node in ast.walk(tree):
                caught = _swallowing(node)
                if caught:
                    problems.append(
                        f"{name}, line {first_line + node.lineno - 1}: {caught} swallows every "
                        "error, so this block would pass whatever went wrong in it; catch the "
                        "error the page is about by name and print it, or let it propagate"
                    )
    return problems


def _parsed(block: Block) -> list[tuple[ast.AST, int]]:
    """Each piece of a block's code with the page line of its first line."""
    pieces = []
    if block.is_console:
        try:
            examples = doctest.DocTestParser().get_examples(block.source)
        except ValueError:
            return []
        pieces = [(example.source, block.line + 1 + example.lineno) for example in examples]
    else:
        pieces = [(block.source, block.line + 1)]
    parsed = []
    for source, line in pieces:
        try:
            parsed.append((ast.parse(source), line))
        except SyntaxError:
            continue  # a snippet include, or a mistake the run reports at its line
    return parsed


def _swallowing(node: ast.AST) -> str | None:
    """How ``node`` swallows every error (``except Exception: pass``), if it does."""
    if isinstance(node, ast.ExceptHandler) and all(_does_nothing(s) for s in node.body):
        if node.type is None:
            return "`except: pass`"
        if _catch_all(node.type):
            return f"`except {ast.unparse(node.type)}: pass`"
    if isinstance(node, ast.With | ast.AsyncWith):
        for item in node.items:
            call = item.context_expr
            if isinstance(call, ast.Call) and _called(call.func) == "suppress":
                if any(_catch_all(argument) for argument in call.args):
                    return f"`{ast.unparse(call)}`"
    return None


def _catch_all(node: ast.AST) -> bool:
    if isinstance(node, ast.Tuple):
        return any(_catch_all(element) for element in node.elts)
    return _called(node) in _CATCH_ALL


def _called(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _does_nothing(statement: ast.stmt) -> bool:
    return isinstance(statement, ast.Pass) or (
        isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant)
    )
