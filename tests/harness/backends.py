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
    #: A throwaway server for ``nox`` when no URL is set: the image, and the
    #: testcontainers class ("module:Class") with the keywords it takes.
    container_image: str | None = None
    container_class: str | None = None
    container_options: dict[str, str] = field(default_factory=dict, hash=False)


SQLITE = Backend("sqlite", "SQLite", None, "sqlite://", ("sqlite",), None)
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
    container_image="postgres:15",
    container_class="testcontainers.postgres:PostgresContainer",
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
    container_image="mariadb:10.11",
    container_class="testcontainers.mysql:MySqlContainer",
    container_options={"dialect": "pymysql"},
)

#: Every backend, in the order of the site's tabs.
ALL = (SQLITE, POSTGRESQL, MARIADB)
BY_NAME = {backend.name: backend for backend in ALL}
BACKENDS = tuple(BY_NAME)
#: The databases a content tab can name, as readers know them, and the backends they are.
BY_TITLE = {backend.title: backend.name for backend in ALL}
#: The backends that need a server, with the variable holding its URL.
URL_VARIABLES = {backend.name: backend.variable for backend in ALL if backend.variable}


def titles(names) -> str:
    """``["sqlite", "mariadb"]`` as readers would say it: "SQLite and MariaDB"."""
    words = [BY_NAME[name].title for name in names]
    if len(words) > 1:
        return ", ".join(words[:-1]) + f" and {words[-1]}"
    return words[0] if words else "no database"
