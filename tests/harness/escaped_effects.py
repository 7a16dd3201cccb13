"""What a block leaves outside its page: tables beside its namespace, files where pytest runs.

A page runs in a namespace of its own (``harness.databases``) that is removed when
the page ends. A block that creates a table in another schema (``public.x`` on
PostgreSQL), in another database (``test.x`` on MariaDB), a schema or database of
its own, or a file in the working directory (the repository, when pytest runs
there) leaves it behind on a shared server or in the repository; and two pages
running at once would both write to it. After each block the run looks, and a
block that did so fails, naming the page, its line, the database and the object.
Nothing is removed: what escaped is the contributor's to clean up.

Several pages run at the same time (xdist workers, other people's runs on the same
servers, tests that create foreign schemas on purpose), so "new since the block
started" alone could blame a page for what another did at that moment. A block is
blamed only for what it can be shown to have done:

- a database object, when it lies outside every namespace of the harness's own
  pattern (other pages' namespaces are theirs to keep), was not there when the
  block started (one catalog query after each block; the previous one is the
  baseline), and is named by the block, in the SQL it sent or in its code;
- a file, when this process opened it for writing or created it (``open``,
  ``mkdir``, ``rename``, ``link``, ``sqlite3.connect``) inside the working
  directory while the block ran, as an audit hook (``sys.addaudithook``) sees it.
  Each xdist worker is a process of its own running one page at a time, so what
  another worker or a person writes into the same folder is never seen. What a
  child process writes is invisible to the hook: for that, a new entry at the top
  of the working directory whose name the block's code spells is blamed too. The
  bytecode that imports write (``__pycache__``) is not the block's doing.
"""

from __future__ import annotations

import os
import re
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError

from harness.databases import MARIADB, NAME_PATTERN, POSTGRESQL, Backend

#: A namespace a page's objects may not be in: not the harness's own prefix.
#: (Schemas and databases themselves are compared with ``NAME_PATTERN`` instead.)
_OURS = r"tutorial\_%"

_POSTGRESQL_CATALOG = f"""
SELECT 'schema', nspname, '' FROM pg_namespace
WHERE nspname NOT LIKE 'pg\\_%' AND nspname <> 'information_schema'
UNION ALL
SELECT CASE c.relkind WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view'
       WHEN 'S' THEN 'sequence' WHEN 'c' THEN 'type' ELSE 'table' END,
       n.nspname, c.relname
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f', 'c')
  AND n.nspname NOT LIKE '{_OURS}' AND n.nspname NOT LIKE 'pg\\_%'
  AND n.nspname <> 'information_schema'
UNION ALL
SELECT 'type', n.nspname, t.typname
FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
WHERE t.typtype IN ('e', 'd', 'r', 'm')
  AND n.nspname NOT LIKE '{_OURS}' AND n.nspname NOT LIKE 'pg\\_%'
  AND n.nspname <> 'information_schema'
"""

# The server's own databases hold hundreds of tables no page should touch; they
# are left out so that the query after each block stays cheap.
_MARIADB_SYSTEM = "('mysql', 'information_schema', 'performance_schema', 'sys')"
_MARIADB_CATALOG = f"""
SELECT 'database', schema_name, '' FROM information_schema.schemata
WHERE schema_name NOT IN {_MARIADB_SYSTEM}
UNION ALL
SELECT CASE table_type WHEN 'VIEW' THEN 'view' WHEN 'SEQUENCE' THEN 'sequence'
       ELSE 'table' END,
       table_schema, table_name
FROM information_schema.tables
WHERE table_schema NOT LIKE '{_OURS}' AND table_schema NOT IN {_MARIADB_SYSTEM}
"""


@dataclass(frozen=True, order=True)
class _Object:
    kind: str  # "table", "schema", "database", ...
    namespace: str
    name: str

    @property
    def shown(self) -> str:
        return f"{self.namespace}.{self.name}" if self.name else self.namespace

    @property
    def bare(self) -> str:
        """The name a statement creating it must spell."""
        return self.name or self.namespace


class _Catalog:
    """One connection to the server's base database, asked after each block."""

    def __init__(self, backend: Backend, base_url: str) -> None:
        self.query = text(_POSTGRESQL_CATALOG if backend is POSTGRESQL else _MARIADB_CATALOG)
        # Autocommit, and no reset on return: one round trip per look.
        self.engine = create_engine(
            base_url,
            pool_size=1,
            max_overflow=0,
            pool_reset_on_return=None,
            isolation_level="AUTOCOMMIT",
        )

    def objects(self) -> set[_Object]:
        for attempt in (1, 2):
            try:
                with self.engine.connect() as connection:
                    rows = connection.execute(self.query).all()
                break
            except DBAPIError as error:
                # A connection the server closed meanwhile is replaced once.
                if attempt == 2 or not error.connection_invalidated:
                    raise
        return {
            _Object(kind, namespace, name)
            for kind, namespace, name in rows
            if name or not NAME_PATTERN.fullmatch(namespace)
        }

    def close(self) -> None:
        self.engine.dispose()


# Files ----------------------------------------------------------------------

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND


@dataclass
class _Writes:
    """Paths this process wrote while a block ran: whether each existed before."""

    existed: dict[str, bool] = field(default_factory=dict)

    def saw(self, path) -> None:
        if isinstance(path, int) or path is None:
            return  # a file descriptor: the file was opened, and seen, before
        name = os.fsdecode(os.fspath(path))
        if name in ("", ":memory:") or name.startswith("file::memory:"):
            return
        if name.startswith("file:"):  # an SQLite URI
            name = name.removeprefix("file:").split("?")[0]
        name = os.path.abspath(name)
        if name not in self.existed:
            self.existed[name] = os.path.lexists(name)


_watching: _Writes | None = None
_hook_lock = threading.Lock()
_hook_installed = False


def _audit(event: str, args: tuple) -> None:
    writes = _watching
    if writes is None:
        return
    try:
        if event == "open":
            path, mode, flags = args
            writing = (
                flags & _WRITE_FLAGS if isinstance(flags, int) else set(mode or "") & set("wax+")
            )
            if writing:
                writes.saw(path)
        elif event in ("os.mkdir", "sqlite3.connect"):
            writes.saw(args[0])
        elif event in ("os.rename", "os.link", "os.symlink"):
            writes.saw(args[1])
    except Exception:  # noqa: S110 - a hook that raised would make the block's own call fail
        pass


def _install_hook() -> None:
    """Audit hooks cannot be removed: one per process, idle between blocks."""
    global _hook_installed
    with _hook_lock:
        if not _hook_installed:
            sys.addaudithook(_audit)
            _hook_installed = True


def _inside(path: str, folder: str) -> bool:
    return os.path.commonpath([path, folder]) == folder and path != folder


def _listing(folder: str) -> set[str]:
    try:
        return set(os.listdir(folder))
    except OSError:
        return set()


# The check ------------------------------------------------------------------


@dataclass
class Cost:
    """Time spent looking, for measuring what the check adds to a run."""

    seconds: float = 0.0
    looks: int = 0


COST = Cost()


class Watch:
    """One block under watch: what it sent is filled in by the SQL capture."""

    def __init__(self) -> None:
        self.statements: list[str] = []
        self.problem: str | None = None


class EscapedEffects:
    """The watch over one page on one database: a baseline, then a look after each block."""

    def __init__(self, backend: Backend, base_url: str, page: str) -> None:
        self.backend = backend
        self.page = page
        self.folder = os.path.realpath(os.getcwd())
        self.catalog = _Catalog(backend, base_url) if backend in (POSTGRESQL, MARIADB) else None
        self.known = self._look()
        _install_hook()

    def close(self) -> None:
        if self.catalog is not None:
            self.catalog.close()

    def _look(self) -> set[_Object]:
        if self.catalog is None:
            return set()
        started = time.perf_counter()
        try:
            return self.catalog.objects()
        finally:
            COST.seconds += time.perf_counter() - started
            COST.looks += 1

    @contextmanager
    def watch(self, line: int, code: str) -> Iterator[Watch]:
        """Watch one block; afterwards ``problem`` says what it left outside the page.

        A block that raises gets the same sentence as a note on its exception.
        """
        global _watching
        watch = Watch()
        before = _listing(self.folder)
        writes = _Writes()
        _watching = writes
        try:
            yield watch
        except Exception as error:
            _watching = None
            watch.problem = self._problem(line, code, watch.statements, writes, before)
            if watch.problem:
                error.add_note(watch.problem)
            raise
        finally:
            _watching = None
        watch.problem = self._problem(line, code, watch.statements, writes, before)

    def _problem(
        self, line: int, code: str, statements: list[str], writes: _Writes, before: set[str]
    ) -> str | None:
        where = f"{self.page}, line {line} [{self.backend.name}]"
        problems = [f"{where}: {sentence}" for sentence in self._files(code, writes, before)]
        problems += [f"{where}: {sentence}" for sentence in self._objects(code, statements)]
        return "\n".join(problems) or None

    def _objects(self, code: str, statements: list[str]) -> list[str]:
        if self.catalog is None:
            return []
        now = self._look()
        new, self.known = now - self.known, now
        said = "\n".join([*statements, code])
        blamed = sorted(found for found in new if _names(said, found.bare))
        if not blamed:
            return []
        own = "schema" if self.backend is POSTGRESQL else "database"
        listed = ", ".join(f"the {found.kind} {found.shown}" for found in blamed)
        return [
            f"this block created {listed} on {self.backend.title}, outside the page's own "
            f"{own}, where it outlives the page on a shared server and pages running at "
            f"once would share it; create it in the page's {own} (name no other), and "
            f"drop {', '.join(found.shown for found in blamed)} yourself"
        ]

    def _files(self, code: str, writes: _Writes, before: set[str]) -> list[str]:
        found: dict[str, str] = {}
        for path, existed in writes.existed.items():
            if not _inside(path, self.folder) or "__pycache__" in Path(path).parts:
                continue
            if os.path.lexists(path):
                found[os.path.relpath(path, self.folder)] = "wrote to" if existed else "created"
        for name in sorted(_listing(self.folder) - before):
            if name not in found and name != "__pycache__" and name in code:
                found[name] = "created"
        if not found:
            return []
        listed = ", ".join(f"{verb} {path}" for path, verb in sorted(found.items()))
        return [
            f"this block {listed} in the working directory ({self.folder}), where it "
            "stays in the reader's folder and the repository, and pages running at once "
            "would write the same file; write under a temporary directory "
            "(tempfile.TemporaryDirectory()) instead, and remove "
            f"{', '.join(sorted(found))} yourself"
        ]


def _names(said: str, name: str) -> bool:
    """Whether ``said`` spells ``name`` as an identifier, quoted or not."""
    return re.search(rf"(?<![\w$]){re.escape(name)}(?![\w$])", said, re.IGNORECASE) is not None
