"""SQLite transactions that begin when SQLAlchemy begins them.

Python's ``sqlite3`` module, as it comes, sends ``BEGIN`` of its own accord,
and only before the statements it takes for writes, judging by their first
word. Everything else runs outside any transaction and stays done, whatever
rollback follows: a ``SAVEPOINT`` opened first, a ``CREATE TABLE``, an
``INSERT`` that starts with ``WITH``. The Engine chapter shows it.
``take_over_sqlite_transactions()`` applies the recipe that SQLAlchemy
documents for its ``pysqlite`` dialect: the module is told to send no
``BEGIN``, and SQLAlchemy sends one whenever it begins a transaction. Engines
for any other database are left as they are, so every chapter can call it on
its engine whatever ``DATABASE_URL`` names.

```python
from sqlalchemy import create_engine, text

from examples.sqlite_transactions import take_over_sqlite_transactions

engine = take_over_sqlite_transactions(create_engine("sqlite://"))
with engine.connect() as connection:
    connection.execute(text("CREATE TABLE scratch (x INTEGER)"))
    connection.rollback()
    print(connection.execute(text("SELECT COUNT(*) FROM sqlite_master")).scalar())
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
    # SQLAlchemy is beginning a transaction: begin it in SQLite too. The
    # driver still sends COMMIT and ROLLBACK while a transaction is open.
    connection.exec_driver_sql("BEGIN")


# --8<-- [end:recipe]
