"""What is behind the Run buttons: each chapter runs in the reader's browser.

A chapter's python blocks run, in order, in a Python compiled to WebAssembly
(Pyodide) in a Web Worker of the reader's browser, on the SQLite that this
Python carries. Everything that takes is served by the site itself, and fetched
only when a reader first presses Run. ``site_files`` lists what goes into the site,
under ``run-in-browser/``, beside the worker's own code (``docs/run-in-browser/``),
and ``harness.site_files`` writes it there before every build:

- ``pyodide/``: the runtime, from the npm package pinned with its integrity hash
  in ``tests/run-in-browser/package-lock.json``;
- ``noble-hashes/``: scrypt from the audited ``@noble/hashes``, pinned alike,
  for Pyodide's ``hashlib``, which has none;
- ``wheels/``: SQLAlchemy, typing-extensions and tzdata, the wheels ``uv.lock``
  pins, checked against its hashes here and again by the worker;
- ``runtime.json``: what the worker loads, with Pyodide's lock information, so
  that Pyodide fetches no lock file and no package index;
- ``pages/<page>.json``: the blocks of each chapter that run there, from the
  same reading of the page as the tests (``harness.page_scripts``).

Under each of those blocks ``with_run_buttons`` puts its Run button, which
docs/javascripts/run-blocks.js brings to life, and under the chapter's title
a line on what runs where (``NOTE``), with the addresses the script needs. A
block that cannot run in a browser (it starts a thread, a second process, a
server) says why in a comment before it,
``<!-- not in the browser: next "why" -->``, and the site shows the reason
under it. The browser tests (``tests/test_site.py``) run every chapter to its
last block through those buttons (``harness.browser_runs``).

The npm packages are installed (``npm ci``) and the wheels downloaded when the
site's files are written (``install``), once: both are kept in
``tests/run-in-browser/`` and used again until the lock files change.
"""

from __future__ import annotations

import fcntl
import hashlib
import html
import json
import posixpath
import re
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from harness import npm_packages
from harness.page_scripts import PageBlock, page_blocks
from harness.pages import Block, PageError, pages, python_blocks, read_toml, relative

#: Where the built site keeps all of it.
SITE_FOLDER = "run-in-browser"
#: The npm manifest and lock, and what is installed and downloaded beside them.
RUNTIME = Path("tests") / "run-in-browser"
#: Where the page's first block finds its database, in the browser's own file system.
DATABASE_URL = "sqlite:///tutorial.db"
#: The wheels the browser's Python installs, as uv.lock pins them: SQLAlchemy and
#: what it requires, and tzdata, since the browser has no time zone database for
#: ``zoneinfo``.
WHEELS = ("sqlalchemy", "typing-extensions", "tzdata")
#: What Pyodide loads of its npm package.
PYODIDE_FILES = ("pyodide.mjs", "pyodide.asm.mjs", "pyodide.asm.wasm", "python_stdlib.zip")
#: The module of @noble/hashes that the worker imports; what it imports comes along.
NOBLE_ENTRY = "scrypt.js"

#: Under the chapter's title, beside what render_sql_tabs says there: what runs where.
NOTE = (
    "Run, under each block, runs this page in your browser up to that block, on SQLite: "
    "a Python compiled to WebAssembly, fetched from this site on the first Run (about "
    "9 MB), which sends nothing anywhere. For PostgreSQL or MariaDB, run the script above "
    "against your own server."
)

#: Under each block the browser runs: its Run button, in the page from the start, so
#: that the page's script has nothing to draw as it loads (docs/javascripts/run-blocks.js
#: adds the Reset button, the status and the output once a run starts). Out of the
#: search index, which every block would otherwise fill with "Run".
RUN_BUTTON = (
    '<div class="run-block" data-search-exclude="run"><button type="button" '
    'title="Run this page\'s blocks up to this one, in your browser">Run</button></div>'
)

_TITLE = re.compile(r"^# .+\n", re.MULTILINE)
_IMPORT = re.compile(r"""^\s*(?:import|export)\b[^;]*?\bfrom\s+["'](\./[^"']+)["']""", re.M)


class RuntimeUnavailable(Exception):
    """The runtime cannot be installed here; the message is one sentence saying why."""


@dataclass(frozen=True)
class Wheel:
    name: str
    filename: str
    url: str
    sha256: str


def runs_in_browser(block: Block) -> bool:
    """Whether the site's Run buttons run ``block``: the browser's database is SQLite."""
    return block.skip is None and block.not_in_browser is None and block.runs_on("sqlite")


# Installing and downloading ------------------------------------------------------


def install(root: Path) -> Path:
    """The npm packages and wheels of the runtime, installed or downloaded if need be.

    Returns the folder that holds them. Several builds at once (test workers) take
    turns.
    """
    folder = root / RUNTIME
    with locked(folder / ".lock"):
        _install_npm_packages(folder)
        for wheel in locked_wheels(root):
            _download(wheel, folder / "wheels")
    return folder


@contextmanager
def locked(path: Path):
    """Held by one process at a time: the others wait for it."""
    with open(path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _install_npm_packages(folder: Path) -> None:
    npm_packages.install(folder, "the site's Run buttons need", RuntimeUnavailable)


def locked_wheels(root: Path) -> list[Wheel]:
    """The pure-Python wheel of each of ``WHEELS`` that uv.lock pins, with its hash."""
    packages = read_toml(root / "uv.lock")["package"]
    found = []
    for name in WHEELS:
        package = next((p for p in packages if p["name"] == name), None)
        wheels = [w for w in (package or {}).get("wheels", []) if w["url"].endswith("-any.whl")]
        if not wheels:
            raise RuntimeUnavailable(f"uv.lock pins no pure-Python wheel of {name}")
        url = wheels[0]["url"]
        algorithm, _, digest = wheels[0]["hash"].partition(":")
        if algorithm != "sha256":
            raise RuntimeUnavailable(f"uv.lock gives the {name} wheel a {algorithm} hash")
        found.append(Wheel(name, url.rsplit("/", 1)[1], url, digest))
    return found


def _download(wheel: Wheel, folder: Path) -> None:
    path = folder / wheel.filename
    if path.is_file() and _sha256(path.read_bytes()) == wheel.sha256:
        return
    try:
        with urllib.request.urlopen(wheel.url, timeout=120) as response:  # noqa: S310 - https
            data = response.read()
    except OSError as error:
        raise RuntimeUnavailable(
            f"{wheel.filename} could not be downloaded from the address uv.lock gives ({error})"
        ) from None
    if _sha256(data) != wheel.sha256:
        raise RuntimeUnavailable(f"the {wheel.filename} downloaded is not the one uv.lock pins")
    folder.mkdir(exist_ok=True)
    partial = path.with_suffix(".partial")
    partial.write_bytes(data)
    partial.replace(path)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def noble_modules(folder: Path) -> list[str]:
    """``NOBLE_ENTRY`` and every module it imports, in @noble/hashes' folder."""
    found, waiting = [], [NOBLE_ENTRY]
    while waiting:
        name = waiting.pop()
        if name in found:
            continue
        found.append(name)
        imported = _IMPORT.findall((folder / name).read_text())
        waiting += [module.removeprefix("./") for module in imported]
    return sorted(found)


# What the site serves --------------------------------------------------------------


def runtime_files(root: Path) -> dict[str, Path]:
    """Each file of the runtime the site serves, by its path in the site."""
    folder = root / RUNTIME
    pyodide = folder / "node_modules" / "pyodide"
    noble = folder / "node_modules" / "@noble" / "hashes"
    files = {f"{SITE_FOLDER}/pyodide/{name}": pyodide / name for name in PYODIDE_FILES}
    for name in [*noble_modules(noble), "LICENSE"]:
        files[f"{SITE_FOLDER}/noble-hashes/{name}"] = noble / name
    for wheel in locked_wheels(root):
        files[f"{SITE_FOLDER}/wheels/{wheel.filename}"] = folder / "wheels" / wheel.filename
    return files


def runtime_manifest(root: Path) -> dict:
    """What the worker loads: Pyodide's lock information, and the wheels with their hashes."""
    pyodide = root / RUNTIME / "node_modules" / "pyodide"
    lock = json.loads((pyodide / "pyodide-lock.json").read_text())
    return {
        "pyodide": json.loads((pyodide / "package.json").read_text())["version"],
        # Given to loadPyodide: no lock file is fetched, and no package is known.
        "pyodideLock": {"info": lock["info"], "packages": {}},
        "databaseUrl": DATABASE_URL,
        "wheels": [
            {"file": f"wheels/{wheel.filename}", "sha256": wheel.sha256}
            for wheel in locked_wheels(root)
        ],
    }


def page_data(page: Path, root: Path) -> dict | None:
    """The blocks of ``page`` that run in the browser, in order; None if none does.

    A plain block is its code; a ``>>>`` block is its examples, each run as the
    prompt runs it. Lines are the page's, for tracebacks and for the tests.
    """
    items = [item for item in page_blocks(page, root=root) if runs_in_browser(item.block)]
    blocks = [_block_data(item) for item in items]
    return {"page": relative(page, root), "blocks": blocks} if blocks else None


def _block_data(item: PageBlock) -> dict:
    if not item.block.is_console:
        return {"line": item.block.line, "code": item.code}
    examples = [
        {"line": item.example_line(example), "source": example.source} for example in item.examples
    ]
    return {"line": item.block.line, "examples": examples}


def page_data_path(page: Path, docs: Path) -> str:
    """``docs/engine.md``'s blocks are served at ``run-in-browser/pages/engine.json``."""
    relative_page = page.resolve().relative_to(docs.resolve()).with_suffix(".json")
    return f"{SITE_FOLDER}/pages/{relative_page.as_posix()}"


def site_files(root: Path, docs: Path) -> dict[str, Path | str]:
    """What the Run buttons need in the site, by path: the runtime's files, what the worker
    loads, and the blocks of each chapter that runs there (``harness.site_files`` writes it)."""
    files: dict[str, Path | str] = dict(runtime_files(root))
    files[f"{SITE_FOLDER}/runtime.json"] = json.dumps(runtime_manifest(root), indent=1)
    for source in pages(docs):
        data = page_data(source, root)
        if data is not None:
            files[page_data_path(source, docs)] = json.dumps(data, ensure_ascii=False)
    return files


# Under each block --------------------------------------------------------------------


def with_run_buttons(markdown: str, source: Path, docs: Path, root: Path, url: str) -> str:
    """Mark each block the browser runs for its Run button, and say why where it does not.

    ``url`` is the page's address in the site (``engine/``), from which the worker and
    the page's blocks are linked. Called before ``render_sql_tabs.with_recordings``
    (``harness.site_markdown``), so that the Run button comes after what that shows
    under a block.
    """
    blocks = python_blocks(markdown)
    runnable = 0
    for block in reversed(blocks):
        marker = block.not_in_browser
        if marker is not None and marker.problem:
            raise PageError(f"{relative(source, root)}, line {marker.line}: {marker.problem}")
        if runs_in_browser(block):
            runnable += 1
            shown = RUN_BUTTON
        elif marker is not None and block.skip is None and block.runs_on("sqlite"):
            note = html.escape(f"Not run in your browser: {marker.reason}")
            shown = f'<p class="block-note">{note}</p>'
        else:
            continue
        end = block.fence.end
        markdown = f"{markdown[:end]}\n{block.fence.indent}{shown}\n{markdown[end:]}"
    title = _TITLE.search(markdown)
    if runnable and title:
        worker = relative_url(f"{SITE_FOLDER}/worker.mjs", url)
        data = relative_url(page_data_path(source, docs), url)
        # In the page from the start, so that nothing moves when the script starts;
        # render_sql_tabs puts its box between the title and this. Not searched:
        # every chapter says it.
        note = (
            f'\n<div class="run-in-browser" data-worker="{worker}" '
            f'data-page="{data}" data-search-exclude markdown>\n\n{NOTE}\n\n</div>\n'
        )
        markdown = markdown[: title.end()] + note + markdown[title.end() :]
    return markdown


def relative_url(path: str, page_url: str) -> str:
    """``path`` in the site, as a page at ``page_url`` links it: from ``engine/``,
    ``run-in-browser/worker.mjs`` is ``../run-in-browser/worker.mjs``.

    A page's address ends in ``/`` with directory URLs; otherwise it names a file,
    whose folder counts. MkDocs calls the home page ``./``, Zensical ``""``.
    """
    folder = page_url if page_url.endswith("/") else posixpath.dirname(page_url)
    return posixpath.relpath(f"/{path}", posixpath.normpath(f"/{folder}"))
