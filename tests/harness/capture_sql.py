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

The asyncio drivers of the Async chapter are tapped at the same places: psycopg's
async connections and cursors share those methods with the others; aiomysql,
built on PyMySQL, has a ``_execute_command`` of its own, a coroutine; aiosqlite
runs ``sqlite3`` in a thread of its own per connection, and each call it hands
that thread carries the context of the task that made it, so its statements are
the block's and the task's like any other.

Each statement is attributed to the database that received it: the page's own
database first, then, under a labelled header, any other database a block
reached through an engine of its own (an in-memory SQLite engine, say). The
statements a connection sends while the pool opens it (SQLAlchemy's first look
at the server, the page's ``connect`` listeners) are indented under a header,
and the ``ROLLBACK`` with which the pool resets a returned connection is
labelled, so that neither is mistaken for the block's own work.

Statements that asyncio tasks sent while they ran at the same time interleave
in an order that depends on the network and the machine, never twice alike. So
when a block's statements come from several tasks of a loop the page runner
tracks (``track_tasks``), each task's statements are listed together, under a
header naming the task, in the order the tasks were created, at the point where
the task that created them was waiting for them; within a task, and for a
block run by one task or none, the order is the order of sending.
"""

from __future__ import annotations

import asyncio
import contextvars
import datetime
import functools
import itertools
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
    # a server-side cursor's name, from an address and a count of the process's cursors
    (re.compile(r'"c_[0-9a-f]{6,}_[0-9a-f]+"'), '"c_…"'),
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
    task: _Task | None = None  # the task of a tracked loop that sent it, if one did


@dataclass(eq=False)
class _Task:
    """An asyncio task of a tracked loop: the task that created it, and when it ran.

    ``created`` and ``done`` are ticks of one clock, so they also rank tasks by
    their creation. The tasks a loop creates outside any task (the one that runs
    a block, say) are the children of a task that stands for the loop itself.
    """

    parent: _Task | None
    created: int = 0
    done: float = float("inf")
    children: list[_Task] = field(default_factory=list)

    def ran_beside_a_sibling(self) -> bool:
        """Whether another task of the same parent was running while this one was."""
        siblings = self.parent.children if self.parent is not None else []
        return any(
            sibling is not self and sibling.created < self.done and self.created < sibling.done
            for sibling in siblings
        )

    def as_shown(self) -> _Task | None:
        """The task whose statements these are shown as: itself if it ran beside a sibling,
        else its parent's, up to the loop's (None), so that a task a block awaits alone
        (``asyncio.shield()``'s, say) is no task of its own in the box."""
        task = self
        while task.parent is not None and not task.ran_beside_a_sibling():
            task = task.parent
        return task if task.parent is not None else None


@dataclass
class _Capture:
    database: tuple | None
    statements: list[_Statement] = field(default_factory=list)


_captures: list[_Capture] = []  # the capture of the block running now
#: True while the pool opens a connection in this thread, or in this asyncio task (a
#: context variable, so that one task's checkout never ends another's opening).
_connecting: contextvars.ContextVar[bool] = contextvars.ContextVar("connecting", default=False)
#: The task on whose behalf aiosqlite's thread runs a call (its own thread has none).
_sending_task: contextvars.ContextVar[asyncio.Task | None] = contextvars.ContextVar(
    "sending_task", default=None
)
#: Each task of a tracked loop, and each tracked loop, as the capture knows them.
_tasks: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_loops: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_clock = itertools.count()
_install_lock = threading.Lock()
_installed = False
# sqlite3 connections take no weak references and no attributes: keyed by id,
# each with its connection, so that an id is never reused while it is here.
_sqlite_connections: dict[int, tuple[sqlite3.Connection, _Connection]] = {}
_driver_connections: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _record(connection: _Connection, text: str, parameters: str | None = None) -> None:
    if _captures:
        task = _known_task(_current_task())
        statement = _Statement(connection, connection.phase, text, parameters, task)
        _captures[-1].statements.append(statement)


def _known_task(task: asyncio.Task | None) -> _Task | None:
    return _tasks.get(task) if task is not None else None


def _current_task() -> asyncio.Task | None:
    task = _sending_task.get()
    if task is not None:
        return task
    try:
        return asyncio.current_task()
    except RuntimeError:  # no loop runs in this thread
        return None


def _new_connection(database: tuple, shown: str, pid: int | None = None) -> _Connection:
    return _Connection(database, shown, "connecting" if _connecting.get() else "open", pid)


def _driver(dbapi_connection):
    """The connection the capture knows, for what the pool holds.

    An asyncio driver's connection reaches the pool inside SQLAlchemy's adapter,
    and aiosqlite's holds the sqlite3 connection that its thread works on.
    """
    driver = getattr(dbapi_connection, "driver_connection", dbapi_connection)
    inner = getattr(driver, "_connection", None)
    return inner if isinstance(inner, sqlite3.Connection) else driver


def _known(dbapi_connection) -> _Connection | None:
    driver = _driver(dbapi_connection)
    found = _sqlite_connections.get(id(driver))
    if found is not None and found[0] is driver:
        return found[1]
    try:
        return _driver_connections.get(driver)
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


def _install_aiosqlite() -> None:
    """aiosqlite's thread opens the connection and runs each call in the caller's context.

    The context, copied when the call is made, tells the trace callback in that
    thread which task sent the statement and whether the pool is opening the
    connection, as it would know in the caller's own thread.
    """
    try:
        from aiosqlite import core
    except ImportError:
        return
    original_init = core.Connection.__init__
    original_execute = core.Connection._execute

    @functools.wraps(original_init)
    def __init__(self, connector, *args, **kwargs):
        original_init(self, _in_callers_context(connector), *args, **kwargs)

    @functools.wraps(original_execute)
    async def _execute(self, fn, *args, **kwargs):
        return await original_execute(self, _in_callers_context(fn), *args, **kwargs)

    core.Connection.__init__ = __init__
    core.Connection._execute = _execute


def _in_callers_context(function):
    context = contextvars.copy_context()
    context.run(_sending_task.set, _current_task())
    return functools.partial(context.run, function)


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
    except ImportError:
        return
    original = Connection._execute_command

    @functools.wraps(original)
    def execute_command(self, command, sql):
        if _captures and self._sock is not None:
            _mysql_command(self, command, sql, self.encoding)
        return original(self, command, sql)

    Connection._execute_command = execute_command


def _install_aiomysql() -> None:
    """aiomysql's connection sends every command through a coroutine of its own."""
    try:
        from aiomysql.connection import Connection
    except ImportError:
        return
    original = Connection._execute_command

    @functools.wraps(original)
    async def execute_command(self, command, sql):
        if _captures and self._writer is not None:
            _mysql_command(self, command, sql, self._encoding)
        return await original(self, command, sql)

    Connection._execute_command = execute_command


def _mysql_command(conn, command: int, sql, encoding: str) -> None:
    """Record a command PyMySQL or aiomysql is about to send to MariaDB."""
    from pymysql.constants import COMMAND

    if command == COMMAND.COM_QUERY:
        text = sql if isinstance(sql, str) else bytes(sql).decode(encoding, "replace")
        # aiomysql commits after the connection's init_command: that COMMIT is the harness's too.
        after_the_harness = getattr(conn, "_tutorial_after_init_command", False)
        conn._tutorial_after_init_command = _set_by_the_harness(conn, text)
        if not conn._tutorial_after_init_command and not (after_the_harness and text == "COMMIT"):
            _record(_mysql_connection(conn), text)
    elif command == COMMAND.COM_PING:
        _record(_mysql_connection(conn), "-- a ping (COM_PING), not a statement")
    elif command == COMMAND.COM_INIT_DB:
        name = sql if isinstance(sql, str) else bytes(sql).decode(encoding)
        _record(_mysql_connection(conn), f"-- switch to database {name} (COM_INIT_DB)")


def _mysql_connection(conn) -> _Connection:
    known = _driver_connections.get(conn)
    if known is None:
        database = conn.db.decode() if isinstance(conn.db, bytes) else conn.db
        key = ("mariadb", conn.host, str(conn.port), database or "")
        shown = f"mysql://{conn.host}:{conn.port}/{database or ''}"
        known = _driver_connections[conn] = _new_connection(key, shown)
    return known


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
        _connecting.set(True)

    def checkout(dbapi_connection, connection_record, connection_proxy):
        _connecting.set(False)
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
        _sqlite_connections.pop(id(_driver(dbapi_connection)), None)

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
        _install_aiosqlite()
        _install_psycopg()
        _install_pymysql()
        _install_aiomysql()
        _install_pool_events()
        _installed = True


def track_tasks(loop: asyncio.AbstractEventLoop) -> None:
    """Note, for each task ``loop`` creates, the task that created it and when it ran.

    The capture lists the statements of tasks that ran at the same time task by
    task (``_in_task_order``); the page runner calls this on the loop that a
    page's blocks run on.
    """
    _loops[loop] = _Task(None)

    def factory(loop, coro, **kwargs):
        parent = _known_task(asyncio.current_task(loop)) or _loops[loop]
        task = asyncio.Task(coro, loop=loop, **kwargs)
        known = _tasks[task] = _Task(parent, next(_clock))
        parent.children.append(known)
        task.add_done_callback(lambda _: setattr(known, "done", next(_clock)))
        return task

    loop.set_task_factory(factory)


def _in_task_order(statements: list[_Statement]) -> list[tuple[_Statement, _Task | None]]:
    """The statements, with those of tasks that ran at the same time listed task by task.

    Each statement's place is decided by the chain of tasks from the loop to the
    task it is shown under (``_Task.as_shown``): at each step, by how many
    statements that task had itself sent before (so a task's children come
    where it was waiting for them), then by when the next task of the chain was
    created (so children come in the order they were created). That order is
    the program's, whatever the network did. A block whose statements are shown
    under one task or none keeps the order of sending. Each statement comes with the
    task it is shown under.
    """
    shown = [statement.task.as_shown() if statement.task else None for statement in statements]
    if len(set(shown)) < 2:
        return list(zip(statements, shown, strict=True))

    def chain(task: _Task | None) -> list[_Task | None]:
        found = [task]
        while task is not None:
            task = task.parent.as_shown() if task.parent is not None else None
            found.insert(0, task)
        return found  # from None, the loop and the code outside any task

    sent_so_far: dict[_Task | None, int] = {}
    keyed = []
    for index, (statement, task) in enumerate(zip(statements, shown, strict=True)):
        steps = chain(task)
        key = [
            (sent_so_far.get(step, 0), following.created)
            for step, following in zip(steps, steps[1:], strict=False)
        ] + [(sent_so_far.get(task, 0), float("inf"))]
        sent_so_far[task] = sent_so_far.get(task, 0) + 1
        keyed.append((key, index, statement, task))
    return [(statement, task) for _, _, statement, task in sorted(keyed, key=lambda k: k[:2])]


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
    _connecting.set(False)
    _captures.append(capture)
    captured: list[str] = []
    try:
        yield captured
    finally:
        _captures.remove(capture)
        _connecting.set(False)
        _write_record(capture.statements)
        lines = render(capture.statements, capture.database)
        captured.extend(normalise(line, replacements or {}) for line in lines)


def render(statements: list[_Statement], database: tuple | None) -> list[str]:
    """The box's text: the page's database, then each other database under a header."""
    sections: dict[object, list[tuple[_Statement, _Task | None]]] = {database: []}
    for statement, task in _in_task_order(statements):
        sections.setdefault(statement.connection.database, []).append((statement, task))
    lines: list[str] = []
    others = 0
    for key, section in sections.items():
        if not section:
            continue
        if key != database:
            others += 1
            if lines:
                lines.append("")
            lines.append(_section_header(section[0][0].connection, others))
        lines += _render_section(section)
    return lines


def _section_header(connection: _Connection, number: int) -> str:
    where = connection.shown
    if connection.database[1:2] == ("memory",):
        where += ", in memory (each connection has its own)"
    return f"-- received by another database (#{number}): {where}"


def _render_section(section: list[tuple[_Statement, _Task | None]]) -> list[str]:
    statements = [statement for statement, _ in section]
    numbers: dict[int, int] = {}
    for statement, _ in section:
        numbers.setdefault(id(statement.connection), len(numbers) + 1)
    task_of = {id(statement): task for statement, task in section}
    several = len(numbers) > 1
    # Listed task by task (``_in_task_order``): each task's statements get a header,
    # the tasks numbered in the order they were created.
    shown = set(task_of.values())
    by_task = len(shown) > 1
    created = sorted((task for task in shown if task is not None), key=lambda t: t.created)
    tasks: dict[_Task | None, str] = {task: f"task {n}" for n, task in enumerate(created, 1)}
    tasks[None] = "the block's own code"
    lines: list[str] = []
    previous: _Statement | None = None
    for statement in statements:
        switched = previous is None or previous.connection is not statement.connection
        if by_task:
            switched = switched or task_of[id(previous)] is not task_of[id(statement)]
        if switched and (several or by_task):
            where = [tasks[task_of[id(statement)]]] if by_task else []
            if several:
                where.append(f"on connection {numbers[id(statement.connection)]}")
            lines.append(f"-- {', '.join(where)}:")
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
