"""A chapter run to its last block through the site's Run buttons, checked as the suite checks it.

The browser tests (``tests/test_site.py``) press the Run button of a chapter's
last block, which runs every block the browser runs (``harness.run_in_browser``)
in order, in Pyodide, on SQLite. The page's script announces each block's
result; this module compares them with the page as the test suite does: what
a plain block printed with its SQLite snapshot (``run_page.normalise_output``),
what a ``>>>`` example shows with the page (doctest's comparison,
``page_scripts.matches``), and the SQL each block sent with the snapshot.

The SQL is captured by the suite's own ``harness.capture_sql``, run inside the
browser's Python: the tests serve the worker's ``run_blocks.py`` with the
capture added to its watchers (``with_sql_capture``). Nothing else of the page
or its runtime is changed.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from harness import snapshots
from harness.page_scripts import Shown, matches, page_blocks
from harness.pages import ROOT, relative
from harness.run_in_browser import DATABASE_URL, SITE_FOLDER, page_data, runs_in_browser
from harness.run_page import normalise_output

HARNESS = Path(__file__).parent
#: The modules the capture needs, written into the browser's file system.
CAPTURE_MODULES = ("__init__.py", "backends.py", "databases.py", "capture_sql.py")
#: The page's database file in the browser, and what the snapshots call it.
DATABASE_FILE = "/home/pyodide/tutorial.db"
REPLACEMENTS = {DATABASE_FILE: "tutorial.db"}

_WITH_CAPTURE = """

# Added by the browser tests (harness.browser_runs): the test suite's SQL capture.
def _capture_sql_around_each_block(sources, replacements):
    import os
    import sys

    folder = "/run-in-browser/tests"
    os.makedirs(f"{{folder}}/harness", exist_ok=True)
    for name, text in sources.items():
        with open(f"{{folder}}/harness/{{name}}", "w") as file:
            file.write(text)
    sys.path.insert(0, folder)

    def sql():
        from harness.capture_sql import capture_sql

        return capture_sql(replacements, {database_url!r})

    WATCHERS["sql"] = sql


_capture_sql_around_each_block({sources!r}, {replacements!r})
"""

#: Collects what the page's script announces, from before the first click on; says how
#: much it has collected so far.
_LISTEN = """() => {
  if (!window.runsInBrowser) {
    window.runsInBrowser = [];
    for (const kind of ["ready", "block", "failed"]) {
      document.addEventListener(`run-in-browser:${kind}`, (event) =>
        window.runsInBrowser.push({ kind, ...event.detail }));
    }
  }
  return window.runsInBrowser.length;
}"""

#: Whether the run is over: the block pressed announced, or an error.
_FINISHED = """(index) => window.runsInBrowser.some((r) => r.kind === "failed" || r.error
  || (r.kind === "block" && r.index === index))"""

#: The longest a chapter may take from the click to its last block (two cores, cold
#: cache), within pytest-timeout's 120 s.
TIMEOUT_SECONDS = 100
#: The same, for each of the chapters that ``run_chapters`` runs within one test's setup:
#: a guard against a run that hangs, set wide because the browser tests share two cores
#: between three processes (tests/test_site.py), which slows each run down by a factor
#: that depends on what the others are doing at the time.
CHAPTER_TIMEOUT_SECONDS = 300

#: The pages' scrypt, run by the same code in the browser and in CPython: ``page`` is the
#: namespace that defines ``_scrypt``, the page's in the browser, examples.accounts here.
#: The costs are the pages' own (``SCRYPT_COST``, and the older n=2**14 the Mapping chapter
#: verifies); the last two calls are refused, by CPython as by the browser.
SCRYPT_CHECK = """
import hashlib


def scrypt_outcomes(page):
    def outcome(call):
        try:
            return call().hex()
        except Exception as error:
            return type(error).__name__

    scrypt = page["_scrypt"]
    return [
        outcome(lambda: scrypt("battery staple", bytes(range(16)), **page["SCRYPT_COST"])),
        outcome(lambda: scrypt("correct horse", b"salt" * 4, n=2**14, r=8, p=1)),
        outcome(lambda: hashlib.scrypt(b"pw", salt=b"salt", n=2**17, r=8, p=1)),
        outcome(lambda: hashlib.scrypt(b"pw", salt=b"salt", n=3, r=8, p=1)),
    ]
"""

#: Runs ``SCRYPT_CHECK`` in the worker, on the namespace of the page's blocks.
_SCRYPT_IN_THE_WORKER = """(check) => self.pyodide.runPython(
  check + "\\nimport json, sys\\njson.dumps(scrypt_outcomes(sys.modules['__main__'].__dict__))",
  { globals: self.pyodide.toPy({}) },
)"""


def with_sql_capture(run_blocks: str) -> str:
    """The worker's ``run_blocks.py`` with the suite's SQL capture around every block."""
    sources = {name: (HARNESS / name).read_text() for name in CAPTURE_MODULES}
    return run_blocks + _WITH_CAPTURE.format(
        sources=sources, replacements=REPLACEMENTS, database_url=DATABASE_URL
    )


@dataclass(frozen=True)
class BlockRun:
    """What one block did in the browser, as the page's script announced it."""

    line: int
    printed: str  # a plain block's printed output
    examples: list[dict]  # a >>> block's examples: line, source, printed
    error: str | None
    stderr: str
    sql: str

    @classmethod
    def announced(cls, detail: dict) -> BlockRun:
        return cls(
            line=detail["line"],
            printed=detail.get("printed") or "",
            examples=detail.get("examples") or [],
            error=detail.get("error"),
            stderr=detail.get("stderr") or "",
            sql="\n".join((detail.get("recorded") or {}).get("sql") or []),
        )


def run_up_to(reader_page, index: int) -> tuple[list[BlockRun], list[str]]:
    """Press the Run button of the ``index``-th block the browser runs, and wait for the end.

    Returns each block that click ran, and why the browser's Python could not start, if it
    could not.
    """
    return _announced(reader_page, index, _press(reader_page, index))


def _press(reader_page, index: int) -> int:
    """Press the ``index``-th Run button; returns how many announcements came before."""
    before = reader_page.evaluate(_LISTEN)
    button = reader_page.locator(".run-block > button", has_text=re.compile("^Run$")).nth(index)
    # A block in a collapsed box ("The models so far") is run as a reader would: after opening it.
    button.evaluate(
        "element => { for (let box = element.closest('details'); box;"
        " box = box.parentElement.closest('details')) box.open = true; }"
    )
    button.click()
    return before


def _announced(
    reader_page, index: int, before: int, seconds: float = TIMEOUT_SECONDS
) -> tuple[list[BlockRun], list[str]]:
    reader_page.wait_for_function(_FINISHED, arg=index, timeout=seconds * 1000)
    announced = reader_page.evaluate("window.runsInBrowser")[before:]
    runs = [BlockRun.announced(item) for item in announced if item["kind"] == "block"]
    failed = [item["message"] for item in announced if item["kind"] == "failed"]
    return runs, failed


@dataclass
class ChapterRun:
    """A chapter run to its last block in a tab of its own, and what that tab saw go wrong."""

    runs: list[BlockRun] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)  # why Python could not start
    early: list[str] = field(default_factory=list)  # the runtime's files fetched before Run
    outside_requests: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # console errors, failed requests


def run_chapters(readers: list, chapters: list[Path], address) -> dict[Path, ChapterRun]:
    """Each chapter run to its last block, as many at once as there are ``readers`` (tabs).

    A reader has ``page``, ``visit(path)``, ``outside_requests`` and ``problems``, as
    the browser tests' ``Reader`` has; ``address(chapter)`` is the chapter's path on
    the site. A run that does not finish in time is a problem of its chapter.
    """
    results: dict[Path, ChapterRun] = {}
    waiting, idle, busy = list(chapters), list(readers), []
    while waiting or busy:
        while idle and waiting:
            reader, chapter = idle.pop(0), waiting.pop(0)
            busy.append((reader, chapter, *_start(reader, chapter, address(chapter))))
        reader, chapter, result, last, before = busy.pop(0)  # the one that started first
        try:
            if last is not None:
                result.runs, result.failed = _announced(
                    reader.page, last, before, CHAPTER_TIMEOUT_SECONDS
                )
        except Exception as error:  # noqa: BLE001 - reported as the chapter's problem
            result.problems.append(f"the run did not finish: {error}")
        result.outside_requests += reader.outside_requests
        result.problems += reader.problems
        results[chapter] = result
        idle.append(reader)
    return results


def _start(reader, chapter: Path, address: str) -> tuple[ChapterRun, int | None, int]:
    """Open ``chapter`` and press its last Run button; nothing of the runtime before that."""
    result = ChapterRun()
    requested: list[str] = []

    def record(request) -> None:
        requested.append(request.url)

    reader.page.on("request", record)
    try:
        reader.visit(address)
        result.early = [url for url in requested if f"/{SITE_FOLDER}/" in url]
        last = len(page_data(chapter, ROOT)["blocks"]) - 1
        return result, last, _press(reader.page, last)
    except Exception as error:  # noqa: BLE001 - reported as the chapter's problem
        result.problems.append(f"the run could not start: {error}")
        return result, None, 0
    finally:
        reader.page.remove_listener("request", record)


def soonest_block(pages: list[Path], text: str) -> tuple[Path, int]:
    """The page whose blocks in the browser reach a plain block holding ``text`` soonest,
    and that block's index among them."""
    found = []
    for page in pages:
        blocks = (page_data(page, ROOT) or {}).get("blocks", [])
        found += [(i, page) for i, block in enumerate(blocks) if text in block.get("code", "")][:1]
    index, page = min(found)
    return page, index


def python_worker(reader_page):
    """The page's Python, a Web Worker; None before the first Run and after the page is left."""
    found = [w for w in reader_page.workers if w.url.endswith(f"/{SITE_FOLDER}/worker.mjs")]
    return found[0] if found else None


def scrypt_in_the_browser(reader_page) -> list[str]:
    """``SCRYPT_CHECK`` in the page's worker, where its blocks have defined ``_scrypt``."""
    return json.loads(python_worker(reader_page).evaluate(_SCRYPT_IN_THE_WORKER, SCRYPT_CHECK))


def scrypt_in_cpython() -> list[str]:
    """``SCRYPT_CHECK`` in this Python, with the pages' ``_scrypt`` from examples.accounts."""
    from examples import accounts

    namespace: dict = {}
    exec(SCRYPT_CHECK, namespace)  # noqa: S102 - the check above
    return namespace["scrypt_outcomes"](vars(accounts))


def differences(page: Path, runs: list[BlockRun], root: Path = ROOT) -> list[str]:
    """Everything the browser's run of ``page`` did otherwise than the page and its snapshot say.

    Each message names the page and the line; an error ends the comparison,
    as it ends the run.
    """
    name = relative(page, root)
    entries = snapshots.load(snapshots.snapshot_path(page, root / "docs", root))
    file = relative(snapshots.snapshot_path(page, root / "docs", root), root)
    expected = [item for item in page_blocks(page, root=root) if runs_in_browser(item.block)]
    problems = []
    for index, item in enumerate(expected):
        where = f"{name}, line {item.block.line} [sqlite, in the browser]"
        if index >= len(runs):
            problems.append(f"{where}: the run never reached this block")
            break
        run = runs[index]
        if run.line != item.block.line:
            problems.append(f"{where}: the browser ran the block at line {run.line} instead")
            break
        if run.error:
            problems.append(f"{where}: the block failed in the browser:\n{run.error}")
            break
        recording = snapshots.recording(entries.get(item.block.key), "sqlite")
        if recording is None:
            problems.append(f"{where}: {file} has no recording of this block on SQLite")
            continue
        if run.sql != recording.sql:
            problems.append(
                f"{where}: the SQL sent differs from {file}:\n"
                f"{snapshots.diff(recording.sql, run.sql, new='the browser')}"
            )
        if run.stderr:
            problems.append(f"{where}: the block wrote to standard error:\n{run.stderr}")
        if not item.block.is_console:
            printed = normalise_output(run.printed, REPLACEMENTS)
            if printed != recording.output:
                problems.append(
                    f"{where}: what the block printed differs from {file}:\n"
                    f"{snapshots.diff(recording.output, printed, new='the browser')}"
                )
            continue
        shown = {example["line"]: example["printed"] for example in run.examples}
        for example in item.examples:
            line = item.example_line(example)
            printed = shown.get(line, "")
            if not matches(Shown(line, example.want, True), printed):
                problems.append(
                    f"{name}, line {line} [sqlite, in the browser]: what the example printed "
                    f"differs from the page:\nExpected:\n{example.want or '(nothing)'}\n"
                    f"Got:\n{printed or '(nothing)'}"
                )
    return problems
