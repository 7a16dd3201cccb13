"""A block that leaves something outside its page fails, naming page, line, database and what.

Each test runs a small page in a project of its own (pytester's folder, which is
also the working directory), on each database, and removes afterwards whatever
the page left on purpose: the check reports, and never cleans up itself.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from harness.databases import POSTGRESQL, SQLITE, admin_connection, configured_url
from sqlalchemy import make_url

pytest_plugins = ["pytester"]

START = """\
# A page

```python
import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import create_engine, text

engine = create_engine(os.environ["DATABASE_URL"])
```
"""


def run_page(pytester, backend, *blocks: str) -> pytest.RunResult:
    """Run a page made of START and ``blocks`` on ``backend``, recording its snapshots."""
    page = START + "".join(f"\n```python\n{block.strip()}\n```\n" for block in blocks)
    (pytester.path / "docs").mkdir(exist_ok=True)
    (pytester.path / "docs" / "page.md").write_text(page)
    (pytester.path / "pytest.ini").write_text("[pytest]\ntestpaths = docs\n")
    return pytester.runpytest_inprocess(
        f"--backend={backend.name}", "--update-snapshots", "-p", "no:cacheprovider"
    )


def line_of_block(number: int, *blocks: str) -> int:
    """The line of the opening fence of block ``number`` (1 is the first after START)."""
    line = START.count("\n") + 2
    for block in blocks[: number - 1]:
        line += block.strip().count("\n") + 4
    return line


def server_only(backend):
    if backend is SQLITE:
        pytest.skip("SQLite has no server to share")


@contextmanager
def dropped_afterwards(backend, *statements: str) -> Iterator[None]:
    """Run ``statements`` as the administrator when the test ends, whatever happened."""
    try:
        yield
    finally:
        with admin_connection(backend) as connection:
            for statement in statements:
                connection.exec_driver_sql(statement)


def base_namespace(backend) -> str:
    """Where a table goes when it is named outside the page: public, or the URL's database."""
    return "public" if backend is POSTGRESQL else make_url(configured_url(backend)).database


def escaped_name() -> str:
    return f"escaped_{secrets.token_hex(4)}"


# Tables, schemas and databases ---------------------------------------------------


def test_a_table_beside_the_page_namespace_fails_naming_it(pytester, backend):
    server_only(backend)
    table = f"{base_namespace(backend)}.{escaped_name()}"
    blocks = [
        "with engine.begin() as connection:\n"
        '    connection.execute(text("CREATE TABLE notes (id INTEGER)"))',
        "with engine.begin() as connection:\n"
        f'    connection.execute(text("CREATE TABLE {table} (id INTEGER)"))',
        "print('the page goes on')",
    ]
    with dropped_afterwards(backend, f"DROP TABLE IF EXISTS {table}"):
        result = run_page(pytester, backend, *blocks)
    result.assert_outcomes(passed=4, failed=1)
    output = result.stdout.str()
    assert (
        f"docs/page.md, line {line_of_block(2, *blocks)} [{backend.name}]: this block created "
        f"the table {table} on {backend.title}, outside the page's own "
        f"{'schema' if backend is POSTGRESQL else 'database'}"
    ) in output, output
    assert f"drop {table} yourself" in output


def test_a_schema_or_database_of_its_own_fails_naming_it(pytester, backend):
    server_only(backend)
    name = escaped_name()
    kind = "SCHEMA" if backend is POSTGRESQL else "DATABASE"
    blocks = [
        f'with engine.begin() as connection:\n    connection.execute(text("CREATE {kind} {name}"))'
    ]
    with dropped_afterwards(backend, f"DROP {kind} IF EXISTS {name}"):
        result = run_page(pytester, backend, *blocks)
    result.assert_outcomes(passed=2, failed=1)
    assert (
        f"docs/page.md, line {line_of_block(1, *blocks)} [{backend.name}]: this block created "
        f"the {kind.lower()} {name} on {backend.title}"
    ) in result.stdout.str(), result.stdout.str()


def test_what_another_run_creates_meanwhile_is_not_blamed(pytester, backend, monkeypatch):
    """A table that appears while the block runs, which the block never names, is not its doing."""
    server_only(backend)
    table = f"{base_namespace(backend)}.{escaped_name()}"
    url = configured_url(backend)
    monkeypatch.setenv(
        "SOMEONE_ELSE",
        "from sqlalchemy import create_engine, text\n"
        f"with create_engine({url!r}).begin() as connection:\n"
        f"    connection.execute(text('CREATE TABLE {table} (id INTEGER)'))\n",
    )
    # The other run is a process of its own, as it would be.
    blocks = ['subprocess.run([sys.executable, "-c", os.environ["SOMEONE_ELSE"]], check=True)']
    with dropped_afterwards(backend, f"DROP TABLE IF EXISTS {table}"):
        result = run_page(pytester, backend, *blocks)
        with admin_connection(backend) as connection:
            schema, _, name = table.partition(".")
            query = "SELECT count(*) FROM information_schema.tables WHERE table_schema = %(s)s"
            query += " AND table_name = %(n)s"
            assert connection.exec_driver_sql(query, {"s": schema, "n": name}).scalar() == 1
    result.assert_outcomes(passed=3)


# Files --------------------------------------------------------------------------


def test_a_file_written_in_the_working_directory_fails_naming_it(pytester, backend):
    name = f"{escaped_name()}.txt"
    blocks = [f'Path("{name}").write_text("left behind")']
    result = run_page(pytester, backend, *blocks)
    result.assert_outcomes(passed=2, failed=1)
    output = result.stdout.str()
    assert (
        f"docs/page.md, line {line_of_block(1, *blocks)} [{backend.name}]: this block created "
        f"{name} in the working directory"
    ) in output, output
    assert (pytester.path / name).exists()  # reported, not removed


def test_an_sqlite_file_a_block_opens_in_the_working_directory_fails(pytester, backend):
    blocks = ['create_engine("sqlite:///tutorial.db").connect().close()']
    result = run_page(pytester, backend, *blocks)
    result.assert_outcomes(passed=2, failed=1)
    assert "this block created tutorial.db in the working directory" in result.stdout.str()


def test_a_file_a_child_process_writes_fails_when_the_block_names_it(pytester, backend):
    name = f"{escaped_name()}.txt"
    blocks = [
        f'subprocess.run([sys.executable, "-c", "open({name!r}, \'w\').close()"], check=True)'
    ]
    result = run_page(pytester, backend, *blocks)
    result.assert_outcomes(passed=2, failed=1)
    assert f"this block created {name} in the working directory" in result.stdout.str()


def test_a_block_that_fails_after_writing_says_both(pytester, backend):
    name = f"{escaped_name()}.txt"
    blocks = [f'Path("{name}").write_text("left behind")\nraise RuntimeError("and then")']
    result = run_page(pytester, backend, *blocks)
    result.assert_outcomes(passed=2, failed=1)
    output = result.stdout.str()
    assert "RuntimeError: and then" in output and f"created {name}" in output, output


def test_temporary_files_and_files_elsewhere_pass(pytester, backend, tmp_path_factory, monkeypatch):
    elsewhere = tmp_path_factory.mktemp("elsewhere") / "kept.txt"
    monkeypatch.setenv("ELSEWHERE", str(elsewhere))
    blocks = [
        'scratch = Path("scratch.txt")\nscratch.write_text("gone soon")\nscratch.unlink()',
        'Path(os.environ["ELSEWHERE"]).write_text("not in the working directory")',
        "import tempfile\n\nwith tempfile.TemporaryDirectory() as folder:\n"
        '    Path(folder, "notes.txt").write_text("in a temporary folder")',
    ]
    result = run_page(pytester, backend, *blocks)
    result.assert_outcomes(passed=5)
    assert elsewhere.exists()


def test_another_process_writing_meanwhile_is_not_blamed(pytester, backend):
    """A file that appears while the block runs, which the block neither writes nor names."""
    code = "import secrets; open(secrets.token_hex(4) + '.other', 'w').close()"
    blocks = [f"subprocess.run([sys.executable, '-c', {code!r}], check=True)"]
    result = run_page(pytester, backend, *blocks)
    result.assert_outcomes(passed=3)
    assert len(list(pytester.path.glob("*.other"))) == 1
