"""The mkdocs hook that puts the worked examples' files into the site, for readers to download.

Each program of ``examples/`` is served at ``examples/<file>.py``, beside the
pages of the Worked examples section (``docs/examples/``), which link to it by
its name: ``[notes.py](notes.py){ download }``. The files are added to the
build's own list, so the strict build checks those links as it checks any
other, and so does the link check of the test run (``harness.links``), which
asks ``site_files()`` too.
"""

from __future__ import annotations

from pathlib import Path

#: Where the examples live in the project, and where the site serves them.
FOLDER = "examples"


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
