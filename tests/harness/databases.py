"""The databases the site is verified on, and a throwaway namespace on each.

A page or an example never shares tables with another: on SQLite it gets a
temporary file, on PostgreSQL a schema of its own (chosen through the
connection's ``search_path``), on MariaDB a database of its own. The namespace
is removed when the page ends, whether it passed or not.
"""

from __future__ import annotations

import os
import re
import secrets
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import NullPool, create_engine, make_url, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError

BACKENDS = ("sqlite", "postgresql", "mariadb")

#: Every schema or database the harness creates starts with this, so leftovers
#: of an interrupted run can be recognised and removed.
PREFIX = "tutorial_"


@dataclass(frozen=True)
class Backend:
    name: str
    title: str  # as readers know it, for tabs and messages
    variable: str | None  # the environment variable holding its URL
    example_url: str
    dialects: tuple[str, ...]  # the names SQLAlchemy URLs give it
    driver_group: str | None  # the dependency group that installs its driver


SQLITE = Backend("sqlite", "SQLite", None, "sqlite://", ("sqlite",), None)
POSTGRESQL = Backend(
    "postgresql",
    "PostgreSQL",
    "TUTORIAL_POSTGRESQL_URL",
    "postgresql+psycopg://postgres@127.0.0.1:5432/test",
    ("postgresql",),
    "postgresql",
)
MARIADB = Backend(
    "mariadb",
    "MariaDB",
    "TUTORIAL_MARIADB_URL",
    "mysql+pymysql://root@127.0.0.1:3306/test",
    ("mysql", "mariadb"),
    "mariadb",
)
BY_NAME = {backend.name: backend for backend in (SQLITE, POSTGRESQL, MARIADB)}


class BackendUnavailable(Exception):
    """A configured database that cannot be used; the message is one sentence."""


def configured_url(backend: Backend) -> str | None:
    """The URL the environment gives for ``backend``; SQLite needs none."""
    if backend.variable is None:
        return "sqlite://"
    return os.environ.get(backend.variable) or None


def check_reachable(backend: Backend, url: str) -> None:
    """Connect once, turning every way of failing into one clear sentence."""
    shown = _shown(url)
    where = f"{backend.variable}={shown}" if backend.variable else shown
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise BackendUnavailable(
            f"{backend.title}: {where} is not a database URL; "
            f"expected something like {backend.example_url}."
        ) from None
    if parsed.get_backend_name() not in backend.dialects:
        raise BackendUnavailable(
            f"{backend.title}: {where} points at {parsed.get_backend_name()}, "
            f"not {backend.title}; expected something like {backend.example_url}."
        )
    try:
        engine = create_engine(parsed, poolclass=NullPool)
    except (NoSuchModuleError, ModuleNotFoundError) as error:
        group = f" (uv sync --group {backend.driver_group})" if backend.driver_group else ""
        raise BackendUnavailable(
            f"{backend.title}: the driver for {shown} is not installed "
            f"({error}); install it{group}."
        ) from None
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except DBAPIError as error:
        reason = str(error.orig).strip().splitlines()[0] if error.orig else str(error)
        raise BackendUnavailable(
            f"{backend.title}: cannot connect with {where} ({reason}); "
            f"start the server or correct the URL."
        ) from None
    finally:
        engine.dispose()


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
    slug = re.sub(r"[^a-z0-9]+", "_", label.lower()).strip("_")[:30]
    return f"{PREFIX}{slug}_{os.getpid()}_{secrets.token_hex(3)}"


@dataclass(frozen=True)
class IsolatedDatabase:
    """Where a page runs: its URL, and the text to show readers in its place."""

    url: str
    name: str  # the schema, database or file created for the page
    reader_name: str  # what a reader's own database would be called instead


@contextmanager
def isolated_database(backend: Backend, base_url: str, label: str) -> Iterator[IsolatedDatabase]:
    """A fresh namespace on ``backend`` for one page, removed afterwards."""
    name = namespace_name(label)
    if backend is SQLITE:
        with tempfile.TemporaryDirectory(prefix=PREFIX) as directory:
            path = Path(directory) / f"{name}.db"
            yield IsolatedDatabase(f"sqlite:///{path}", str(path), "tutorial.db")
        return
    base = make_url(base_url)
    admin = create_engine(base, poolclass=NullPool)
    try:
        if backend is POSTGRESQL:
            with admin.begin() as connection:
                connection.execute(text(f'CREATE SCHEMA "{name}"'))
            url = base.update_query_dict(
                {"options": f"-csearch_path={name}", "application_name": name}
            )
            reader_name = "public"
        else:
            with admin.begin() as connection:
                connection.execute(text(f"CREATE DATABASE `{name}`"))
            url = base.set(database=name)
            reader_name = base.database or "test"
        try:
            yield IsolatedDatabase(_render(url), name, reader_name)
        finally:
            _drop(backend, admin, name)
    finally:
        admin.dispose()


def _drop(backend: Backend, admin, name: str) -> None:
    """Close whatever the page left connected, then remove its namespace."""
    with admin.begin() as connection:
        if backend is POSTGRESQL:
            connection.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE application_name = :name AND pid <> pg_backend_pid()"
                ),
                {"name": name},
            )
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
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
            connection.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))


def leftovers(backend: Backend, base_url: str) -> list[str]:
    """Schemas or databases of earlier runs that were never removed."""
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
            return list(connection.execute(text(query), {"pattern": pattern}).scalars())
    finally:
        engine.dispose()


def remove_leftovers(backend: Backend, base_url: str) -> list[str]:
    """Remove what :func:`leftovers` finds of runs that are over.

    A name carries the process id of the run that made it; a namespace whose
    process is still alive belongs to a run in progress and is left alone.
    """
    names = [name for name in leftovers(backend, base_url) if not _owner_alive(name)]
    if names:
        admin = create_engine(base_url, poolclass=NullPool)
        try:
            for name in names:
                _drop(backend, admin, name)
        finally:
            admin.dispose()
    return names


def _owner_alive(name: str) -> bool:
    match = re.search(r"_(\d+)_[0-9a-f]{6}$", name)
    if match is None:
        return False
    try:
        os.kill(int(match[1]), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _render(url: URL) -> str:
    return url.render_as_string(hide_password=False)


def _shown(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url
