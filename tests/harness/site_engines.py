"""The site built by Zensical, compared with the site built by MkDocs, piece by piece.

Material for MkDocs, whose theme the published site uses, reaches end of life
on May 5, 2027; Zensical, its successor by the same team, reads mkdocs.yml and
runs the same Python-Markdown extensions, ``harness.site_markdown`` included,
but no MkDocs hook or plugin code. ``tests/test_zensical.py`` (``nox -s
zensical``) builds the site with both and compares what the project adds to
pages, element by element, rather than whole pages, whose themes differ:

- under each python block: the SQL box, what it printed, a picture drawn from
  the run, a note on why it is not run (by the tests, or in the browser), the
  Run button's mark, and a ``>>>`` block's copy text;
- under each title: the page's facts (its script, the versions it was last
  verified with) and the line on what the Run buttons run;
- on the home page: the table of the runs that last recorded the pages;
- and every file the site serves beside its pages (``harness.site_files``):
  the scripts, the examples, the Run buttons' runtime and each chapter's blocks.

Zensical's ``site_dir`` must lie inside the project, beside the mkdocs.yml it
reads, so ``zensical_site`` builds into a folder of the project, from a
configuration that inherits mkdocs.yml, and removes both afterwards. Zensical
keeps the pages it rendered, and renders one again only when the page or a file
of mkdocs.yml's ``watch`` list changed, to the second: the cache is cleared for
every build (``--clean``), so that two builds within a second cannot share it.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from harness.pages import pages
from harness.site_files import generated

#: What the project adds to pages: (kind, tag, the class that marks it).
ELEMENTS = (
    ("SQL box", "details", "sql-box"),
    ("output box", "div", "block-output"),
    ("picture", "figure", "picture-figure"),
    ("note under a block", "p", "block-note"),
    ("Run button mark", "div", "run-block"),
    ("page facts", "div", "page-facts"),
    ("Run note", "div", "run-in-browser"),
)
#: How many of each are said, where one word will not do.
PLURALS = {
    "SQL box": "SQL boxes",
    "output box": "output boxes",
    "note under a block": "notes under a block",
    "page facts": "page facts",
    "copy text": "copy texts",
    "file served beside the pages": "files served beside the pages",
}
_COPY_TEXT = re.compile(r'<div class="console-block" data-copy="([^"]*)"')
_TABLE = re.compile(r"<table>(?:(?!</table>).)*?Recorded on.*?</table>", re.DOTALL)


@contextmanager
def zensical_site(root: Path) -> Iterator[Path]:
    """The site built by Zensical from ``root``'s mkdocs.yml, strictly, in a folder of
    ``root`` that is removed afterwards."""
    folder = Path(tempfile.mkdtemp(prefix=".zensical-", dir=root))
    config = folder.with_suffix(".yml")
    try:
        site = folder / "site"
        config.write_text(
            "# Built by harness.site_engines, and removed afterwards.\n"
            f"INHERIT: mkdocs.yml\nsite_dir: {site.relative_to(root).as_posix()}\n"
        )
        command = [sys.executable, "-m", "zensical", "build", "--clean", "--strict"]
        result = subprocess.run(
            [*command, "--config-file", str(config)],
            cwd=root,
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            said = (result.stdout + result.stderr).strip()
            raise RuntimeError(f"Zensical could not build the site:\n{said[-3000:]}")
        yield site
    finally:
        config.unlink(missing_ok=True)
        shutil.rmtree(folder, ignore_errors=True)


def elements(html: str) -> dict[str, list[str]]:
    """What the project added to a page's HTML, by kind, in the page's order."""
    found: dict[str, list[str]] = {}
    for kind, tag, mark in ELEMENTS:
        opening = re.compile(rf'<{tag}\b[^>]*\bclass="{mark}"[^>]*>')
        found[kind] = [_element(html, tag, match.start()) for match in opening.finditer(html)]
    found["copy text"] = _COPY_TEXT.findall(html)
    found["verified-run table"] = _TABLE.findall(html)
    return found


def _element(html: str, tag: str, start: int) -> str:
    """The element of ``tag`` that opens at ``start``, to its matching end tag."""
    depth = 0
    for match in re.compile(rf"<(/?){tag}\b[^>]*>").finditer(html, start):
        depth += -1 if match.group(1) else 1
        if depth == 0:
            return html[start : match.end()]
    return html[start:]


@dataclass
class Comparison:
    """What was compared, kind by kind, and every difference found, one sentence each."""

    compared: Counter = field(default_factory=Counter)
    differences: list[str] = field(default_factory=list)

    def summary(self) -> str:
        counts = ", ".join(_count(count, kind) for kind, count in self.compared.items())
        return f"Compared the MkDocs and Zensical builds: {counts}."


def compare(mkdocs_site: Path, zensical_site: Path, root: Path) -> Comparison:
    """Each page's elements (``elements``) and each file of ``site_files``, in both sites."""
    comparison = Comparison()
    docs = root / "docs"
    for source in pages(docs):
        name = source.relative_to(root).as_posix()
        html = _page_path(source.relative_to(docs))
        mkdocs, zensical = (_read(site / html) for site in (mkdocs_site, zensical_site))
        if zensical is None:
            comparison.differences.append(f"{name}: Zensical built no {html}")
            continue
        ours, theirs = elements(mkdocs or ""), elements(zensical)
        for kind, expected in ours.items():
            got = theirs[kind]
            comparison.compared[kind] += len(expected)
            if len(got) != len(expected):
                comparison.differences.append(
                    f"{name}: {_count(len(expected), kind)} in the MkDocs build, "
                    f"{len(got)} in the Zensical build"
                )
                continue
            for number, (one, other) in enumerate(zip(expected, got, strict=True), start=1):
                if one != other:
                    comparison.differences.append(
                        f"{name}: {kind} {number} of {len(expected)} differs: "
                        f"{_where_they_part(one, other)}"
                    )
    # What harness.site_files wrote into docs/ before the builds, for both to copy.
    for path in (path.relative_to(docs).as_posix() for path in generated(docs)):
        comparison.compared["file served beside the pages"] += 1
        one, other = (_read_bytes(site / path) for site in (mkdocs_site, zensical_site))
        if one != other:
            missing = "missing from the Zensical build" if other is None else "differs"
            comparison.differences.append(f"docs/{path}: the file the site serves {missing}")
    return comparison


def _page_path(page: Path) -> str:
    """``engine.md`` is built as ``engine/index.html``, ``index.md`` as ``index.html``."""
    stem = page.with_suffix("")
    folder = stem.parent if stem.name == "index" else stem
    return (folder / "index.html").as_posix()


def _read(path: Path) -> str | None:
    return path.read_text() if path.is_file() else None


def _read_bytes(path: Path) -> bytes | None:
    return path.read_bytes() if path.is_file() else None


def _count(number: int, kind: str) -> str:
    return f"{number} {kind if number == 1 else PLURALS.get(kind, kind + 's')}"


def _where_they_part(one: str, other: str, context: int = 60) -> str:
    """Where two texts first differ, with a little of what precedes it."""
    shorter = min(len(one), len(other))
    at = next((i for i in range(shorter) if one[i] != other[i]), shorter)
    start = max(0, at - context)
    return f"MkDocs has {one[start : at + context]!r}, Zensical {other[start : at + context]!r}"
