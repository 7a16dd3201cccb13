"""The mkdocs hook that puts the worked examples' files into the site, for readers to download.

Each program of ``examples/`` is served at ``examples/<file>.py``, beside the
pages of the Worked examples section (``docs/examples/``), which link to it by
its name: ``[notes.py](notes.py){ download }``. The files are added to the
build's own list, so the strict build checks those links as it checks any
other, and so does the link check of the test run (``harness.links``), which
asks ``site_files()`` too.

Those pages' python blocks, which put together what the chapters teach, and
the source code in every API reference, are left out of the search index
(``data-search-exclude``), so that a search for a term lands on the chapter
that teaches it, not on a program that uses it.
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


def on_files(files, config):
    """Add every example file to the site, copied as it is."""
    from mkdocs.structure.files import File  # the test run reads this module without mkdocs

    root = Path(config["config_file_path"]).parent
    for uri, path in site_files(root).items():
        files.append(File.generated(config, uri, abs_src_path=str(path)))
    return files


def on_page_content(html: str, page, config, files) -> str:
    """Leave the python blocks of the Worked examples pages, and the source code of any
    API reference, out of the search index."""
    html = html.replace(API_SOURCE, API_SOURCE[:-1] + " data-search-exclude>")
    if not page.file.src_uri.startswith(f"{FOLDER}/"):
        return html
    return html.replace(PYTHON_BLOCK, PYTHON_BLOCK[:-1] + " data-search-exclude>")
