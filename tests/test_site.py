"""The built site, tested the way readers use it: in a real browser.

The site is built strictly into a temporary folder (or taken, already built,
from the folder named by ``TUTORIAL_SITE_DIR``), served on 127.0.0.1 and opened
in the system's headless Chromium through Playwright. One browser and one tab
serve each pytest process.

``nox -s browser`` builds the site once and tests it in three processes
(pytest-xdist, ``--dist loadscope``): a browser test spends much of its time
waiting (for the network to go quiet, for Lighthouse's pauses), and one process
left a two-core machine half idle. Lighthouse CI's scores and the chapters' runs,
each made once for all the tests that read them, are the two test classes, which
that scheduling keeps whole; the other tests share the third process.

These tests need the ``browser`` and ``docs`` dependency groups and a Chromium
(``nox -s browser`` has both). Where either is missing they are skipped, except
under ``nox -s browser``, which sets ``TUTORIAL_BROWSER_TESTS=required`` so that a
missing browser fails the run instead of passing it silently.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import warnings
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
from harness import lighthouse, snapshots
from harness.backends import with_versions
from harness.bench import FIRST_VISIT_BYTES, FIRST_VISIT_REQUESTS, first_visit
from harness.browser_runs import (
    differences,
    python_worker,
    run_chapters,
    run_up_to,
    scrypt_in_cpython,
    scrypt_in_the_browser,
    soonest_block,
    with_sql_capture,
)
from harness.databases import BY_NAME
from harness.page_scripts import page_blocks, page_script
from harness.pages import DOCS, ROOT, pages
from harness.pictures import page_pictures
from harness.run_in_browser import SITE_FOLDER, page_data
from harness.site_browser import (
    DESKTOP,
    PHONE,
    build_site,
    chromium,
    chromium_path,
    is_local,
    serve,
    site_pages,
)

REQUIRED = os.environ.get("TUTORIAL_BROWSER_TESTS") == "required"


def _unavailable(reason: str) -> None:
    if REQUIRED:
        raise RuntimeError(f"the browser tests cannot run: {reason}")
    pytest.skip(f"{reason}; `nox -s browser` runs these tests", allow_module_level=True)


try:
    import mkdocs  # noqa: F401 - only whether it is installed matters here
    from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
except ImportError as error:
    _unavailable(f"{error.name} is not installed (dependency groups browser and docs)")
if not Path(chromium_path()).is_file():
    _unavailable(f"no Chromium at {chromium_path()} (apt-get install chromium)")


SCREENSHOTS = Path(os.environ.get("TUTORIAL_SCREENSHOTS") or ROOT / "screenshots")


def url_path(source: Path) -> str:
    """``docs/engine.md`` is served at ``engine/``, ``docs/index.md`` at the root."""
    relative = source.relative_to(DOCS).with_suffix("")
    if relative.name == "index":
        relative = relative.parent
    return "" if str(relative) == "." else f"{relative.as_posix()}/"


PAGES = pages(DOCS)
CHAPTERS = [page for page in PAGES if page_blocks(page)]


class Reader:
    """One tab of the browser, with everything it saw go wrong since the last visit."""

    def __init__(self, context, base_url: str) -> None:
        self.base_url = base_url
        self.problems: list[str] = []
        self.outside_requests: list[str] = []
        context.route("**/*", self._only_local)
        self.page = context.new_page()
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda error: self.problems.append(f"uncaught error: {error}"))
        self.page.on("requestfailed", self._request_failed)
        self.page.on("response", self._response)

    def _only_local(self, route) -> None:
        # Everything outside the local server is refused, so a page that fetches
        # a font or a script from elsewhere is caught here and never reaches out.
        if is_local(route.request.url, self.base_url):
            route.continue_()
        else:
            self.outside_requests.append(route.request.url)
            route.abort()

    def _request_failed(self, request) -> None:
        # A local request that the reader's own navigation cut short (the favicon
        # of the page being left, say) is no fault of the site; any other is.
        if request.failure == "net::ERR_ABORTED" and is_local(request.url, self.base_url):
            return
        self.problems.append(f"request failed: {request.url} ({request.failure})")

    def _response(self, response) -> None:
        if response.status >= 400:
            self.problems.append(f"HTTP {response.status}: {response.url}")

    def _console(self, message) -> None:
        if message.type == "error":
            self.problems.append(f"console error: {message.text}")

    def visit(self, path: str) -> None:
        self.problems.clear()
        self.outside_requests.clear()
        self.page.goto(urljoin(self.base_url, path), wait_until="networkidle")


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    given = os.environ.get("TUTORIAL_SITE_DIR")
    if given:
        return Path(given)
    return build_site(tmp_path_factory.mktemp("site"))


@pytest.fixture(scope="module")
def base_url(site):
    with serve(site) as url:
        yield url


@pytest.fixture(scope="module")
def reader(base_url):
    with chromium() as browser:
        context = browser.new_context(
            viewport=DESKTOP, permissions=["clipboard-read", "clipboard-write"]
        )
        yield Reader(context, base_url)
        context.close()


def test_the_site_has_exactly_the_pages_of_docs(site):
    assert site_pages(site) == sorted(url_path(page) for page in PAGES)


@pytest.mark.parametrize("source", PAGES, ids=lambda page: page.stem)
def test_a_page_loads_with_no_error_and_nothing_from_other_hosts(reader, source):
    reader.visit(url_path(source))
    assert reader.outside_requests == [], "requests to hosts other than the local server"
    assert reader.problems == []
    assert reader.page.locator("article h1").count() == 1


@pytest.fixture(scope="module")
def compressed_url(site):
    with serve(site, compress=True) as url:
        yield url


def test_a_first_visit_to_any_page_stays_within_its_budget(reader, compressed_url):
    """With an empty cache, each page costs at most 15 requests and 200 KB compressed;
    a page over either budget is named with its figures."""
    over = []
    for source in PAGES:
        url = urljoin(compressed_url, url_path(source))
        requests, transferred = first_visit(reader.page.context.browser, url)
        where = source.relative_to(ROOT).as_posix()
        if requests > FIRST_VISIT_REQUESTS:
            over.append(
                f"{where}: a first visit makes {requests} requests; "
                f"the budget is {FIRST_VISIT_REQUESTS}"
            )
        if transferred > FIRST_VISIT_BYTES:
            over.append(
                f"{where}: a first visit moves {transferred / 1000:.0f} KB compressed; "
                f"the budget is {FIRST_VISIT_BYTES // 1000} KB"
            )
    assert not over, "\n".join(over)


class LighthouseBudgetWarning(UserWarning):
    """A page under a Lighthouse budget that is reported, not enforced."""


LIGHTHOUSE_TEST = "test_a_page_holds_its_lighthouse_budgets"


@pytest.fixture(scope="module")
def lighthouse_reports(request, compressed_url, tmp_path_factory):
    """The pages this run tests against their Lighthouse budgets, scored together by one
    Lighthouse CI run (one start of it, rather than one a page): scores and verdicts."""
    sources = [
        item.callspec.params["source"]
        for item in request.session.items
        if getattr(item, "originalname", None) == LIGHTHOUSE_TEST
    ]
    urls = [urljoin(compressed_url, url_path(source)) for source in sources]
    folder = tmp_path_factory.mktemp("lighthouse")
    return lighthouse.collect(urls, 1, folder), lighthouse.verdicts(folder)


class TestLighthouseBudgets:
    """A class of their own, so that `--dist loadscope` keeps them in one process."""

    # The first of these waits for every page's scores (lighthouse_reports), some ten seconds
    # a page alone, some thirty beside the other two processes: pytest-timeout's 120 s is
    # for one test's own work, and this is a guard against a run that hangs.
    @pytest.mark.timeout(2400)
    @pytest.mark.parametrize("source", PAGES, ids=lambda page: page.stem)
    def test_a_page_holds_its_lighthouse_budgets(self, lighthouse_reports, compressed_url, source):
        """Lighthouse CI scores the page once against tests/lighthouse/lighthouserc.yml:
        a score under an enforced budget fails it, with what ``lhci assert`` says; one
        under a budget that is only reported is a warning in the session's summary."""
        scores, verdicts = lighthouse_reports
        url = urljoin(compressed_url, url_path(source))
        where = source.relative_to(ROOT).as_posix()
        for name, budget in lighthouse.budgets().items():
            if not budget.enforced and scores[url][name] < budget.least:
                warnings.warn(
                    f"{where}: Lighthouse {name} {scores[url][name]}, under its budget of "
                    f"{budget.least} (reported, not enforced)",
                    LighthouseBudgetWarning,
                    stacklevel=1,
                )
        assert url not in verdicts, f"{where} is under a Lighthouse budget:\n{verdicts[url]}"


def differing_sql_block(source: Path) -> tuple[int, dict[str, str], dict[str, list[str]]]:
    """The first block of ``source`` that sends SQLite and PostgreSQL different SQL,
    one recording shared by every version: its index, SQL and versions."""
    entries = snapshots.load(snapshots.snapshot_path(source))
    for index, item in enumerate(page_blocks(source)):
        entry = entries.get(item.block.key) or {}
        sql = {name: entry.get(name) for name in BY_NAME}
        own = any(" " in key for key in entry if key not in ("block", "output", "versions"))
        if all(sql.values()) and sql["sqlite"] != sql["postgresql"] and not own:
            return index, sql, entry.get("versions") or {}
    raise AssertionError(f"no block of {source.name} sends SQLite and PostgreSQL different SQL")


def python_code_blocks(reader: Reader):
    """The page's python blocks as rendered, in page order (SQL boxes left out)."""
    return reader.page.locator(
        "article div.language-python.highlight, article div.language-pycon.highlight"
    )


def test_the_sql_box_opens_and_its_tabs_show_each_databases_sql(reader):
    source = DOCS / "engine.md"
    index, expected, versions = differing_sql_block(source)
    reader.visit(url_path(source))
    box = python_code_blocks(reader).nth(index).locator("xpath=following::details[1]")
    tabs = box.locator(".sql-tab-panel")
    assert box.get_attribute("open") is None, "the SQL box starts closed"
    assert not tabs.first.is_visible()

    box.locator("summary").click()
    assert box.get_attribute("open") is not None
    shown = {}
    for position, name in enumerate(BY_NAME):
        box.locator(".sql-tab-labels label").nth(position).click()
        # Each database's tab names the versions that sent its SQL.
        assert box.locator(".sql-tab-labels label").nth(position).inner_text() == (
            with_versions(BY_NAME[name], versions.get(name, []))
        )
        visible = [tab.is_visible() for tab in tabs.all()]
        assert visible == [i == position for i in range(len(BY_NAME))], name
        shown[name] = tabs.nth(position).inner_text().strip()
    assert shown == {name: sql.strip() for name, sql in expected.items()}
    assert shown["sqlite"] != shown["postgresql"]


def copied_text(reader: Reader, block) -> str:
    # A block in a collapsed box ("The models so far") is copied as a reader would:
    # after opening the box.
    block.evaluate(
        "element => { for (let box = element.closest('details'); box;"
        " box = box.parentElement.closest('details')) box.open = true; }"
    )
    block.hover()
    block.locator("button[data-md-type=copy]").click()
    return reader.page.evaluate("navigator.clipboard.readText()")


@pytest.mark.parametrize("name", ["engine", "loading"])
def test_the_copy_button_copies_code_that_runs(reader, name, tmp_path):
    """What a reader's clipboard gets, block after block, pasted into one file, runs.

    A block that shows an error copies as a ``try`` that catches and prints it;
    every database, with each tab's own copy, is covered by tests/test_reader_paths.py
    from the built HTML. Here the real button proves that HTML is what it copies.
    """
    source = DOCS / f"{name}.md"
    items = page_blocks(source)
    reader.visit(url_path(source))
    rendered = python_code_blocks(reader)
    assert rendered.count() == len(items)
    pasted = []
    for item, block in zip(items, rendered.all(), strict=True):
        text = copied_text(reader, block)
        where = f"{source.name}, line {item.block.line}"
        assert ">>> " not in text and "\n... " not in text, f"{where}: prompts were copied"
        assert "Traceback (most recent call last)" not in text, f"{where}: output was copied"
        assert text == item.copied.rstrip(), f"{where}: the copy is not the block's code"
        pasted.append(text)
    (tmp_path / "pasted.py").write_text("\n\n".join(pasted) + "\n")
    result = subprocess.run(
        [sys.executable, "pasted.py"],
        cwd=tmp_path,
        env={**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'pasted.db'}"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]


#: A code block as the theme's script finds it, to draw its copy button and measure it:
#: its <code> right inside its <pre> (the script's own selector is "pre > code").
THEME_CODE_BLOCK = re.compile(r"<pre\b[^>]*>(?:<span></span>)?<code\b")


@pytest.mark.parametrize("source", PAGES, ids=lambda page: page.stem)
def test_no_code_block_is_left_for_the_themes_script_to_draw(site, source):
    """The build draws every code block with its copy button (harness.site_markdown):
    the theme's script, which measures block after block as a page loads, laying the
    whole page out again each time, finds none to draw."""
    html = (site / url_path(source) / "index.html").read_text()
    left = len(THEME_CODE_BLOCK.findall(html))
    where = source.relative_to(ROOT).as_posix()
    assert left == 0, f"{where}: {left} code blocks are left for the theme's script to draw"


#: The chapter with the most code blocks, where the tests of their drawing look.
LONGEST = DOCS / "querying.md"
LONGEST_NAME = LONGEST.relative_to(ROOT).as_posix()


@contextmanager
def code_blocks_in_sight(reader: Reader, viewport: dict[str, int]):
    """The code blocks of the longest chapter, opened at ``viewport``, but those of its
    collapsed boxes ("The models so far"), which are not in sight."""
    reader.page.set_viewport_size(viewport)
    try:
        reader.visit(url_path(LONGEST))
        yield reader.page.locator(".code-text > code:not(details:not([open]) *)")
    finally:
        reader.page.set_viewport_size(DESKTOP)


def test_a_code_block_too_wide_for_a_phone_scrolls_with_the_keyboard(reader):
    """On a phone, a block wider than the screen takes the keyboard's focus once it
    comes near, and the arrow keys scroll it (docs/javascripts/code-blocks.js); a
    block that fits does not take the focus."""
    with code_blocks_in_sight(reader, PHONE) as blocks:
        widths = blocks.evaluate_all("all => all.map(code => code.scrollWidth > code.clientWidth)")
        wide = blocks.nth(widths.index(True))
        narrow = blocks.nth(widths.index(False))
        for block in (wide, narrow):
            block.scroll_into_view_if_needed()
        focusable = "code => code.getAttribute('tabindex') === '0'"
        if not _comes_true(reader, focusable, wide):
            pytest.fail(
                f"{LONGEST_NAME}: a block wider than a phone's screen cannot take the focus"
            )
        assert narrow.get_attribute("tabindex") is None, (
            f"{LONGEST_NAME}: a block that fits takes it"
        )
        wide.focus()
        reader.page.keyboard.press("ArrowRight")
        if not _comes_true(reader, "code => code.scrollLeft > 0", wide):
            pytest.fail(f"{LONGEST_NAME}: the arrow keys do not scroll a focused wide block")


#: Every code block of the page, as held undrawn (or as drawn, with ``DRAWN`` applied).
HEIGHTS = "all => all.map(code => code.getBoundingClientRect().height)"
DRAWN = ".md-typeset pre > .code-text > code { content-visibility: visible !important }"


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_a_code_block_out_of_sight_is_held_at_its_drawn_height(reader, viewport):
    """tutorial.css leaves the code blocks out of sight undrawn, each held at the height
    of its lines as the build counted them: drawn, every block is exactly as high, so
    nothing on the page moves when the browser draws one as it comes near."""
    with code_blocks_in_sight(reader, viewport) as blocks:
        held = blocks.evaluate_all(HEIGHTS)
        reader.page.add_style_tag(content=DRAWN)
        drawn = blocks.evaluate_all(HEIGHTS)
    moved = [
        f"{LONGEST_NAME}: code block {number} is held {before:.0f} px high and drawn "
        f"{after:.0f} px high"
        for number, (before, after) in enumerate(zip(held, drawn, strict=True), start=1)
        if abs(before - after) > 1
    ]
    assert held and not moved, "\n".join(moved[:5])


def _comes_true(reader: Reader, condition: str, element, seconds: float = 5) -> bool:
    """Whether ``condition``, a function of ``element`` in the page, is true within ``seconds``."""
    try:
        handle = element.element_handle()
        reader.page.wait_for_function(condition, arg=handle, timeout=seconds * 1000)
    except PlaywrightTimeoutError:
        return False
    return True


@pytest.mark.parametrize(
    ("term", "expected"),
    [
        ("selectinload", "loading.md"),
        ("expire_on_commit", "session.md"),
        ("pool_pre_ping", "engine.md"),
        ("back_populates", "relationship-patterns.md"),
        ("aliased", "querying.md"),
        ("over", "querying.md"),
        ("with_parent", "querying.md"),
        ("cast", "querying.md"),
        ("literal_binds", "core.md"),
        ("hybrid_property", "beyond-plain-columns.md"),
        ("AmbiguousForeignKeysError", "beyond-plain-columns.md"),
        ("MutableDict", "beyond-plain-columns.md"),
        ("with_loader_criteria", "events.md"),
        ("awaitable_attrs", "async.md"),
        ("MissingGreenlet", "async.md"),
        ("join_transaction_mode", "testing.md"),
    ],
)
def test_search_for_a_key_term_lands_on_its_page(reader, term, expected):
    reader.visit("")
    search = reader.page.locator("input.md-search__input")
    search.click()
    search.press_sequentially(term)  # Material searches on key presses, as a reader types
    first = reader.page.locator(".md-search-result__item a.md-search-result__link").first
    first.wait_for()
    first.click()
    reader.page.wait_for_load_state("networkidle")
    assert urlsplit(reader.page.url).path == "/" + url_path(DOCS / expected)
    assert term in reader.page.locator("article").inner_text()
    assert reader.problems == []


@pytest.mark.parametrize("source", CHAPTERS, ids=lambda page: page.stem)
def test_a_chapter_offers_its_script_and_says_when_it_was_verified(reader, source):
    reader.visit(url_path(source))
    link = reader.page.get_by_role("link", name="Download this page as a script")
    assert link.get_attribute("download") == source.with_suffix(".py").name
    script = reader.page.evaluate(
        "async href => (await fetch(href)).text()", link.get_attribute("href")
    )
    assert script == page_script(source).text

    facts = reader.page.locator(".page-facts").inner_text()
    noted = snapshots.verifications(ROOT, source.relative_to(ROOT).as_posix())
    assert noted, f"no recording run has noted {source.name}"
    for verification in noted:
        assert f"on {verification.date} with" in facts
        # Each database named once per run, with every version that run covered.
        same_run = [
            v.version
            for v in noted
            if (v.database, v.date, v.sqlalchemy, v.python)
            == (
                verification.database,
                verification.date,
                verification.sqlalchemy,
                verification.python,
            )
        ]
        assert with_versions(BY_NAME[verification.database], same_run) in facts
        assert f"(SQLAlchemy {verification.sqlalchemy}, Python {verification.python})" in facts


def _with_sql_capture(route) -> None:
    response = route.fetch()
    route.fulfill(response=response, body=with_sql_capture(response.text()))


CHAPTER_RUN_TEST = "test_a_chapter_runs_to_its_last_block_in_the_browser"


@pytest.fixture(scope="module")
def chapter_runs(reader, request):
    """The chapters this session tests, each run to its last block in the browser, two at a
    time, in tabs of their own (the machines have two cores, and a run uses one)."""
    chosen = [
        item.callspec.params["source"]
        for item in request.session.items
        if getattr(item, "originalname", None) == CHAPTER_RUN_TEST
    ]
    context = reader.page.context.browser.new_context(viewport=DESKTOP)
    readers = [reader, Reader(context, reader.base_url)]
    capture = f"**/{SITE_FOLDER}/run_blocks.py"
    for each in readers:
        each.page.context.route(capture, _with_sql_capture)
    try:
        yield run_chapters(readers, chosen, url_path)
    finally:
        reader.page.context.unroute(capture, _with_sql_capture)
        context.close()


class TestChapterRuns:
    """A class of their own, so that `--dist loadscope` keeps them in one process."""

    # The first of these waits for every chapter's run (chapter_runs): pytest-timeout's 120 s
    # is for one test's own work, and this is a guard against a run that hangs.
    @pytest.mark.timeout(2400)
    @pytest.mark.parametrize("source", CHAPTERS, ids=lambda page: f"{page.stem}-sqlite")
    def test_a_chapter_runs_to_its_last_block_in_the_browser(self, chapter_runs, source):
        """The last Run button runs every block the browser runs, in Pyodide on SQLite: what each
        printed and the SQL it sent are the page's and its snapshot's (``harness.browser_runs``).
        Nothing is fetched before the click, and nothing from any other host."""
        run = chapter_runs[source]
        assert run.early == [], "the runtime was fetched before the first click on Run"
        assert run.failed == [], f"Python did not start in the browser: {run.failed}"
        problems = differences(source, run.runs)
        assert not problems, "\n".join(problems)
        assert run.outside_requests == [], "requests to hosts other than the local server"
        assert run.problems == []


def test_a_run_goes_on_between_clicks_hashes_as_cpython_and_ends_with_the_page(reader):
    """A short run: the next Run runs the next block alone. Pyodide's hashlib has no scrypt;
    the worker's, from @noble/hashes, gives CPython's digests for the pages' costs, through
    the pages' own code, and refuses what CPython refuses. A link to a section of the page
    keeps the run; leaving the page by the theme's instant navigation ends the worker."""
    source, index = soonest_block(CHAPTERS, "def _scrypt(")
    reader.visit(url_path(source))
    runs, failed = run_up_to(reader.page, index)
    assert failed == [] and [run.error for run in runs] == [None] * (index + 1)
    assert scrypt_in_the_browser(reader.page) == scrypt_in_cpython()

    more, _ = run_up_to(reader.page, index + 1)
    assert [run.line for run in more] == [page_data(source, ROOT)["blocks"][index + 1]["line"]]

    # The theme redraws the page for a link to one of its sections: the run stays, and shows.
    worker, shown = python_worker(reader.page), reader.page.locator(".run-output").count()
    reader.page.locator(".md-sidebar--secondary a.md-nav__link").last.click()
    reader.page.wait_for_url("**#*")
    reader.page.wait_for_function(
        "shown => document.querySelectorAll('.run-output').length === shown", arg=shown
    )
    assert python_worker(reader.page) is worker

    with worker.expect_event("close"):
        reader.page.locator("a.md-footer__link--next").click()
    assert python_worker(reader.page) is None
    assert reader.problems == []


@pytest.fixture(scope="module")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    # The folder ignores itself, so that review material never gets committed.
    (SCREENSHOTS / ".gitignore").write_text("*\n")
    return SCREENSHOTS


@pytest.mark.parametrize("source", PAGES, ids=lambda page: page.stem)
def test_a_page_holds_its_layout_at_phone_width(reader, source, screenshots):
    name = source.stem
    reader.visit(url_path(source))
    reader.page.screenshot(path=screenshots / f"{name}-desktop.png", full_page=True)
    reader.page.set_viewport_size(PHONE)
    try:
        reader.visit(url_path(source))
        reader.page.screenshot(path=screenshots / f"{name}-phone.png", full_page=True)
        widths = reader.page.evaluate(
            "({page: document.documentElement.scrollWidth, body: document.body.scrollWidth,"
            " window: document.documentElement.clientWidth})"
        )
    finally:
        reader.page.set_viewport_size(DESKTOP)
    assert widths["page"] <= widths["window"], f"the page scrolls sideways on a phone: {widths}"
    assert widths["body"] <= widths["window"], f"the body scrolls sideways on a phone: {widths}"


def _pictured(source: Path) -> int:
    """How many pictures (table diagrams and charts) a page asks for."""
    asked = page_pictures(source.read_text(), source.name)
    return len(asked.tables) + len(asked.charts)


PICTURED = [page for page in PAGES if _pictured(page)]

#: Each picture of the page, as the reader's browser drew it: for each of its tabs (clicked
#: in turn), the drawings shown (one, at any width), with their size, their text
#: alternative and the contrast of their text on their boxes.
_PICTURES = """async () => {
  const luminance = (colour) => {
    const [r, g, b] = colour.match(/[\\d.]+/g).slice(0, 3).map(Number).map((c) => {
      c /= 255;
      return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const found = [];
  for (const figure of document.querySelectorAll("article figure.picture-figure")) {
    const labels = [...figure.querySelectorAll(".sql-tab-labels > label")];
    for (const [index, label] of (labels.length ? labels : [null]).entries()) {
      if (label) label.click();
      await new Promise(requestAnimationFrame);
      const shown = [...figure.querySelectorAll("svg")].filter((svg) => svg.checkVisibility());
      const where = `${figure.querySelector("figcaption")?.textContent} (tab ${index + 1})`;
      if (shown.length !== 1) found.push({where, shown: shown.length});
      for (const svg of shown) {
        const box = svg.getBoundingClientRect();
        const ids = (svg.getAttribute("aria-labelledby") || "").split(" ").filter(Boolean);
        const named = ids.map((id) => svg.querySelector(`[id="${id}"]`));
        const text = svg.querySelector("text");
        const ground = svg.querySelector(".td-box")
          ? getComputedStyle(svg.querySelector(".td-box")).fill
          : getComputedStyle(document.body).backgroundColor;
        const [light, dark] = [luminance(getComputedStyle(text).fill), luminance(ground)]
          .sort((a, b) => b - a);
        found.push({
          where, shown: shown.length,
          width: box.width, height: box.height, right: box.right,
          drawn: svg.getBBox().width * svg.getBBox().height,
          font: parseFloat(getComputedStyle(text).fontSize) * box.width / svg.viewBox.baseVal.width,
          role: svg.getAttribute("role"),
          title: named[0]?.tagName === "title" ? named[0].textContent : "",
          desc: named[1]?.tagName === "desc" ? named[1].textContent : "",
          contrast: (light + 0.05) / (dark + 0.05),
          scripts: svg.querySelectorAll("script, foreignObject, [href]").length,
        });
      }
    }
  }
  return found;
}"""


@pytest.mark.parametrize(
    ("viewport", "scheme"),
    [(PHONE, "light"), (PHONE, "dark"), (DESKTOP, "light")],
    ids=["phone-light", "phone-dark", "desktop-light"],
)
@pytest.mark.parametrize("source", PICTURED, ids=lambda page: page.stem)
def test_every_picture_renders_with_its_text_alternative(reader, source, viewport, scheme):
    """Each table diagram and chart the page asks for is drawn, visible, within the screen's
    width and legible there, readable in the scheme, and named for screen readers by its
    title and desc; a diagram too wide for a phone shows its narrow drawing there."""
    reader.page.emulate_media(color_scheme=scheme)
    reader.page.set_viewport_size(viewport)
    try:
        reader.visit(url_path(source))
        figures = reader.page.locator("article figure.picture-figure").count()
        drawn = reader.page.evaluate(_PICTURES)
    finally:
        reader.page.set_viewport_size(DESKTOP)
        reader.page.emulate_media(color_scheme="light")
    assert figures == _pictured(source), "a picture the page asks for is missing"
    assert drawn, "no picture was drawn"
    for picture in drawn:
        where = f"{source.name}, {picture['where']}"
        assert picture["shown"] == 1, f"{where}: {picture['shown']} drawings shown at once"
        # Drawn at a real size: the Engine chapter's one table of three columns is about
        # 95 px wide; a box narrower than 60 px could not hold a table's name.
        assert picture["width"] > 60 and picture["height"] > 40, where
        assert picture["drawn"] > 0, f"{where}: nothing drawn"
        assert picture["right"] <= viewport["width"], f"{where}: wider than the screen"
        assert picture["font"] >= 9, f"{where}: its text shrank to {picture['font']:.1f}px"
        assert picture["role"] == "img" and picture["title"] and picture["desc"], where
        assert picture["contrast"] >= 4.5, f"{where}: its text is hard to read ({picture})"
        assert picture["scripts"] == 0, f"{where}: a script or a link in a picture"
    assert reader.problems == []
