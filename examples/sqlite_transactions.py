"""SQLite transactions that begin when SQLAlchemy begins them.

Python's ``sqlite3`` module, as it comes, sends ``BEGIN`` of its own accord,
and not before every statement: not before a ``SAVEPOINT`` that opens a
transaction (the Session chapter shows it), nor before an ``UPDATE`` that
starts with ``WITH`` (the Engine chapter). Such a statement runs outside any
transaction, and a rollback that follows cannot undo it.
``take_over_sqlite_transactions()`` applies the recipe that SQLAlchemy
documents for its SQLite dialect: the module is told to send no ``BEGIN``,
and a listener sends one, on the driver's own connection, whenever
SQLAlchemy begins a transaction. Engines for any other database are left as
they are, so every chapter calls it on its engine whatever ``DATABASE_URL``
names.

```python
from sqlalchemy import create_engine, text

from examples.sqlite_transactions import take_over_sqlite_transactions

engine = take_over_sqlite_transactions(create_engine("sqlite://"))
with engine.connect() as connection:
    connection.execute(text("CREATE TABLE tally AS SELECT 0 AS n"))
    connection.commit()
    connection.execute(text("WITH step(size) AS (VALUES (1)) UPDATE tally SET n = n + 1"))
    connection.rollback()
    print(connection.execute(text("SELECT n FROM tally")).scalar())  # 0
```
"""

from sqlalchemy import Engine, event


# --8<-- [start:recipe]
def take_over_sqlite_transactions(engine: Engine) -> Engine:
    """Have SQLAlchemy, not Python's ``sqlite3`` module, begin every transaction.

    Only an engine for SQLite is changed; it is returned either way.
    """
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _no_begin_from_the_driver)
        event.listen(engine, "begin", _begin_for_sqlalchemy)
    return engine


def _no_begin_from_the_driver(dbapi_connection, connection_record) -> None:
    # None: the sqlite3 module no longer decides, from the text of a
    # statement, whether to send BEGIN before it.
    dbapi_connection.isolation_level = None


def _begin_for_sqlalchemy(connection) -> None:
    # SQLAlchemy is beginning a transaction: begin it in SQLite too. Sent on
    # the driver's own connection, the BEGIN stays out of SQLAlchemy's log and
    # statement events, as the BEGIN of other drivers does. The driver still
    # sends COMMIT and ROLLBACK while a transaction is open. A cursor of the
    # DBAPI connection sends it for sqlite3, and for aiosqlite too, whose
    # connection SQLAlchemy adapts to the same interface (the Async chapter).
    cursor = connection.connection.dbapi_connection.cursor()
    cursor.execute("BEGIN")
    cursor.close()


# --8<-- [end:recipe]
