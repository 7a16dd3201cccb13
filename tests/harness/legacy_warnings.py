"""SQLAlchemy's deprecation warnings fail every page but the one that shows them.

SQLAlchemy 2.1 warns when a program calls an API it keeps only for older code:
``LegacyAPIWarning`` for the 1.x API (``Query.get()``), ``MovedIn20Warning``
for a name that moved (``declarative_base`` from ``sqlalchemy.ext.declarative``),
both kinds of ``SADeprecationWarning``, which other deprecated calls emit as
they are (``select().as_scalar()``), and ``SAPendingDeprecationWarning`` for
what is about to be deprecated. Python shows none of them by default outside
``__main__``, so a page could teach a legacy call and nobody would notice.

A page teaches the 2.1 way: a block that sets one of them off fails, naming
the page, the line and the database, with the warning's first line; the block
runs to its end all the same, and no ``except`` in it can hide the warning.
"Migrating from 1.x" is the one page that runs the old idioms on purpose, and
shows what they emit: its blocks are left alone. A block that catches its own
warnings to show them (``warnings.catch_warnings(record=True)``) keeps them, as
any other code would. ``script_command`` does the same for a page's script,
where the warning becomes an error that stops the program at its block.
"""

from __future__ import annotations

import doctest
import re
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy.exc import SADeprecationWarning, SAPendingDeprecationWarning

#: The pages whose blocks may set the warnings off: they show them.
PAGES_SHOWING_LEGACY = frozenset({"docs/from-1x.md"})

#: What fails a block elsewhere (``LegacyAPIWarning`` and ``MovedIn20Warning`` included).
CATEGORIES = (SADeprecationWarning, SAPendingDeprecationWarning)

#: A doctest example's code is compiled under this name, numbered in its block.
_DOCTEST_FILE = re.compile(r"<doctest (?P<name>.+)\[(?P<index>\d+)\]>")


class Watch:
    """One block's watch: afterwards, ``problem`` names each warning it set off."""

    def __init__(self) -> None:
        self.problem: str | None = None


@contextmanager
def failing_on_legacy_warnings(
    page: str, line: int, source: str, is_console: bool, backend: str
) -> Iterator[Watch]:
    """Note each deprecation warning the block at ``line`` of ``page`` sets off.

    Other warnings go on to whoever listens outside (pytest's summary, or an
    error filter), as if this were not here. A block that raises gets the same
    sentence as a note on its exception.
    """
    watch = Watch()
    if page in PAGES_SHOWING_LEGACY:
        yield watch
        return
    others = []
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", SADeprecationWarning)
            warnings.simplefilter("always", SAPendingDeprecationWarning)
            try:
                yield watch
            except Exception as error:
                watch.problem = _problem(page, line, source, is_console, backend, caught)
                if watch.problem:
                    error.add_note(watch.problem)
                raise
            finally:
                others = [w for w in caught if not issubclass(w.category, CATEGORIES)]
            watch.problem = _problem(page, line, source, is_console, backend, caught)
    finally:
        for other in others:
            warnings.warn_explicit(other.message, other.category, other.filename, other.lineno)


def _problem(page, line, source, is_console, backend, caught) -> str | None:
    found = [w for w in caught if issubclass(w.category, CATEGORIES)]
    if not found:
        return None
    lines = []
    for warning in found:
        message = str(warning.message).strip().splitlines()[0]
        at = _page_line(warning, page, line, source, is_console)
        where = f"{page}, line {at or line} [{backend}]"
        lines.append(
            f"{where}: this block set off SQLAlchemy's {warning.category.__name__} "
            f"({message}); a page teaches the 2.1 way, and only "
            f"{' and '.join(sorted(PAGES_SHOWING_LEGACY))} shows legacy calls"
        )
    return "\n".join(lines)


def _page_line(warning, page: str, line: int, source: str, is_console: bool) -> int | None:
    """The line of the page the warning points at, when it points into the block."""
    if not is_console:
        return warning.lineno if warning.filename == page else None
    match = _DOCTEST_FILE.fullmatch(str(warning.filename))
    if match is None or match["name"] not in (page, Path(page).name):
        return None
    try:
        examples = doctest.DocTestParser().get_examples(source)
        example = examples[int(match["index"])]
    except (ValueError, IndexError):
        return None
    return line + 1 + example.lineno + warning.lineno - 1


#: Runs a script as ``python script.py`` would, the warnings above made errors first.
_BOOTSTRAP = """\
import runpy, sys, warnings
from sqlalchemy.exc import SADeprecationWarning, SAPendingDeprecationWarning
warnings.simplefilter("error", SADeprecationWarning)
warnings.simplefilter("error", SAPendingDeprecationWarning)
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def script_command(page: str, script: Path) -> list[str]:
    """How to run the script of ``page``: with the warnings as errors, but for the legacy page."""
    if page in PAGES_SHOWING_LEGACY:
        return [sys.executable, str(script)]
    return [sys.executable, "-c", _BOOTSTRAP, str(script)]
