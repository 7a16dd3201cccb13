"""Record the SQL that every engine in the process sends, as echo would print it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import event
from sqlalchemy.engine import Engine

#: Text that differs on every run, and what it is shown as instead.
_VOLATILE = [
    (re.compile(r"\b0x[0-9a-fA-F]{6,}\b"), "0x…"),  # object addresses
    (re.compile(r"scrypt\$[0-9a-f]+\$[0-9a-f]+"), "scrypt$…"),  # salted password hashes
    # PostgreSQL's internal ids of tables, which reflection passes as parameters
    (re.compile(r"('oids_\d+': )(\d+|\[[\d, ]*\])"), r"\1<oid>"),
]


@contextmanager
def capture_sql(replacements: dict[str, str] | None = None) -> Iterator[list[str]]:
    """Collect, while the block runs, each statement with its parameters.

    The listeners sit on the ``Engine`` class, so they see engines the page
    creates itself without the page knowing. Transaction boundaries are kept
    because they teach: they show where each transaction begins and ends.
    ``replacements`` swaps run-specific text (such as the name of the page's
    throwaway database) for what a reader would see on their own database.
    """
    lines: list[str] = []

    def before_cursor_execute(conn, cursor, statement, parameters, context, many):
        lines.append(statement.strip())
        if parameters:
            lines.append(f"[parameters: {format_parameters(parameters, statement)}]")

    def begin(conn):
        lines.append("BEGIN (implicit)")

    def commit(conn):
        lines.append("COMMIT")

    def rollback(conn):
        lines.append("ROLLBACK")

    listeners = {
        "before_cursor_execute": before_cursor_execute,
        "begin": begin,
        "commit": commit,
        "rollback": rollback,
    }
    for name, listener in listeners.items():
        event.listen(Engine, name, listener)
    captured: list[str] = []
    try:
        yield captured
    finally:
        for name, listener in listeners.items():
            event.remove(Engine, name, listener)
        captured.extend(normalise(line, replacements or {}) for line in lines)


def format_parameters(parameters, statement: str = "") -> str:
    """The parameters' repr, with each dictionary's keys in the order the statement uses them.

    The ORM builds some parameter dictionaries by walking a set, so their own key
    order depends on the interpreter's hash seed; ordering them by where each
    ``%(name)s`` appears in the statement is stable and reads naturally.
    """
    if isinstance(parameters, dict):

        def position(key: str) -> tuple[int, str]:
            found = statement.find(f"%({key})s")
            return (found if found >= 0 else len(statement), key)

        items = ", ".join(
            f"{key!r}: {parameters[key]!r}" for key in sorted(parameters, key=position)
        )
        return "{" + items + "}"
    if isinstance(parameters, list | tuple) and parameters and isinstance(parameters[0], dict):
        inner = ", ".join(format_parameters(item, statement) for item in parameters)
        if isinstance(parameters, list):
            return f"[{inner}]"
        return f"({inner},)" if len(parameters) == 1 else f"({inner})"
    return repr(parameters)


def normalise(text: str, replacements: dict[str, str]) -> str:
    """Drop what changes from run to run: see ``_VOLATILE``, and trailing spaces."""
    for old, new in replacements.items():
        text = text.replace(old, new)
    for pattern, shown in _VOLATILE:
        text = pattern.sub(shown, text)
    return "\n".join(line.rstrip().expandtabs(4) for line in text.splitlines())
