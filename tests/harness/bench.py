"""What the project costs: the doc suite against its floor, and the site for a reader.

The floor runs each page's own program, the one the site offers for download,
in one process per database, with a fresh module and a fresh database namespace
per page: the same blocks, with no pytest, no SQL capture and no checks. Both
are timed as whole processes, interpreter start included, so the ratio is what
a contributor feels. The site build is timed too.

Then the built site is measured as a reader gets it, served gzip-compressed on
localhost as a static host serves it, in the system's headless Chromium: the
bytes and requests of a first visit to each page, with an empty cache; what
the first press of a Run button costs (``harness.run_in_browser``): the bytes
fetched and the time until the block's output shows, the median of several
fresh browsers; and every page's Lighthouse scores, the median of three runs
(``harness.lighthouse``: Lighthouse CI, pinned, from npm). Each figure is printed
with its budget.

Run with ``nox -s bench``; ``python -m harness.bench floor sqlite`` runs the
floor alone, ``python -m harness.bench build`` the build alone, and
``python -m harness.bench site`` the reader's side alone. After timing the
build as ``nox -s docs`` runs it, the bench builds the pages once more in one
process, to print what each page costs against its python blocks.
"""

from __future__ import annotations

import contextlib
import io
import os
import statistics
import subprocess
import sys
import tempfile
import time
import types
from pathlib import Path
from urllib.parse import urljoin

from harness import lighthouse
from harness.databases import BACKENDS, BY_NAME, configured_url, isolated_database
from harness.page_scripts import page_script, script_name
from harness.pages import DOCS, ROOT, pages, python_blocks
from harness.suite_times import print_suite


def run_floor(backend_name: str) -> int:
    """Run every page's own program on one database, in this process; returns the blocks run.

    The program is the one the site offers for download (``harness.page_scripts``):
    the page's blocks in order, as a reader runs them, with nothing around them
    but a fresh module and a fresh database namespace per page.
    """
    backend = BY_NAME[backend_name]
    executed = 0
    with tempfile.TemporaryDirectory() as folder, contextlib.chdir(folder):
        for page in pages(DOCS):
            script = page_script(page)
            if script is None:
                continue
            module = types.ModuleType(f"floor_{page.stem.replace('-', '_')}")
            module.__file__ = str(Path(folder) / script_name(page, DOCS))
            sys.modules[module.__name__] = module
            with isolated_database(backend, configured_url(backend), page.stem) as database:
                os.environ["DATABASE_URL"] = database.url
                # dont_inherit: this module's `from __future__ import annotations` would
                # otherwise turn the annotations of a script's classes into strings, which
                # the Async chapter's script, whose classes are defined in main(), cannot resolve.
                code = compile(script.text, module.__file__, "exec", dont_inherit=True)
                with contextlib.redirect_stdout(io.StringIO()):
                    exec(code, module.__dict__)  # noqa: S102
                _close(module.__dict__)
            sys.modules.pop(module.__name__, None)
            executed += len(script.origins)
    return executed


def _close(namespace: dict) -> None:
    from sqlalchemy.engine import Engine
    from sqlalchemy.orm import close_all_sessions

    close_all_sessions()
    for value in list(namespace.values()):
        if isinstance(value, Engine):
            value.dispose()


def _timed(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


#: What a first visit to any page may cost a reader, as a static host serves it
#: (gzip): requests, and bytes of headers and compressed bodies. Anything heavier
#: (the runtime behind the Run buttons) waits for the reader's click.
FIRST_VISIT_REQUESTS = 15
FIRST_VISIT_BYTES = 200_000
#: The budgets each figure is printed with (the suite's ratio to its floor on SQLite,
#: the build's milliseconds per python block, a first visit's requests and kilobytes);
#: the browser tests enforce the first visit's. Lighthouse's are in
#: tests/lighthouse/lighthouserc.yml (``harness.lighthouse``).
RATIO_BUDGET = 1.5
BUILD_MS_PER_BLOCK_BUDGET = 3.0


def main() -> None:
    backends = [name for name in BACKENDS if configured_url(BY_NAME[name])]
    blocks = sum(len(python_blocks(page.read_text())) for page in pages(DOCS))
    print(f"{len(pages(DOCS))} pages, {blocks} python blocks\n")
    print(f"suite against its floor (budget on SQLite: a ratio of {RATIO_BUDGET} at most)")
    print(f"{'database':<12}{'suite s':>9}{'floor s':>9}{'ratio':>7}{'ms/block':>10}")
    for name in backends:
        suite = _timed(
            [sys.executable, "-m", "pytest", "docs", f"--backend={name}", "-q"]
            + ["-p", "no:cacheprovider", "-p", "no:xdist"]
        )
        floor = _timed([sys.executable, "-m", "harness.bench", "floor", name])
        print(
            f"{name:<12}{suite:>9.2f}{floor:>9.2f}{suite / floor:>7.2f}"
            f"{1000 * suite / blocks:>10.1f}"
        )
    print_suite()
    with tempfile.TemporaryDirectory() as site:
        print_build(Path(site), blocks)
        print_reader_costs(Path(site))


def print_build(site: Path, blocks: int) -> None:
    """The whole build into ``site``, as a contributor waits for it, then each page's share."""
    # The files beside the pages (harness.site_files), then the pages: the whole build.
    files = _timed([sys.executable, "-m", "harness.site_files"])
    built = _timed(["mkdocs", "build", "--strict", "--quiet", "-d", str(site)])
    print(
        f"\nsite build: {files + built:.2f} s for {blocks} python blocks, "
        f"{1000 * (files + built) / blocks:.1f} ms per block (budget {BUILD_MS_PER_BLOCK_BUDGET}): "
        f"the files beside the pages {files:.2f} s, the pages {built:.2f} s"
    )
    # In a process of its own, so that nothing this one read is already known there.
    subprocess.run([sys.executable, "-m", "harness.bench", "pages"], check=True, cwd=ROOT)


def print_page_builds() -> None:
    """What each page costs the build, against its python blocks: the build grows with them
    if the cost per block is about the same on every page (the fit says how closely)."""
    per_page, extension, total = page_build_times()
    counts = {
        page.relative_to(DOCS).as_posix(): len(python_blocks(page.read_text()))
        for page in pages(DOCS)
    }
    print(
        "\neach page's build, in one process (its Markdown, of which the harness's "
        "extension, and its HTML)"
    )
    print(f"{'page':<32}{'blocks':>7}{'ms':>7}{'extension ms':>14}{'ms/block':>10}")
    for name, seconds in sorted(per_page.items(), key=lambda item: -item[1]):
        blocks = counts.get(name, 0)
        per_block = f"{1000 * seconds / blocks:>10.1f}" if blocks else ""
        print(
            f"{name:<32}{blocks:>7}{1000 * seconds:>7.0f}"
            f"{1000 * extension.get(name, 0):>14.0f}{per_block}"
        )
    names = sorted(per_page)
    x = [counts.get(name, 0) for name in names]
    y = [1000 * per_page[name] for name in names]
    slope, intercept = statistics.linear_regression(x, y)
    print(
        f"pages {sum(per_page.values()):.2f} s (the extension {sum(extension.values()):.2f} s), "
        f"the rest of the build {total - sum(per_page.values()):.2f} s; a page costs "
        f"{intercept:.0f} ms + {slope:.1f} ms per block (r = {statistics.correlation(x, y):.2f})"
    )


def page_build_times() -> tuple[dict[str, float], dict[str, float], float]:
    """Seconds per page (by its path under docs/) of a strict MkDocs build run here, of those
    the seconds of the harness's Markdown extension, and the seconds of the whole build."""
    from unittest import mock

    from mkdocs.commands import build
    from mkdocs.config import load_config

    from harness import site_markdown

    per_page: dict[str, float] = {}
    extension: dict[str, float] = {}

    def timed(step, seconds: dict[str, float], name):
        def run(*arguments, **keywords):
            started = time.perf_counter()
            try:
                return step(*arguments, **keywords)
            finally:
                page = name(*arguments)
                seconds[page] = seconds.get(page, 0.0) + time.perf_counter() - started

        return run

    def page_of(page, *_):
        return page.file.src_uri

    with (
        tempfile.TemporaryDirectory() as site,
        contextlib.chdir(ROOT),
        mock.patch.object(build, "_populate_page", timed(build._populate_page, per_page, page_of)),
        mock.patch.object(build, "_build_page", timed(build._build_page, per_page, page_of)),
        mock.patch.object(
            site_markdown,
            "render_page",
            timed(site_markdown.render_page, extension, lambda _, page: page.name),
        ),
    ):
        started = time.perf_counter()
        build.build(load_config(str(ROOT / "mkdocs.yml"), strict=True, site_dir=site))
        total = time.perf_counter() - started
    return per_page, extension, total


#: The chapter whose first Run button is pressed, in this many fresh browsers.
FIRST_RUN_PAGE = "engine/"
FIRST_RUN_BROWSERS = 3

#: One run's performance score varies by several points on a busy machine.
LIGHTHOUSE_RUNS = 3


def print_reader_costs(site: Path) -> None:
    """First-visit bytes and requests of every page, and every page's Lighthouse scores."""
    from harness.site_browser import chromium, serve, site_pages

    with serve(site, compress=True) as base_url:
        print(
            f"\n{'first visit, empty cache':<28}{'requests':>9}{'KB':>9}"
            f"   (budget: {FIRST_VISIT_REQUESTS} requests, {FIRST_VISIT_BYTES // 1000} KB)"
        )
        with chromium() as browser:
            for path in site_pages(site):
                requests, transferred = first_visit(browser, urljoin(base_url, path))
                print(f"{'/' + path:<28}{requests:>9}{transferred / 1000:>9.0f}")
        print_first_run(urljoin(base_url, FIRST_RUN_PAGE))
    print()
    try:
        lighthouse.print_site_scores(site, LIGHTHOUSE_RUNS)
    except lighthouse.LighthouseUnavailable as error:
        print(f"Lighthouse: not measured, {error}")


def first_visit(browser, url: str) -> tuple[int, int]:
    """Requests made and bytes received (headers and compressed bodies) loading ``url``."""
    context = browser.new_context()  # a new context has an empty cache
    try:
        page = context.new_page()
        responses = []
        page.on("requestfinished", lambda request: responses.append(request))
        page.goto(url, wait_until="networkidle")
        transferred = 0
        for request in responses:
            sizes = request.sizes()
            transferred += sizes["responseHeadersSize"] + sizes["responseBodySize"]
        return len(responses), transferred
    finally:
        context.close()


def print_first_run(url: str) -> None:
    """The median cost of a chapter's first Run, from the click to the block's output."""
    from harness.site_browser import chromium

    runs = []
    for _ in range(FIRST_RUN_BROWSERS):
        with chromium() as browser:
            runs.append(first_run(browser, url))
    requests, transferred, seconds = (statistics.median(each) for each in zip(*runs, strict=True))
    print(
        f"\nfirst Run on /{FIRST_RUN_PAGE}, to the first block's output "
        f"(median of {FIRST_RUN_BROWSERS} fresh browsers): {requests:.0f} requests, "
        f"{transferred / 2**20:.1f} MiB, {seconds:.1f} s"
    )


def first_run(browser, url: str) -> tuple[int, int, float]:
    """Requests, bytes (headers and compressed bodies) and seconds from the click on the
    first Run button of ``url`` to its block's output, in a new context (empty cache)."""
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(url, wait_until="networkidle")
        finished = []
        context.on("requestfinished", lambda request: finished.append(request))
        page.evaluate(
            "() => { window.firstOutput = new Promise((resolve) => document.addEventListener("
            "'run-in-browser:block', resolve, { once: true })); }"
        )
        started = time.perf_counter()
        page.locator(".run-block > button:visible").first.click()
        page.evaluate("() => window.firstOutput.then(() => true)")
        seconds = time.perf_counter() - started
        transferred = 0
        for request in finished:
            sizes = request.sizes()
            transferred += sizes["responseHeadersSize"] + sizes["responseBodySize"]
        return len(finished), transferred, seconds
    finally:
        context.close()


if __name__ == "__main__":
    if sys.argv[1:2] == ["floor"]:
        print(run_floor(sys.argv[2]), "blocks")
    elif sys.argv[1:2] == ["build"]:
        with tempfile.TemporaryDirectory() as built:
            print_build(Path(built), sum(len(python_blocks(p.read_text())) for p in pages(DOCS)))
    elif sys.argv[1:2] == ["suite"]:
        print_suite()
    elif sys.argv[1:2] == ["pages"]:
        print_page_builds()
    elif sys.argv[1:2] == ["site"]:
        with tempfile.TemporaryDirectory() as built:
            from harness.site_browser import build_site

            print_reader_costs(build_site(Path(built)))
    else:
        main()
