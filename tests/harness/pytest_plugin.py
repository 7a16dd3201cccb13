"""The pytest plugin: options, collection of docs/ pages, and the fixtures of the tests.

Each page runs once per selected backend, as its own Sybil document; running a
page is ``harness.run_page``'s job, and this module only wires it into pytest.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from sybil import Sybil
from sybil.sybil import SybilCollection

from harness import snapshots
from harness.backends import with_versions
from harness.databases import (
    BACKENDS,
    BY_NAME,
    Backend,
    BackendUnavailable,
    check_reachable,
    check_rights,
    configured_url,
    isolated_database,
    remove_leftovers,
    server_version,
)
from harness.pages import Block, relative
from harness.run_page import PageDocument, PageParser, Run


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
        "--database-tests-only",
        action="store_true",
        help="run only the pages and the tests that run once per database, leaving out "
        "those that need none; nox's test(postgresql) and test(mariadb) pass it, as "
        "test(sqlite) runs those",
    )
    group.addoption(
        "--version-checks-only",
        action="store_true",
        help="run only what can differ from one version of a server to the next: the "
        "pages' blocks and checks, and the tests marked each_version; for a version of a "
        "database whose other tests run on another of its versions (CI's services)",
    )
    group.addoption(
        "--update-snapshots",
        action="store_true",
        help="rewrite the SQL snapshots of the pages that run, instead of checking them",
    )


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
    if requested and not_configured:
        # Asked for by name, a database without a URL is a mistake to say, not a
        # run of nothing to report green.
        raise pytest.UsageError(
            " ".join(
                f"--backend={b.name} asks for {b.title}, which is not configured: "
                f"set {b.variable}, e.g. {b.variable}={b.example_url}."
                for b in not_configured
            )
        )
    config.addinivalue_line(
        "markers",
        "on_database(name): the test needs the server of that database, without taking "
        "`backend`; --database-tests-only keeps it",
    )
    config.addinivalue_line(
        "markers",
        "each_version: the test checks what may differ between versions of a server; "
        "--version-checks-only keeps it",
    )
    run = Run(config.rootpath, backends, not_configured, config.getoption("update_snapshots"))
    config.stash[RUN] = run
    config.stash[COVERED] = PagesCovered()
    config.pluginmanager.register(config.stash[COVERED], "tutorial_pages_covered")

    dist = getattr(config.option, "dist", "no")
    # loadscope keeps a file's functions, and so a page's blocks, in one process too.
    if getattr(config.option, "numprocesses", None) and dist not in ("no", "loadfile", "loadscope"):
        raise pytest.UsageError(
            "The blocks of a page build on each other, so parallel runs need "
            "--dist loadfile (or loadscope)."
        )
    if not hasattr(config, "workerinput"):  # once per run, not once per xdist worker
        for backend, url in backends:
            try:
                check_reachable(backend, url)
                check_rights(backend, url)
                sweep = remove_leftovers(backend, url)
            except BackendUnavailable as error:
                raise pytest.UsageError(str(error)) from None
            run.removed_leftovers += sweep.removed
            run.kept_leftovers += sweep.kept
    for backend, url in backends:
        run.server_versions[backend.name] = server_version(url)
        if run.update_snapshots and backend.versions and run.listed_version(backend) is None:
            raise pytest.UsageError(
                f"{backend.variable} is {backend.title} {run.server_versions[backend.name]}, "
                f"and the snapshots are recorded on {with_versions(backend, backend.versions)} "
                "only: point it at one of those, or unset it to record in Docker."
            )

    sybils = [
        Sybil(
            parsers=[PageParser(static_checks=index == 0)],
            path=str(run.docs),
            pattern="*.md",
            name=backend.name,
            document_types={".md": PageDocument.on(backend, url, run)},
            setup=lambda namespace: PageDocument.of(namespace).open(),
            teardown=PageDocument.close_if_open,
        )
        for index, (backend, url) in enumerate(backends)
    ]
    config.stash[COLLECT] = SybilCollection(sybils).pytest() if sybils else None


COLLECT = pytest.StashKey[object]()
#: With --update-snapshots: each page the run recorded, and the databases it did so on.
COVERED = pytest.StashKey["PagesCovered"]()


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
    lines = [
        "tutorial backends: "
        + (
            ", ".join(
                f"{b.name} {run.server_versions.get(b.name, '')}".strip() for b, _ in run.backends
            )
            or "none"
        )
    ]
    for backend in run.not_configured:
        lines.append(
            f"{backend.name}: skipped, not configured; to include it, set "
            f"{backend.variable}={backend.example_url}"
        )
    if run.removed_leftovers:
        lines.append(f"removed leftovers of an earlier run: {', '.join(run.removed_leftovers)}")
    lines += run.kept_leftovers  # found by the controller only
    if run.update_snapshots:
        lines.append("updating SQL snapshots instead of checking them")
    if config.getoption("database_tests_only"):
        lines.append(
            "the tests that need no database are left out (--database-tests-only): "
            "run them with --backend=sqlite"
        )
    if config.getoption("version_checks_only"):
        lines.append("only the pages and the tests marked each_version run (--version-checks-only)")
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
    """With --database-tests-only, leave out the tests that need no database; with
    --version-checks-only, all but the pages and the tests marked each_version; with
    --shuffle-pages, reorder whole
    files (blocks within a page never move)."""
    if config.getoption("database_tests_only"):
        _keep_only(config, items, _runs_once_per_database)
    if config.getoption("version_checks_only"):
        _keep_only(config, items, _differs_by_version)
    seed = shuffle_seed(config)
    if seed is None:
        return
    by_file: dict[Path, list[pytest.Item]] = {}
    for item in items:
        by_file.setdefault(item.path, []).append(item)
    files = list(by_file)
    random.Random(seed).shuffle(files)
    items[:] = [item for file in files for item in by_file[file]]


def _keep_only(config: pytest.Config, items: list[pytest.Item], keep) -> None:
    left_out = [item for item in items if not keep(item)]
    if left_out:
        config.hook.pytest_deselected(items=left_out)
        items[:] = [item for item in items if keep(item)]


def _differs_by_version(item: pytest.Item) -> bool:
    """Whether ``item`` is a block or check of a page, or a test marked ``each_version``."""
    return getattr(item, "example", None) is not None or bool(
        item.get_closest_marker("each_version")
    )


def _runs_once_per_database(item: pytest.Item) -> bool:
    """Whether ``item`` is a block or check of a page, a test that takes ``backend``,
    or one marked ``on_database`` (it needs that database's server)."""
    if getattr(item, "example", None) is not None or item.get_closest_marker("on_database"):
        return True
    callspec = getattr(item, "callspec", None)
    return callspec is not None and "backend" in callspec.params


class PagesCovered:
    """Notes which page ran on which database, and whether it failed there.

    Registered once per run; under xdist its hook runs in the controller too,
    on the reports the workers send.
    """

    def __init__(self) -> None:
        self.pages: dict[str, dict[str, bool]] = {}

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        for name, value in report.user_properties:
            if name == "tutorial_page":
                page, backend = value
                passed = self.pages.setdefault(page, {}).get(backend, True)
                self.pages[page][backend] = passed and not report.failed


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """After a successful recording run, note which pages it recorded where, with what versions.

    A page is noted only for the databases it ran on, so a run on SQLite alone
    never makes the site say a page was verified on PostgreSQL or MariaDB.
    """
    config = session.config
    run = config.stash.get(RUN, None)
    if run is None or not run.update_snapshots or hasattr(config, "workerinput"):
        return
    if exitstatus != 0 or not run.backends:
        return
    import platform

    import sqlalchemy

    covered = {
        page: [backend for backend, passed in databases.items() if passed]
        for page, databases in config.stash[COVERED].pages.items()
    }
    snapshots.record_verified_run(
        run.root, covered, run.server_versions, platform.python_version(), sqlalchemy.__version__
    )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """Report a skipped block at its line on the page, not inside pytest."""
    report = yield
    example = getattr(item, "example", None)
    if example is not None:
        page = relative(Path(example.path), item.config.rootpath)
        if isinstance(example.parsed, Block):  # a block ran, not the page's own checks
            # A list of the report's own: the item's is shared by its three reports.
            noted = ("tutorial_page", (page, example.document.backend.name))
            report.user_properties = [*report.user_properties, noted]
        if report.skipped and isinstance(report.longrepr, tuple):
            _, _, reason = report.longrepr
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
