"""The worked examples' files in the site, for readers to download, and their pages' search.

Each program of ``examples/`` is served at ``examples/<file>.py``, beside the
pages of the Worked examples section (``docs/examples/``), which link to it by
its name: ``[notes.py](notes.py){ download }``. ``harness.site_files`` writes
the files there before every build, so the strict build checks those links as
it checks any other, and so does the link check of the test run
(``harness.links``), which asks ``site_files()`` too.

Those pages' python blocks, which put together what the chapters teach, and
the source code in every API reference, are left out of the search index
(``data-search-exclude``, put there by ``harness.site_markdown``), so that a
search for a term lands on the chapter that teaches it, not on a program that
uses it.
"""

from __future__ import annotations

from pathlib import Path

#: Where the examples live in the project, and where the site serves them.
FOLDER = "examples"
#: How a python block of a page begins in the HTML the build makes.
PYTHON_BLOCK = '<div class="language-python highlight">'
#: How the source code of an object begins in an API reference (mkdocstrings).
API_SOURCE = '<details class="mkdocstrings-source">'


def site_files(root: Path) -> dict[str, Path]:
    """Each example file the site serves, by its path in the site (``examples/notes.py``)."""
    return {
        f"{FOLDER}/{path.name}": path
        for path in sorted((root / FOLDER).glob("*.py"))
        if path.name != "__init__.py"  # a folder called examples is all the reader needs
    }


def out_of_search(html: str, page: str) -> str:
    """A page's HTML without the python blocks of the Worked examples pages, nor the source
    code of any API reference, in the search index; ``page`` is its path under docs/."""
    html = html.replace(API_SOURCE, API_SOURCE[:-1] + " data-search-exclude>")
    if not page.startswith(f"{FOLDER}/"):
        return html
    return html.replace(PYTHON_BLOCK, PYTHON_BLOCK[:-1] + " data-search-exclude>")
