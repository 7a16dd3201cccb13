"""Pictures made from the run: the tables a block created, and what counted blocks sent.

A page asks for a picture with a comment that readers never see, on a line of
its own:

- ``<!-- tables: next -->`` before a python block: after that block runs, the
  tables it created (its ``CREATE TABLE`` statements), and the tables they refer
  to, are reflected from each database and recorded in the page's snapshot as
  text (``tables``), one line a column or constraint. The site draws them
  (``harness.draw_pictures``). ``<!-- tables: next, with constraint names -->``
  also draws the names of the unique and foreign key constraints;
  ``<!-- tables: next, without types -->`` leaves out the columns' types, for a
  chapter about keys rather than types (the check still compares them).
- ``<!-- counted: next "label" -->`` before a python block: the block is a bar,
  called ``label``, of the chart that follows it on the page. The rows the block
  fetched from its own database are recorded (``rows``); its statements are
  counted, by :func:`statements_in`, from its recorded SQL, as the SQL box
  shows it, so the two cannot disagree.
- ``<!-- chart: "title" -->``: where the chart of the counted blocks above it
  (since the previous chart) is drawn.

The run checks each recording as it checks the SQL: tables that differ from the
recording fail the block, naming page, line and database, and so do rows. It
also checks that the statements :func:`statements_in` counts in the block's SQL
are the statements SQLAlchemy itself reports sending (its
``before_cursor_execute`` event, which is what a page's own counter listens
to), so that a chart never counts its SQL wrongly.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from harness.pages import fences

_MARKER = re.compile(
    r"^[ \t]*<!--[ \t]*(?P<kind>tables|counted|chart)[ \t]*:"
    r"[ \t]*(?P<arguments>.*?)[ \t]*-->[ \t]*$",
    re.MULTILINE,
)
_QUOTED = re.compile(r'^"(?P<text>[^"]*)"$')
#: What a diagram may show besides its tables, columns, keys and arrows, or leave out.
OPTIONS = ("with constraint names", "without types")


@dataclass(frozen=True)
class Marker:
    """One picture comment of a page."""

    kind: str  # "tables", "counted" or "chart"
    line: int
    start: int  # offsets of the comment in the page's text
    end: int
    label: str = ""  # a bar's label, or a chart's title
    names: bool = False  # a diagram that shows constraint names
    types: bool = True  # a diagram that shows the columns' types
    problem: str | None = None  # why the comment cannot be obeyed as written


@dataclass(frozen=True)
class Chart:
    marker: Marker
    bars: list[tuple[str, str]]  # (block key, label), in page order


@dataclass
class PagePictures:
    """The pictures a page asks for, and what is wrong with how it asks."""

    tables: dict[str, Marker] = field(default_factory=dict)  # by block key
    counted: dict[str, Marker] = field(default_factory=dict)  # by block key
    charts: list[Chart] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def page_pictures(text: str, name: str) -> PagePictures:
    """Read the picture comments of a page; each problem names the page and the line."""
    from harness.pages import python_blocks  # pages imports nothing of this module

    found = PagePictures()
    every = fences(text)
    blocks = python_blocks(text)
    pending: list[tuple[str, str]] = []
    for match in _MARKER.finditer(text):
        if any(f.start < match.start() < f.end for f in every):
            continue  # written inside a fence, as an example, not as a marker
        marker = _read(match, text)
        where = f"{name}, line {marker.line}"
        if marker.problem:
            found.problems.append(f"{where}: {marker.problem}")
            continue
        if marker.kind == "chart":
            if not pending:
                found.problems.append(
                    f"{where}: this chart has no bars; mark each block it counts with "
                    '<!-- counted: next "label" --> just before it'
                )
            found.charts.append(Chart(marker, pending))
            pending = []
            continue
        following = [b for b in blocks if b.fence.start >= marker.end]
        if not following:
            found.problems.append(f"{where}: no python block follows this {marker.kind} comment")
            continue
        block = following[0]
        if text[marker.end : block.fence.start].strip():
            found.problems.append(
                f"{where}: a {marker.kind} comment goes just before its block, with nothing "
                f"but blank lines between (the next python block is at line {block.line})"
            )
            continue
        if block.skip is not None:
            found.problems.append(
                f"{where}: the block at line {block.line} is skipped, so it makes no picture"
            )
            continue
        if block.databases is not None:
            found.problems.append(
                f"{where}: the block at line {block.line} runs on some databases only (its tab "
                f'"{block.fence.tab}"); a picture compares every database'
            )
            continue
        if marker.kind == "tables":
            found.tables[block.key] = marker
        else:
            found.counted[block.key] = marker
            pending.append((block.key, marker.label))
    for key, label in pending:
        marker = found.counted[key]
        found.problems.append(
            f'{name}, line {marker.line}: the bar "{label}" belongs to no chart; put '
            '<!-- chart: "title" --> after the last block it counts'
        )
    return found


def _read(match: re.Match, text: str) -> Marker:
    kind, arguments = match["kind"], match["arguments"].strip()
    line = text.count("\n", 0, match.start()) + 1
    made = {"kind": kind, "line": line, "start": match.start(), "end": match.end()}
    if kind == "chart":
        quoted = _QUOTED.match(arguments)
        if not quoted or not quoted["text"].strip():
            return Marker(**made, problem='write <!-- chart: "what the chart shows" -->')
        return Marker(**made, label=quoted["text"].strip())
    action, _, rest = arguments.partition(" ") if kind == "counted" else arguments.partition(",")
    if action.strip() != "next":
        usage = {
            "tables": "<!-- tables: next --> (options after a comma: " + ", ".join(OPTIONS) + ")",
            "counted": '<!-- counted: next "the label of its bar" -->',
        }[kind]
        return Marker(**made, problem=f"write {usage}")
    rest = rest.strip()
    if kind == "tables":
        options = [option.strip() for option in rest.split(",")] if rest else []
        unknown = [option for option in options if option not in OPTIONS]
        if unknown:
            return Marker(
                **made,
                problem=f"unknown option {unknown[0]!r}; the options are "
                + " and ".join(repr(option) for option in OPTIONS),
            )
        return Marker(**made, names=OPTIONS[0] in options, types=OPTIONS[1] not in options)
    quoted = _QUOTED.match(rest)
    if not quoted or not quoted["text"].strip():
        return Marker(
            **made,
            problem="a counted block needs the label of its bar: "
            '<!-- counted: next "selectinload" -->',
        )
    return Marker(**made, label=quoted["text"].strip())


# What the run records -------------------------------------------------------------

#: What begins a statement in a recording: a line at its left margin starting so.
#: Clauses of a statement (``FROM``, ``WHERE``, ``[parameters: ...]``) start lines too,
#: but never with these words.
_STATEMENT = re.compile(
    r"^(SELECT|INSERT|UPDATE|DELETE|WITH|VALUES|BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE|"
    r"START|CREATE|DROP|ALTER|TRUNCATE|PRAGMA|SET|SHOW|DESCRIBE|EXPLAIN|LOCK|CALL)\b",
    re.IGNORECASE,
)
_TRANSACTION_CONTROL = re.compile(
    r"^(BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE|START TRANSACTION)\b", re.IGNORECASE
)
_OTHER_DATABASE = "-- received by another database"


def statements_in(sql: str) -> list[str]:
    """The statements of a recording that a chart counts, each as its lines.

    Those the page's own database received, as the SQL box lists them, leaving out
    transaction control (``BEGIN``, ``COMMIT``, ``ROLLBACK``, savepoints, the
    pool's reset of a returned connection) and what a connection sends while it
    opens (indented under its header): what SQLAlchemy's ``before_cursor_execute``
    event reports, and so what a page's statement counter counts.
    """
    statements: list[list[str]] = []
    current: list[str] | None = None
    for line in sql.splitlines():
        if line.startswith(_OTHER_DATABASE):
            break
        if not line or line[0].isspace() or line.startswith("--"):
            current = None if line.startswith("--") else current
            continue
        if _STATEMENT.match(line):
            current = [line]
            if not _TRANSACTION_CONTROL.match(line):
                statements.append(current)
        elif current is not None:
            current.append(line)
    return ["\n".join(lines) for lines in statements]


_CREATE_TABLE = re.compile(
    r'^CREATE TABLE (?:IF NOT EXISTS )?(?P<q>["`]?)(?P<name>[^"`\s(]+)(?P=q)', re.IGNORECASE
)


def created_tables(sql: str) -> list[str]:
    """The tables whose ``CREATE TABLE`` the page's own database received, in order."""
    names = []
    for line in sql.splitlines():
        if line.startswith(_OTHER_DATABASE):
            break
        match = _CREATE_TABLE.match(line)
        if match and match["name"] not in names:
            names.append(match["name"])
    return names


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    nullable: bool


@dataclass(frozen=True)
class Unique:
    name: str | None
    columns: tuple[str, ...]
    index: bool = False  # a unique index rather than a unique constraint


@dataclass(frozen=True)
class ForeignKey:
    name: str | None
    columns: tuple[str, ...]
    table: str
    referred: tuple[str, ...]
    rules: str = ""  # "ON DELETE CASCADE", as the database reports it


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...]
    uniques: tuple[Unique, ...] = ()
    foreign_keys: tuple[ForeignKey, ...] = ()


def reflect(url: str, names: list[str], schema: str | None = None) -> list[Table]:
    """Tables ``names`` of the database at ``url`` (in ``schema``, a PostgreSQL schema or
    MariaDB database), and those they refer to, as it reports them."""
    from sqlalchemy import NullPool, create_engine, inspect

    engine = create_engine(url, poolclass=NullPool)
    try:
        inspector = inspect(engine)
        dialect = engine.dialect
        wanted, tables = list(names), []
        while wanted:
            name = wanted.pop(0)
            table = _reflect_table(inspector, dialect, name, schema)
            tables.append(table)
            for key in table.foreign_keys:
                if key.table not in names and key.table not in wanted:
                    names = [*names, key.table]
                    wanted.append(key.table)
        return tables
    finally:
        engine.dispose()


def _reflect_table(inspector, dialect, name: str, schema: str | None) -> Table:
    columns = tuple(
        Column(column["name"], _type_text(column["type"], dialect), bool(column["nullable"]))
        for column in inspector.get_columns(name, schema=schema)
    )
    primary_key = inspector.get_pk_constraint(name, schema=schema).get("constrained_columns")
    primary_key = tuple(primary_key or ())
    uniques = [
        Unique(unique.get("name"), tuple(unique["column_names"]))
        for unique in inspector.get_unique_constraints(name, schema=schema)
    ]
    named = {unique.name for unique in uniques}
    for index in inspector.get_indexes(name, schema=schema):
        if (
            index.get("unique")
            and index.get("name") not in named
            and not index.get("duplicates_constraint")
        ):
            uniques.append(Unique(index.get("name"), tuple(index["column_names"]), index=True))
    foreign_keys = []
    for key in inspector.get_foreign_keys(name, schema=schema):
        options = key.get("options") or {}
        rules = " ".join(
            f"ON {action.upper()} {options[f'on{action}'].upper()}"
            for action in ("delete", "update")
            if options.get(f"on{action}")
        )
        foreign_keys.append(
            ForeignKey(
                key.get("name"),
                tuple(key["constrained_columns"]),
                key["referred_table"],
                tuple(key["referred_columns"]),
                rules,
            )
        )
    return Table(
        name,
        columns,
        primary_key,
        tuple(sorted(uniques, key=lambda u: (u.columns, u.name or ""))),
        tuple(sorted(foreign_keys, key=lambda k: (k.columns, k.name or ""))),
    )


def _type_text(type_, dialect) -> str:
    """A column's type as the database's dialect writes it in DDL."""
    from sqlalchemy import Enum

    if isinstance(type_, Enum) and getattr(type_, "schema", None):
        # Reflected from the server's base URL, an enum carries the page's schema,
        # which the page's own DDL never names.
        type_ = type_.copy()
        type_.schema = None
    written = type_.compile(dialect=dialect)
    if isinstance(type_, Enum) and getattr(type_, "name", None) and written == type_.name:
        # PostgreSQL's enums are types of their own, which DDL names alone.
        return f"ENUM {written}"
    return written


_PLAIN_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_WORDS = frozenset({"PRIMARY", "UNIQUE", "FOREIGN"})


def _name(name: str) -> str:
    plain = _PLAIN_NAME.match(name) and name.upper() not in _WORDS
    return name if plain else '"' + name.replace('"', '""') + '"'


def _names(names: tuple[str, ...]) -> str:
    return "(" + ", ".join(_name(name) for name in names) + ")"


def schema_text(tables: list[Table]) -> str:
    """The recording of ``tables``: a line for each table, and under it, indented, a line
    for each column (``name TYPE``, then ``NOT NULL`` if so), then its primary key,
    unique constraints and foreign keys as DDL writes them."""
    lines = []
    for table in tables:
        lines.append(_name(table.name))
        for column in table.columns:
            null = "" if column.nullable else " NOT NULL"
            lines.append(f"  {_name(column.name)} {column.type}{null}")
        if table.primary_key:
            lines.append(f"  PRIMARY KEY {_names(table.primary_key)}")
        for unique in table.uniques:
            kind = "UNIQUE INDEX" if unique.index else "UNIQUE"
            named = f" {_name(unique.name)}" if unique.name else ""
            lines.append(f"  {kind}{named} {_names(unique.columns)}")
        for key in table.foreign_keys:
            named = f" {_name(key.name)}" if key.name else ""
            rules = f" {key.rules}" if key.rules else ""
            lines.append(
                f"  FOREIGN KEY{named} {_names(key.columns)} REFERENCES "
                f"{_name(key.table)} {_names(key.referred)}{rules}"
            )
    return "\n".join(lines)


_IDENTIFIER = r'(?:"(?:[^"]|"")*"|[A-Za-z_][A-Za-z0-9_]*)'
_LIST = rf"\((?:{_IDENTIFIER}(?:, )?)+\)"
_PRIMARY = re.compile(rf"^PRIMARY KEY (?P<columns>{_LIST})$")
_UNIQUE = re.compile(
    rf"^UNIQUE(?P<index> INDEX)?(?: (?P<name>{_IDENTIFIER}))? (?P<columns>{_LIST})$"
)
_FOREIGN = re.compile(
    rf"^FOREIGN KEY(?: (?P<name>{_IDENTIFIER}))? (?P<columns>{_LIST}) REFERENCES "
    rf"(?P<table>{_IDENTIFIER}) (?P<referred>{_LIST})(?: (?P<rules>.+))?$"
)
_COLUMN = re.compile(rf"^(?P<name>{_IDENTIFIER}) (?P<type>.+?)(?P<null> NOT NULL)?$")


class SchemaTextError(ValueError):
    """A recording of tables that :func:`schema_text` did not write."""


def _unquote(name: str) -> str:
    return name[1:-1].replace('""', '"') if name.startswith('"') else name


def _unlist(names: str) -> tuple[str, ...]:
    return tuple(_unquote(name) for name in re.findall(_IDENTIFIER, names[1:-1]))


def read_schema(text: str) -> list[Table]:
    """The tables of a recording written by :func:`schema_text`."""
    tables: list[Table] = []
    parts: dict | None = None

    def close() -> None:
        if parts is not None:
            tables.append(
                Table(
                    parts["name"],
                    tuple(parts["columns"]),
                    parts["primary_key"],
                    tuple(parts["uniques"]),
                    tuple(parts["foreign_keys"]),
                )
            )

    for number, line in enumerate(text.splitlines(), start=1):
        if not line.startswith("  "):
            close()
            parts = {
                "name": _unquote(line.strip()),
                "columns": [],
                "primary_key": (),
                "uniques": [],
                "foreign_keys": [],
            }
            continue
        if parts is None:
            raise SchemaTextError(f"line {number}: a column before any table")
        fact = line[2:]
        if match := _PRIMARY.match(fact):
            parts["primary_key"] = _unlist(match["columns"])
        elif match := _UNIQUE.match(fact):
            name = _unquote(match["name"]) if match["name"] else None
            parts["uniques"].append(Unique(name, _unlist(match["columns"]), bool(match["index"])))
        elif match := _FOREIGN.match(fact):
            parts["foreign_keys"].append(
                ForeignKey(
                    _unquote(match["name"]) if match["name"] else None,
                    _unlist(match["columns"]),
                    _unquote(match["table"]),
                    _unlist(match["referred"]),
                    match["rules"] or "",
                )
            )
        elif (match := _COLUMN.match(fact)) and match["name"].upper() not in _WORDS:
            parts["columns"].append(
                Column(_unquote(match["name"]), match["type"], match["null"] is None)
            )
        else:
            raise SchemaTextError(f"line {number}: {line.strip()!r} is no column or key")
    close()
    return tables


@dataclass
class Counts:
    """What SQLAlchemy reported sending to one database while a block ran."""

    statements: int = 0
    rows: int = 0


@contextlib.contextmanager
def counting(database_url: str) -> Iterator[Counts]:
    """Count the statements SQLAlchemy sends to ``database_url``, and the rows it fetches back.

    Statements: ``before_cursor_execute``, for every engine on that URL. Rows: what
    the results of those statements handed SQLAlchemy from their cursors, the rows
    of ``RETURNING`` included, whatever Core or the ORM did with them afterwards.
    """
    from sqlalchemy import event
    from sqlalchemy.engine import CursorResult, Engine, make_url

    url = make_url(database_url)
    counts = Counts()
    #: The executions counted, kept alive while the block runs: the rows of theirs
    #: only, not those of what a new connection sends while it opens, which fires no event.
    counted_contexts: list = []
    counted_ids: set[int] = set()

    def sent(connection, cursor, statement, parameters, context, executemany) -> None:
        if connection.engine.url == url:
            counts.statements += 1
            counted_contexts.append(context)
            counted_ids.add(id(context))

    def ours(result) -> bool:
        return id(getattr(result, "context", None)) in counted_ids

    def counted(method, many: bool):
        def fetch(self, *arguments, **keywords):
            rows = method(self, *arguments, **keywords)
            if ours(self):
                counts.rows += len(rows) if many else rows is not None
            return rows

        return fetch

    def iterate(method):
        def fetch(self, *arguments, **keywords):
            mine = ours(self)
            for row in method(self, *arguments, **keywords):
                counts.rows += mine
                yield row

        return fetch

    originals = {
        name: CursorResult.__dict__[name]
        for name in ("_fetchone_impl", "_fetchmany_impl", "_fetchall_impl", "_fetchiter_impl")
    }
    event.listen(Engine, "before_cursor_execute", sent)
    CursorResult._fetchone_impl = counted(originals["_fetchone_impl"], many=False)
    CursorResult._fetchmany_impl = counted(originals["_fetchmany_impl"], many=True)
    CursorResult._fetchall_impl = counted(originals["_fetchall_impl"], many=True)
    CursorResult._fetchiter_impl = iterate(originals["_fetchiter_impl"])
    try:
        yield counts
    finally:
        for name, method in originals.items():
            setattr(CursorResult, name, method)
        event.remove(Engine, "before_cursor_execute", sent)


def bar_numbers(sql: str, rows: int | None) -> tuple[int, int | None]:
    """A bar's numbers from a block's recording: the statements its SQL box lists, its rows."""
    return len(statements_in(sql)), rows
