"""Each chapter as one Python program a reader can download and run.

A page's python blocks, in order, make a program: the first block reads
``DATABASE_URL``, and nothing else is put into a page's namespace by the test
run. This module writes that program out, from the same blocks the test run
executes (``harness.pages``), so the site build and the test suite agree on it:

- ``>>>`` sessions lose their prompts; what the page shows under a ``>>>`` line
  is printed by the program, under a line naming the line of the page, as is
  what a plain block prints (its snapshot says which blocks print); the copy
  button copies the code without prompts or output (``copy_text``);
- an error the page shows on purpose is caught by the page's own visible
  ``try``/``except``, which prints it (``harness.page_checks`` refuses a
  traceback shown as an example's output), so nothing is added to catch it:
  the program, like a reader's copy of the page, stops at an error the page
  does not catch;
- a block under a content tab that names databases runs under an ``if`` on
  ``engine.dialect.name``, so the program behaves on every database as the test
  run does; a block skipped everywhere is kept as a comment, with its reason;
- a page whose blocks ``await`` at their top level, as Python's asyncio prompt
  and Jupyter allow (the test run does too, ``harness.run_page``), becomes one
  coroutine, ``async def main()``, run by ``asyncio.run(main())``: its blocks
  share one event loop, as they do in the test run, and its header installs
  SQLAlchemy's asyncio extra and each database's async driver.

``shown_output`` and ``printed_sections`` read the two sides of that bargain:
what the page shows at each labelled line, and what the program printed there.
"""

from __future__ import annotations

import ast
import doctest
import functools
import re
import sys
import tokenize
from dataclasses import dataclass, field
from pathlib import Path

from harness import snapshots
from harness.backends import BY_NAME
from harness.pages import (
    ROOT,
    Block,
    PageError,
    awaits,
    expand_snippets,
    fences,
    python_blocks,
    read_toml,
    relative,
)

#: Where the build puts the scripts, relative to the site's root.
SCRIPTS_FOLDER = "scripts"

#: The flags the test run checks ``>>>`` output with; the program's output is read alike.
DOCTEST_FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE

_HEADING = re.compile(r"^(?P<level>#{1,6})\s+(?P<title>.+?)\s*#*\s*$", re.MULTILINE)

#: The line the program prints before what the page shows at a line of its own.
_LABEL_LINE = re.compile(r"^--- (?P<page>[^\n,]+), line (?P<line>\d+)$", re.MULTILINE)

#: The names the program's own helpers take; a page that uses them is refused.
HELPERS = ("page_line", "display")
#: And the name of the coroutine that a page whose blocks await becomes.
ASYNC_HELPERS = (*HELPERS, "main")

#: Calls that return None, left unwrapped in the code a ``>>>`` example runs; any
#: other value would be on the page, and the comparison with it would catch it.
_RETURNS_NONE = frozenset(
    {"add", "add_all", "append", "clear", "close", "commit", "delete", "dispose", "flush"}
    | {"print", "rollback"}
)

HEADER = '''\
"""{title}: every python block of this page of SQLAlchemy, proven, as one program.

The blocks run in the order the page shows them, without the ">>>" prompts.
What the page shows, the program prints, each time under the line of the page
that shows it, so that the two can be compared side by side:

    --- {page}, line 12
    'what the page shows at line 12'

As it is, the program runs on {default}, in a file called tutorial.db in the
current directory:

    python -m pip install {sqlalchemy}
    python {filename}

To run it on {others} instead, install the driver and point
DATABASE_URL at a database made for the purpose (the program creates its own
tables and fills them; never point it at data you want to keep):
{servers}
Generated from {source} when the site was built; the test suite runs this
program on {everywhere}, and compares what it prints with the page.
"""


def page_line(line):
    """Say which line of the page shows what is printed next."""
    print(f"--- {page}, line {{line}}")


def display(value):
    """Show a value as the Python prompt does: its repr, and nothing for None."""
    if value is not None:
        print(repr(value))
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

    @functools.cached_property
    def examples(self) -> list[doctest.Example]:
        """The ``>>>`` examples of a console block; none for a plain one (read once: the
        script, the copy button and the Run button each ask)."""
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
    def copied(self) -> str:
        """What the copy button copies: the code a reader types, as ``code``."""
        return self.code

    def example_line(self, example: doctest.Example) -> int:
        """The line of the page where ``example``'s ``>>>`` is."""
        return self.block.line + 1 + example.lineno


@dataclass(frozen=True)
class Shown:
    """What the page shows at one line, for one database."""

    line: int
    text: str
    #: True for output written on the page, read as doctest reads it (``...``, spaces);
    #: False for output a run recorded, which must match exactly.
    as_doctest: bool


def script_name(page: Path, docs: Path) -> str:
    """``docs/engine.md`` downloads as ``scripts/engine.py``."""
    relative_page = Path(page).resolve().relative_to(Path(docs).resolve())
    return f"{SCRIPTS_FOLDER}/{relative_page.with_suffix('.py').as_posix()}"


def shadowed_module(page: Path) -> str | None:
    """The module a page's script would hide when run, named as its file: ``types.py``.

    Python puts the script's folder first on the import path, so a script called
    ``types.py`` is what ``import types`` finds, anywhere, SQLAlchemy included.
    """
    drivers = {backend.driver for backend in BY_NAME.values() if backend.driver}
    taken = sys.stdlib_module_names | {"sqlalchemy"} | drivers
    stem = Path(page).stem
    return stem if stem in taken else None


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
    shadowed = shadowed_module(page)
    if shadowed:
        raise PageError(
            f"{relative(page, root)}: its script would be called {shadowed}.py, which Python "
            f"would import in place of the {shadowed} module it needs; rename the page."
        )
    awaiting = any(awaits(item.code) for item in blocks)
    _refuse_helper_names(blocks, root, ASYNC_HELPERS if awaiting else HELPERS)
    entries = _snapshot(page, root)
    title = _title(text) or page.stem
    script = Script(page)
    extras = _group_requirements([item.code for item in blocks])
    lines = _header(title, page, root, awaiting, extras).splitlines()
    if awaiting:
        lines += ["", "", ASYNC_MAIN]
    indent = "    " if awaiting else ""
    for item in blocks:
        if item.heading:
            lines += ["", "", f"{indent}# %% {item.heading}"]
        lines.append("")
        lines.append(f"{indent}# {relative(page, root)}, line {item.block.line}")
        script.origins.append((len(lines) + 1, item.block.line))
        code = _guarded(_runnable(item, _prints(entries.get(item.block.key))), item.block)
        lines += _indented(code) if awaiting else code
    if awaiting:
        lines += ["", "", "asyncio.run(main())"]
    script.text = "\n".join(lines).rstrip() + "\n"
    return script


#: The coroutine a page whose blocks await becomes; ``asyncio.run(main())`` ends the script.
ASYNC_MAIN = '''\
import asyncio


async def main():
    """The page's blocks, in order: they await at their top level, so they run in here."""'''


def copy_text(block: Block, page: Path, root: Path = ROOT) -> str:
    """What the copy button of ``block`` copies: see ``PageBlock.copied``."""
    source = expand_snippets(block.source, page, block.line, root)
    return PageBlock(page, block, source, None).copied


def shown_output(
    page: Path,
    backend: str,
    text: str | None = None,
    root: Path = ROOT,
    version: str | None = None,
) -> list[Shown]:
    """What the page shows on ``backend``, by line: the script prints it under that line.

    Under a ``>>>`` line, the output written on the page; under a plain block
    that prints, what the last recording run saw it print on ``backend`` (on
    that ``version`` of it, for a database verified on several).
    """
    entries = _snapshot(page, root)
    shown = []
    for item in page_blocks(page, text, root):
        if item.block.skip is not None or not item.block.runs_on(backend):
            continue
        if not item.block.is_console:
            if _prints(entries.get(item.block.key)):
                entry = entries.get(item.block.key)
                recording = snapshots.recording(entry, backend, version) or (
                    snapshots.recording(entry, backend)
                )
                printed = recording.output if recording else ""
                shown.append(Shown(item.block.line + 1, printed, as_doctest=False))
            continue
        for example in item.examples:
            if example.want:
                shown.append(Shown(item.example_line(example), example.want, True))
    return shown


def printed_sections(output: str) -> tuple[str, dict[int, str]]:
    """A program's output split at the lines ``page_line()`` printed.

    Returns what came before the first of them, and what came under each, by
    the line of the page it names.
    """
    starts = list(_LABEL_LINE.finditer(output))
    before = output[: starts[0].start()] if starts else output
    sections: dict[int, str] = {}
    for index, start in enumerate(starts):
        end = starts[index + 1].start() if index + 1 < len(starts) else len(output)
        body = output[start.end() : end].removeprefix("\n")
        line = int(start["line"])
        sections[line] = sections.get(line, "") + body
    return before, sections


def matches(shown: Shown, printed: str) -> bool:
    """Whether the program printed what the page shows."""
    if shown.as_doctest:
        return doctest.OutputChecker().check_output(shown.text, printed, DOCTEST_FLAGS)
    return printed.rstrip("\n") == shown.text.rstrip("\n")


def _header(
    title: str, page: Path, root: Path, awaiting: bool = False, extras: tuple[str, ...] = ()
) -> str:
    """The program's docstring and helpers, the databases taken from the registry.

    A page that awaits needs SQLAlchemy's asyncio extra and each database's
    async driver, which it finds from the URL the reader sets. ``extras`` are
    the other packages the page imports (``_group_requirements``).
    """
    filename = page.with_suffix(".py").name
    requirement = _requirement()
    if awaiting:
        requirement = requirement.replace("sqlalchemy", "sqlalchemy[asyncio]", 1)
    sqlalchemy = " ".join(_pip_argument(item) for item in (requirement, *extras))

    def package(backend) -> str:
        return backend.async_pip_package if awaiting else backend.pip_package

    default = next(backend for backend in BY_NAME.values() if backend.variable is None)
    servers = [backend for backend in BY_NAME.values() if backend.variable is not None]
    commands = []
    for backend in servers:
        commands += [
            "",
            f"    python -m pip install {sqlalchemy} {_pip_argument(package(backend))}",
            f"    DATABASE_URL={backend.reader_url} python {filename}",
        ]
    if awaiting and package(default):
        sqlalchemy += f" {_pip_argument(package(default))}"
    return HEADER.format(
        title=title,
        page=page.name,
        default=default.title,
        sqlalchemy=sqlalchemy,
        filename=filename,
        others=_either(backend.title for backend in servers),
        servers="\n".join(commands) + "\n",
        source=relative(page, root),
        everywhere=_both(backend.title for backend in BY_NAME.values()),
    )


def _requirement() -> str:
    """SQLAlchemy as the project requires it: the versions its pages are proven with."""
    project = read_toml(ROOT / "pyproject.toml")["project"]
    return next(item for item in project["dependencies"] if item.startswith("sqlalchemy"))


#: Dependency groups whose packages a page may import; a page that imports one of them
#: has its script install the whole group (FastAPI's test client needs httpx2, say).
PAGE_GROUPS = ("web",)


def _group_requirements(codes: list[str]) -> tuple[str, ...]:
    """The requirements of each group of ``PAGE_GROUPS`` of which the code imports a package."""
    imported = set()
    for code in codes:
        imported |= _names_and_imports(code)[1]
    groups = read_toml(ROOT / "pyproject.toml")["dependency-groups"]
    found: list[str] = []
    for name in PAGE_GROUPS:
        requirements = [item for item in groups.get(name, []) if isinstance(item, str)]
        packages = {re.split(r"[\[<>=!~; ]", item, maxsplit=1)[0] for item in requirements}
        if packages & imported:
            found += requirements
    return tuple(found)


def _pip_argument(requirement: str) -> str:
    """Quoted where a shell would read its characters: ``"sqlalchemy>=2.1,<2.2"``."""
    return f'"{requirement}"' if re.search(r"[^\w.-]", requirement) else requirement


def _either(words) -> str:
    words = list(words)
    return ", ".join(words[:-1]) + f" or {words[-1]}" if len(words) > 1 else "".join(words)


def _both(words) -> str:
    words = list(words)
    return ", ".join(words[:-1]) + f" and {words[-1]}" if len(words) > 1 else "".join(words)


def _snapshot(page: Path, root: Path) -> dict:
    """The page's recordings, for which plain blocks print; none for a page outside docs/."""
    try:
        return snapshots.load(snapshots.snapshot_path(page, root / "docs", root))
    except ValueError:
        return {}


def _prints(entry: dict | None) -> bool:
    """Whether a recording run saw the block print something, on any database."""
    return any((entry or {}).get("output", {}).values()) if entry else False


def _refuse_helper_names(blocks: list[PageBlock], root: Path, helpers=HELPERS) -> None:
    for item in blocks:
        for name in _names_and_imports(item.code)[0]:
            if name in helpers:
                raise PageError(
                    f"{relative(item.page, root)}, line {item.block.line}: the name {name} "
                    "is the page's script's own; call it something else"
                )


@functools.lru_cache(maxsize=4096)
def _names_and_imports(code: str) -> tuple[tuple[str, ...], frozenset[str]]:
    """The names the code uses or defines, in the order ``ast.walk`` meets them, and the
    packages it imports; nothing for code that does not parse (the test run reports it,
    at the block's line). One walk serves both questions asked of every block."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return (), frozenset()
    names, imported = [], set()
    for node in ast.walk(tree):
        name = getattr(node, "id", None) or getattr(node, "name", None)
        if name:
            names.append(name)
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            imported.add(node.module.split(".")[0])
    return tuple(names), frozenset(imported)


def _title(text: str) -> str | None:
    for match in _HEADING.finditer(_without_fences(text)):
        if len(match["level"]) == 1:
            return match["title"]
    return None


def _without_fences(text: str) -> str:
    """The page with every fenced block blanked out, offsets kept."""
    pieces, kept = [], 0
    for fence in fences(text):
        pieces += [text[kept : fence.start], " " * (fence.end - fence.start)]
        kept = fence.end
    return "".join([*pieces, text[kept:]])


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


def _runnable(item: PageBlock, prints: bool) -> list[str]:
    """The block's code, printing what the page shows under the line that shows it."""
    if not item.block.is_console:
        code = item.code.splitlines()
        return [f"page_line({item.block.line + 1})", *code] if prints else code
    lines: list[str] = []
    for example in item.examples:
        code = example.source.rstrip("\n").splitlines()
        if example.want:
            label = f"page_line({item.example_line(example)})"
            lines += [label, *_displaying(example.source.rstrip("\n")).splitlines()]
        else:
            lines += code
    return lines


def _displaying(source: str) -> str:
    """``source`` with each value the Python prompt would show passed to ``display()``.

    The prompt shows the value of every expression statement outside a function
    or class, in loops and ``with`` blocks too, unless it is None.
    """
    tree = ast.parse(source)
    shown = [node for node in _statements_outside_functions(tree) if isinstance(node, ast.Expr)]
    lines = [line.encode() for line in source.split("\n")]
    inserts = []
    for node in shown:
        call = node.value
        if isinstance(call, ast.Call):
            name = getattr(call.func, "attr", None) or getattr(call.func, "id", None)
            if name in _RETURNS_NONE:
                continue
        # A tuple written without parentheses gets them, to stay one argument.
        bare_tuple = isinstance(node.value, ast.Tuple) and not _parenthesised(source, node)
        inserts.append((node.lineno, node.col_offset, b"display((" if bare_tuple else b"display("))
        inserts.append((node.end_lineno, node.end_col_offset, b"))" if bare_tuple else b")"))
    for line, column, text in sorted(inserts, reverse=True):
        lines[line - 1] = lines[line - 1][:column] + text + lines[line - 1][column:]
    return "\n".join(line.decode() for line in lines)


def _parenthesised(source: str, node: ast.Expr) -> bool:
    call = ast.parse(f"display({ast.get_source_segment(source, node)})", mode="eval").body
    return len(call.args) == 1


def _statements_outside_functions(node: ast.AST):
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Lambda):
            continue
        if isinstance(child, ast.stmt):
            yield child
        yield from _statements_outside_functions(child)


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
    """``code`` one level further in, but for the lines inside a string that spans lines,
    whose text would change."""
    inside = _lines_inside_strings(code)
    body = [
        f"    {line}" if line.strip() and number not in inside else line
        for number, line in enumerate(code, start=1)
    ]
    return body or ["    pass"]


def _lines_inside_strings(code: list[str]) -> set[int]:
    """The numbers of the lines of ``code`` that continue a string begun on an earlier line."""
    inside: set[int] = set()
    lines = iter([f"{line}\n" for line in code])
    f_string_start = getattr(tokenize, "FSTRING_START", None)  # Python 3.12 and later
    f_string_end = getattr(tokenize, "FSTRING_END", None)
    starts: list[int] = []
    try:
        for token in tokenize.generate_tokens(lambda: next(lines, "")):
            if token.type == f_string_start:
                starts.append(token.start[0])
            elif token.type in (tokenize.STRING, f_string_end):
                first = starts.pop() if token.type == f_string_end else token.start[0]
                inside.update(range(first + 1, token.end[0] + 1))
    except (tokenize.TokenError, SyntaxError):
        pass  # the test run reports the block's error, at its line
    return inside
