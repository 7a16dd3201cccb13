"""Record what each database received while a block ran, exactly as its driver sent it.

The capture sits where each driver hands a statement to its database, below
SQLAlchemy, so it also sees what a page sends through a raw DBAPI cursor and
what the drivers send of their own accord:

- SQLite: the connection's trace callback, which reports each statement SQLite
  actually executes (with its bound values written in by SQLite), including the
  ``BEGIN`` that Python's ``sqlite3`` module issues itself;
- PostgreSQL (psycopg 3): the methods through which every query leaves psycopg,
  with the ``$1``-style parameters sent beside the statement, shown as the
  server's own log shows them;
- MariaDB (PyMySQL): ``Connection._execute_command``, which carries every
  query, already interpolated by PyMySQL, as the server receives it.

Each statement is attributed to the database that received it: the page's own
database first, then, under a labelled header, any other database a block
reached through an engine of its own (an in-memory SQLite engine, say). The
statements a connection sends while the pool opens it (SQLAlchemy's first look
at the server, the page's ``connect`` listeners) are indented under a header,
and the ``ROLLBACK`` with which the pool resets a returned connection is
labelled, so that neither is mistaken for the block's own work.
"""

from __future__ import annotations

import datetime
import functools
import json
import os
import re
import sqlite3
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from harness.databases import TIME_ZONE_MARK

#: Text that differs on every run, and what it is shown as instead.
_VOLATILE = [
    (re.compile(r"\b0x[0-9a-fA-F]{6,}\b"), "0x…"),  # object addresses
    # salted password hashes, with their cost parameters kept
    (re.compile(r"(scrypt\$(?:ln=\d+,r=\d+,p=\d+\$)?)[0-9a-f]{16,}\$[0-9a-f]{16,}"), r"\1…"),
    (re.compile(r"sha256\$[0-9a-f]{64}"), "sha256$…"),  # digests of random API tokens
    # PostgreSQL's internal ids of tables, which reflection passes as parameters
    (re.compile(r"('oids_\d+': )(\d+|\[[\d, ]*\])"), r"\1<oid>"),
]

#: Set by the server-log test: a file to which every captured statement is
#: appended as a JSON line, with the PostgreSQL backend that received it.
RECORD_VARIABLE = "TUTORIAL_SQL_RECORD"


@dataclass(eq=False)
class _Connection:
    """A driver connection, as the capture knows it."""

    database: tuple  # what identifies the database it is connected to
    shown: str  # that database as a reader would write its URL
    phase: str = "open"  # "connecting" until the pool hands it out; "reset" on return
    pid: int | None = None  # the PostgreSQL backend serving it


@dataclass
class _Statement:
    connection: _Connection
    phase: str
    text: str
    parameters: str | None = None


@dataclass
class _Capture:
    database: tuple | None
    statements: list[_Statement] = field(default_factory=list)


_captures: list[_Capture] = []  # the capture of the block running now
_local = threading.local()  # .connecting: the pool is opening a connection in this thread
_install_lock = threading.Lock()
_installed = False
# sqlite3 connections take no weak references and no attributes: keyed by id,
# each with its connection, so that an id is never reused while it is here.
_sqlite_connections: dict[int, tuple[sqlite3.Connection, _Connection]] = {}
_driver_connections: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _record(connection: _Connection, text: str, parameters: str | None = None) -> None:
    if _captures:
        _captures[-1].statements.append(_Statement(connection, connection.phase, text, parameters))


def _new_connection(database: tuple, shown: str, pid: int | None = None) -> _Connection:
    connecting = getattr(_local, "connecting", False)
    return _Connection(database, shown, "connecting" if connecting else "open", pid)


def _known(dbapi_connection) -> _Connection | None:
    found = _sqlite_connections.get(id(dbapi_connection))
    if found is not None and found[0] is dbapi_connection:
        return found[1]
    try:
        return _driver_connections.get(dbapi_connection)
    except TypeError:
        return None


# SQLite ---------------------------------------------------------------------


def _sqlite_database(database, uri: bool = False) -> tuple[tuple, str]:
    name = os.fspath(database) if database is not None else ""
    if isinstance(name, bytes):
        name = name.decode()
    in_memory = name in ("", ":memory:") or (
        uri and (name.startswith("file::memory:") or "mode=memory" in name)
    )
    if in_memory:
        return ("sqlite", "memory", object()), "sqlite://"  # each connection its own
    path = os.path.realpath(name.removeprefix("file:").split("?")[0] if uri else name)
    return ("sqlite", path), f"sqlite:///{path}"


def _install_sqlite() -> None:
    original = sqlite3.dbapi2.connect

    @functools.wraps(original)
    def connect(database, *args, **kwargs):
        dbapi_connection = original(database, *args, **kwargs)
        key, shown = _sqlite_database(database, kwargs.get("uri", False))
        connection = _new_connection(key, shown)
        _sqlite_connections[id(dbapi_connection)] = (dbapi_connection, connection)
        dbapi_connection.set_trace_callback(functools.partial(_sqlite_trace, connection))
        return dbapi_connection

    sqlite3.dbapi2.connect = sqlite3.connect = connect


def _sqlite_trace(connection: _Connection, statement: str) -> None:
    _record(connection, statement.strip())


# PostgreSQL through psycopg 3 -------------------------------------------------


def _install_psycopg() -> None:
    try:
        import psycopg
        from psycopg import _connection_base, _cursor_base, client_cursor
    except ImportError:
        return

    def on(conn) -> _Connection:
        known = _driver_connections.get(conn)
        if known is None:
            info = conn.info
            database = ("postgresql", info.host, str(info.port), info.dbname, info.options)
            shown = f"postgresql://{info.host}:{info.port}/{info.dbname}"
            known = _driver_connections[conn] = _new_connection(database, shown, info.backend_pid)
        return known

    def sent(conn, query, params=None, formats=None, types=None) -> None:
        if not _captures:
            return
        text = bytes(query).decode(conn.pgconn._encoding)
        shown = _pg_parameters(conn, params, formats, types) if params else None
        _record(on(conn), text, shown)

    def wrap_send(cls, name, statement_argument):
        original = getattr(cls, name)

        @functools.wraps(original)
        def wrapper(self, *args, **kwargs):
            query = args[statement_argument]
            sent(self._conn, query.query, query.params, query.formats, query.types)
            return original(self, *args, **kwargs)

        setattr(cls, name, wrapper)

    wrap_send(_cursor_base.BaseCursor, "_execute_send", 0)
    wrap_send(_cursor_base.BaseCursor, "_send_query_prepared", 1)
    wrap_send(client_cursor.ClientCursorMixin, "_execute_send", 0)

    original_command = _connection_base.BaseConnection._exec_command

    @functools.wraps(original_command)
    def exec_command(self, command, *args, **kwargs):
        if isinstance(command, str):
            query = command.encode(self.pgconn._encoding)
        elif isinstance(command, bytes | bytearray | memoryview):
            query = command
        else:
            query = command.as_bytes(self)
        sent(self, query)
        return (yield from original_command(self, command, *args, **kwargs))

    _connection_base.BaseConnection._exec_command = exec_command
    _ = psycopg  # imported for its side effect of loading the C implementation


def _pg_parameters(conn, params, formats, types) -> str:
    """The parameters as the server logs them: ``$1 = 'text'``, ``$2 = NULL``."""
    from psycopg import pq

    parts = []
    for index, value in enumerate(params):
        if value is None:
            shown = "NULL"
        else:
            data = bytes(value)
            if formats and formats[index] == pq.Format.BINARY:
                text = _pg_binary_as_text(conn, data, types[index] if types else 0)
            else:
                text = data.decode(conn.pgconn._encoding)
            shown = "'" + text.replace("'", "''") + "'"
        parts.append(f"${index + 1} = {shown}")
    return ", ".join(parts)


def _pg_binary_as_text(conn, data: bytes, oid: int) -> str:
    """A parameter psycopg sent in binary, in the text the server would show for it."""
    from psycopg import adapt, pq

    transformer = adapt.Transformer(conn)
    value = transformer.get_loader(oid, pq.Format.BINARY).load(data)
    if isinstance(value, bytes | bytearray | memoryview):
        return "\\x" + bytes(value).hex()
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, datetime.datetime) and value.tzinfo is not None:
        # The loader reads the moment in the session's time zone; shown in UTC, the
        # same moment reads the same whatever zone the session is in.
        value = value.astimezone(datetime.UTC)
    return str(value)


# MariaDB through PyMySQL ------------------------------------------------------


def _install_pymysql() -> None:
    try:
        from pymysql.connections import Connection
        from pymysql.constants import COMMAND
    except ImportError:
        return
    original = Connection._execute_command

    def on(conn) -> _Connection:
        known = _driver_connections.get(conn)
        if known is None:
            database = conn.db.decode() if isinstance(conn.db, bytes) else conn.db
            key = ("mariadb", conn.host, str(conn.port), database or "")
            shown = f"mysql://{conn.host}:{conn.port}/{database or ''}"
            known = _driver_connections[conn] = _new_connection(key, shown)
        return known

    @functools.wraps(original)
    def execute_command(self, command, sql):
        if _captures and self._sock is not None:
            if command == COMMAND.COM_QUERY:
                text = sql if isinstance(sql, str) else bytes(sql).decode(self.encoding, "replace")
                if not _set_by_the_harness(self, text):
                    _record(on(self), text)
            elif command == COMMAND.COM_PING:
                _record(on(self), "-- a ping (COM_PING), not a statement")
            elif command == COMMAND.COM_INIT_DB:
                name = sql if isinstance(sql, str) else bytes(sql).decode(self.encoding)
                _record(on(self), f"-- switch to database {name} (COM_INIT_DB)")
        return original(self, command, sql)

    Connection._execute_command = execute_command


def _set_by_the_harness(conn, text: str) -> bool:
    """The session time zone a run far from UTC gives MariaDB (``init_command``).

    It stands for a server configured in that zone, as PostgreSQL's ``-c timezone``
    option does, which sends no statement at all: it is the reader's environment,
    not something the page sends.
    """
    return text.endswith(TIME_ZONE_MARK) and text == getattr(conn, "init_command", None)


# The pool: which statements open a connection, which reset it -------------


def _install_pool_events() -> None:
    from sqlalchemy import event
    from sqlalchemy.engine.interfaces import Dialect
    from sqlalchemy.pool import Pool

    def do_connect(dialect, connection_record, cargs, cparams):
        _local.connecting = True

    def checkout(dbapi_connection, connection_record, connection_proxy):
        _local.connecting = False
        connection = _known(dbapi_connection)
        if connection is not None:
            connection.phase = "open"

    def reset(dbapi_connection, connection_record, reset_state):
        connection = _known(dbapi_connection)
        if connection is not None:
            connection.phase = "reset"

    def checkin(dbapi_connection, connection_record):
        connection = _known(dbapi_connection) if dbapi_connection is not None else None
        if connection is not None:
            connection.phase = "open"

    def close(dbapi_connection, connection_record):
        _sqlite_connections.pop(id(dbapi_connection), None)

    event.listen(Dialect, "do_connect", do_connect)
    event.listen(Pool, "checkout", checkout)
    event.listen(Pool, "reset", reset)
    event.listen(Pool, "checkin", checkin)
    event.listen(Pool, "close", close)
    event.listen(Pool, "close_detached", close)


def install() -> None:
    """Tap every driver, once per process; the taps record only during a capture."""
    global _installed
    with _install_lock:
        if _installed:
            return
        _install_sqlite()
        _install_psycopg()
        _install_pymysql()
        _install_pool_events()
        _installed = True


def database_of_url(url: str | None) -> tuple | None:
    """The key under which the connections of ``url`` record their statements."""
    if not url:
        return None
    from sqlalchemy import make_url

    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        key, _ = _sqlite_database(parsed.database, parsed.query.get("uri") == "true")
        return None if key[1] == "memory" else key
    if backend == "postgresql":
        options = parsed.query.get("options", "")
        port = str(parsed.port or 5432)
        return ("postgresql", parsed.host, port, parsed.database, options)
    if backend in ("mysql", "mariadb"):
        return ("mariadb", parsed.host, str(parsed.port or 3306), parsed.database or "")
    return None


@contextmanager
def capture_sql(
    replacements: dict[str, str] | None = None, database_url: str | None = None
) -> Iterator[list[str]]:
    """Collect what each database received while the block runs.

    ``database_url`` is the page's own database (by default ``DATABASE_URL``,
    which the page reads): its statements come first and unlabelled. Any other
    database gets a labelled section of its own. ``replacements`` swaps
    run-specific text (such as the name of the page's throwaway database) for
    what a reader would see on their own database.
    """
    install()
    capture = _Capture(database_of_url(database_url or os.environ.get("DATABASE_URL")))
    _local.connecting = False
    _captures.append(capture)
    captured: list[str] = []
    try:
        yield captured
    finally:
        _captures.remove(capture)
        _local.connecting = False
        _write_record(capture.statements)
        lines = render(capture.statements, capture.database)
        captured.extend(normalise(line, replacements or {}) for line in lines)


def render(statements: list[_Statement], database: tuple | None) -> list[str]:
    """The box's text: the page's database, then each other database under a header."""
    sections: dict[object, list[_Statement]] = {database: []}
    for statement in statements:
        sections.setdefault(statement.connection.database, []).append(statement)
    lines: list[str] = []
    others = 0
    for key, section in sections.items():
        if not section:
            continue
        if key != database:
            others += 1
            if lines:
                lines.append("")
            lines.append(_section_header(section[0].connection, others))
        lines += _render_section(section)
    return lines


def _section_header(connection: _Connection, number: int) -> str:
    where = connection.shown
    if connection.database[1:2] == ("memory",):
        where += ", in memory (each connection has its own)"
    return f"-- received by another database (#{number}): {where}"


def _render_section(statements: list[_Statement]) -> list[str]:
    numbers: dict[int, int] = {}
    for statement in statements:
        numbers.setdefault(id(statement.connection), len(numbers) + 1)
    several = len(numbers) > 1
    lines: list[str] = []
    previous: _Statement | None = None
    for statement in statements:
        switched = previous is None or previous.connection is not statement.connection
        if several and switched:
            lines.append(f"-- on connection {numbers[id(statement.connection)]}:")
        opening = statement.phase == "connecting"
        if opening and (switched or previous.phase != "connecting"):
            lines.append("-- a new connection opens:")
        text = statement.text.strip()
        if statement.parameters is not None:
            text += f"\n[parameters: {_mask_oids(statement.text, statement.parameters)}]"
        if statement.phase == "reset":
            first, *rest = text.split("\n")
            text = "\n".join([f"{first}  -- the pool resets the returned connection"] + rest)
        if opening:
            text = "\n".join("    " + line for line in text.split("\n"))
        lines.append(text)
        previous = statement
    return lines


#: Where PostgreSQL's reflection queries compare its internal table ids with parameters.
_OID_COMPARISON = re.compile(r"(?:relid|\boid)\s*(?:=|IN\s*\(|=\s*ANY\s*\()\s*((?:\$\d+[\s,]*)+)")


def _mask_oids(statement: str, parameters: str) -> str:
    """Show table ids passed as parameters as ``<oid>``: they differ on every run."""
    numbers = {
        number
        for match in _OID_COMPARISON.finditer(statement)
        for number in re.findall(r"\$(\d+)", match[1])
    }
    for number in numbers:
        parameters = re.sub(rf"(\${number} = )'\d+'", r"\1<oid>", parameters)
    return parameters


def _write_record(statements: list[_Statement]) -> None:
    path = os.environ.get(RECORD_VARIABLE)
    if not path or not statements:
        return
    with open(path, "a", encoding="utf-8") as record:
        for statement in statements:
            entry = {
                "database": statement.connection.database[0],
                "pid": statement.connection.pid,
                "phase": statement.phase,
                "statement": statement.text,
                "parameters": statement.parameters,
            }
            record.write(json.dumps(entry) + "\n")


def normalise(text: str, replacements: dict[str, str]) -> str:
    """Drop what changes from run to run: see ``_VOLATILE``, and trailing spaces."""
    for old, new in replacements.items():
        text = text.replace(old, new)
    for pattern, shown in _VOLATILE:
        text = pattern.sub(shown, text)
    return "\n".join(line.rstrip().expandtabs(4) for line in text.splitlines())
