"""Run one page on one database, block by block, and check what each block did.

A page is a Sybil document whose namespace is a fresh module (as a script has)
and whose database is a namespace of its own (``harness.databases``). The page
finds that database the way a reader's program does: in ``DATABASE_URL``.

After each block, two recordings are compared with the page's snapshot file
(``harness.snapshots``): the SQL the block sent, and, for a plain block, what it
printed. A ``>>>`` block's output is written on the page itself and checked by
doctest.

A block may ``await`` at its top level, as Python's asyncio prompt
(``python -m asyncio``) and Jupyter allow: it is compiled with
``ast.PyCF_ALLOW_TOP_LEVEL_AWAIT`` and the coroutine it makes runs to its end on
the page's event loop, one loop for all the blocks of the page, since an async
engine's connections belong to the loop that opened them. The page's script
wraps such a page in ``asyncio.run()`` (``harness.page_scripts``).
"""

from __future__ import annotations

import ast
import asyncio
import contextlib
import dataclasses
import doctest
import inspect
import io
import logging
import os
import re
import sys
import types
import unittest
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

from sybil import Document, Region

from harness import pictures, snapshots
from harness.backends import major, with_versions
from harness.capture_sql import capture_sql, normalise, track_tasks
from harness.databases import Backend, isolated_database
from harness.escaped_effects import EscapedEffects
from harness.legacy_warnings import failing_on_legacy_warnings
from harness.links import broken_links, unproven_rows
from harness.page_checks import page_problems
from harness.pages import Block, PageError, expand_snippets, python_blocks, relative

DOCTEST_FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
#: How every block is compiled: ``await`` at the top level is allowed.
COMPILE_FLAGS = ast.PyCF_ALLOW_TOP_LEVEL_AWAIT


def _pytest_summary_without_time(match: re.Match) -> str:
    """pytest's last line, "=== 5 passed in …s ===", as wide as pytest made it."""
    title = f"{match[1]} in …s"
    width = len(match[0])
    fill = "=" * max((width - len(title) - 2) // 2, 1)
    line = f"{fill} {title} {fill}"
    return line + "=" if len(line) < width else line


#: What differs in printed output from one run to the next, and what is shown instead:
#: the time on a log line, the moment Alembic wrote a migration into its file, how long
#: SQLAlchemy took to compile a statement, and how long a pytest run took (the Testing
#: chapter runs one).
_VOLATILE_OUTPUT = [
    (
        re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} ", re.MULTILINE),
        "YYYY-MM-DD hh:mm:ss,sss ",
    ),
    (
        re.compile(r"^Create Date: \d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d{6})?$", re.MULTILINE),
        "Create Date: YYYY-MM-DD hh:mm:ss.ssssss",
    ),
    (re.compile(r"\[(generated in|cached since) \d+\.\d+s( ago)?\]"), r"[\1 …s\2]"),
    (
        re.compile(
            r"^=+ (\d+ (?:passed|failed|error|skipped|xfailed|xpassed|deselected)[^=\n]*?)"
            r" in \d+\.\d+s(?: \(\d+:\d\d:\d\d\))? =+$",
            re.MULTILINE,
        ),
        _pytest_summary_without_time,
    ),
]


@dataclass
class Run:
    """What this pytest run was asked to do."""

    root: Path
    backends: list[tuple[Backend, str]]  # each selected backend with its URL
    not_configured: list[Backend]
    update_snapshots: bool
    removed_leftovers: list[str] = field(default_factory=list)
    kept_leftovers: list[str] = field(default_factory=list)  # a line for each
    #: Each selected backend's server version, as its server reports it.
    server_versions: dict[str, str] = field(default_factory=dict)

    def listed_version(self, backend: Backend) -> str | None:
        """The version of ``backend``'s server as ``Backend.versions`` lists it, if it does."""
        version = self.server_versions.get(backend.name)
        if version is None or not backend.versions:
            return None
        listed = major(backend, version)
        return listed if listed in backend.versions else None

    @property
    def docs(self) -> Path:
        return self.root / "docs"


class PageDocument(Document):
    """A page as one backend runs it.

    Its namespace is the ``__dict__`` of a new module, which is what a script
    gets, so classes defined on the page behave as they would in a file.
    """

    backend: Backend
    base_url: str
    run: Run
    _by_namespace: dict[int, PageDocument] = {}

    @classmethod
    def on(cls, backend: Backend, base_url: str, run: Run) -> type[PageDocument]:
        return type(
            f"PageOn{backend.title}",
            (cls,),
            {"backend": backend, "base_url": base_url, "run": run},
        )

    @classmethod
    def of(cls, namespace: dict) -> PageDocument:
        return cls._by_namespace[id(namespace)]

    @classmethod
    def close_if_open(cls, namespace: dict) -> None:
        """Sybil's teardown: a page's last item has usually closed it already."""
        document = cls._by_namespace.get(id(namespace))
        if document is not None:
            document.close()

    def __init__(self, text: str, path: str) -> None:
        super().__init__(text, path)
        self.page = Path(path)
        self.name = relative(self.page, self.run.root)
        module_name = f"page_{self.page.stem.replace('-', '_')}_{self.backend.name}"
        self.module = types.ModuleType(module_name)
        self.module.__file__ = path
        self.namespace = self.module.__dict__
        self._by_namespace[id(self.namespace)] = self
        #: The server's version, where the backend is verified on several (else None).
        self.version = self.run.listed_version(self.backend)
        self.snapshot_file = snapshots.snapshot_path(self.page, self.run.docs, self.run.root)
        self.snapshot = snapshots.load(self.snapshot_file)
        #: The blocks after which the page draws its tables, and those its charts count.
        self.pictures = pictures.page_pictures(text, self.name)
        self.recorded: dict[str, snapshots.Recording] = {}
        self.database = None
        self._stack = ExitStack()
        self._closed = False
        self._loop: asyncio.AbstractEventLoop | None = None  # made by the first await

    def open(self) -> None:
        sys.modules[self.module.__name__] = self.module
        self._stack.enter_context(_logging_as_it_was())
        self.database = self._stack.enter_context(
            isolated_database(self.backend, self.base_url, self.page.stem)
        )
        self.escaped = EscapedEffects(self.backend, self.base_url, self.name)
        self._stack.callback(self.escaped.close)

    def close(self) -> None:
        """End the page's run; its last item calls this, and so does Sybil's teardown."""
        if self._closed:
            return
        self._closed = True
        try:
            if self._loop is not None:
                _release_async_connections(self.namespace, self._loop)
            _release_connections(self.namespace)
        finally:
            self._stack.close()
            sys.modules.pop(self.module.__name__, None)
            self._by_namespace.pop(id(self.namespace), None)
        if self.run.update_snapshots:
            snapshots.update(
                self.snapshot_file,
                relative(self.page, self.run.root),
                python_blocks(self.text),
                self.backend.name,
                self.recorded,
                self.version,
            )

    def replacements(self) -> dict[str, str]:
        return {self.database.name: self.database.reader_name}

    def run_block(self, block: Block, source: str) -> str | None:
        """Execute one block; returns a failure message, or None."""
        previous = os.environ.get("DATABASE_URL")
        os.environ["DATABASE_URL"] = self.database.url
        printed = io.StringIO()
        try:
            with (
                self.escaped.watch(block.line, source) as escaped,
                capture_sql(self.replacements()) as sql,
                failing_on_legacy_warnings(
                    self.name, block.line, source, block.is_console, self.backend.name
                ) as legacy,
            ):
                escaped.statements = sql
                with self._counting(block) as counts:
                    failure = self._execute(block, source, printed)
        finally:
            if previous is None:
                os.environ.pop("DATABASE_URL", None)
            else:
                os.environ["DATABASE_URL"] = previous
        if failure or escaped.problem or legacy.problem:
            failure = failure and f"[{self.backend.name}] {failure}"
            return "\n".join(filter(None, [failure, escaped.problem, legacy.problem]))
        output = ""
        if not block.is_console:
            output = normalise_output(printed.getvalue(), self.replacements())
        recording = snapshots.Recording(sql="\n".join(sql), output=output)
        recording, problem = self._pictures(block, recording, counts)
        if self.run.update_snapshots:
            self.recorded[block.key] = recording
            return problem
        return "\n".join(filter(None, [problem, self._check(block, recording)])) or None

    def _counting(self, block: Block):
        """What SQLAlchemy sends and fetches while a block a chart counts runs."""
        if block.key in self.pictures.counted:
            return pictures.counting(self.database.url)
        return contextlib.nullcontext()

    def _pictures(
        self, block: Block, recording: snapshots.Recording, counts: pictures.Counts | None
    ) -> tuple[snapshots.Recording, str | None]:
        """The recording with what the block's pictures need: its tables, or its rows.

        The tables are reflected after the block, from a connection of their own, so
        that what the reflection sends is not the block's. A chart counts a block's
        statements in its SQL as the SQL box shows it; that count must be what
        SQLAlchemy reports sending, or the chart would not say what the block did.
        """
        where = f"{self.name}, line {block.line} [{self.backend.name}]"
        if block.key in self.pictures.tables:
            created = pictures.created_tables(recording.sql)
            if not created:
                marker = self.pictures.tables[block.key]
                return recording, (
                    f"{where}: this block created no table, so the tables comment at line "
                    f"{marker.line} has nothing to draw; put it before the block that creates "
                    "them"
                )
            try:
                if self.backend.variable is None:  # SQLite: the page's own file
                    reflected = pictures.reflect(self.database.url, created)
                else:  # as the harness's other connections do, from the server's base URL
                    reflected = pictures.reflect(self.base_url, created, self.database.name)
            except Exception as error:  # the driver's or SQLAlchemy's, said in one line
                first = str(error).strip().splitlines()[0] if str(error).strip() else ""
                return recording, (
                    f"{where}: the tables this block created ({', '.join(created)}) could not "
                    f"be read back from the database: {type(error).__name__}: {first}"
                )
            text = normalise(pictures.schema_text(reflected), self.replacements())
            return dataclasses.replace(recording, tables=text), None
        if counts is None:
            return recording, None
        listed = len(pictures.statements_in(recording.sql))
        problem = None
        if listed != counts.statements:
            problem = (
                f"{where}: SQLAlchemy sent {counts.statements} statements (BEGIN, COMMIT and "
                f"ROLLBACK left out), but the chart would count {listed} in the SQL this block "
                "sent: harness.pictures.statements_in reads this SQL wrongly"
            )
        return dataclasses.replace(recording, rows=counts.rows), problem

    def event_loop(self) -> asyncio.AbstractEventLoop:
        """The page's event loop, made when a block first awaits, closed with the page."""
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
            track_tasks(self._loop)
        return self._loop

    def _run_code(self, code: types.CodeType) -> None:
        """Run a block's compiled code; with a top-level ``await``, on the page's loop."""
        result = eval(code, self.namespace)  # noqa: S307 - the page's own code
        if code.co_flags & inspect.CO_COROUTINE:
            self.event_loop().run_until_complete(result)

    def _execute(self, block: Block, source: str, printed: io.StringIO) -> str | None:
        if not block.is_console:
            code = compile(
                "\n" * block.line + source, self.name, "exec", COMPILE_FLAGS, dont_inherit=True
            )
            with contextlib.redirect_stdout(_PRINTED), _PRINTED.into(printed):
                self._run_code(code)
            return None
        test = doctest.DocTestParser().get_doctest(
            source, {}, self.page.name, self.name, block.line
        )
        test.globs = self.namespace  # get_doctest copies; the page needs one namespace
        output = io.StringIO()
        runner = doctest.DocTestRunner(optionflags=DOCTEST_FLAGS)
        flags = doctest._extract_future_flags(self.namespace) | COMPILE_FLAGS
        with _refusing_unordered_displays(self.name, block.line), _awaiting_examples(self):
            result = runner.run(test, out=output.write, clear_globs=False, compileflags=flags)
        if result.failed:
            return "what the block printed differs from the page:\n" + output.getvalue()
        return None

    def _check(self, block: Block, actual: snapshots.Recording) -> str | None:
        where = f"{self.name}, line {block.line} [{self.backend.name}]"
        file = relative(self.snapshot_file, self.run.root)
        regenerate = "if the change is intended, run `nox -s snapshots` and review the diff"
        expected = snapshots.recording(
            self.snapshot.get(block.key), self.backend.name, self.version
        )
        if expected is None:
            edit = snapshots.against_predecessor(
                self.snapshot_file,
                file,
                self.snapshot,
                python_blocks(self.text),
                block,
                self.backend.name,
                actual,
            )
            return (
                f"{where}: {file} has no recording of this block on "
                f"{with_versions(self.backend, [self.version] if self.version else [])}; "
                f"{regenerate}.\n{edit}"
            )
        problems = []
        if actual.sql != expected.sql:
            problems.append(
                f"{where}: the SQL sent differs from {file}; {regenerate}.\n"
                f"{snapshots.diff(expected.sql, actual.sql)}"
            )
        if actual.output != expected.output:
            problems.append(
                f"{where}: what the block printed differs from {file}; {regenerate}.\n"
                f"{snapshots.diff(expected.output, actual.output)}"
            )
        if actual.tables != expected.tables:
            drawn = "differ from" if expected.tables else "have no recording in"
            problems.append(
                f"{where}: the tables after this block, as the database reports them, "
                f"{drawn} {file}, from which the site draws them; {regenerate}.\n"
                f"{snapshots.diff(expected.tables, actual.tables)}"
            )
        if actual.rows != expected.rows:
            problems.append(
                f"{where}: this block fetched {actual.rows} rows, and {file} records "
                f"{expected.rows}, which the site's chart shows; {regenerate}."
            )
        return "\n".join(problems) or None


def normalise_output(printed: str, replacements: dict[str, str]) -> str:
    """What a plain block printed, as its recording keeps it: see ``_VOLATILE_OUTPUT``."""
    for pattern, shown in _VOLATILE_OUTPUT:
        printed = pattern.sub(shown, printed)
    return normalise(printed, replacements)


@contextlib.contextmanager
def _refusing_unordered_displays(page: str, line: int):
    """A ``>>>`` line that displays a set would show an order the hash seed picks.

    doctest displays values with ``sys.__displayhook__`` (it resets
    ``sys.displayhook`` to it), so that is the hook to wrap while the block runs.
    """
    original = sys.__displayhook__

    def displayhook(value):
        if isinstance(value, set | frozenset) and len(value) > 1:
            raise AssertionError(
                f"{page}, line {line}: a set is shown, and its order changes from run to "
                "run; show sorted(...) instead"
            )
        original(value)

    sys.__displayhook__ = displayhook
    try:
        yield
    finally:
        sys.__displayhook__ = original


@contextlib.contextmanager
def _awaiting_examples(document: PageDocument):
    """doctest runs each example with ``exec``: here, with the page's ``_run_code``.

    ``exec`` would drop the coroutine that an example with a top-level ``await``
    makes; doctest finds ``exec`` among its module's names before the builtins.
    """

    def run(code, globs):
        assert globs is document.namespace
        document._run_code(code)

    doctest.exec = run
    try:
        yield
    finally:
        del doctest.exec


class _PrintedByTheRunningBlock(io.TextIOBase):
    """``sys.stdout`` while a plain block runs: what it receives goes to that block.

    Anything that keeps hold of ``sys.stdout`` (the handler ``echo=True`` gives a
    logger, say) keeps this object, and so writes to whichever block is running
    when it writes, and to the real standard output between blocks.
    """

    def __init__(self) -> None:
        self._into: io.StringIO | None = None

    @contextlib.contextmanager
    def into(self, buffer: io.StringIO):
        self._into = buffer
        try:
            yield
        finally:
            self._into = None

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        return (self._into or sys.__stdout__).write(text)


_PRINTED = _PrintedByTheRunningBlock()


@contextlib.contextmanager
def _logging_as_it_was():
    """Put back the loggers a page configured: ``echo=True``'s handlers, ``basicConfig()``,
    the loggers that Alembic's ``env.py`` disables with ``fileConfig()``.

    SQLAlchemy gives an echoing engine's logger a handler that writes to the
    ``sys.stdout`` of that moment, which during a block is the block's recording.
    Left in place, it would write the next database's run into this one's.
    """

    def loggers() -> dict[str, logging.Logger]:
        found = {"": logging.getLogger()}
        for name, logger in logging.Logger.manager.loggerDict.items():
            if isinstance(logger, logging.Logger):
                found[name] = logger
        return found

    before = {
        name: (logger.level, list(logger.handlers), logger.propagate, logger.disabled)
        for name, logger in loggers().items()
    }
    try:
        yield
    finally:
        for name, logger in loggers().items():
            level, handlers, propagate, disabled = before.get(
                name, (logging.NOTSET, [], True, False)
            )
            logger.handlers[:] = handlers
            logger.propagate = propagate
            logger.disabled = disabled  # logging.config.fileConfig() disables loggers
            logger.setLevel(level)


def _release_async_connections(namespace: dict, loop: asyncio.AbstractEventLoop) -> None:
    """Close the async sessions and engines a page left open, on their loop, then the loop.

    Before the synchronous clean-up: an async session's connection cannot be
    closed without its loop.
    """
    from sqlalchemy.ext.asyncio import AsyncEngine, close_all_sessions

    async def close() -> None:
        await close_all_sessions()
        for value in list(namespace.values()):
            if isinstance(value, AsyncEngine):
                await value.dispose()

    try:
        loop.run_until_complete(close())
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.run_until_complete(loop.shutdown_default_executor())
    finally:
        loop.close()


def _release_connections(namespace: dict) -> None:
    """Close what a page left open, as the end of a script would."""
    from sqlalchemy.engine import Engine
    from sqlalchemy.orm import close_all_sessions

    close_all_sessions()
    for value in list(namespace.values()):
        if isinstance(value, Engine):
            value.dispose()


class PageParser:
    """Yields a region for each python block, then one for the page's own checks."""

    def __init__(self, static_checks: bool) -> None:
        self.static_checks = static_checks

    def __call__(self, document: PageDocument) -> list[Region]:
        blocks = python_blocks(document.text)
        regions = [Region(b.fence.start, b.fence.end, b, evaluate_block) for b in blocks]
        if self.static_checks:
            end = len(document.text)
            regions.append(Region(end, end, blocks, check_page))
        if regions:
            last = regions[-1]
            regions[-1] = Region(last.start, last.end, last.parsed, _closing_after(last.evaluator))
        return regions


def _closing_after(evaluator):
    """The page's last item ends its run on this database at once.

    Sybil sets up a page's run on every database together and tears them down
    together after the last; ending each as soon as it is over means the next
    database's run starts from a clean process (loggers, sessions, connections).
    """

    def evaluate(example):
        try:
            return evaluator(example)
        finally:
            example.document.close()

    return evaluate


def evaluate_block(example) -> str | None:
    document: PageDocument = example.document
    block: Block = example.parsed
    where = f"{document.name}, line {block.line}"
    if block.fence.hidden:
        return (
            f"{where}: this python block is inside an HTML comment, where readers never "
            "see it; the code a page runs is the code it shows"
        )
    if block.skip is not None:
        if block.skip.problem:
            return f"{document.name}, line {block.skip.line}: {block.skip.problem}"
        raise unittest.SkipTest(f"not run anywhere: {block.skip.reason}")
    if not block.runs_on(document.backend.name):
        raise unittest.SkipTest(f'under the tab "{block.fence.tab}"')
    try:
        source = expand_snippets(block.source, document.page, block.line, document.run.root)
    except PageError as error:
        return str(error)
    return document.run_block(block, source)


def check_page(example) -> str | None:
    """What is wrong with the page as a whole: its text, its links, stale snapshots."""
    document: PageDocument = example.document
    problems = broken_links(document.page, document.run.docs)
    problems += unproven_rows(document.page, document.run.docs)
    printed = {key for key, entry in document.snapshot.items() if (entry or {}).get("output")}
    problems += page_problems(document.text, document.name, printed)
    if not document.run.update_snapshots:
        keys = {block.key for block in example.parsed}
        for key in document.snapshot:
            if key not in keys:
                file = document.snapshot_file
                problems.append(
                    f"{relative(file, document.run.root)}, line "
                    f"{snapshots.line_of_key(file, key)}: the snapshot of a block that is no "
                    f"longer on {document.name}; run `nox -s snapshots` to remove it"
                )
    return "\n".join(problems) or None
