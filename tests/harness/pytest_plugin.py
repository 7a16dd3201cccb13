"""Collect every page of docs/ and run its python blocks on each selected backend.

Each page runs once per backend, as its own Sybil document, in a namespace that
is a fresh module (as a script has) and a database namespace of its own. The
page finds its database the way a reader's program does: in ``DATABASE_URL``.
After each block, the SQL it sent is compared with the page's snapshot.
"""

from __future__ import annotations

import doctest
import io
import os
import random
import sys
import types
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sybil import Document, Region, Sybil
from sybil.parsers.markdown import SkipParser
from sybil.sybil import SybilCollection

from harness import snapshots
from harness.capture_sql import capture_sql
from harness.databases import (
    BACKENDS,
    BY_NAME,
    Backend,
    BackendUnavailable,
    check_reachable,
    configured_url,
    isolated_database,
    remove_leftovers,
    server_version,
)
from harness.links import broken_links
from harness.page_checks import page_problems
from harness.pages import (
    Block,
    PageError,
    expand_snippets,
    python_blocks,
    relative,
)

DOCTEST_FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("tutorial", "running the tutorial's pages")
    group.addoption(
        "--backend",
        action="append",
        choices=BACKENDS,
        help="run pages and examples on this database (repeatable); "
        "default: SQLite and every database whose URL is set",
    )
    group.addoption(
        "--shuffle-pages",
        metavar="SEED",
        help="run the files in a random order drawn from SEED (an integer, or 'random' "
        "for a fresh one that is printed); each page's blocks keep their order",
    )
    group.addoption(
        "--update-snapshots",
        action="store_true",
        help="rewrite the SQL snapshots of the pages that run, instead of checking them",
    )


@dataclass
class Run:
    """What this pytest run was asked to do."""

    root: Path
    backends: list[tuple[Backend, str]]  # each selected backend with its URL
    not_configured: list[Backend]
    update_snapshots: bool
    removed_leftovers: list[str] = field(default_factory=list)

    @property
    def docs(self) -> Path:
        return self.root / "docs"


RUN = pytest.StashKey[Run]()


def pytest_configure(config: pytest.Config) -> None:
    requested = config.getoption("backend") or []
    names = list(dict.fromkeys(requested)) if requested else list(BACKENDS)
    backends, not_configured = [], []
    for name in names:
        backend = BY_NAME[name]
        url = configured_url(backend)
        if url is None:
            not_configured.append(backend)
        else:
            backends.append((backend, url))
    run = Run(config.rootpath, backends, not_configured, config.getoption("update_snapshots"))
    config.stash[RUN] = run

    dist = getattr(config.option, "dist", "no")
    if getattr(config.option, "numprocesses", None) and dist not in ("no", "loadfile"):
        raise pytest.UsageError(
            "The blocks of a page build on each other, so parallel runs need --dist loadfile."
        )
    if not hasattr(config, "workerinput"):  # once per run, not once per xdist worker
        from harness.databases import check_rights

        run.kept_leftovers = []
        for backend, url in backends:
            try:
                check_reachable(backend, url)
                check_rights(backend, url)
                sweep = remove_leftovers(backend, url)
            except BackendUnavailable as error:
                raise pytest.UsageError(str(error)) from None
            run.removed_leftovers += sweep.removed
            run.kept_leftovers += sweep.kept

    sybils = [
        Sybil(
            parsers=[SkipParser(), PageParser(static_checks=index == 0)],
            path=str(run.docs),
            pattern="*.md",
            name=backend.name,
            document_types={".md": PageDocument.on(backend, url, run)},
            setup=lambda namespace: PageDocument.of(namespace).open(),
            teardown=lambda namespace: PageDocument.of(namespace).close(),
        )
        for index, (backend, url) in enumerate(backends)
    ]
    config.stash[COLLECT] = SybilCollection(sybils).pytest() if sybils else None
    if not sybils and not_configured:
        # Only databases whose URL is unset were asked for: a page named on the
        # command line is reported skipped, saying why, instead of "not found".
        reason = " ".join(
            f"{b.title} is not configured: set {b.variable}, e.g. {b.variable}={b.example_url}."
            for b in not_configured
        )

        class NotConfiguredPage(pytest.File):
            def collect(self):
                item = NotConfigured.from_parent(self, name="not configured")
                item.add_marker(pytest.mark.skip(reason=reason))
                yield item

        class NotConfigured(pytest.Item):
            def runtest(self):
                pass

            def reportinfo(self):
                return self.path, 0, self.name

        config.stash[COLLECT] = lambda path, parent: NotConfiguredPage.from_parent(
            parent, path=path
        )


COLLECT = pytest.StashKey[object]()


def pytest_collect_file(file_path: Path, parent: pytest.Collector):
    run = parent.config.stash[RUN]
    collect = parent.config.stash[COLLECT]
    if collect is None or file_path.suffix != ".md":
        return None
    if not file_path.resolve().is_relative_to(run.docs.resolve()):
        return None
    return collect(file_path, parent)


def pytest_report_header(config: pytest.Config) -> list[str]:
    run = config.stash[RUN]
    lines = ["tutorial backends: " + (", ".join(b.name for b, _ in run.backends) or "none")]
    for backend in run.not_configured:
        lines.append(
            f"{backend.name}: skipped, not configured; to include it, set "
            f"{backend.variable}={backend.example_url}"
        )
    if run.removed_leftovers:
        lines.append(f"removed leftovers of an earlier run: {', '.join(run.removed_leftovers)}")
    lines += getattr(run, "kept_leftovers", [])  # set by the controller only
    if run.update_snapshots:
        lines.append("updating SQL snapshots instead of checking them")
    seed = shuffle_seed(config)
    if seed is not None:
        lines.append(f"files in random order: --shuffle-pages={seed} repeats it")
    return lines


def shuffle_seed(config: pytest.Config) -> int | None:
    """The seed of --shuffle-pages, drawn once per run and shared with xdist workers."""
    value = config.getoption("shuffle_pages")
    if value is None:
        return None
    if value == "random":
        if hasattr(config, "workerinput"):  # xdist workers use the controller's seed
            return config.workerinput["tutorial_seed"]
        if not hasattr(config, "_tutorial_seed"):
            config._tutorial_seed = random.SystemRandom().randrange(10**6)
        return config._tutorial_seed
    try:
        return int(value)
    except ValueError:
        message = f"--shuffle-pages takes an integer or 'random', not {value!r}"
        raise pytest.UsageError(message) from None


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node) -> None:
    """Hand the controller's random seed to each xdist worker."""
    seed = shuffle_seed(node.config)
    if seed is not None:
        node.workerinput["tutorial_seed"] = seed


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """With --shuffle-pages, reorder whole files; blocks within a page never move."""
    seed = shuffle_seed(config)
    if seed is None:
        return
    by_file: dict[Path, list[pytest.Item]] = {}
    for item in items:
        by_file.setdefault(item.path, []).append(item)
    files = list(by_file)
    random.Random(seed).shuffle(files)
    items[:] = [item for file in files for item in by_file[file]]


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """After a successful snapshot run, note the versions it verified the pages with."""
    config = session.config
    run = config.stash.get(RUN, None)
    if run is None or not run.update_snapshots or hasattr(config, "workerinput"):
        return
    if exitstatus != 0 or not run.backends:
        return
    import platform

    import sqlalchemy

    versions = {"python": platform.python_version(), "sqlalchemy": sqlalchemy.__version__}
    for backend, url in run.backends:
        versions[backend.name] = server_version(url)
    snapshots.record_verified_run(run.root, versions)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """Report a skipped block at its line on the page, not inside pytest."""
    report = yield
    example = getattr(item, "example", None)
    if report.skipped and example is not None and isinstance(report.longrepr, tuple):
        _, _, reason = report.longrepr
        page = relative(Path(example.path), item.config.rootpath)
        report.longrepr = (page, example.line, reason)
    return report


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Tests that take ``backend`` run once on each selected database."""
    if "backend" in metafunc.fixturenames:
        run = metafunc.config.stash[RUN]
        metafunc.parametrize(
            "backend", [backend for backend, _ in run.backends], ids=lambda b: b.name
        )


@pytest.fixture
def database_url(backend: Backend, request: pytest.FixtureRequest) -> Iterator[str]:
    """The URL of a fresh, empty database namespace on ``backend``."""
    run = request.config.stash[RUN]
    url = dict((b.name, u) for b, u in run.backends)[backend.name]
    with isolated_database(backend, url, request.node.name) as database:
        yield database.url


@pytest.fixture
def engine(database_url: str):
    """An engine on a fresh database namespace, disposed afterwards."""
    from sqlalchemy import create_engine

    engine = create_engine(database_url)
    yield engine
    engine.dispose()


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

    def __init__(self, text: str, path: str) -> None:
        super().__init__(text, path)
        self.page = Path(path)
        self.name = relative(self.page, self.run.root)
        module_name = f"page_{self.page.stem.replace('-', '_')}_{self.backend.name}"
        self.module = types.ModuleType(module_name)
        self.module.__file__ = path
        self.namespace = self.module.__dict__
        self._by_namespace[id(self.namespace)] = self
        self.snapshot_file = snapshots.snapshot_path(self.page, self.run.docs, self.run.root)
        self.snapshot = snapshots.load(self.snapshot_file)
        self.recorded: dict[str, str] = {}
        self.database = None
        self._stack = ExitStack()

    def open(self) -> None:
        sys.modules[self.module.__name__] = self.module
        self.database = self._stack.enter_context(
            isolated_database(self.backend, self.base_url, self.page.stem)
        )

    def close(self) -> None:
        try:
            _release_connections(self.namespace)
        finally:
            self._stack.close()
            sys.modules.pop(self.module.__name__, None)
            self._by_namespace.pop(id(self.namespace), None)
        if self.run.update_snapshots:
            self._write_snapshot()

    def replacements(self) -> dict[str, str]:
        return {self.database.name: self.database.reader_name}

    def run_block(self, block: Block, source: str) -> str | None:
        """Execute one block; returns a failure message, or None."""
        previous = os.environ.get("DATABASE_URL")
        os.environ["DATABASE_URL"] = self.database.url
        try:
            with capture_sql(self.replacements()) as sql:
                failure = self._execute(block, source)
        finally:
            if previous is None:
                os.environ.pop("DATABASE_URL", None)
            else:
                os.environ["DATABASE_URL"] = previous
        if failure:
            return f"[{self.backend.name}] {failure}"
        return self._check_sql(block, "\n".join(sql))

    def _execute(self, block: Block, source: str) -> str | None:
        if not block.is_console:
            code = compile("\n" * block.line + source, self.name, "exec", dont_inherit=True)
            exec(code, self.namespace)
            return None
        test = doctest.DocTestParser().get_doctest(
            source, {}, self.page.name, self.name, block.line
        )
        test.globs = self.namespace  # get_doctest copies; the page needs one namespace
        output = io.StringIO()
        runner = doctest.DocTestRunner(optionflags=DOCTEST_FLAGS)
        result = runner.run(test, out=output.write, clear_globs=False)
        if result.failed:
            return "what the block printed differs from the page:\n" + output.getvalue()
        return None

    def _check_sql(self, block: Block, actual: str) -> str | None:
        if self.run.update_snapshots:
            self.recorded[block.key] = actual
            return None
        entry = self.snapshot.get(block.key)
        expected = (entry or {}).get(self.backend.name, "")
        if actual == expected:
            return None
        where = f"{self.name}, line {block.line} [{self.backend.name}]"
        regenerate = "if the change is intended, run `nox -s snapshots` and review the diff"
        if entry is None:
            return (
                f"{where}: this block sent SQL but "
                f"{relative(self.snapshot_file, self.run.root)} has no snapshot for it; "
                f"{regenerate}.\n{snapshots.diff('', actual)}"
            )
        return (
            f"{where}: the SQL sent differs from "
            f"{relative(self.snapshot_file, self.run.root)}; {regenerate}.\n"
            f"{snapshots.diff(expected, actual)}"
        )

    def _write_snapshot(self) -> None:
        """Store what this backend sent, keeping other backends' SQL as it was."""
        current = snapshots.load(self.snapshot_file)
        blocks = {block.key: block for block in python_blocks(self.text)}
        entries: dict[str, dict[str, str]] = {}
        for key, block in blocks.items():
            entry = dict(current.get(key) or {})
            entry.pop("block", None)
            if key in self.recorded:
                if self.recorded[key]:
                    entry[self.backend.name] = self.recorded[key]
                else:
                    entry.pop(self.backend.name, None)
            sql = {name: entry[name] for name in BACKENDS if entry.get(name)}
            if sql:
                entries[key] = {"block": block.first_line, **sql}
        snapshots.save(self.snapshot_file, relative(self.page, self.run.root), entries)


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

    def __call__(self, document: PageDocument) -> Iterator[Region]:
        blocks = python_blocks(document.text)
        for block in blocks:
            yield Region(block.fence.start, block.fence.end, block, evaluate_block)
        if self.static_checks:
            end = len(document.text)
            yield Region(end, end, blocks, check_page)


def evaluate_block(example) -> str | None:
    document: PageDocument = example.document
    block: Block = example.parsed
    try:
        source = expand_snippets(block.source, document.page, block.line, document.run.root)
    except PageError as error:
        return str(error)
    return document.run_block(block, source)


def check_page(example) -> str | None:
    """What is wrong with the page as a whole: its text, its links, stale snapshots."""
    document: PageDocument = example.document
    problems = broken_links(document.page, document.run.docs)
    problems += page_problems(document.text, document.name)
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
