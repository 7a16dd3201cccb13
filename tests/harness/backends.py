"""The databases the site is verified on: one entry each, in the order of their tabs.

Everything that differs from one database to another and is not code reads this
registry: the order and titles of the tabs on the site, the titles a content tab
may name, the snapshot files, the script header's install lines, the options of
the tests, and the nox sessions (``noxfile.py`` loads this file by its path, in
nox's own environment, so it imports nothing outside the standard library).
Adding a database starts with an entry here.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Backend:
    name: str  # as the harness names it: --backend, snapshot keys, nox sessions
    title: str  # as readers know it, for tabs and messages
    variable: str | None  # the environment variable holding its URL; None: needs no server
    example_url: str  # a URL that works with this project's driver, for messages
    dialects: tuple[str, ...]  # the names SQLAlchemy URLs give it
    driver_group: str | None  # the dependency group of pyproject.toml that installs its driver
    driver: str | None = None  # the driver that group installs, as URLs name it
    #: What a reader installs with pip for the driver, and the URL they set, for scripts.
    pip_package: str | None = None
    reader_url: str | None = None
    #: What a reader installs with pip for the asyncio driver of the Async chapter, which
    #: finds it from the URL they set (``sqlalchemy[asyncio]`` comes besides).
    async_pip_package: str | None = None
    #: The server versions every page is verified on, oldest first, as
    #: :func:`major` names them; the newest is the one a throwaway server runs.
    versions: tuple[str, ...] = ()
    #: A throwaway server for ``nox`` when no URL is set: the official image
    #: ({version} is one of ``versions``), the image that stands in for it where
    #: no registry can be reached (tests/standins), and the testcontainers class
    #: ("module:Class") with the keywords it takes.
    container_image: str | None = None
    standin_image: str | None = None
    container_class: str | None = None
    container_options: dict[str, str] = field(default_factory=dict, hash=False)


SQLITE = Backend(
    "sqlite", "SQLite", None, "sqlite://", ("sqlite",), None, async_pip_package="aiosqlite"
)
POSTGRESQL = Backend(
    "postgresql",
    "PostgreSQL",
    "TUTORIAL_POSTGRESQL_URL",
    "postgresql+psycopg://postgres@127.0.0.1:5432/test",
    ("postgresql",),
    driver_group="postgresql",
    driver="psycopg",
    pip_package="psycopg[binary]",
    reader_url="postgresql+psycopg://USER@HOST:5432/DATABASE",
    async_pip_package="psycopg[binary]",  # psycopg's own async mode
    versions=("15", "17"),
    container_image="postgres:{version}",
    standin_image="tutorial-standin/postgres:{version}",
    container_class="testcontainers.community.postgres:PostgresContainer",
    container_options={"driver": "psycopg"},
)
MARIADB = Backend(
    "mariadb",
    "MariaDB",
    "TUTORIAL_MARIADB_URL",
    "mysql+pymysql://root@127.0.0.1:3306/test",
    ("mysql", "mariadb"),
    driver_group="mariadb",
    driver="pymysql",
    pip_package="pymysql",
    reader_url="mysql+pymysql://USER@HOST:3306/DATABASE",
    async_pip_package="aiomysql",  # built on PyMySQL
    versions=("10.11", "11.8"),
    container_image="mariadb:{version}",
    standin_image="tutorial-standin/mariadb:{version}",
    container_class="testcontainers.community.mysql:MySqlContainer",
    # As root: the image's ordinary user has rights on its own database only, and
    # every page runs in a database of its own.
    container_options={"dialect": "pymysql", "username": "root", "password": "tutorial"},
)

#: Every backend, in the order of the site's tabs.
ALL = (SQLITE, POSTGRESQL, MARIADB)
BY_NAME = {backend.name: backend for backend in ALL}
BACKENDS = tuple(BY_NAME)
#: The databases a content tab can name, as readers know them, and the backends they are.
BY_TITLE = {backend.title: backend.name for backend in ALL}
#: The backends that need a server, with the variable holding its URL.
URL_VARIABLES = {backend.name: backend.variable for backend in ALL if backend.variable}


def major(backend: Backend, version: str) -> str:
    """The part of a server's version that :attr:`Backend.versions` names.

    PostgreSQL's major version is its first number ("17.7": "17"), MariaDB's its
    first two ("11.8.3": "11.8"); SQLite has no list of versions, so all of it.
    """
    parts = version.split(".")
    if backend.name == "postgresql":
        return parts[0]
    if backend.name == "mariadb":
        return ".".join(parts[:2])
    return version


def with_versions(backend: Backend, versions) -> str:
    """ "PostgreSQL 15 and 17": a database with the versions of it named."""
    versions = list(versions)
    if not versions:
        return backend.title
    if len(versions) == 1:
        return f"{backend.title} {versions[0]}"
    return f"{backend.title} " + ", ".join(versions[:-1]) + f" and {versions[-1]}"


def titles(names) -> str:
    """``["sqlite", "mariadb"]`` as readers would say it: "SQLite and MariaDB"."""
    words = [BY_NAME[name].title for name in names]
    if len(words) > 1:
        return ", ".join(words[:-1]) + f" and {words[-1]}"
    return words[0] if words else "no database"
