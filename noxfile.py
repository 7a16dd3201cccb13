# /// script
# dependencies = ["nox>=2025.5.1", "testcontainers==4.15.0"]
# ///
"""Every job of the project, one session each: `nox -l` lists them."""

from __future__ import annotations

import importlib
import importlib.util
import locale
import os
import random
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import nox


def _harness_module(filename: str):
    """A module of the harness read by path: nox's environment has no SQLAlchemy."""
    path = Path(__file__).parent / "tests" / "harness" / filename
    spec = importlib.util.spec_from_file_location(f"tutorial_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while defining
    spec.loader.exec_module(module)
    return module


BACKENDS = _harness_module("backends.py")
CONTAINERS = _harness_module("containers.py")

nox.needs_version = ">=2025.5.1"
nox.options.default_venv_backend = "uv"
nox.options.sessions = ["test"]
nox.options.error_on_missing_interpreters = True

DATABASES = list(BACKENDS.BACKENDS)
URL_VARIABLES = BACKENDS.URL_VARIABLES
#: The dependency groups that install every driver.
DRIVER_GROUPS = [b.driver_group for b in BACKENDS.ALL if b.driver_group]
#: The group of the account service's web API (FastAPI), which its page and tests import.
WEB = "web"

#: The settings of the `hostile` session: a reader's machine is not a CI runner.
HOSTILE = {
    # Every page's database connections, as if the reader's server were in Nepal (+05:45).
    "TUTORIAL_DATABASE_TIME_ZONE": "Asia/Kathmandu",
    # The Python process in Newfoundland (-03:30, or -02:30 in summer).
    "TZ": "America/St_Johns",
    # Turkish, whose upper-case I is not the upper case of i.
    "LC_ALL": "tr_TR.UTF-8",
}


def install(session: nox.Session, *groups: str) -> None:
    """Install the locked versions of the given dependency groups, and the harness.

    Compiled to bytecode as they are installed: where PYTHONDONTWRITEBYTECODE is set
    (CI's machines set it), every Python the tests start (page scripts, the copied
    programs, Alembic's commands, each fault's run) would otherwise compile SQLAlchemy
    and its drivers anew, about 0.7 s each; a later sync compiles only what changed.
    """
    session.run_install(
        "uv",
        "sync",
        "--locked",
        "--compile-bytecode",
        "--no-default-groups",
        *(f"--group={group}" for group in groups),
        env={"UV_PROJECT_ENVIRONMENT": session.virtualenv.location},
        silent=True,
    )


@contextmanager
def database_url(
    session: nox.Session, database: str, required: bool = False, version: str | None = None
) -> Iterator[str | None]:
    """The URL to test ``database`` on: the configured one, or a throwaway container.

    Yields None for a database that needs no server. ``version`` asks for a
    throwaway container of that version, whatever URL is set. Without a URL or
    Docker, the session is skipped, or fails if the database is ``required``.
    """
    variable = BACKENDS.BY_NAME[database].variable
    if variable is None:
        yield None
        return
    if version is None and os.environ.get(variable):
        yield os.environ[variable]
        return
    with throwaway_container(session, database, required, version) as url:
        yield url


@contextmanager
def throwaway_container(
    session: nox.Session, database: str, required: bool, version: str | None
) -> Iterator[str]:
    """Start the database in Docker for this session only, and remove it afterwards."""
    backend = BACKENDS.BY_NAME[database]
    version = version or backend.versions[-1]
    image = CONTAINERS.image_of(backend, version)
    try:
        with CONTAINERS.throwaway_server(backend, version) as url:
            session.log(f"Started a throwaway {backend.title} {version} container ({image})")
            yield url
    except CONTAINERS.ContainerFailed as error:
        session.error(f"{backend.title} {version} could not be started in Docker: {error}")
    except CONTAINERS.DockerUnavailable as error:
        reason = f"{backend.title} {version} cannot be started in Docker: {error}"
        if required:
            session.error(
                f"{reason}; or record on the configured databases only, "
                "e.g. `nox -s snapshots -- --backend=sqlite`"
            )
        session.skip(f"{database} is not configured: set {backend.variable} to its URL ({reason})")
    session.log(f"Removed the {backend.title} {version} container")


@nox.session
def check_databases(session: nox.Session) -> None:
    """Connect to every database whose URL is set, in seconds, before the sessions that use them.

    A URL that does not work stops `nox -s test` here, with its sentence, instead
    of after the other databases' runs.
    """
    install(session, "test", *DRIVER_GROUPS)
    output = session.run(
        "python", "-m", "harness.databases", "check", silent=True, success_codes=[0, 1]
    )
    checked = ("ready: ", "not configured: ")
    for line in output.splitlines():
        if line.startswith(checked):
            session.log(line)
    problems = [line for line in output.splitlines() if line and not line.startswith(checked)]
    if problems:
        session.error(" ".join(problems))


@nox.session(requires=["check_databases"])
@nox.parametrize("database", DATABASES, ids=DATABASES)
def test(session: nox.Session, database: str) -> None:
    """Run every page, example and harness test on one database (all three by default).

    Without its URL, PostgreSQL or MariaDB runs in a throwaway container of its
    newest version in `versions`, when Docker is running."""
    run_suite(session, database)


#: Every server version the site is verified on, as "postgresql-17".
MATRIX = [f"{b.name}-{version}" for b in BACKENDS.ALL for version in b.versions]


@nox.session
@nox.parametrize("server", MATRIX, ids=MATRIX)
def versions(session: nox.Session, server: str) -> None:
    """Run the suite on each server version the site is verified on, in throwaway containers.

    One Docker container per version of PostgreSQL and MariaDB, whatever URLs are
    set; "versions(mariadb-11.8)" runs one."""
    database, _, version = server.partition("-")
    run_suite(session, database, version)


def run_suite(session: nox.Session, database: str, version: str | None = None) -> None:
    driver_group = BACKENDS.BY_NAME[database].driver_group
    groups = ["test", WEB, driver_group] if driver_group else ["test", WEB]
    install(session, *groups)
    # The tests that need no database run once, in the SQLite session.
    once = [] if database == "sqlite" else ["--database-tests-only"]
    hostile = hostile_settings(session) if os.environ.get("TUTORIAL_HOSTILE") else {}
    with database_url(session, database, version=version) as url:
        env = {**hostile, URL_VARIABLES[database]: url} if url else hostile
        session.run(
            "pytest",
            f"--backend={database}",
            *once,
            "--numprocesses=auto",
            "--dist=loadfile",
            *session.posargs,
            env=env,
        )


@nox.session(python=False)
def standins(session: nox.Session) -> None:
    """Build the Docker images that stand in for the official ones where no registry answers (CI).

    From Debian's packages, as root, with Docker and debootstrap; images already
    built are reused; `-- postgresql:17 mariadb:11.8` builds those two only."""
    session.run(sys.executable, "tests/standins/build.py", *session.posargs)


@nox.session(requires=["check_databases"])
def hostile(session: nox.Session) -> None:
    """Run the whole suite on every database far from UTC, in Turkish, random hash seed.

    The database sessions are in Asia/Kathmandu (+05:45), the Python process in
    America/St_Johns, the locale is tr_TR.UTF-8, and the hash seed is drawn anew and
    printed (`PYTHONHASHSEED=N nox -s hostile` repeats it). `-- --backend=NAME`
    runs on the databases named only; `TUTORIAL_HOSTILE=1 nox -s test` runs the
    test sessions in the same settings.
    """
    install(session, "test", WEB, *DRIVER_GROUPS)
    env = hostile_settings(session)
    named = [arg.partition("=")[2] for arg in session.posargs if arg.startswith("--backend=")]
    databases = named or DATABASES
    with ExitStack() as stack:
        for database in databases:
            if database in URL_VARIABLES:
                url = stack.enter_context(database_url(session, database))
                env[URL_VARIABLES[database]] = url
        session.run(
            "pytest",
            *([] if named else (f"--backend={database}" for database in databases)),
            "--numprocesses=auto",
            "--dist=loadfile",
            *session.posargs,
            env=env,
        )


def hostile_settings(session: nox.Session) -> dict[str, str]:
    """The environment of `hostile`, with a hash seed drawn anew (or PYTHONHASHSEED's), logged."""
    try:
        locale.setlocale(locale.LC_ALL, HOSTILE["LC_ALL"])
    except locale.Error:
        session.error(
            f"the locale {HOSTILE['LC_ALL']} is missing here; generate it with "
            "`localedef -i tr_TR -f UTF-8 tr_TR.UTF-8` (as root) and run again"
        )
    finally:
        locale.setlocale(locale.LC_ALL, "C")
    seed = os.environ.get("PYTHONHASHSEED") or str(random.SystemRandom().randrange(1, 2**32))
    env = {**HOSTILE, "PYTHONHASHSEED": seed}
    session.log(" ".join(f"{name}={value}" for name, value in env.items()))
    return env


@nox.session(requires=["check_databases"])
def snapshots(session: nox.Session) -> None:
    """Rewrite the snapshots of every page (or of the pages given after --) on every database,
    and on every version of PostgreSQL and MariaDB the site is verified on.

    The configured URLs record first; every other version is then recorded in a
    throwaway Docker container. Every database must be configured (or startable
    in Docker): a page whose blocks were recorded on some databases only would
    fail the site's build. `-- --backend=sqlite` records on the configured
    databases named, and the site then says which databases and versions each
    page was last verified on, and when.
    """
    install(session, "test", WEB, *DRIVER_GROUPS)
    # Pages named after -- narrow the run; without any, every page is recorded.
    pages = [] if any(Path(arg).exists() for arg in session.posargs) else ["docs"]
    if any(arg.startswith("--backend") for arg in session.posargs):
        session.run("pytest", *pages, "--update-snapshots", *session.posargs)
        return
    output = session.run("python", "-m", "harness.databases", "versions", silent=True)
    configured = dict(line.split(" ", 1) for line in output.splitlines() if " " in line)
    # Each database's servers, the configured one first; run i records every database's i-th.
    servers = {}
    for database in DATABASES:
        backend = BACKENDS.BY_NAME[database]
        here = database in configured or backend.variable is None  # SQLite needs no server
        others = [v for v in backend.versions if v != configured.get(database)]
        servers[database] = ([None] if here else []) + others
    for turn in range(max(len(found) for found in servers.values())):
        env, backends = {}, []
        with ExitStack() as stack:
            for database, found in servers.items():
                if turn >= len(found):
                    continue
                url = stack.enter_context(
                    database_url(session, database, required=True, version=found[turn])
                )
                if url:
                    env[URL_VARIABLES[database]] = url
                backends.append(f"--backend={database}")
            session.run(
                "pytest", *pages, "--update-snapshots", *backends, *session.posargs, env=env
            )
    session.log("Review the change with `git diff tests/snapshots` before committing it.")


@nox.session
def docs(session: nox.Session) -> None:
    """Build the site strictly into site/: any warning, broken link or anchor fails.

    SITE_URL is the address it is published at (see mkdocs.yml). The files the site
    serves beside its pages are written into docs/ first (harness.site_files)."""
    install(session, "docs")
    session.run("python", "-m", "harness.site_files")
    session.run("mkdocs", "build", "--strict", *session.posargs)


@nox.session
def serve(session: nox.Session) -> None:
    """Serve the site at http://127.0.0.1:8000, rebuilt when a page, snapshot or example
    changes (mkdocs.yml's watch list); start it again after a change to the harness."""
    install(session, "docs")
    # mkdocs serve, and the files beside the pages written again when their sources change
    session.run("python", "-m", "harness.site_files", "serve", *session.posargs)


@nox.session
def zensical(session: nox.Session) -> None:
    """Build the site with Zensical too, the successor of Material for MkDocs, and fail,
    naming page and difference, if any SQL box, output, picture, page fact, verified line
    or file served beside the pages (scripts, examples, the Run buttons' files) differs
    from the MkDocs build's (the elements are compared, not whole pages: the themes differ).
    """
    install(session, "test", "zensical")
    session.run(
        "pytest",
        "tests/test_zensical.py",
        "--backend=sqlite",  # the pages themselves are tested by `test`
        "-rP",  # the summary: how many of each were compared
        *session.posargs,
        env={"TUTORIAL_ZENSICAL_TESTS": "required"},
    )


@nox.session
def lint(session: nox.Session) -> None:
    """Check Python files with ruff, every python block of docs/ and of examples' docstrings,
    and the GitHub Actions workflow with actionlint and zizmor."""
    install(session, "lint")
    session.run("actionlint")
    session.run("zizmor", "--offline", "--quiet", ".github/workflows")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run(
        "pytest",
        "-p",
        "no:tutorial_docs",
        "tests/lint_blocks.py",
        "-q",
        *session.posargs,
    )


@nox.session
def mutations(session: nox.Session) -> None:
    """Apply faults a contributor could make, one at a time, and check that each is caught
    on every database that should catch it (`-- WORD` runs the faults whose description
    has WORD)."""
    # browser: one fault is caught by the browser tests, which run a chapter in Chromium;
    # zensical: one by the comparison of the Zensical build with the MkDocs build
    install(session, "test", WEB, "postgresql", "mariadb", "browser", "zensical")
    with ExitStack() as stack:
        env = {}
        for database in URL_VARIABLES:
            url = stack.enter_context(database_url(session, database))
            env[URL_VARIABLES[database]] = url
        session.run("python", "-m", "harness.mutations", *session.posargs, env=env)


@nox.session
def repeat(session: nox.Session) -> None:
    """Run the whole suite 5 times (`-- N` for N) in random orders; count failures, leftovers."""
    install(session, "test", WEB, "postgresql", "mariadb")
    session.run("python", "-m", "harness.repeat", *session.posargs)


@nox.session
def browser(session: nox.Session) -> None:
    """Build the site and test it in headless Chromium: loads, SQL tabs, copy, search, phones,
    every chapter run to its last block through its Run buttons, and every page's
    Lighthouse scores against tests/lighthouse/lighthouserc.yml."""
    install(session, "test", "docs", "browser")
    # Built once, for the three processes that test it (as harness.site_browser builds it),
    # unless TUTORIAL_SITE_DIR names a site built elsewhere.
    site = os.environ.get("TUTORIAL_SITE_DIR")
    if not site:
        site = str(Path(session.create_tmp()) / "site")
        session.run("python", "-m", "harness.site_files")
        session.run("mkdocs", "build", "--strict", "--quiet", "--clean", "-d", site)
    session.run(
        "pytest",
        "tests/test_site.py",
        "--backend=sqlite",  # the pages themselves are tested by `test`
        "--durations=10",  # where the session's minutes go
        # Three processes: a browser test mostly waits (tests/test_site.py says more).
        "--numprocesses=3",
        "--dist=loadscope",
        *session.posargs,
        env={"TUTORIAL_BROWSER_TESTS": "required", "TUTORIAL_SITE_DIR": site},
    )
    session.log("Screenshots of every page, desktop and phone: screenshots/")


@nox.session
def bench(session: nox.Session) -> None:
    """Time the doc suite against its floor, the whole suite on every server, and the build;
    measure the site as readers get it (`-- suite` times the whole suite alone)."""
    install(session, "test", WEB, "docs", "postgresql", "mariadb", "browser")
    session.run("python", "-m", "harness.bench", *session.posargs)
