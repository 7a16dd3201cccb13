"""Run a worked example from the command line, on the database a URL names.

Each program of ``examples/`` ends with

    if __name__ == "__main__":
        from examples.command_line import run

        sys.exit(run(main, "sqlite:///notes.db"))

so that ``python -m examples.notes sqlite:///notes.db``, or the same with the
URL in ``DATABASE_URL``, makes the engine, hands it to the program's
``main()`` and disposes of it afterwards. On SQLite the engine lets
SQLAlchemy begin every transaction (``examples.sqlite_transactions``), which
the programs' savepoints need. A URL that cannot be used stops the
program before ``main()`` starts, with one sentence on standard error and exit
status 2: a URL that is not one, a database or driver SQLAlchemy does not
know, a driver that is not installed, a server that refuses the connection.
A password in the URL is never printed.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

from sqlalchemy import Engine, create_engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError

from examples.sqlite_transactions import take_over_sqlite_transactions

#: The exit status of a program stopped by its command line or its URL.
USAGE_ERROR = 2


class BadDatabaseURL(Exception):
    """A URL the program cannot use; the message is one sentence for the user."""


def engine_from_url(url: str) -> Engine:
    """An engine for ``url``, connected to once to show that the URL works.

    On SQLite, ``take_over_sqlite_transactions()`` has been applied to it.

    Raises:
        BadDatabaseURL: the URL cannot be used; the message says why in a sentence.
    """
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise BadDatabaseURL(
            "the database URL could not be read; a URL looks like sqlite:///file.db or "
            "postgresql+psycopg://user@localhost/name"
        ) from None
    shown = parsed.render_as_string(hide_password=True)
    try:
        engine = create_engine(parsed)
    except NoSuchModuleError:
        raise BadDatabaseURL(
            f"{shown} names a database or driver that SQLAlchemy does not know "
            f"({parsed.drivername}); use sqlite, postgresql+psycopg or mysql+pymysql"
        ) from None
    except ImportError as error:
        raise BadDatabaseURL(
            f"the driver that {shown} needs is not installed (no module named "
            f"{error.name}); install it with pip and run the program again"
        ) from None
    take_over_sqlite_transactions(engine)
    try:
        with engine.connect():
            pass
    except DBAPIError as error:
        engine.dispose()
        said = str(error.orig).strip().splitlines()
        raise BadDatabaseURL(
            f"could not connect to {shown}: {said[0] if said else type(error.orig).__name__}"
        ) from None
    return engine


def run(
    main: Callable[[Engine], object], example_url: str, argv: Sequence[str] | None = None
) -> int:
    """Make the engine the command line asks for, run ``main(engine)``, dispose of it.

    Args:
        main: the program's ``main()``.
        example_url: a URL to suggest in the messages, such as ``sqlite:///notes.db``.
        argv: the arguments; ``sys.argv[1:]`` when None.

    Returns:
        The exit status: 0, or 2 when the command line or the URL cannot be used.
    """
    parser = argparse.ArgumentParser(
        prog=_program(main),
        description=(
            "Run the example on the database the URL names; it creates its tables afresh, "
            "so use a database made for the purpose."
        ),
    )
    parser.add_argument(
        "url", nargs="?", help=f"the database URL (default: $DATABASE_URL), e.g. {example_url}"
    )
    arguments = parser.parse_args(argv)
    url = arguments.url or os.environ.get("DATABASE_URL")
    try:
        if not url:
            raise BadDatabaseURL(
                f"no database URL was given: pass one, such as {example_url}, as the "
                "argument or in DATABASE_URL"
            )
        engine = engine_from_url(url)
    except BadDatabaseURL as error:
        print(f"{parser.prog}: {error}.", file=sys.stderr)
        return USAGE_ERROR
    try:
        main(engine)
    finally:
        engine.dispose()
    return 0


def _program(main: Callable) -> str:
    """How the program was started: ``python -m examples.notes``, or its file's name."""
    spec = getattr(sys.modules.get(main.__module__), "__spec__", None)
    if spec is not None and spec.name:
        return f"python -m {spec.name}"
    return os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "the program"
