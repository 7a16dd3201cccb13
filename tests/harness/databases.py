"""The databases the site is verified on, and a throwaway namespace on each.

A page or an example never shares tables with another: on SQLite it gets a
temporary file, on PostgreSQL a schema of its own (chosen through the
connection's ``search_path``), on MariaDB a database of its own. The namespace
is removed when the page ends, whether it passed or not.

The servers may be shared with other people and other runs, so the harness
only ever touches names of its own exact pattern, always quoted, and decides
whether a namespace is still in use by asking the server: the run that creates
a namespace holds an advisory lock named after it, on a connection that stays
open for as long as the namespace lives. A namespace whose lock nobody holds is
the leftover of a run that ended without removing it, wherever that run was.
"""

from __future__ import annotations

import os
import re
import secrets
import tempfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import NullPool, create_engine, make_url, text
from sqlalchemy.engine import URL, Connection, Engine
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError

# The registry of databases, re-exported: the harness imports them from here.
from harness.backends import (  # noqa: F401
    ALL,
    BACKENDS,
    BY_NAME,
    MARIADB,
    POSTGRESQL,
    SQLITE,
    URL_VARIABLES,
    Backend,
    major,
)

#: Every schema or database the harness creates starts with this.
PREFIX = "tutorial_"

#: The whole name of every namespace the harness creates: the prefix, a slug of
#: the page or test, the id of the creating process (for people reading a list
#: of schemas; liveness is decided by the lock) and a random token. Nothing
#: else is ever locked, dropped or listed as a leftover.
NAME_PATTERN = re.compile(r"tutorial_[a-z0-9]+(?:_[a-z0-9]+)*_[0-9]{1,10}_[0-9a-f]{6}")

#: The variable that sets the session time zone of every page's connections
#: (an IANA name such as Asia/Kathmandu), as a reader's server might have it.
TIME_ZONE_VARIABLE = "TUTORIAL_DATABASE_TIME_ZONE"

#: PostgreSQL's two-key advisory locks: this first key marks the locks as ours.
_PG_LOCK_CLASS = zlib.crc32(PREFIX.encode()) & 0x7FFFFFFF


class BackendUnavailable(Exception):
    """A configured database that cannot be used; the message is one sentence."""


def configured_url(backend: Backend) -> str | None:
    """The URL the environment gives for ``backend``; SQLite needs none."""
    if backend.variable is None:
        return "sqlite://"
    return os.environ.get(backend.variable) or None


@contextmanager
def admin_connection(backend: Backend) -> Iterator[Connection]:
    """A connection with the configured URL's rights, in autocommit: for tests of the harness."""
    engine = create_engine(configured_url(backend), poolclass=NullPool)
    try:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            yield connection
    finally:
        engine.dispose()


def check_reachable(backend: Backend, url: str) -> None:
    """Connect once, turning every way of failing into one clear sentence."""
    shown = _shown(url)
    where = f"{backend.variable}={shown}" if backend.variable else shown
    scheme = url.partition("://")[0].partition("+")[0] if "://" in url else ""
    if scheme == "postgres" and backend is not POSTGRESQL:
        raise BackendUnavailable(
            f"{backend.title}: {where} points at PostgreSQL, not {backend.title}; "
            f"expected something like {backend.example_url}."
        )
    if scheme == "postgres":
        raise BackendUnavailable(
            f"{backend.title}: {where} starts with postgres://, a spelling SQLAlchemy "
            f"does not accept; write postgresql+psycopg:// instead, "
            f"as in {backend.example_url}."
        )
    try:
        parsed = make_url(url)
    except NoSuchModuleError:
        raise BackendUnavailable(
            f"{backend.title}: {where} names the database {scheme!r}, which SQLAlchemy "
            f"does not know; expected something like {backend.example_url}."
        ) from None
    except (ArgumentError, ValueError) as error:
        port = re.search(r"@[^/?#]*?:([^/?#@]*)(?:[/?#]|$)", url)
        if port and not port[1].isdigit():
            raise BackendUnavailable(
                f"{backend.title}: the port in {where} is {port[1]!r}, not a number; "
                f"write it in digits (as in {backend.example_url}) or leave it out."
            ) from None
        raise BackendUnavailable(
            f"{backend.title}: {where} is not a database URL ({_first_line(error)}); "
            f"expected something like {backend.example_url}."
        ) from None
    if parsed.get_backend_name() not in backend.dialects:
        raise BackendUnavailable(
            f"{backend.title}: {where} points at {parsed.get_backend_name()}, "
            f"not {backend.title}; expected something like {backend.example_url}."
        )
    try:
        engine = create_engine(parsed, poolclass=NullPool)
    except NoSuchModuleError:
        raise BackendUnavailable(
            f"{backend.title}: {where} names the driver {parsed.get_driver_name()!r}, "
            f"which SQLAlchemy does not know for {backend.title}; write "
            f"{parsed.get_backend_name()}+{backend.driver}:// "
            f"(installed by uv sync --group {backend.driver_group})."
        ) from None
    except ImportError as error:
        raise BackendUnavailable(_missing_driver(backend, parsed, shown, error)) from None
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except DBAPIError as error:
        raise BackendUnavailable(
            f"{backend.title}: cannot connect with {where} ({_reason(error)}); "
            f"{_connect_advice(backend, parsed, error)}."
        ) from None
    finally:
        engine.dispose()
    session_time_zone(backend)


def _missing_driver(backend: Backend, url: URL, shown: str, error: ImportError) -> str:
    """The driver SQLAlchemy knows but Python cannot import: how to get one that works."""
    driver = url.get_driver_name()
    group = f"uv sync --group {backend.driver_group}"
    if driver == backend.driver:
        return f"{backend.title}: the driver for {shown} is not installed ({error}); run {group}."
    return (
        f"{backend.title}: the driver for {shown} is not installed ({error}); "
        f"this project installs {backend.driver} ({group}), so set {backend.variable} "
        f"to a {url.get_backend_name()}+{backend.driver}:// URL, or install the package "
        f"that provides the module {error.name!r} yourself."
    )


def _connect_advice(backend: Backend, url: URL, error: DBAPIError) -> str:
    """What to change when the server answered, or did not."""
    code = _error_code(error)
    message = _reason(error).lower()
    refused_user = (
        code in ("28P01", "28000", 1045)
        or "password authentication failed" in message
        or re.search(r'role ".*" does not exist', message)
    )
    if refused_user:
        return (
            f"the server is running but refused the user {url.username!r}: "
            f"correct the user name or password in {backend.variable}"
        )
    if code in ("3D000", 1049, 1044) or re.search(r'database ".*" does not exist', message):
        return (
            f"the server is running but has no database {url.database!r} this user may use: "
            f"create it, or name another in {backend.variable}"
        )
    return "start the server or correct the URL"


def _error_code(error: DBAPIError) -> str | int | None:
    """PostgreSQL's SQLSTATE, or MariaDB's error number."""
    args = getattr(error.orig, "args", ())
    if args and isinstance(args[0], int):
        return args[0]
    return getattr(error.orig, "sqlstate", None)


#: Ends the statement that sets a MariaDB session's time zone for a run far from UTC,
#: so that the SQL capture can tell it from a page's own ``SET time_zone``.
TIME_ZONE_MARK = "/* the server's zone, for this run */"


def time_zone_statement(zone: str) -> str:
    """What each MariaDB connection of a page sends first, in a run far from UTC."""
    return f"SET time_zone = '{zone}' {TIME_ZONE_MARK}"


def session_time_zone(backend: Backend) -> str | None:
    """The time zone pages' connections are set to, in the form ``backend`` takes.

    PostgreSQL takes the IANA name; MariaDB, whose named zones need tables a
    server may lack, takes the zone's current offset from UTC.
    """
    zone = os.environ.get(TIME_ZONE_VARIABLE)
    if not zone or backend is SQLITE:
        return None
    try:
        info = ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise BackendUnavailable(
            f"{TIME_ZONE_VARIABLE}={zone} is not a time zone name; "
            f"use an IANA name such as Asia/Kathmandu, or unset it."
        ) from None
    if backend is POSTGRESQL:
        return zone
    offset = datetime.now(info).strftime("%z")
    return f"{offset[:3]}:{offset[3:]}"


def check_rights(backend: Backend, url: str) -> None:
    """Create and drop a throwaway namespace, naming the right that is missing if one is."""
    if backend is SQLITE:
        return
    engine = create_engine(url, poolclass=NullPool)
    name = namespace_name("rights probe")
    quoted = _quote(engine, name)
    who = make_url(url).username
    database = make_url(url).database
    try:
        with _locked(engine, name):
            step = "create"
            try:
                with engine.begin() as connection:
                    if backend is POSTGRESQL:
                        connection.execute(text(f"CREATE SCHEMA {quoted}"))
                        connection.execute(text(f"CREATE TABLE {quoted}.probe (id INTEGER)"))
                    else:
                        connection.execute(text(f"CREATE DATABASE {quoted}"))
                        connection.execute(text(f"CREATE TABLE {quoted}.probe (id INTEGER)"))
                step = "drop"
                _drop(backend, engine, name)
            except DBAPIError as error:
                raise BackendUnavailable(
                    _rights_sentence(backend, step, who, database, name, error)
                ) from None
    finally:
        engine.dispose()


def _rights_sentence(backend, step, who, database, name, error) -> str:
    reason = _reason(error)
    if backend is POSTGRESQL and step == "create":
        return (
            f"{backend.title}: the role {who!r} of {backend.variable} may not create a schema "
            f"in the database {database!r} ({reason}); grant it with "
            f'GRANT CREATE ON DATABASE "{database}" TO "{who}", or use a role that may.'
        )
    if backend is POSTGRESQL:
        return (
            f"{backend.title}: the role {who!r} of {backend.variable} could create but not "
            f"drop the schema {name} ({reason}); drop it as its owner, and use a role that "
            f"owns the schemas it creates."
        )
    grant = f"GRANT ALL ON `tutorial\\_%`.* TO '{who}'@'%'"
    if step == "create":
        return (
            f"{backend.title}: the user {who!r} of {backend.variable} may not create a "
            f"database and its tables ({reason}); grant it with {grant}, or use a user that may."
        )
    return (
        f"{backend.title}: the user {who!r} of {backend.variable} could create but not drop "
        f"the database {name} ({reason}); drop it as an administrator, and grant {grant}."
    )


def server_version(url: str) -> str:
    """The version the server reports, for the record of a verified run."""
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            info = connection.dialect.server_version_info or ()
            if connection.dialect.name == "sqlite":
                import sqlite3

                return sqlite3.sqlite_version
            return ".".join(str(part) for part in info if isinstance(part, int))
    finally:
        engine.dispose()


def namespace_name(label: str) -> str:
    """A schema or database name for ``label`` that no other run will choose."""
    slug = re.sub(r"[^a-z0-9]+", "_", label.lower())[:30].strip("_") or "page"
    return f"{PREFIX}{slug}_{os.getpid()}_{secrets.token_hex(3)}"


@dataclass(frozen=True)
class IsolatedDatabase:
    """Where a page runs: its URL, and the text to show readers in its place."""

    url: str
    name: str  # the schema, database or file created for the page
    reader_name: str  # what a reader's own database would be called instead


@contextmanager
def isolated_database(backend: Backend, base_url: str, label: str) -> Iterator[IsolatedDatabase]:
    """A fresh namespace on ``backend`` for one page, removed afterwards.

    Its lock is held from before the namespace exists until after it is gone,
    so no other run ever takes it for a leftover.
    """
    name = namespace_name(label)
    if backend is SQLITE:
        with tempfile.TemporaryDirectory(prefix=PREFIX) as directory:
            path = Path(directory) / f"{name}.db"
            yield IsolatedDatabase(f"sqlite:///{path}", str(path), "tutorial.db")
        return
    base = make_url(base_url)
    admin = create_engine(base, poolclass=NullPool)
    zone = session_time_zone(backend)
    try:
        with _locked(admin, name):
            quoted = _quote(admin, name)
            if backend is POSTGRESQL:
                with admin.begin() as connection:
                    connection.execute(text(f"CREATE SCHEMA {quoted}"))
                options = f"-csearch_path={name}" + (f" -ctimezone={zone}" if zone else "")
                url = base.update_query_dict({"options": options, "application_name": name})
                reader_name = "public"
            else:
                with admin.begin() as connection:
                    connection.execute(text(f"CREATE DATABASE {quoted}"))
                url = base.set(database=name)
                if zone:
                    url = url.update_query_dict({"init_command": time_zone_statement(zone)})
                reader_name = base.database or "test"
            try:
                yield IsolatedDatabase(_render(url), name, reader_name)
            finally:
                _drop(backend, admin, name)
    finally:
        admin.dispose()


@contextmanager
def _locked(engine: Engine, name: str) -> Iterator[None]:
    """Hold the lock of ``name`` on a connection of its own; fail if another run holds it."""
    with _lock_connection(engine) as connection:
        if not _try_lock(connection, name):
            raise RuntimeError(f"the lock of {name} is held by another run")
        try:
            yield
        finally:
            _unlock(connection, name)


@contextmanager
def _lock_connection(engine: Engine) -> Iterator[Connection]:
    # Autocommit: a session-level lock needs no transaction, and an idle open
    # transaction would hold back the server's clean-up for as long as a page runs.
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        yield connection


def _try_lock(connection: Connection, name: str) -> bool:
    if connection.dialect.name == "postgresql":
        query = "SELECT pg_try_advisory_lock(CAST(:kind AS integer), CAST(:key AS integer))"
        return bool(connection.execute(text(query), _pg_lock_keys(name)).scalar())
    return connection.execute(text("SELECT GET_LOCK(:name, 0)"), {"name": name}).scalar() == 1


def _unlock(connection: Connection, name: str) -> None:
    if connection.dialect.name == "postgresql":
        query = "SELECT pg_advisory_unlock(CAST(:kind AS integer), CAST(:key AS integer))"
        connection.execute(text(query), _pg_lock_keys(name))
    else:
        connection.execute(text("SELECT RELEASE_LOCK(:name)"), {"name": name})


def _pg_lock_keys(name: str) -> dict[str, int]:
    key = zlib.crc32(name.encode()) - 2**31  # the second key is a signed 32-bit integer
    return {"kind": _PG_LOCK_CLASS, "key": key}


def _quote(engine: Engine, name: str) -> str:
    """``name`` as an identifier in the engine's SQL; only our own names get this far."""
    if not NAME_PATTERN.fullmatch(name):
        raise ValueError(f"{name!r} is not a name the harness creates")
    return engine.dialect.identifier_preparer.quote_identifier(name)


def _drop(backend: Backend, admin: Engine, name: str) -> None:
    """Close whatever the page left connected, then remove its namespace."""
    quoted = _quote(admin, name)
    with admin.begin() as connection:
        if backend is POSTGRESQL:
            connection.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE application_name = :name AND pid <> pg_backend_pid()"
                ),
                {"name": name},
            )
            connection.execute(text(f"DROP SCHEMA IF EXISTS {quoted} CASCADE"))
        else:
            ids = connection.execute(
                text(
                    "SELECT id FROM information_schema.processlist "
                    "WHERE db = :name AND id <> CONNECTION_ID()"
                ),
                {"name": name},
            ).scalars()
            for connection_id in list(ids):
                connection.execute(text(f"KILL {int(connection_id)}"))
            connection.execute(text(f"DROP DATABASE IF EXISTS {quoted}"))


def leftovers(backend: Backend, base_url: str) -> list[str]:
    """Schemas or databases of the harness's own pattern on the server, in use or not."""
    if backend is SQLITE:
        return []
    engine = create_engine(base_url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            if backend is POSTGRESQL:
                query = "SELECT nspname FROM pg_namespace WHERE nspname LIKE :pattern ESCAPE '!'"
            else:
                query = (
                    "SELECT schema_name FROM information_schema.schemata "
                    "WHERE schema_name LIKE :pattern ESCAPE '!'"
                )
            pattern = PREFIX.replace("_", "!_") + "%"
            names = connection.execute(text(query), {"pattern": pattern}).scalars()
            return [name for name in names if NAME_PATTERN.fullmatch(name)]
    finally:
        engine.dispose()


@dataclass
class Sweep:
    """What :func:`remove_leftovers` did: names removed, and a line for each kept."""

    removed: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)


def remove_leftovers(backend: Backend, base_url: str) -> Sweep:
    """Remove the namespaces :func:`leftovers` finds whose lock nobody holds.

    One that cannot be dropped (it belongs to someone this user may not touch)
    is kept, with a line saying so, and the run goes on.
    """
    sweep = Sweep()
    names = leftovers(backend, base_url)
    if not names:
        return sweep
    admin = create_engine(base_url, poolclass=NullPool)
    try:
        with _lock_connection(admin) as locks:
            for name in names:
                if not _try_lock(locks, name):
                    continue  # a run, here or elsewhere, is using it
                try:
                    _drop(backend, admin, name)
                    sweep.removed.append(name)
                except DBAPIError as error:
                    sweep.kept.append(
                        f"{backend.title}: kept {name}, left by another run, because this "
                        f"user may not drop it ({_reason(error)}); its owner can."
                    )
                finally:
                    _unlock(locks, name)
    finally:
        admin.dispose()
    return sweep


def _reason(error: DBAPIError) -> str:
    """The driver's message, first line only, without MariaDB's (number, message) wrapping."""
    args = getattr(error.orig, "args", ())
    if len(args) == 2 and isinstance(args[0], int):
        return f"{args[0]}: {_first_line(Exception(args[1]))}"
    return _first_line(error.orig) if error.orig is not None else _first_line(error)


def _first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


def _render(url: URL) -> str:
    return url.render_as_string(hide_password=False)


def _shown(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        # Not parsable, yet it may still carry a password: hide what sits
        # between the user name and the host.
        return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", url)


def check_configured() -> list[str]:
    """Check every database whose URL is set, as a run would at its start.

    Returns a sentence for each database that cannot be used; prints a line for
    each one that can ("ready: ...") and for each that is not configured
    ("not configured: ...").
    """
    problems = []
    for backend in ALL:
        url = configured_url(backend)
        if url is None:
            print(f"not configured: {backend.title} ({backend.variable} is unset)")
            continue
        try:
            check_reachable(backend, url)
            check_rights(backend, url)
        except BackendUnavailable as error:
            problems.append(str(error))
            continue
        print(f"ready: {backend.title}" + (f" at {_shown(url)}" if backend.variable else ""))
    return problems


if __name__ == "__main__":
    import sys

    if sys.argv[1:] == ["versions"]:
        # The version of each configured server, as Backend.versions lists them.
        for backend in ALL:
            url = configured_url(backend)
            if url is not None and backend.versions:
                print(backend.name, major(backend, server_version(url)))
        sys.exit(0)
    if sys.argv[1:] != ["check"]:
        sys.exit("usage: python -m harness.databases check|versions")
    found = check_configured()
    for sentence in found:
        print(sentence, file=sys.stderr)
    sys.exit(1 if found else 0)
