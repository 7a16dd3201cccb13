"""The built site as a reader gets it: served on localhost, opened in headless Chromium.

Shared by the browser tests (``tests/test_site.py``) and ``nox -s bench``. The
browser is the system's Chromium (Debian's ``chromium`` package), driven by
Playwright: Playwright's own browser downloads are not used.
"""

from __future__ import annotations

import functools
import gzip
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

from harness.pages import ROOT

#: The browser to use; CI machines without Debian's package point this elsewhere.
CHROMIUM_VARIABLE = "TUTORIAL_CHROMIUM"
DEFAULT_CHROMIUM = "/usr/bin/chromium"

#: Headless, and quiet: no first-run pages, no update checks, no syncing, so that
#: every request the browser makes is one a page asked for.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


def chromium_path() -> str:
    return os.environ.get(CHROMIUM_VARIABLE) or DEFAULT_CHROMIUM


def build_site(destination: Path) -> Path:
    """Build the site strictly into ``destination``, as ``nox -s docs`` does: the files
    beside the pages first (``harness.site_files``), then the pages."""
    build = ["mkdocs", "build", "--strict", "--quiet", "-d", str(destination)]
    for command in (["harness.site_files"], build):
        subprocess.run([sys.executable, "-m", *command], cwd=ROOT, check=True)
    return destination


#: What a static host such as GitHub Pages sends gzip-compressed: text, and the
#: WebAssembly and JavaScript modules of the Run buttons' Python.
COMPRESSED_SUFFIXES = frozenset(
    {".html", ".css", ".js", ".json", ".xml", ".svg", ".py", ".txt", ".mjs", ".wasm"}
)


@functools.lru_cache(maxsize=64)
def _compressed(path: str, modified: float) -> bytes:
    """A file gzip-compressed once, as a host keeps it, not at every request."""
    return gzip.compress(Path(path).read_bytes(), compresslevel=6)


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        """One line per request would drown the test output."""


class _CompressingHandler(_QuietHandler):
    """Sends text gzip-compressed to a browser that accepts it, as the site's host does."""

    def do_GET(self):
        path = Path(self.translate_path(self.path))
        if path.is_dir() and self.path.split("?")[0].endswith("/"):
            path = path / "index.html"
        accepted = "gzip" in self.headers.get("Accept-Encoding", "")
        if not (accepted and path.is_file() and path.suffix in COMPRESSED_SUFFIXES):
            return super().do_GET()
        body = _compressed(str(path), path.stat().st_mtime)
        self.send_response(200)
        self.send_header("Content-Type", self.guess_type(str(path)))
        self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@contextmanager
def serve(site: Path, compress: bool = False) -> Iterator[str]:
    """Serve ``site`` on a free port of 127.0.0.1; yields the base URL, ending in /.

    With ``compress``, text goes out gzip-compressed as a static host sends it,
    so that what a reader downloads can be measured.
    """
    handler_class = _CompressingHandler if compress else _QuietHandler
    handler = functools.partial(handler_class, directory=str(site))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def site_pages(site: Path) -> list[str]:
    """The path of every page of the built site, as a reader types it: ``""``, ``"engine/"``."""
    found = []
    for html in sorted(site.rglob("index.html")):
        relative = html.parent.relative_to(site).as_posix()
        found.append("" if relative == "." else f"{relative}/")
    return sorted(found)


def is_local(url: str, base_url: str) -> bool:
    """Whether ``url`` goes to the local server (or never leaves the page: data:, blob:)."""
    parts = urlsplit(url)
    if parts.scheme in ("data", "blob", "about"):
        return True
    return parts.netloc == urlsplit(base_url).netloc


@contextmanager
def chromium() -> Iterator[object]:
    """A headless system Chromium, closed afterwards."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
