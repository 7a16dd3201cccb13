"""The site built with Zensical shows what the site built with MkDocs shows.

Material for MkDocs, whose theme builds the published site, reaches end of life
on May 5, 2027, and Zensical, its successor, runs no MkDocs hook: everything
the project adds to a page is therefore a Markdown extension
(``harness.site_markdown``), and the files beside the pages are written before
the build (``harness.site_files``). Here both engines build the site, strictly,
and every SQL box, output box, picture, note, copy text, page fact, the
verified-run table and every file the site serves beside its pages are compared
(``harness.site_engines``); a difference fails, naming the page and what differs.

These tests need the ``zensical`` dependency group (``nox -s zensical`` has it).
Where Zensical is missing they are skipped, except under ``nox -s zensical``,
which sets ``TUTORIAL_ZENSICAL_TESTS=required`` so that a missing Zensical fails
the run instead of passing it silently.
"""

from __future__ import annotations

import os

import pytest
from harness.pages import DOCS, ROOT, pages, python_blocks
from harness.site_browser import build_site
from harness.site_engines import compare, zensical_site

if os.environ.get("TUTORIAL_ZENSICAL_TESTS") == "required":
    import zensical  # noqa: F401 - only whether it is installed matters here
else:
    pytest.importorskip("zensical", reason="`nox -s zensical` builds the site with Zensical")


def test_zensical_builds_what_mkdocs_builds(tmp_path):
    mkdocs = build_site(tmp_path / "mkdocs")
    with zensical_site(ROOT) as zensical:
        comparison = compare(mkdocs, zensical, ROOT)
    print(comparison.summary())
    assert comparison.differences == [], "\n".join(
        ["The Zensical build differs from the MkDocs build:", *comparison.differences]
    )
    # Two builds that had both lost everything would agree: the MkDocs build has it all.
    chapters = [page for page in pages(DOCS) if python_blocks(page.read_text())]
    assert comparison.compared["page facts"] == len(chapters), "chapters without page facts"
    assert comparison.compared["SQL box"] > 0, "the MkDocs build shows no SQL box"
