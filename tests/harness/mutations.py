"""Do the checks bite? Apply faults a contributor could make, one at a time, and see.

Each fault is applied to a temporary copy of the project (its pages, examples,
snapshots, tests and harness, and configuration), then what it touches (a page,
or a test of the harness) is run on each database that should catch it. The
copy's ``tests/`` comes first on ``PYTHONPATH``, so that a fault made in the
copy's harness is the harness that runs (the project's own would otherwise win,
installed as it is). A fault is caught when the run fails, on each of its
databases, with a message that names the page (or snapshot, or test), the line
and the database. ``nox -s mutations`` runs them all, two at a time, and prints
``caught N of M``; the exit status is non-zero if any fault slips through.
``python -m harness.mutations WORD...`` runs only the faults whose description
contains one of the words.

Faults that need a database server run on it, and remove afterwards what they
made there. The servers may be shared: the fault that has the clean-up of
leftovers ignore the locks that mark a namespace as in use does so only for the
names of the test that catches it, so that no live namespace of another run is
ever dropped.
"""

from __future__ import annotations

import base64
import os
import random
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from harness import site_files
from harness.databases import BY_NAME, configured_url, major, server_version
from harness.pages import ROOT, Block, python_blocks

ALL = ("sqlite", "postgresql", "mariadb")
#: Faults in a page's text are found by its own checks, which run once, on the first
#: database of the run; SQLite needs no server, so that is where they are run.
TEXT = ("sqlite",)

#: What this run creates on the servers is named with this, and removed afterwards.
TOKEN = f"{os.getpid()}_{secrets.token_hex(3)}"
ESCAPED = f"escaped_{TOKEN}"

#: A page that passes on all three databases, for the fault whose failure must be the only one.
SOLE_PAGE = "ids-types-time-zones.md"


#: The test that renders a page twice in one process, as `mkdocs serve` does.
RENDERED_AGAIN = "test_a_page_rendered_again_in_the_same_process_shows_what_changed"


@dataclass(frozen=True)
class Fault:
    description: str
    targets: tuple[str, ...]  # pytest arguments: pages or tests; {db} is each database
    databases: tuple[str, ...]  # every one of them must catch it
    apply: Callable[[Path], None]  # changes the copy of the project
    #: regular expressions that the failure output must match for each database;
    #: {db} and {title} stand for the database's name and title
    expected: tuple[str, ...]
    sole: bool = False  # the fault's own failure, once per database, and nothing else
    clean: Callable[[], None] | None = None  # removes what the run left on the servers
    #: caught by tests that start containers (tests/test_docker_path.py)
    needs_docker: bool = False


@dataclass
class Outcome:
    fault: Fault
    caught: bool
    evidence: list[str] = field(default_factory=list)
    seconds: float = 0.0


# Editing the copy ---------------------------------------------------------------


def _edit(path: Path, old: str, new: str, count: int = 1) -> None:
    text = path.read_text()
    if old not in text:
        raise LookupError(f"{path.name} no longer contains {old!r}: update this fault")
    path.write_text(text.replace(old, new, count))


def _page(project: Path, page: str) -> Path:
    return project / "docs" / page


def _append(project: Path, page: str, text: str) -> None:
    path = _page(project, page)
    path.write_text(path.read_text() + "\n" + text)


def _blocks(project: Path, page: str) -> list[Block]:
    return python_blocks(_page(project, page).read_text())


def _replace_block(project: Path, page: str, block: Block, source: str) -> None:
    path = _page(project, page)
    text = path.read_text()
    indent = block.fence.indent
    body = "".join(f"{indent}{line}\n" if line else "\n" for line in source.splitlines())
    fence = f"{indent}```python\n{body}{indent}```"
    path.write_text(text[: block.fence.start] + fence + text[block.fence.end :])


def _snapshot(project: Path, page: str) -> tuple[Path, dict]:
    path = project / "tests" / "snapshots" / Path(page).with_suffix(".yml")
    return path, yaml.safe_load(path.read_text())


def _save(path: Path, entries: dict) -> None:
    path.write_text(yaml.safe_dump(entries, sort_keys=False, allow_unicode=True))


def _recorded_everywhere(entries: dict) -> str:
    """The first entry with SQL recorded on every database."""
    return next(key for key, entry in entries.items() if all(entry.get(db) for db in ALL))


def _printed_everywhere(entries: dict) -> str:
    """The first entry of a plain block that printed on every database."""
    return next(
        key
        for key, entry in entries.items()
        if all((entry.get("output") or {}).get(db) for db in ALL)
    )


# Pages: output, snapshots, text ---------------------------------------------------


def change_expected_result(project: Path) -> None:
    path = _page(project, SOLE_PAGE)
    text = path.read_text()
    for block in _blocks(project, SOLE_PAGE):
        for line in block.source.splitlines() if block.is_console else ():
            if line.strip() and not line.lstrip().startswith((">>>", "...")):
                fence = text[block.fence.start : block.fence.end]
                changed = fence.replace(f"{line}\n", f"{line} (changed)\n", 1)
                path.write_text(text[: block.fence.start] + changed + text[block.fence.end :])
                return
    raise LookupError(f"{SOLE_PAGE} shows no output")


def change_snapshot_sql(project: Path) -> None:
    path, entries = _snapshot(project, "engine.md")
    entry = entries[_recorded_everywhere(entries)]
    for db in ALL:
        first, _, rest = entry[db].partition("\n")
        entry[db] = f"{first} /* as a careless edit might leave it */\n{rest}"
    _save(path, entries)


def delete_snapshot(project: Path) -> None:
    path, entries = _snapshot(project, "engine.md")
    del entries[_recorded_everywhere(entries)]
    _save(path, entries)


def record_on_sqlite_only(project: Path) -> None:
    path, entries = _snapshot(project, "engine.md")
    for entry in entries.values():
        for db in ("postgresql", "mariadb"):
            entry.pop(db, None)
            (entry.get("output") or {}).pop(db, None)
    _save(path, entries)


def change_recorded_output(project: Path) -> None:
    path, entries = _snapshot(project, "engine.md")
    output = entries[_printed_everywhere(entries)]["output"]
    for db in ALL:
        output[db] += " (changed)"
    _save(path, entries)


def type_printed_output_by_hand(project: Path) -> None:
    _, entries = _snapshot(project, "engine.md")
    key = _printed_everywhere(entries)
    block = next(b for b in _blocks(project, "engine.md") if b.key == key)
    printed = entries[key]["output"]["sqlite"]
    path = _page(project, "engine.md")
    text = path.read_text()
    fence = f"\n\n```text\n{printed} (changed)\n```"
    path.write_text(text[: block.fence.end] + fence + text[block.fence.end :])


def swallow_a_failing_block(project: Path) -> None:
    block = [b for b in _blocks(project, "engine.md") if not b.is_console][-1]
    body = "".join(f"    {line}\n" for line in block.source.splitlines())
    source = (
        f"try:\n{body}    raise RuntimeError('this block now fails')\nexcept Exception:\n    pass\n"
    )
    _replace_block(project, "engine.md", block, source)


def show_a_traceback(project: Path) -> None:
    _append(
        project,
        "index.md",
        "```python\n>>> 1 / 0\nTraceback (most recent call last):\n  ...\n"
        "ZeroDivisionError: division by zero\n```\n",
    )


def misspell_fence_language(project: Path) -> None:
    _append(project, "index.md", "```pyhton\nraise SystemExit('never run')\n```\n")


def break_snippet_include(project: Path) -> None:
    _edit(
        _page(project, "engine.md"),
        "examples/sqlite_transactions.py:recipe",
        "examples/sqlite_transactions.py:recipes",
    )


def break_internal_link(project: Path) -> None:
    _append(project, "index.md", "Read on in [the sessions chapter](sessions.md).\n")


def break_anchor(project: Path) -> None:
    _append(project, "index.md", "See [pooling](engine.md#pooling-in-depth).\n")


def point_a_row_at_a_section_without_a_block(project: Path) -> None:
    # "Changing many rows at once" only introduces its subsections, which hold the blocks.
    _edit(
        _page(project, "backend-differences.md"),
        "(querying.md#update)",
        "(querying.md#changing-many-rows-at-once)",
    )


def use_legacy_api(project: Path) -> None:
    _append(
        project,
        "index.md",
        "```python\nwith Session(engine) as session:\n"
        "    everyone = session.query(User).all()\n```\n",
    )


#: The last block of the Querying chapter, before which a legacy call is slipped in.
QUERYING_END = "```python\nsession.close()\nengine.dispose()\n```\n"


def keep_a_legacy_call_that_warns(project: Path) -> None:
    """A 1.x call that SQLAlchemy warns about, marked as legacy, in a chapter that teaches 2.x."""
    _edit(
        _page(project, "querying.md"),
        QUERYING_END,
        '<!-- legacy: next "a call left over from 1.x" -->\n\n'
        "```python\nleft_over = session.query(User).get(1)\n```\n\n" + QUERYING_END,
    )


def run_scripts_without_legacy_errors(project: Path) -> None:
    _edit(
        _harness(project, "legacy_warnings.py"),
        '    return [sys.executable, "-c", _BOOTSTRAP, str(script)]\n',
        "    return [sys.executable, str(script)]\n",
    )


# The Alembic chapter ----------------------------------------------------------------

ALEMBIC_PAGE = "migrations.md"
RENDER_AS_BATCH = '    "            render_as_batch=True,\\n",\n'


def drop_render_as_batch(project: Path) -> None:
    """Autogenerate's migrations as generated: plain ALTER TABLE, which SQLite refuses.

    The line stays, empty, so that the blocks after it keep their lines.
    """
    _edit(_page(project, ALEMBIC_PAGE), RENDER_AS_BATCH, '    "",\n')


def _block_after(page: str, code: str) -> int:
    """The line of the block that follows the block of ``page`` holding ``code``."""
    blocks = python_blocks((ROOT / "docs" / page).read_text())
    index = next(i for i, block in enumerate(blocks) if code.strip() in block.source)
    return blocks[index + 1].line


def run_alembic_in_the_working_directory(project: Path) -> None:
    """The Alembic project made where the tests run rather than in a temporary folder."""
    _edit(
        _page(project, ALEMBIC_PAGE),
        "project = Path(workspace.name).resolve()\n",
        "project = Path.cwd()\n",
    )


def depend_on_another_page(project: Path) -> None:
    # ``doomed`` is an engine that only the Engine chapter defines.
    _append(project, "index.md", "```python\n>>> doomed.url.database\n'/x'\n```\n")


def show_a_set(project: Path) -> None:
    _append(project, "index.md", "```python\n>>> {\"b\", \"a\"}\n{'a', 'b'}\n```\n")


def hide_a_block_in_a_comment(project: Path) -> None:
    _append(project, "index.md", "<!--\n```python\nprint('only the tests see this')\n```\n-->\n")


def skip_conditionally(project: Path) -> None:
    _append(
        project,
        "index.md",
        '<!-- skip: next if(True, reason="not here") -->\n\n```python\nprint("hi")\n```\n',
    )


def skip_start(project: Path) -> None:
    _append(
        project,
        "index.md",
        "<!-- skip: start -->\n\n```python\nprint('hi')\n```\n\n<!-- skip: end -->\n",
    )


def skip_without_a_reason(project: Path) -> None:
    _append(project, "index.md", '<!-- skip: next "  " -->\n\n```python\nprint("hi")\n```\n')


def move_a_block_out_of_its_tab(project: Path) -> None:
    path = _page(project, "querying.md")
    text = path.read_text()
    block = next(b for b in _blocks(project, "querying.md") if b.fence.tab == "PostgreSQL")
    tab = text.rindex('=== "PostgreSQL"', 0, block.fence.start)
    fence = text[text.rindex("\n", 0, block.fence.start) + 1 : block.fence.end]
    dedented = "\n".join(line.removeprefix(block.fence.indent) for line in fence.split("\n"))
    path.write_text(text[:tab] + dedented + text[block.fence.end :])


#: The Core chapter: its DELETE that names a second table, which SQLite cannot compile,
#: and the block that prints each dialect's compiled SQL.
CORE_PAGE = "core.md"
CORE_DELETE = "connection.execute(stale_invitations).rowcount"
CORE_COMPILED = "print(lookup.compile(dialect=dialect))"


def _moved_out_of_its_tab(page: str, code: str) -> str:
    """The failure of the block of ``page`` holding ``code``, once moved out of its tab.

    Moving it drops the tab's title and the blank line after it, so the block starts
    two lines higher than on the page.
    """
    text = (ROOT / "docs" / page).read_text()
    line = next(b.line for b in python_blocks(text) if code in b.source) - 2
    name = re.escape(f"docs/{page}")
    return rf"({name}, line {line} \[{{db}}\]: .*|FAILED {name}::sybil:{{db}},line:{line},)"


def move_the_core_delete_out_of_its_tab(project: Path) -> None:
    path = _page(project, CORE_PAGE)
    text = path.read_text()
    block = next(b for b in _blocks(project, CORE_PAGE) if CORE_DELETE in b.source)
    tab = text.rindex(f'=== "{block.fence.tab}"', 0, block.fence.start)
    fence = text[text.rindex("\n", 0, block.fence.start) + 1 : block.fence.end]
    dedented = "\n".join(line.removeprefix(block.fence.indent) for line in fence.split("\n"))
    path.write_text(text[:tab] + dedented + text[block.fence.end :])


def type_compiled_sql_by_hand(project: Path) -> None:
    """The SQL the block compiles for SQLite, typed under it as a reader would see it."""
    block = next(b for b in _blocks(project, CORE_PAGE) if CORE_COMPILED in b.source)
    path = _page(project, CORE_PAGE)
    text = path.read_text()
    typed = "SELECT members.email\nFROM members\nWHERE members.display_name = ?"
    typed = f"\n\n```sql\n{typed}\n```"
    path.write_text(text[: block.fence.end] + typed + text[block.fence.end :])


def _typed_under(page: str, code: str) -> str:
    text = (ROOT / "docs" / page).read_text()
    line = next(b.line for b in python_blocks(text) if code in b.source)
    return rf"docs/{re.escape(page)}, line \d+: output typed by hand under the block at line {line}"


def unmark_a_block_the_browser_cannot_run(project: Path) -> None:
    """The Engine chapter's thread demonstration, left for the browser to run."""
    path = _page(project, "engine.md")
    text, count = re.subn(
        r'<!-- not in the browser: next "[^"]*thread[^"]*" -->\n\n', "", path.read_text(), count=1
    )
    if not count:
        raise LookupError(
            "engine.md marks no thread block as not in the browser: update this fault"
        )
    path.write_text(text)


def delete_the_last_block(project: Path) -> None:
    block = _blocks(project, "engine.md")[-1]
    path = _page(project, "engine.md")
    text = path.read_text()
    path.write_text(text[: block.fence.start] + text[block.fence.end :])


# Lock conflicts: a demonstration that no longer bounds its wait ---------------------

#: The page whose two sessions conflict on purpose; each fault below makes one of its
#: demonstrations wait for a lock, which the page's one-second limit must turn into a
#: failure at that block, in seconds, not a hang.
LOCKS_PAGE = "transactions.md"
NOWAIT = "theirs = bob.scalars(acme_seats.with_for_update(nowait=True)).one()"
SKIP_LOCKED = "        .with_for_update(skip_locked=True)\n"
SET_LOCAL = "    bob.execute(text(\"SET LOCAL lock_timeout = '100ms'\"))\n"


def wait_instead_of_nowait(project: Path) -> None:
    _edit(_page(project, LOCKS_PAGE), NOWAIT, NOWAIT.replace("nowait=True", ""))


def wait_instead_of_skip_locked(project: Path) -> None:
    _edit(_page(project, LOCKS_PAGE), SKIP_LOCKED, "        .with_for_update()\n")


def drop_the_transactions_lock_timeout(project: Path) -> None:
    _edit(_page(project, LOCKS_PAGE), SET_LOCAL, "")


def _failing_at(page: str, code: str) -> str:
    """A failure of the block of ``page`` that holds ``code``, at its line, on the database.

    Either the run's own message (what the block sent or printed differs) or, for a
    block that raised, pytest's line for its item.
    """
    text = (ROOT / "docs" / page).read_text()
    line = next(b.line for b in python_blocks(text) if code.strip() in b.source)
    name = re.escape(f"docs/{page}")
    return (
        rf"({name}, line {line} \[{{db}}\]: (the SQL sent|what the block printed) differs"
        rf"|FAILED {name}::sybil:{{db}},line:{line},)"
    )


# Computed attributes, types and global filters: a line a contributor might drop --------

#: The pages whose demonstrations each fault below undoes; each edit keeps the page's
#: line count, so that the block that must fail keeps its line.
COLUMNS_PAGE = "beyond-plain-columns.md"
HYBRID_EXPRESSION = "    @byline.inplace.expression\n"
HYBRID_QUERY = 'select(Writer.first_name).where(Writer.byline == "Ada Lovelace")'
MUTABLE_DICT = "mapped_column(MutableDict.as_mutable(JSON), default=dict)"
IN_PLACE_CHANGE = 'parcel.tracking["carrier"] = "Swift Couriers"'
EVENTS_PAGE = "events.md"
TENANT_CRITERIA = "InWorkspace, lambda cls: cls.workspace_id == workspace_id, include_aliases=True"
ALIASED_QUERY = "other_note = aliased(Note)"
SOFT_DELETE_CRITERIA = "SoftDeletable, lambda cls: cls.deleted_at.is_(None), include_aliases=True"
LAZY_LOAD = "print([note.title for note in recipes.notes])"
WRITE_CHECK = 'raise PermissionError("a row of another workspace cannot be written here")'
FOREIGN_WRITE = 'launch.notes.append(Note(title="Acme\'s secrets", workspace_id=acme_id))'
BULK_STATEMENTS = "execute_state.is_select or execute_state.is_update or execute_state.is_delete"
FOREIGN_UPDATE = 'blank_the_soup = update(Note).where(Note.title == "Soup")'


def drop_the_hybrids_expression(project: Path) -> None:
    _edit(_page(project, COLUMNS_PAGE), HYBRID_EXPRESSION, "\n")


def store_json_without_mutable_dict(project: Path) -> None:
    _edit(_page(project, COLUMNS_PAGE), MUTABLE_DICT, "mapped_column(JSON, default=dict)")


def let_the_tenant_filter_miss_aliases(project: Path) -> None:
    _edit(
        _page(project, EVENTS_PAGE),
        TENANT_CRITERIA,
        TENANT_CRITERIA.replace(", include_aliases=True", ""),
    )


def keep_the_soft_delete_from_relationship_loads(project: Path) -> None:
    _edit(
        _page(project, EVENTS_PAGE),
        SOFT_DELETE_CRITERIA,
        SOFT_DELETE_CRITERIA + ", propagate_to_loaders=False",
    )


def let_a_workspace_write_anothers_rows(project: Path) -> None:
    _edit(_page(project, EVENTS_PAGE), WRITE_CHECK, "pass")


def let_a_workspace_bulk_update_anothers_rows(project: Path) -> None:
    _edit(_page(project, EVENTS_PAGE), BULK_STATEMENTS, "execute_state.is_select")


# Escaped effects ------------------------------------------------------------------


def _base_database(db: str) -> str:
    from sqlalchemy import make_url

    return make_url(configured_url(BY_NAME[db])).database


def _escaping_block(db: str, tab: str) -> str:
    table = f"public.{ESCAPED}" if db == "postgresql" else f"{_base_database(db)}.{ESCAPED}"
    code = (
        "import os\n\nfrom sqlalchemy import create_engine\n\n"
        'leaky = create_engine(os.environ["DATABASE_URL"])\n'
        "with leaky.begin() as connection:\n"
        f'    connection.exec_driver_sql("CREATE TABLE {table} (id INTEGER)")\n'
    )
    body = "".join(f"    {line}\n" if line else "\n" for line in code.splitlines())
    return f'=== "{tab}"\n\n    ```python\n{body}    ```\n'


def create_a_table_in_public(project: Path) -> None:
    _append(project, "index.md", _escaping_block("postgresql", "PostgreSQL"))


def create_a_table_in_the_base_database(project: Path) -> None:
    _append(project, "index.md", _escaping_block("mariadb", "MariaDB"))


def _drop_escaped(db: str) -> None:
    from sqlalchemy import NullPool, create_engine

    url = configured_url(BY_NAME[db])
    if not url:
        return
    table = f"public.{ESCAPED}" if db == "postgresql" else f"{_base_database(db)}.{ESCAPED}"
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql(f"DROP TABLE IF EXISTS {table}")
    finally:
        engine.dispose()


def write_a_file_in_the_working_directory(project: Path) -> None:
    _append(
        project,
        "index.md",
        "```python\nfrom pathlib import Path\n\n"
        'Path("notes.txt").write_text("left where the reader runs the page")\n```\n',
    )


# The harness: what the SQL boxes show ---------------------------------------------


def _harness(project: Path, module: str) -> Path:
    return project / "tests" / "harness" / module


def lose_psycopg_commands(project: Path) -> None:
    # Statements psycopg sends as commands of the connection (BEGIN, COMMIT, ...).
    _edit(_harness(project, "capture_sql.py"), "        sent(self, query)\n", "")


def lose_pymysql_queries(project: Path) -> None:
    _edit(
        _harness(project, "capture_sql.py"),
        "            _record(_mysql_connection(conn), text)\n",
        "            pass\n",
    )


def merge_other_databases(project: Path) -> None:
    # Statements a block sends through an engine of its own, shown as the page database's.
    _edit(
        _harness(project, "capture_sql.py"),
        "sections.setdefault(statement.connection.database, []).append((statement, task))",
        "sections[database].append((statement, task))",
    )


def hide_connection_opening(project: Path) -> None:
    _edit(
        _harness(project, "capture_sql.py"),
        "    for statement in statements:\n        switched =",
        "    for statement in statements:\n"
        '        if statement.phase == "connecting":\n'
        "            continue\n"
        "        switched =",
    )


def unlabel_pool_resets(project: Path) -> None:
    _edit(
        _harness(project, "capture_sql.py"),
        '            connection.phase = "reset"\n',
        "            pass\n",
    )


def ignore_content_tabs(project: Path) -> None:
    _edit(
        _harness(project, "pages.py"),
        "        return self.databases is None or backend in self.databases\n",
        "        return True\n",
    )


# The harness on shared servers ------------------------------------------------------


def quote_any_name(project: Path) -> None:
    databases = _harness(project, "databases.py")
    _edit(
        databases,
        "    if not NAME_PATTERN.fullmatch(name):\n"
        '        raise ValueError(f"{name!r} is not a name the harness creates")\n',
        "",
    )
    _edit(
        databases,
        "return [name for name in names if NAME_PATTERN.fullmatch(name)]",
        "return list(names)",
    )


def sweep_namespaces_in_use(project: Path) -> None:
    # Only the test's own names: a live namespace of any other run is never dropped.
    _edit(
        _harness(project, "databases.py"),
        "if not _try_lock(locks, name):\n",
        'if not _try_lock(locks, name) and "_waits_" not in name:\n',
    )


def skip_the_rights_probe(project: Path) -> None:
    _edit(
        _harness(project, "databases.py"),
        "    if backend is SQLITE:\n        return\n    engine = create_engine(url, poolclass=",
        "    return\n    engine = create_engine(url, poolclass=",
    )


# Blocks that await, and their SQL: the Async and Testing chapters ----------------------

ASYNC_PAGE = "async.md"
TESTING_PAGE = "testing.md"
#: The Async chapter's first block that awaits, and the first whose SQL each async driver
#: sends as it opens a connection.
ASYNC_FIRST_AWAIT = "driver_connection = type(raw.driver_connection)"
ASYNC_CREATE_ALL = "    await connection.run_sync(Base.metadata.create_all)\n"
ASYNC_OWN_SESSIONS = 'track_count_in_own_session("Morning"),'
TESTING_PYTEST_RUN = '[sys.executable, "-m", "pytest", "-v", "--no-header"]'


def unawait_the_async_create_all(project: Path) -> None:
    """The Async chapter's create_all, left as a coroutine nobody awaits."""
    _edit(_page(project, ASYNC_PAGE), ASYNC_CREATE_ALL, ASYNC_CREATE_ALL.replace("await ", ""))


def drop_the_coroutine_of_a_block_that_awaits(project: Path) -> None:
    _edit(
        _harness(project, "run_page.py"),
        "            self.event_loop().run_until_complete(result)\n",
        "            result.close()\n",
    )


def leave_out_the_script_s_asyncio_wrapper(project: Path) -> None:
    _edit(
        _harness(project, "page_scripts.py"),
        "    awaiting = any(awaits(item.code) for item in blocks)\n",
        "    awaiting = False\n",
    )


def share_one_session_between_the_tasks(project: Path) -> None:
    """The Async chapter's tasks run on the session the block before them shared."""
    path = _page(project, ASYNC_PAGE)
    _edit(path, ASYNC_OWN_SESSIONS, 'track_count(shared, "Morning"),')
    _edit(path, 'track_count_in_own_session("Evening"),', 'track_count(shared, "Evening"),')


def load_a_heavy_script_on_one_page(project: Path) -> None:
    """A script of 320 KB, which gzip cannot shrink much, loaded by the Engine chapter."""
    weight = base64.b64encode(random.Random(0).randbytes(240_000)).decode()
    (project / "docs" / "javascripts" / "heavy.js").write_text(f'window.weight = "{weight}";\n')
    _append(project, "engine.md", '<script src="../javascripts/heavy.js"></script>\n')


def drop_the_script_that_names_the_search_dialog(project: Path) -> None:
    """The theme's search panel left without the name docs/javascripts/search-label.js gives it."""
    _edit(project / "mkdocs.yml", "  - path: javascripts/search-label.js\n    defer: true\n", "")


def leave_the_code_blocks_to_the_themes_script(project: Path) -> None:
    """The build's copy buttons left out: every code block is the theme's script's to draw."""
    _edit(
        project / "tests" / "harness" / "site_markdown.py",
        "    return _CODE_BLOCK.sub(drawn, html)\n",
        "    return html\n",
    )


def count_one_line_too_many_in_each_code_block(project: Path) -> None:
    """Every code block held undrawn one line higher than it is."""
    _edit(
        project / "tests" / "harness" / "site_markdown.py",
        'lines = match[1].count("\\n")',
        'lines = match[1].count("\\n") + 1',
    )


def drop_the_script_that_lets_the_keyboard_scroll_code(project: Path) -> None:
    """docs/javascripts/code-blocks.js no longer on the pages."""
    _edit(project / "mkdocs.yml", "  - path: javascripts/code-blocks.js\n    defer: true\n", "")


def unmark_an_awaiting_block_for_the_browser(project: Path) -> None:
    path = _page(project, ASYNC_PAGE)
    text = path.read_text()
    marker = re.search(
        r'<!-- not in the browser: next "[^"]*" -->\n\n'
        r"(?=(?:<!-- tables: [^>]*-->\n\n)?```python\nasync with engine\.begin)",
        text,
    )
    if marker is None:
        raise LookupError("async.md no longer marks its tables block: update this fault")
    path.write_text(text[: marker.start()] + text[marker.end() :])


def lose_aiomysql_commands(project: Path) -> None:
    _edit(
        _harness(project, "capture_sql.py"),
        "            _mysql_command(self, command, sql, self._encoding)\n",
        "            pass\n",
    )


def run_aiosqlite_calls_outside_the_caller_s_context(project: Path) -> None:
    _edit(
        _harness(project, "capture_sql.py"),
        "    context.run(_sending_task.set, _current_task())\n"
        "    return functools.partial(context.run, function)\n",
        "    return function\n",
    )


def list_concurrent_tasks_in_the_order_sent(project: Path) -> None:
    _edit(_harness(project, "capture_sql.py"), "    if len(set(shown)) < 2:\n", "    if True:\n")


def join_the_test_transaction_without_savepoints(project: Path) -> None:
    """The Testing chapter's session fixture, as a session joins a transaction by default."""
    _edit(
        _page(project, TESTING_PAGE),
        '            bind=connection, join_transaction_mode="create_savepoint"\n',
        "            bind=connection\n",
    )


def _script_fails(page: str) -> str:
    """The page's script stopping at a block, in the script test on the database."""
    stem = re.escape(Path(page).stem)
    return (
        rf"_+ test_each_chapter_as_a_script_prints_what_the_page_shows\[{{db}}-{stem}\] _+\n"
        rf"(?:.*\n)*?E\s+AssertionError: the script of docs/{re.escape(page)}, in the block "
        r"at line \d+ exited with 1:(?:.*\n)*?.*SyntaxError: '(await|async with|async for)' "
        r"outside (async )?function"
    )


WHERE = r"\[{db}\]"  # how a page's failure names the database it ran on


def _test_fails(test: str, parameters: str = "{db}", module: str = "test_shared_server") -> str:
    """A test of tests/<module>.py failing on the database: where, and with what."""
    parameters = re.escape(parameters).replace(r"\{db\}", "{db}")
    return (
        rf"_+ {test}\[{parameters}\] _+\n(?:.*\n)*?"
        rf"(?P<where>\S*tests/{module}\.py:\d+): in {test}\n"
        r"(?:.*\n)*?E\s+(?P<error>[\w.]+(Error|Unavailable): .*)"
    )


def start_mariadb_as_its_ordinary_user(project: Path) -> None:
    """The Docker path's MariaDB as testcontainers connects by default: as the image's user."""
    _edit(
        _harness(project, "backends.py"),
        '"dialect": "pymysql", "username": "root", "password": "tutorial"',
        '"dialect": "pymysql"',
    )


def let_one_version_stand_for_another(project: Path) -> None:
    """The first block of the Engine chapter said to be recorded by versions that did not record it.

    The versions the tests run on (the configured servers') leave its list, so
    that what the other versions recorded stands for theirs.
    """
    path = project / "tests" / "snapshots" / "engine.yml"
    lines = path.read_text().splitlines(keepends=True)
    at = next(i for i, line in enumerate(lines) if line.startswith("  versions: {"))
    for name in ("postgresql", "mariadb"):
        url = configured_url(BY_NAME[name])
        if url is None:
            continue
        running = major(BY_NAME[name], server_version(url))
        lines[at] = re.sub(rf"'{re.escape(running)}'(, )?", "", lines[at]).replace(", ]", "]")
    path.write_text("".join(lines))


# Pictures drawn from the run: a diagram of the tables, a chart of what blocks sent -------

#: The Relationship patterns chapter's first diagram, of the articles and their comments,
#: whose model lives in the worked example the page includes.
DIAGRAM_PAGE = "relationship-patterns.md"
DIAGRAM_BLOCK = "fresh_tables(Article.__table__, Comment.__table__)"
FOREIGN_KEY_COLUMN = '    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id"))\n'
#: The Loading chapter's chart, and its first bar: lazy loading.
CHART_PAGE = "loading.md"
CHART_BLOCK = "organisations = session.scalars(select(Organisation).order_by(Organisation.name))"


def _line_of(page: str, code: str) -> int:
    text = (ROOT / "docs" / page).read_text()
    return next(b.line for b in python_blocks(text) if code in b.source)


def rename_a_foreign_key_column(project: Path) -> None:
    """``comments.article_id`` becomes ``post_id`` in the model, and nothing is recorded again."""
    _edit(
        project / "examples" / "four_relationships.py",
        FOREIGN_KEY_COLUMN,
        FOREIGN_KEY_COLUMN.replace("article_id", "post_id"),
    )


def change_a_chart_number(project: Path) -> None:
    """The rows of the chart's first bar, one more in the recording on every database."""
    path, entries = _snapshot(project, CHART_PAGE)
    key = next(b.key for b in _blocks(project, CHART_PAGE) if CHART_BLOCK in b.source)
    rows = entries[key]["rows"]
    for name in rows:
        rows[name] += 1
    _save(path, entries)


def count_a_charts_statements_wrongly(project: Path) -> None:
    """The chart's reader of a SQL box no longer sees a SELECT as a statement of its own."""
    _edit(_harness(project, "pictures.py"), 'r"^(SELECT|INSERT|', 'r"^(INSERT|')


def _on_page(page: str) -> str:
    """A block of ``page`` failing on the database, as the run or doctest reports it."""
    name = re.escape(f"docs/{page}")
    return (
        rf"({name}, line \d+ \[{{db}}\]: .*|\[{{db}}\] what the block printed differs from the "
        rf'page:\n\*+\nFile "{name}", line \d+.*)'
    )


# Worked examples: what a contributor could get wrong in a program of examples/ ------


def _example(project: Path, name: str) -> Path:
    return project / "examples" / name


def _example_test_fails(module: str, test: str, parameters: str | None) -> str:
    """A test of tests/<module>.py failing (on the database its parameters start with, if
    any): the test, its line, and what failed."""
    named = ""
    if parameters is not None:
        named = r"\[" + re.escape(parameters).replace(r"\{db\}", "{db}") + r"[^\]]*\]"
    return (
        rf"_+ {test}{named} _+\n(?:.*\n)*?"
        rf"(?P<where>\S*tests/{module}\.py:\d+): in {test}\n"
        r"(?:.*\n)*?E\s+(?P<error>\S.*)"
    )


def _example_fault(description, module, test, apply, databases, parameters) -> Fault:
    """A fault in a program of examples/, caught by one test of tests/<module>.py."""
    return Fault(
        f"worked examples: {description} (examples)",
        (f"tests/{module}.py::{test}",),
        databases,
        apply,
        (_example_test_fails(module, test, parameters),),
    )


def skip_the_dummy_hash_for_an_unknown_email(project: Path) -> None:
    """An unknown email answered at once: the time of a log-in tells which addresses exist."""
    _edit(
        _example(project, "accounts.py"),
        "        verify_password(password, _dummy_hash())\n        return None\n",
        "        return None\n",
    )


def say_that_an_email_is_unknown(project: Path) -> None:
    """An unknown email answered otherwise than a wrong password."""
    _edit(
        _example(project, "accounts.py"),
        "        verify_password(password, _dummy_hash())\n        return None\n",
        '        raise NoSuchUser(f"no account has the email {address}")\n',
    )


def answer_a_taken_email_with_500(project: Path) -> None:
    _edit(
        _example(project, "accounts_api.py"),
        "EmailTaken: status.HTTP_409_CONFLICT,",
        "EmailTaken: status.HTTP_500_INTERNAL_SERVER_ERROR,",
    )


def share_one_session_between_requests(project: Path) -> None:
    _edit(
        _example(project, "accounts_api.py"),
        "    with Session(request.app.state.engine) as session:\n        yield session\n",
        "    if not hasattr(request.app.state, 'session'):\n"
        "        request.app.state.session = Session(request.app.state.engine)\n"
        "    yield request.app.state.session\n",
    )


def list_the_members_lazily(project: Path) -> None:
    _edit(
        _example(project, "accounts.py"),
        "select(Organisation).options(selectinload(Organisation.users))",
        "select(Organisation)",
    )


def search_notes_without_autoescape(project: Path) -> None:
    _edit(_example(project, "notes.py"), ", autoescape=True)", ")", count=2)


def add_a_category_without_a_savepoint(project: Path) -> None:
    _edit(
        _example(project, "notes.py"),
        "        with session.begin_nested():  # flushed when the block ends\n"
        "            session.add(category)\n",
        "        session.add(category)\n        session.flush()\n",
    )


def page_the_blog_one_page_late(project: Path) -> None:
    _edit(
        _example(project, "blog.py"),
        ".offset((number - 1) * per_page)",
        ".offset(number * per_page)",
    )


def leave_sqlite_transactions_to_the_driver(project: Path) -> None:
    _edit(_example(project, "command_line.py"), "    take_over_sqlite_transactions(engine)\n", "")


def leave_a_section_off_its_page(project: Path) -> None:
    _edit(_page(project, "examples/notes.md"), '--8<-- "examples/notes.py:errors"\n', "")


def install_no_group_for_a_page_script(project: Path) -> None:
    _edit(_harness(project, "page_scripts.py"), 'PAGE_GROUPS = ("web",)', "PAGE_GROUPS = ()")


def link_an_example_file_the_site_does_not_serve(project: Path) -> None:
    _edit(_page(project, "examples/notes.md"), "[notes.py](notes.py)", "[notes.py](note.py)")


def take_a_page_s_path_for_its_address_under_zensical(project: Path) -> None:
    """Zensical's page knows its path (engine.md) and its address (engine/): the wrong one."""
    _edit(
        _harness(project, "site_markdown.py"),
        "return SitePage(docs / context.page.path, docs, root, context.page.url)",
        "return SitePage(docs / context.page.path, docs, root, context.page.path)",
    )


def keep_the_record_of_verified_runs_for_the_process(project: Path) -> None:
    """Read once by the site build, whatever the file holds when the page is rendered again."""
    _edit(
        _harness(project, "snapshots.py"),
        "def _recorded(root: Path) -> dict[str, dict]:\n",
        "@functools.lru_cache(maxsize=8)\ndef _recorded(root: Path) -> dict[str, dict]:\n",
    )


def let_an_unknown_database_raise(project: Path) -> None:
    _edit(
        _example(project, "command_line.py"),
        "    except NoSuchModuleError:\n",
        "    except OSError:\n",
    )


FAULTS = [
    Fault(
        "change an expected result (the doctest failure, and no snapshot noise)",
        (f"docs/{SOLE_PAGE}",),
        ALL,
        change_expected_result,
        (
            WHERE + r" what the block printed differs from the page:\n\*+\nFile "
            rf'"docs/{re.escape(SOLE_PAGE)}", line \d+(?:.*\n)*?Expected:',
        ),
        sole=True,
    ),
    Fault(
        "change a snapshot's SQL",
        ("docs/engine.md",),
        ALL,
        change_snapshot_sql,
        (r"docs/engine\.md, line \d+ " + WHERE + ": the SQL sent differs",),
    ),
    Fault(
        "delete a block's snapshot",
        ("docs/engine.md",),
        ALL,
        delete_snapshot,
        (
            r"docs/engine\.md, line \d+ " + WHERE + r": tests/snapshots/engine\.yml has no "
            r"recording of this block on {title}",
        ),
    ),
    Fault(
        "record a page's snapshot on SQLite only",
        ("docs/engine.md",),
        ("postgresql", "mariadb"),
        record_on_sqlite_only,
        (
            r"docs/engine\.md, line \d+ " + WHERE + r": tests/snapshots/engine\.yml has no "
            r"recording of this block on {title}",
        ),
    ),
    Fault(
        "change what a plain block printed, in its snapshot",
        ("docs/engine.md",),
        ALL,
        change_recorded_output,
        (
            r"docs/engine\.md, line \d+ " + WHERE + r": what the block printed differs from "
            r"tests/snapshots/engine\.yml",
        ),
    ),
    Fault(
        "type a plain block's printed output by hand under it, changed",
        ("docs/engine.md",),
        TEXT,
        type_printed_output_by_hand,
        (r"docs/engine\.md, line \d+: output typed by hand under the block at line \d+",),
    ),
    Fault(
        "wrap a block that now fails in try/except Exception: pass",
        ("docs/engine.md",),
        TEXT,
        swallow_a_failing_block,
        (r"docs/engine\.md, line \d+: `except Exception: pass` swallows every error",),
    ),
    Fault(
        "show an error as a traceback under a >>> example instead of catching it",
        ("docs/index.md",),
        TEXT,
        show_a_traceback,
        (r"docs/index\.md, line \d+: this example's output is a traceback; catch the error",),
    ),
    Fault(
        "add a python block that nothing collects (a fence language typo)",
        ("docs/index.md",),
        TEXT,
        misspell_fence_language,
        (r"docs/index\.md, line \d+: a block in language 'pyhton'",),
    ),
    Fault(
        "break a snippet include",
        ("docs/engine.md",),
        ALL,
        break_snippet_include,
        (
            r"docs/engine\.md, line \d+: examples/sqlite_transactions\.py has no section named "
            r"'recipes'",
        ),
    ),
    Fault(
        "break an internal link",
        ("docs/index.md",),
        TEXT,
        break_internal_link,
        (r"docs/index\.md, line \d+: the link to sessions\.md points at no file",),
    ),
    Fault(
        "break an anchor",
        ("docs/index.md",),
        TEXT,
        break_anchor,
        (r"docs/index\.md, line \d+: the link to engine\.md#pooling-in-depth names an anchor",),
    ),
    Fault(
        "point a row of the reference page at a section without a block",
        ("docs/backend-differences.md",),
        TEXT,
        point_a_row_at_a_section_without_a_block,
        (
            r"docs/backend-differences\.md, line \d+: the row '`UPDATE \.\.\. RETURNING`' "
            r"links to querying\.md#changing-many-rows-at-once, whose section has no python "
            r"block that runs",
        ),
    ),
    Fault(
        "use a legacy API outside the migration page",
        ("docs/index.md",),
        TEXT,
        use_legacy_api,
        (r"docs/index\.md, line \d+: session\.query\(\) is SQLAlchemy 1\.x style",),
    ),
    Fault(
        "keep a 1.x call that warns, marked as legacy, in a chapter other than Migrating from 1.x",
        ("docs/querying.md",),
        ALL,
        keep_a_legacy_call_that_warns,
        (
            r"docs/querying\.md, line \d+ " + WHERE + r": this block set off SQLAlchemy's "
            r"LegacyAPIWarning \(The Query\.get\(\) method is considered legacy",
        ),
    ),
    Fault(
        "run the chapters' scripts without SQLAlchemy's deprecation warnings as errors",
        ("tests/test_page_scripts.py::test_a_deprecated_call_stops_the_script_at_its_block",),
        ("sqlite",),
        run_scripts_without_legacy_errors,
        (
            r"_+ test_a_deprecated_call_stops_the_script_at_its_block _+\n(?:.*\n)*?"
            r"\S*tests/test_page_scripts\.py:\d+: in test_a_deprecated_call_stops_the_script",
        ),
    ),
    Fault(
        "drop render_as_batch from the Alembic chapter's env.py",
        (f"docs/{ALEMBIC_PAGE}",),
        ("sqlite",),
        drop_render_as_batch,
        (
            rf"FAILED docs/{re.escape(ALEMBIC_PAGE)}::sybil:{{db}},"
            rf"line:{_block_after(ALEMBIC_PAGE, RENDER_AS_BATCH)},column:1 - NotImplementedErr",
        ),
    ),
    Fault(
        "run the Alembic chapter's project in the working directory, not a temporary folder",
        (f"docs/{ALEMBIC_PAGE}",),
        ("sqlite",),
        run_alembic_in_the_working_directory,
        (
            rf"docs/{re.escape(ALEMBIC_PAGE)}, line \d+ " + WHERE + r": this block .*"
            r"migrations.* in the working directory",
        ),
    ),
    Fault(
        "make a block depend on a name defined only on another page",
        ("docs/index.md",),
        ALL,
        depend_on_another_page,
        (
            WHERE + r' what the block printed differs from the page:\n\*+\nFile "docs/index\.md", '
            r"line \d+(.*\n)*?.*NameError: name 'doomed' is not defined",
        ),
    ),
    Fault(
        "show a set, whose order the hash seed picks",
        ("docs/index.md",),
        ALL,
        show_a_set,
        (
            WHERE + r" what the block printed differs from the page:(.*\n)*?.*docs/index\.md, "
            r"line \d+: a set is shown",
        ),
    ),
    Fault(
        "hide a python block in an HTML comment",
        ("docs/index.md",),
        ALL,
        hide_a_block_in_a_comment,
        (r"docs/index\.md, line \d+: this python block is inside an HTML comment",),
    ),
    Fault(
        "skip a block on a condition",
        ("docs/index.md",),
        ALL,
        skip_conditionally,
        (r"docs/index\.md, line \d+: a conditional skip hides from readers where a block runs",),
    ),
    Fault(
        "skip blocks with skip: start",
        ("docs/index.md",),
        ALL,
        skip_start,
        (r"docs/index\.md, line \d+: `skip: start` is not supported here",),
    ),
    Fault(
        "skip a block with a blank reason",
        ("docs/index.md",),
        ALL,
        skip_without_a_reason,
        (r"docs/index\.md, line \d+: a skip needs a reason a reader can judge",),
    ),
    Fault(
        'move a block that fails elsewhere out of its "PostgreSQL" tab',
        ("docs/querying.md",),
        ("sqlite", "mariadb"),
        move_a_block_out_of_its_tab,
        (_on_page("querying.md"),),
    ),
    Fault(
        "move the Core chapter's DELETE with a second table out of its"
        ' "PostgreSQL and MariaDB" tab',
        (f"docs/{CORE_PAGE}",),
        ("sqlite",),
        move_the_core_delete_out_of_its_tab,
        (_moved_out_of_its_tab(CORE_PAGE, CORE_DELETE),),
    ),
    Fault(
        "type the Core chapter's compiled SQL by hand, in a sql fence under the block that"
        " prints it",
        (f"docs/{CORE_PAGE}",),
        TEXT,
        type_compiled_sql_by_hand,
        (_typed_under(CORE_PAGE, CORE_COMPILED),),
    ),
    Fault(
        "leave a block that only CPython can run (it starts a thread) unmarked for the browser",
        (
            "tests/test_site.py::TestChapterRuns::test_a_chapter_runs_to_its_last_block_in_the_browser[engine-sqlite]",
        ),
        ("sqlite",),
        unmark_a_block_the_browser_cannot_run,
        (
            r"docs/engine\.md, line \d+ \[sqlite, in the browser\]: the block failed in the "
            r"browser:\n(?:.*\n)*?.*RuntimeError: can't start new thread",
        ),
    ),
    Fault(
        "load a heavy script on one page (browser)",
        ("tests/test_site.py::test_a_first_visit_to_any_page_stays_within_its_budget",),
        ("sqlite",),
        load_a_heavy_script_on_one_page,
        (r"docs/engine\.md: a first visit moves \d+ KB compressed; the budget is 200 KB",),
    ),
    Fault(
        "leave every code block for the theme's script to draw as the page loads (browser)",
        ("tests/test_site.py::test_no_code_block_is_left_for_the_themes_script_to_draw[querying]",),
        ("sqlite",),
        leave_the_code_blocks_to_the_themes_script,
        (r"docs/querying\.md: \d+ code blocks are left for the theme's script to draw",),
    ),
    Fault(
        "hold each code block out of sight one line higher than it is drawn (browser)",
        ("tests/test_site.py::test_a_code_block_out_of_sight_is_held_at_its_drawn_height[phone]",),
        ("sqlite",),
        count_one_line_too_many_in_each_code_block,
        (r"docs/querying\.md: code block \d+ is held \d+ px high and drawn \d+ px high",),
    ),
    Fault(
        "drop the script that lets the keyboard scroll a wide code block (browser)",
        ("tests/test_site.py::test_a_code_block_too_wide_for_a_phone_scrolls_with_the_keyboard",),
        ("sqlite",),
        drop_the_script_that_lets_the_keyboard_scroll_code,
        (r"docs/querying\.md: a block wider than a phone's screen cannot take the focus",),
    ),
    Fault(
        "drop the script that names the search dialog (lighthouse)",
        (
            "tests/test_site.py::TestLighthouseBudgets::test_a_page_holds_its_lighthouse_budgets[engine]",
        ),
        ("sqlite",),
        drop_the_script_that_names_the_search_dialog,
        (
            r"docs/engine\.md is under a Lighthouse budget:\n(?:.*\n)*?"
            r".*categories\.accessibility failure for minScore assertion",
        ),
    ),
    Fault(
        "delete a page's last block, which sends no SQL",
        ("docs/engine.md",),
        TEXT,
        delete_the_last_block,
        (
            r"tests/snapshots/engine\.yml, line \d+: the snapshot of a block that is no longer "
            r"on docs/engine\.md",
        ),
    ),
    Fault(
        "wait for a row lock where the page asks for NOWAIT",
        (f"docs/{LOCKS_PAGE}",),
        ("postgresql", "mariadb"),
        wait_instead_of_nowait,
        (_failing_at(LOCKS_PAGE, NOWAIT),),
    ),
    Fault(
        "wait for a locked job where the page's queue asks for SKIP LOCKED",
        (f"docs/{LOCKS_PAGE}",),
        ("postgresql", "mariadb"),
        wait_instead_of_skip_locked,
        (_failing_at(LOCKS_PAGE, "workers = {"),),
    ),
    Fault(
        "drop the lock timeout that one PostgreSQL transaction sets for itself",
        (f"docs/{LOCKS_PAGE}",),
        ("postgresql",),
        drop_the_transactions_lock_timeout,
        (_failing_at(LOCKS_PAGE, SET_LOCAL),),
    ),
    Fault(
        "drop the .expression of a hybrid, so that the query filters on the pen name alone",
        (f"docs/{COLUMNS_PAGE}",),
        ALL,
        drop_the_hybrids_expression,
        (_failing_at(COLUMNS_PAGE, HYBRID_QUERY),),
    ),
    Fault(
        "store a JSON dict without MutableDict, so that an in-place change is not saved",
        (f"docs/{COLUMNS_PAGE}",),
        ALL,
        store_json_without_mutable_dict,
        (_failing_at(COLUMNS_PAGE, IN_PLACE_CHANGE),),
    ),
    Fault(
        "let the tenant filter of with_loader_criteria miss aliased() queries",
        (f"docs/{EVENTS_PAGE}",),
        ALL,
        let_the_tenant_filter_miss_aliases,
        (_failing_at(EVENTS_PAGE, ALIASED_QUERY),),
    ),
    Fault(
        "keep the soft delete's with_loader_criteria from relationship loads",
        (f"docs/{EVENTS_PAGE}",),
        ALL,
        keep_the_soft_delete_from_relationship_loads,
        (_failing_at(EVENTS_PAGE, LAZY_LOAD),),
    ),
    Fault(
        "let a workspace's session write rows of another workspace (tenant filter)",
        (f"docs/{EVENTS_PAGE}",),
        ALL,
        let_a_workspace_write_anothers_rows,
        (_failing_at(EVENTS_PAGE, FOREIGN_WRITE),),
    ),
    Fault(
        "let a workspace's bulk UPDATE reach rows of another workspace (tenant filter)",
        (f"docs/{EVENTS_PAGE}",),
        ALL,
        let_a_workspace_bulk_update_anothers_rows,
        (_failing_at(EVENTS_PAGE, FOREIGN_UPDATE),),
    ),
    Fault(
        "create a table in PostgreSQL's public schema",
        ("docs/index.md",),
        ("postgresql",),
        create_a_table_in_public,
        (
            r"docs/index\.md, line \d+ " + WHERE + rf": this block created the table "
            rf"public\.{ESCAPED} on PostgreSQL, outside the page's own schema",
        ),
        clean=lambda: _drop_escaped("postgresql"),
    ),
    Fault(
        "create a table in MariaDB's database of the URL",
        ("docs/index.md",),
        ("mariadb",),
        create_a_table_in_the_base_database,
        (
            r"docs/index\.md, line \d+ " + WHERE + rf": this block created the table "
            rf"\w+\.{ESCAPED} on MariaDB, outside the page's own database",
        ),
        clean=lambda: _drop_escaped("mariadb"),
    ),
    Fault(
        "write a file into the working directory",
        ("docs/index.md",),
        ALL,
        write_a_file_in_the_working_directory,
        (
            r"docs/index\.md, line \d+ " + WHERE + r": this block (created|wrote to) notes\.txt "
            r"in the working directory",
        ),
    ),
    Fault(
        "lose the statements psycopg sends as commands (BEGIN, COMMIT...) from the capture",
        ("docs/engine.md", "tests/test_server_log.py"),
        ("postgresql",),
        lose_psycopg_commands,
        (
            r"docs/engine\.md, line \d+ " + WHERE + ": the SQL sent differs",
            r"the captured SQL differs from what PostgreSQL logged receiving",
        ),
    ),
    Fault(
        "lose what PyMySQL sends from the capture",
        ("docs/engine.md",),
        ("mariadb",),
        lose_pymysql_queries,
        (r"docs/engine\.md, line \d+ " + WHERE + ": the SQL sent differs",),
    ),
    Fault(
        "show a second engine's statements as if the page's database received them",
        ("docs/engine.md",),
        ALL,
        merge_other_databases,
        (r"docs/engine\.md, line \d+ " + WHERE + ": the SQL sent differs",),
    ),
    Fault(
        "leave out the statements sent while a connection opens",
        ("docs/engine.md",),
        ALL,
        hide_connection_opening,
        (r"docs/engine\.md, line \d+ " + WHERE + ": the SQL sent differs",),
    ),
    Fault(
        "show the pool's reset of a returned connection as the block's own ROLLBACK",
        ("docs/engine.md",),
        ("mariadb",),
        unlabel_pool_resets,
        (r"docs/engine\.md, line \d+ " + WHERE + ": the SQL sent differs",),
    ),
    Fault(
        "run blocks under a content tab on every database",
        ("docs/ids-types-time-zones.md",),
        ("sqlite", "postgresql"),
        ignore_content_tabs,
        (_on_page("ids-types-time-zones.md"),),
    ),
    Fault(
        "quote and sweep names the harness did not create",
        ("tests/test_shared_server.py::test_a_crafted_name_is_neither_executed_nor_dropped",),
        ("postgresql", "mariadb"),
        quote_any_name,
        (_test_fails("test_a_crafted_name_is_neither_executed_nor_dropped"),),
    ),
    Fault(
        "sweep namespaces whose lock another run holds",
        ("tests/test_shared_server.py::test_a_run_in_another_pid_namespace_keeps_its_namespaces",),
        ("postgresql", "mariadb"),
        sweep_namespaces_in_use,
        (_test_fails("test_a_run_in_another_pid_namespace_keeps_its_namespaces"),),
    ),
    Fault(
        "skip the probe of the rights pages need",
        (
            "tests/test_shared_server.py::test_a_user_without_the_rights_is_told_which_is_missing"
            "[{db}-pytest]",
        ),
        ("postgresql", "mariadb"),
        skip_the_rights_probe,
        (_test_fails("test_a_user_without_the_rights_is_told_which_is_missing", "{db}-pytest"),),
    ),
    Fault(
        "let one version's recording stand for another's",
        ("docs/engine.md",),
        ("postgresql", "mariadb"),
        let_one_version_stand_for_another,
        (_on_page("engine.md"),),
    ),
    Fault(
        "rename a foreign key column in a model without recording its page again",
        (f"docs/{DIAGRAM_PAGE}",),
        ALL,
        rename_a_foreign_key_column,
        (
            rf"docs/{re.escape(DIAGRAM_PAGE)}, line {_line_of(DIAGRAM_PAGE, DIAGRAM_BLOCK)} "
            + WHERE
            + r": the tables after this block, as the database reports them, differ from "
            r"tests/snapshots/relationship-patterns\.yml(?:.*\n)*?-  article_id (?:.*\n)*?"
            r"\+  post_id ",
        ),
    ),
    Fault(
        "change a number of the Loading chapter's chart (a bar's rows) in its recording",
        (f"docs/{CHART_PAGE}",),
        ALL,
        change_a_chart_number,
        (
            rf"docs/{re.escape(CHART_PAGE)}, line {_line_of(CHART_PAGE, CHART_BLOCK)} "
            + WHERE
            + r": this block fetched 9 rows, and tests/snapshots/loading\.yml records 10",
        ),
    ),
    Fault(
        "count the statements of a chart's SQL box wrongly",
        (f"docs/{CHART_PAGE}",),
        ALL,
        count_a_charts_statements_wrongly,
        (
            rf"docs/{re.escape(CHART_PAGE)}, line {_line_of(CHART_PAGE, CHART_BLOCK)} "
            + WHERE
            + r": SQLAlchemy sent 4 statements \(BEGIN, COMMIT and ROLLBACK left out\), but "
            r"the chart would count 0",
        ),
    ),
    Fault(
        "start the Docker path's MariaDB as the image's ordinary user",
        ("tests/test_docker_path.py::test_a_throwaway_server_passes_the_rights_probe[{db}]",),
        ("mariadb",),
        start_mariadb_as_its_ordinary_user,
        (
            _test_fails(
                "test_a_throwaway_server_passes_the_rights_probe", module="test_docker_path"
            ),
        ),
        needs_docker=True,
    ),
    Fault(
        "leave a coroutine of the Async chapter unawaited (asyncio): create_all never runs",
        (f"docs/{ASYNC_PAGE}",),
        ALL,
        unawait_the_async_create_all,
        (_failing_at(ASYNC_PAGE, ASYNC_CREATE_ALL),),
    ),
    Fault(
        "drop the coroutine of a block that awaits at its top level, unrun (asyncio)",
        (f"docs/{ASYNC_PAGE}",),
        ALL,
        drop_the_coroutine_of_a_block_that_awaits,
        (_failing_at(ASYNC_PAGE, ASYNC_FIRST_AWAIT),),
    ),
    Fault(
        "leave out the asyncio.run() wrapper of a page's script whose blocks await (asyncio)",
        (
            "tests/test_page_scripts.py::"
            "test_each_chapter_as_a_script_prints_what_the_page_shows[{db}-async]",
        ),
        ALL,
        leave_out_the_script_s_asyncio_wrapper,
        (_script_fails(ASYNC_PAGE),),
    ),
    Fault(
        "share one AsyncSession between the Async chapter's concurrent tasks (asyncio)",
        (f"docs/{ASYNC_PAGE}",),
        ALL,
        share_one_session_between_the_tasks,
        (_failing_at(ASYNC_PAGE, ASYNC_OWN_SESSIONS),),
    ),
    Fault(
        "leave a block that awaits unmarked for the browser (asyncio)",
        (f"docs/{ASYNC_PAGE}",),
        TEXT,
        unmark_an_awaiting_block_for_the_browser,
        (rf"docs/{re.escape(ASYNC_PAGE)}, line \d+: this block awaits at its top level",),
    ),
    Fault(
        "lose the commands aiomysql sends from the capture (asyncio)",
        (f"docs/{ASYNC_PAGE}",),
        ("mariadb",),
        lose_aiomysql_commands,
        (_failing_at(ASYNC_PAGE, ASYNC_FIRST_AWAIT),),
    ),
    Fault(
        "run aiosqlite's calls outside the context of the task that made them (asyncio)",
        (f"docs/{ASYNC_PAGE}",),
        ("sqlite",),
        run_aiosqlite_calls_outside_the_caller_s_context,
        (_failing_at(ASYNC_PAGE, ASYNC_FIRST_AWAIT),),
    ),
    Fault(
        "list the statements of concurrent asyncio tasks in the order they happened to be sent",
        (
            "tests/test_async_blocks.py::"
            "test_what_tasks_send_at_the_same_time_is_listed_task_by_task[{db}]",
        ),
        ALL,
        list_concurrent_tasks_in_the_order_sent,
        (
            _test_fails(
                "test_what_tasks_send_at_the_same_time_is_listed_task_by_task",
                module="test_async_blocks",
            ),
        ),
    ),
    Fault(
        "join the Testing chapter's test transaction without create_savepoint (its pytest run)",
        (f"docs/{TESTING_PAGE}",),
        ALL,
        join_the_test_transaction_without_savepoints,
        (_failing_at(TESTING_PAGE, TESTING_PYTEST_RUN),),
    ),
    *(
        _example_fault(description, module, test, apply, databases, parameters)
        for description, module, test, apply, databases, parameters in [
            (
                "skip the dummy hash for an unknown email at log-in",
                "test_example_accounts",
                "test_an_unknown_email_and_a_wrong_password_get_the_same_answer_after_the_same_work",
                skip_the_dummy_hash_for_an_unknown_email,
                ALL,
                "{db}",
            ),
            (
                "answer an unknown email otherwise than a wrong password",
                "test_example_accounts",
                "test_an_unknown_email_and_a_wrong_password_get_the_same_answer_after_the_same_work",
                say_that_an_email_is_unknown,
                ALL,
                "{db}",
            ),
            (
                "answer a taken email with 500 instead of 409",
                "test_example_accounts_api",
                "test_a_duplicate_email_is_409",
                answer_a_taken_email_with_500,
                ALL,
                "{db}",
            ),
            (
                "share one session between the web API's requests",
                "test_example_accounts_api",
                "test_each_request_has_a_session_of_its_own_closed_when_it_ends",
                share_one_session_between_requests,
                ALL,
                "{db}",
            ),
            (
                "list the organisations' members without selectinload",
                "test_example_accounts",
                "test_the_listing_takes_two_statements_however_many_organisations",
                list_the_members_lazily,
                ALL,
                "{db}",
            ),
            (
                "search the notes without autoescape",
                "test_example_notes",
                "test_search_matches_what_was_typed_as_plain_text",
                search_notes_without_autoescape,
                ALL,
                "{db}-_",
            ),
            (
                "add a category without a savepoint",
                "test_example_notes",
                "test_a_refusal_leaves_the_callers_transaction_and_the_caller_decides",
                add_a_category_without_a_savepoint,
                ALL,
                "{db}",
            ),
            (
                "page the blog one page late",
                "test_example_blog",
                "test_pages_are_newest_first_and_stable_within_a_day",
                page_the_blog_one_page_late,
                ALL,
                "{db}",
            ),
            (
                "leave SQLite's transactions to the driver on the command line",
                "test_example_command_lines",
                "test_on_sqlite_the_engine_lets_a_rollback_undo_a_first_savepoint",
                leave_sqlite_transactions_to_the_driver,
                ("sqlite",),
                None,
            ),
            (
                "leave a section of a program off its page",
                "test_example_pages",
                "test_each_page_includes_every_section_of_its_program_in_order",
                leave_a_section_off_its_page,
                ("sqlite",),
                None,
            ),
            (
                "leave the web group out of the web API page's script",
                "test_example_pages",
                "test_a_pages_script_installs_the_group_of_a_package_it_imports",
                install_no_group_for_a_page_script,
                ("sqlite",),
                None,
            ),
            (
                "let an unknown database in a URL end in a traceback",
                "test_example_command_lines",
                "test_a_bad_url_stops_the_program_with_one_sentence",
                let_an_unknown_database_raise,
                ("sqlite",),
                None,
            ),
        ]
    ),
    Fault(
        "take a page's path for its address under Zensical only (zensical)",
        ("tests/test_zensical.py",),
        TEXT,
        take_a_page_s_path_for_its_address_under_zensical,
        (r"docs/engine\.md: Run note 1 of 1 differs: MkDocs has .*, Zensical .*",),
    ),
    Fault(
        "keep the record of verified runs for the process, whatever it holds now (site build)",
        (f"tests/test_harness.py::{RENDERED_AGAIN}",),
        TEXT,
        keep_the_record_of_verified_runs_for_the_process,
        (
            rf"_+ {RENDERED_AGAIN} _+\n(?:.*\n)*?"
            rf"\S*tests/test_harness\.py:\d+: in {RENDERED_AGAIN}\n(?:.*\n)*?E\s+assert ",
        ),
    ),
    Fault(
        "worked examples: link an example file the site does not serve (examples)",
        ("docs/examples/notes.md",),
        TEXT,
        link_an_example_file_the_site_does_not_serve,
        (r"docs/examples/notes\.md, line \d+: the link to note\.py points at no file",),
    ),
]

COPIED = ["docs", "examples", "tests", "mkdocs.yml", "pyproject.toml", "uv.lock"]
#: What the site build installs and downloads for the Run buttons: linked, not copied.
LINKED = [
    "tests/run-in-browser/node_modules",
    "tests/run-in-browser/wheels",
    "tests/lighthouse/node_modules",  # and Lighthouse CI, installed for the browser tests
]


def copy_project(destination: Path) -> None:
    linked = {ROOT / name for name in LINKED}

    def ignored(folder: str, names: list[str]) -> list[str]:
        # What the build writes into docs/ is left out: the copy's own build writes it.
        return [
            n
            for n in names
            if n == "__pycache__"
            or Path(folder) / n in linked
            or site_files.is_generated(Path(folder) / n, ROOT / "docs")
        ]

    for name in COPIED:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, destination / name, ignore=ignored)
        else:
            shutil.copy(source, destination / name)
    for name in LINKED:
        if (ROOT / name).exists():
            (destination / name).symlink_to(ROOT / name)


def _failed(output: str) -> list[str]:
    return re.findall(r"^(?:FAILED|ERROR) (\S+)", output, re.MULTILINE)


def _shown(match: re.Match) -> str:
    """A match, on one line: what names page, line and database, and what went wrong."""
    if "where" in match.groupdict():
        where = match["where"]
        return f"{where[where.rindex('tests/') :]}: {match['error']}"
    lines = [line.strip() for line in match.group(0).splitlines()]
    lines = [line for line in lines if line and set(line) != {"*"}]
    located = next((line for line in lines if re.search(r", line \d+", line)), lines[0])
    kept = list(dict.fromkeys([lines[0], located, lines[-1]]))
    return " / ".join(line if len(line) <= 100 else line[:99] + "…" for line in kept)


def try_fault(fault: Fault) -> Outcome:
    """Apply one fault to a fresh copy; whether each of its databases caught it, and how."""
    started = time.monotonic()
    missing = [db for db in fault.databases if configured_url(BY_NAME[db]) is None]
    if missing:
        variables = ", ".join(BY_NAME[db].variable for db in missing)
        return Outcome(fault, False, [f"not run: set {variables}"])
    if fault.needs_docker and not os.environ.get("TUTORIAL_DOCKER_TESTS"):
        return Outcome(fault, False, ["not run: set TUTORIAL_DOCKER_TESTS=1, with Docker running"])
    targets = list(dict.fromkeys(t.format(db=db) for db in fault.databases for t in fault.targets))
    backends = [f"--backend={db}" for db in fault.databases]
    try:
        with tempfile.TemporaryDirectory(prefix="mutation_") as folder:
            project = Path(folder)
            copy_project(project)
            fault.apply(project)
            environment = dict(os.environ)
            paths = [str(project / "tests"), environment.get("PYTHONPATH", "")]
            environment["PYTHONPATH"] = os.pathsep.join(path for path in paths if path)
            environment.pop("PYTEST_ADDOPTS", None)
            result = subprocess.run(
                [sys.executable, "-m", "pytest", *targets, *backends]
                + ["-p", "no:cacheprovider", "-p", "no:xdist", "-q", "--tb=short", "-ra"],
                cwd=project,
                env=environment,
                capture_output=True,
                text=True,
                timeout=600,
            )
    finally:
        if fault.clean is not None:
            fault.clean()
    output = result.stdout + result.stderr
    outcome = Outcome(fault, result.returncode != 0, seconds=time.monotonic() - started)
    if result.returncode == 0:
        outcome.evidence.append("the run passed")
        return outcome
    failed = _failed(output)
    for db in fault.databases:
        title = BY_NAME[db].title
        # A failure on this database: its name says so, or it names no database at all.
        on_db = [
            name
            for name in failed
            if re.search(rf"(sybil:{db},|[\[-]{db}[\]-])", name)
            or not re.search(rf"sybil:|[\[-]({'|'.join(BY_NAME)})[\]-]", name)
        ]
        for pattern in fault.expected:
            match = re.search(pattern.format(db=db, title=title), output)
            if match and on_db:
                outcome.evidence.append(f"{db}: {_shown(match)}")
                continue
            outcome.caught = False
            if match is None:
                outcome.evidence.append(
                    f"{db}: no message matched {pattern.format(db=db, title=title)!r}"
                )
            else:
                outcome.evidence.append(f"{db}: no failure was reported on {title}")
    if fault.sole and (len(failed) != len(fault.databases) or "snapshot" in output):
        outcome.caught = False
        outcome.evidence.append(
            "other failures than the fault's own: " + ", ".join(failed or ["(none)"])
        )
    if not outcome.caught:
        outcome.evidence.append("the run said:\n" + output[-3000:])
    return outcome


def main(words: list[str]) -> int:
    started = time.monotonic()
    faults = [f for f in FAULTS if not words or any(w in f.description for w in words)]
    with ThreadPoolExecutor(max_workers=2) as pool:
        outcomes = list(pool.map(try_fault, faults))
    for outcome in outcomes:
        status = "caught" if outcome.caught else "MISSED"
        print(f"{status}: {outcome.fault.description} ({outcome.seconds:.0f} s)")
        for line in outcome.evidence:
            print("    " + line.replace("\n", "\n    "))
    caught = sum(outcome.caught for outcome in outcomes)
    print(f"\ncaught {caught} of {len(outcomes)} in {time.monotonic() - started:.0f} s")
    return 0 if caught == len(outcomes) else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
