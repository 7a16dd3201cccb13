"""The whole test suite on every server the site is verified on, timed, for ``nox -s bench``.

Each server runs what CI runs on it, with two workers as ``nox -s test`` does:
SQLite everything; the newest version of PostgreSQL and of MariaDB every test
that takes a database (``--database-tests-only``); each other version the pages
and the tests marked each_version (``--version-checks-only``). The servers are
the configured URLs, and the other versions of ``Backend.versions`` in throwaway
containers (``harness.containers``) when Docker runs. Each run's JUnit report
gives what each page cost there; the ten slowest pages are printed with the
servers side by side. ``python -m harness.bench suite`` runs this part alone.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from harness.backends import ALL, Backend, major
from harness.databases import configured_url, server_version
from harness.pages import DOCS, ROOT, pages, relative

#: The issue's budget for the whole suite on every server, warm, on two cores.
SUITE_BUDGET_SECONDS = 90
SLOWEST_PAGES = 10


@dataclass
class ServerRun:
    label: str  # "PostgreSQL 17"
    tests: int
    seconds: float
    #: seconds of each page's blocks and checks on this server, by its path under the project
    pages: dict[str, float]
    #: seconds of each chapter's downloaded script and copied program, run apart, likewise
    programs: dict[str, float]
    failed: int


def print_suite() -> None:
    """Run the suite on each server in turn and print the breakdown and the slowest pages."""
    print(
        "\nthe whole suite on every server, as CI runs it, two workers (budget "
        f"{SUITE_BUDGET_SECONDS} s): SQLite everything, the newest PostgreSQL and MariaDB "
        "every test that takes a database, the other versions the pages and version checks"
    )
    runs: list[ServerRun] = []
    for backend in ALL:
        for version in [None, *backend.versions] if backend.versions else [None]:
            with _server(backend, version) as (url, label, listed):
                if url is None:
                    continue
                runs.append(_run(backend, url, label, _selection(backend, listed)))
                print(
                    f"{runs[-1].label:<28}{runs[-1].tests:>6} tests{runs[-1].seconds:>8.1f} s"
                    + (f"   {runs[-1].failed} FAILED" if runs[-1].failed else "")
                )
    total = sum(run.seconds for run in runs)
    print(
        f"{'all servers':<28}{sum(r.tests for r in runs):>6} tests{total:>8.1f} s"
        "   (a container's start is not counted)"
    )
    _print_slowest_pages(runs)


def _selection(backend: Backend, listed: str | None) -> list[str]:
    """What CI runs on this server: everything on SQLite, every test that takes a database on
    the newest version (or one not listed), the pages and version checks on the others."""
    if backend.variable is None:
        return []
    if listed is None or listed == backend.versions[-1]:
        return ["--database-tests-only"]
    return ["--version-checks-only"]


@contextlib.contextmanager
def _server(backend: Backend, version: str | None):
    """(URL, label, listed version) of the configured server (``version`` None), or of
    ``version`` in a container when the configured server is another; URL None if neither."""
    configured = configured_url(backend)
    if version is None:
        if configured is None:
            yield None, "", None
            return
        found = server_version(configured)
        listed = major(backend, found) if backend.versions else None
        yield configured, f"{backend.title} {listed or found}", listed
        return
    if configured is not None and major(backend, server_version(configured)) == version:
        yield None, "", None  # the configured server is this version: timed above
        return
    from harness import containers

    try:
        with containers.throwaway_server(backend, version) as url:
            yield url, f"{backend.title} {version} (container)", version
    except containers.DockerUnavailable as error:
        print(f"{backend.title} {version}: not measured ({error})")
        yield None, "", None


def _run(backend: Backend, url: str, label: str, selection: list[str]) -> ServerRun:
    with tempfile.TemporaryDirectory() as folder:
        report = Path(folder) / "report.xml"
        env = dict(os.environ)
        if backend.variable:
            env[backend.variable] = url
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "pytest", f"--backend={backend.name}", *selection]
            + ["--numprocesses=auto", "--dist=loadfile", "-q", "-p", "no:cacheprovider"]
            + [f"--junitxml={report}"]
            # The browser tests, installed here for the bench's own measures, are the
            # browser session's; the test sessions, without Playwright, skip them.
            + ["--ignore=tests/test_site.py"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            check=False,  # a failure is counted and printed, the timing still stands
        )
        seconds = time.perf_counter() - started
        return _read_report(report, label, seconds)


def _read_report(report: Path, label: str, seconds: float) -> ServerRun:
    # JUnit names a page's tests by its path with dots for slashes (docs.examples.blog.md),
    # and a chapter's script or copied program by its stem after the database: [sqlite-blog]
    by_classname = {relative(page).replace("/", "."): relative(page) for page in pages(DOCS)}
    by_stem = {page.stem: relative(page) for page in pages(DOCS)}
    per_page: dict[str, float] = {}
    programs: dict[str, float] = {}
    tests = failed = 0
    for case in ET.parse(report).getroot().iter("testcase"):
        tests += 1
        failed += any(child.tag in ("failure", "error") for child in case)
        seconds_taken = float(case.get("time", 0))
        page = by_classname.get(case.get("classname", ""))
        if page is not None:
            per_page[page] = per_page.get(page, 0.0) + seconds_taken
        elif case.get("classname") in PROGRAM_TESTS:
            parameters = re.search(r"\[[a-z]+-(.+)\]$", case.get("name", ""))
            chapter = by_stem.get(parameters[1]) if parameters else None
            if chapter is not None:
                programs[chapter] = programs.get(chapter, 0.0) + seconds_taken
    return ServerRun(label, tests, seconds, per_page, programs, failed)


#: The tests that run each chapter as a reader's program, in a process of its own.
PROGRAM_TESTS = ("tests.test_page_scripts", "tests.test_reader_paths")


def _print_slowest_pages(runs: list[ServerRun]) -> None:
    def cost(run: ServerRun, page: str) -> float:
        return run.pages.get(page, 0.0) + run.programs.get(page, 0.0)

    every_page = {page for run in runs for page in [*run.pages, *run.programs]}
    totals = {page: sum(cost(run, page) for run in runs) for page in every_page}
    slowest = sorted(totals, key=totals.get, reverse=True)[:SLOWEST_PAGES]
    names = [run.label.removesuffix(" (container)") for run in runs]
    print(
        f"\nthe {SLOWEST_PAGES} slowest pages: seconds of their blocks and checks, and of their "
        "script and copied program (in parallel with each other and with the other tests)"
    )
    print(
        f"{'page':<34}{'total':>7}{'blocks':>8}{'programs':>10}"
        + "".join(f"{name:>16}" for name in names)
    )
    for page in slowest:
        blocks = sum(run.pages.get(page, 0.0) for run in runs)
        cells = "".join(f"{cost(run, page):>16.1f}" for run in runs)
        print(f"{page:<34}{totals[page]:>7.1f}{blocks:>8.1f}{totals[page] - blocks:>10.1f}{cells}")
