"""A notes store written with SQLAlchemy Core, safe against SQL injection.

Every value reaches the database as a bound parameter. The search text a user
types is matched with ``LIKE`` through a parameter too, with the wildcard
characters in it escaped, so that it is always data and never SQL.

Run it against any database by handing ``main()`` an engine:

```python
from sqlalchemy import create_engine

from examples import notes

engine = create_engine("sqlite://")
print(notes.main(engine))
```
"""

from __future__ import annotations

from sqlalchemy import Connection, Engine, text

SCHEMA = (
    "CREATE TABLE notes ("
    " id INTEGER PRIMARY KEY,"
    " title VARCHAR(100) NOT NULL,"
    " body VARCHAR(1000) NOT NULL)"
)


def create_schema(connection: Connection) -> None:
    """Create the ``notes`` table, replacing any earlier one."""
    connection.execute(text("DROP TABLE IF EXISTS notes"))
    connection.execute(text(SCHEMA))


def add_note(connection: Connection, note_id: int, title: str, body: str) -> None:
    """Store one note.

    Args:
        connection: where to store it; the caller decides when to commit.
        note_id: the note's primary key.
        title: a short title, at most 100 characters.
        body: the text of the note.
    """
    connection.execute(
        text("INSERT INTO notes (id, title, body) VALUES (:id, :title, :body)"),
        {"id": note_id, "title": title, "body": body},
    )


def search_titles(connection: Connection, typed: str) -> list[str]:
    """Titles of the notes whose title contains ``typed``, in id order.

    ``%`` and ``_`` in the input are escaped, so a user searching for ``50%``
    finds titles containing ``50%`` rather than every title containing ``50``.

    Args:
        connection: where to search.
        typed: the text as the user typed it, untrusted.

    Returns:
        The matching titles.
    """
    pattern = "%" + escape_like(typed) + "%"
    rows = connection.execute(
        text("SELECT title FROM notes WHERE title LIKE :pattern ESCAPE '!' ORDER BY id"),
        {"pattern": pattern},
    )
    return list(rows.scalars())


def escape_like(value: str) -> str:
    """Make ``value`` match itself literally in a ``LIKE ... ESCAPE '!'`` pattern."""
    return value.replace("!", "!!").replace("%", "!%").replace("_", "!_")


def main(engine: Engine) -> dict[str, list[str]]:
    """Create the table, store three notes and run a few searches, one an attack.

    Returns:
        Each search text with the titles it found.
    """
    with engine.begin() as connection:
        create_schema(connection)
        add_note(connection, 1, "Groceries", "Milk, eggs, coffee")
        add_note(connection, 2, "Sale: 50% off", "Until Friday")
        add_note(connection, 3, "Ideas", "A tutorial that proves itself")
    searches = ["ea", "50%", "' OR '1'='1"]
    with engine.connect() as connection:
        return {typed: search_titles(connection, typed) for typed in searches}


if __name__ == "__main__":
    import os

    from sqlalchemy import create_engine

    print(main(create_engine(os.environ.get("DATABASE_URL", "sqlite:///tutorial.db"))))
