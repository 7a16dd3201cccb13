"""What every test process loads before its first test.

Several tests run pytest in-process on small fixture projects (pytester), which
unloads, when such a run ends, every module the run imported. Two kinds of
module must not come and go like that:

- SQLAlchemy's dialects register their SQL functions once per import: imported
  again by a later run, a dialect warns that a function is registered twice,
  and this project turns that warning into an error;
- the SQL capture wraps the drivers' classes once per process: a second copy of
  it would record into lists that nobody reads, and a second copy of a driver
  would not be wrapped at all.

Importing them here, once, keeps them loaded for the whole process.
"""

import contextlib
import importlib

import harness.capture_sql  # noqa: F401
import sqlalchemy.dialects.sqlite.pysqlite  # noqa: F401

for _module in (
    "psycopg",
    "sqlalchemy.dialects.postgresql.psycopg",
    "pymysql",
    "sqlalchemy.dialects.mysql.pymysql",
    # the asyncio drivers, their dialects, and what SQLAlchemy's asyncio extension needs
    "aiosqlite",
    "sqlalchemy.dialects.sqlite.aiosqlite",
    "aiomysql",
    "sqlalchemy.dialects.mysql.aiomysql",
    "sqlalchemy.ext.asyncio",
):
    with contextlib.suppress(ImportError):  # a test session may lack that driver
        importlib.import_module(_module)
