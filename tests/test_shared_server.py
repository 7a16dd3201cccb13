"""The harness on a database server shared with other people and other runs.

It must never harm what is not its own: names it did not create are never
dropped nor put into SQL, a namespace in use by a run elsewhere (another
machine, container or PID namespace) is left alone, a leftover this user may
not drop is skipped with a line, and a user without the rights the pages need
is told which right is missing, in one sentence. Each test creates what it
needs on the servers (schemas, databases, roles, users) and removes it.
"""

from __future__ import annotations

import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from harness.databases import (
    MARIADB,
    POSTGRESQL,
    SQLITE,
    admin_connection,
    configured_url,
    leftovers,
    remove_leftovers,
)
from sqlalchemy import event, make_url, text
from sqlalchemy.engine import Connection, Engine

pytest_plugins = ["pytester"]

PAGE = """\
# A page

```python
import os

from sqlalchemy import create_engine, text

engine = create_engine(os.environ["DATABASE_URL"])
with engine.begin() as connection:
    connection.execute(text("CREATE TABLE notes (id INTEGER PRIMARY KEY)"))
```

```python
>>> with engine.connect() as connection:
...     connection.execute(text("SELECT COUNT(*) FROM notes")).scalar()
0
```
"""

#: A page that waits, in its second block, until the file GO_FILE names exists.
WAITING_PAGE = PAGE.replace(
    "```python\n>>>",
    "```python\nimport time\n\nwhile not os.path.exists(os.environ['GO_FILE']):\n"
    "    time.sleep(0.1)\n```\n\n```python\n>>>",
)


def server_only(backend):
    if backend is SQLITE:
        pytest.skip("SQLite has no server to share")


def quoted(connection: Connection, name: str) -> str:
    return connection.dialect.identifier_preparer.quote_identifier(name)


def namespace_exists(backend, name: str) -> bool:
    with admin_connection(backend) as connection:
        if backend is POSTGRESQL:
            query = "SELECT count(*) FROM pg_namespace WHERE nspname = %(name)s"
        else:
            query = "SELECT count(*) FROM information_schema.schemata WHERE schema_name = %(name)s"
        return connection.exec_driver_sql(query, {"name": name}).scalar() == 1


@contextmanager
def foreign_namespaces(backend, *names: str) -> Iterator[None]:
    """Schemas or databases made by the administrator, dropped afterwards whatever happens."""
    kind = "SCHEMA" if backend is POSTGRESQL else "DATABASE"
    with admin_connection(backend) as connection:
        for name in names:
            connection.exec_driver_sql(f"CREATE {kind} {quoted(connection, name)}")
    try:
        yield
    finally:
        with admin_connection(backend) as connection:
            for name in names:
                cascade = " CASCADE" if backend is POSTGRESQL else ""
                connection.exec_driver_sql(
                    f"DROP {kind} IF EXISTS {quoted(connection, name)}{cascade}"
                )


@contextmanager
def limited_user(backend, *grants: str) -> Iterator[str]:
    """A PostgreSQL role or MariaDB user with only ``grants`` ({user} is its name);
    yields its URL, and drops it afterwards."""
    user = f"tutorial_test_user_{secrets.token_hex(3)}"
    password = secrets.token_hex(8)
    base = make_url(configured_url(backend))
    with admin_connection(backend) as connection:
        if backend is POSTGRESQL:
            connection.exec_driver_sql(f"CREATE ROLE {user} LOGIN PASSWORD '{password}'")
        else:
            connection.execute(text(f"CREATE USER '{user}'@'%' IDENTIFIED BY '{password}'"))
        for grant in grants:
            connection.execute(text(grant.format(user=user, database=base.database)))
    try:
        yield base.set(username=user, password=password).render_as_string(hide_password=False)
    finally:
        with admin_connection(backend) as connection:
            if backend is POSTGRESQL:
                connection.exec_driver_sql(f"DROP OWNED BY {user} CASCADE")
                connection.exec_driver_sql(f"DROP ROLE {user}")
            else:
                connection.execute(text(f"DROP USER '{user}'@'%'"))


def make_project(folder: Path, pages: dict[str, str]) -> Path:
    (folder / "docs").mkdir(parents=True)
    (folder / "pytest.ini").write_text("[pytest]\ntestpaths = docs\n")
    for name, content in pages.items():
        (folder / "docs" / name).write_text(content)
    return folder


def run_as(pytester, backend, url: str, *args: str, apart: bool = False) -> pytest.RunResult:
    """Run the fixture project with ``url`` as the backend's URL, for this run only
    (the clean-up afterwards needs the administrator's URL back)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(backend.variable, url)
        runner = pytester.runpytest_subprocess if apart else pytester.runpytest_inprocess
        return runner(f"--backend={backend.name}", *args)


def one_sentence(result: pytest.RunResult) -> str:
    assert result.ret == pytest.ExitCode.USAGE_ERROR, result.stdout.str()
    error = result.stderr.str().strip()
    assert "Traceback" not in error and len(error.splitlines()) == 1, error
    assert len(result.stdout.lines) <= 1, result.stdout.str()
    return error


# Identifiers from the server ----------------------------------------------


def test_a_crafted_name_is_neither_executed_nor_dropped(pytester, backend):
    server_only(backend)
    victim = f"victim_{secrets.token_hex(3)}"
    if backend is POSTGRESQL:
        # The clean-up of old used to run DROP SCHEMA IF EXISTS "tutorial_adv", "victim_…".
        crafted = f'tutorial_adv", "{victim}'
    else:
        crafted = f"tutorial_adv`; DROP DATABASE `{victim}"
    statements: list[str] = []

    def record(conn, cursor, statement, *args):
        statements.append(statement)

    make_project(pytester.path, {"page.md": PAGE})
    with foreign_namespaces(backend, victim, crafted):
        event.listen(Engine, "before_cursor_execute", record)
        try:
            result = pytester.runpytest_inprocess(
                f"--backend={backend.name}", "--update-snapshots", "-p", "no:cacheprovider"
            )
            swept = remove_leftovers(backend, configured_url(backend))
        finally:
            event.remove(Engine, "before_cursor_execute", record)
        result.assert_outcomes(passed=3)
        assert crafted not in leftovers(backend, configured_url(backend))
        assert crafted not in swept.removed and not swept.kept
        assert namespace_exists(backend, victim) and namespace_exists(backend, crafted)
    assert statements, "the run sent no SQL, so the check above proves nothing"
    assert not [statement for statement in statements if victim in statement]


# Liveness asked of the server ------------------------------------------------


def unshare_works() -> bool:
    if shutil.which("unshare") is None:
        return False
    command = ["unshare", "--pid", "--fork", "--mount-proc", "true"]
    return subprocess.run(command, capture_output=True).returncode == 0


def in_own_pid_namespace(*command: str) -> list[str]:
    return ["unshare", "--pid", "--fork", "--mount-proc", *command]


def test_a_run_in_another_pid_namespace_keeps_its_namespaces(tmp_path, backend, monkeypatch):
    """Two runs share the server from different PID namespaces, the first with
    xdist workers: the second run's clean-up leaves the first run's live
    namespace alone, and removes a dead one whose process id is alive in it."""
    server_only(backend)
    if not unshare_works():
        pytest.skip("needs `unshare --pid --fork --mount-proc` (root, or user namespaces)")
    go = tmp_path / "go"
    monkeypatch.setenv("GO_FILE", str(go))
    pytest_command = [sys.executable, "-m", "pytest", f"--backend={backend.name}"]
    pytest_command += ["--update-snapshots", "-p", "no:cacheprovider"]
    first = make_project(tmp_path / "first", {"waits.md": WAITING_PAGE, "other.md": PAGE})
    second = make_project(tmp_path / "second", {"page.md": PAGE})
    waiting = subprocess.Popen(
        in_own_pid_namespace(*pytest_command, "--numprocesses=2", "--dist=loadfile"),
        cwd=first,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        live = wait_for_namespace(backend, "tutorial_waits_", waiting)
        # Process 1 is alive in every PID namespace: this name looks alive by
        # its process id, yet nobody holds its lock.
        dead = f"tutorial_orphan_1_{secrets.token_hex(3)}"
        with foreign_namespaces(backend, dead):
            other = subprocess.run(
                in_own_pid_namespace(*pytest_command, "-ra"),
                cwd=second,
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert other.returncode == 0, other.stdout + other.stderr
            # Every run sweeps leftovers as it starts, and in a suite running in
            # parallel another run may sweep this one first: what counts is that
            # the dead namespace is gone and the live one is not.
            assert live not in other.stdout
            assert namespace_exists(backend, live)
            assert not namespace_exists(backend, dead)
        go.touch()
        output, _ = waiting.communicate(timeout=120)
    finally:
        go.touch()
        if waiting.poll() is None:
            waiting.kill()
            waiting.communicate()
    assert waiting.returncode == 0, output
    assert "7 passed" in output  # five blocks, and each page's own checks
    assert not namespace_exists(backend, live)


def wait_for_namespace(backend, prefix: str, process: subprocess.Popen) -> str:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        names = [n for n in leftovers(backend, configured_url(backend)) if n.startswith(prefix)]
        if names:
            return names[0]
        if process.poll() is not None:
            pytest.fail(f"the first run ended early:\n{process.stdout.read()}")
        time.sleep(0.2)
    pytest.fail(f"no {prefix}… namespace appeared within 90 seconds")


# Rights -------------------------------------------------------------------

#: What a user needs to run the pages, and nothing more.
PAGE_RIGHTS = {
    "postgresql": ['GRANT CREATE ON DATABASE "{database}" TO {user}'],
    "mariadb": [
        "GRANT ALL ON `tutorial\\_%`.* TO '{user}'@'%'",
        "GRANT SELECT ON `{database}`.* TO '{user}'@'%'",
    ],
}


def test_a_leftover_this_user_may_not_drop_is_kept_with_one_line(pytester, backend):
    server_only(backend)
    leftover = f"tutorial_foreign_1_{secrets.token_hex(3)}"
    grants = list(PAGE_RIGHTS[backend.name])
    if backend is MARIADB:
        # The user may see the leftover but not drop it.
        grants = [
            "GRANT ALL ON `tutorial\\_page\\_%`.* TO '{user}'@'%'",
            "GRANT ALL ON `tutorial\\_rights\\_probe\\_%`.* TO '{user}'@'%'",
            "GRANT SELECT ON `{database}`.* TO '{user}'@'%'",
            f"GRANT SELECT ON `{leftover}`.* TO '{{user}}'@'%'",
        ]
    make_project(pytester.path, {"page.md": PAGE})
    with foreign_namespaces(backend, leftover), limited_user(backend, *grants) as url:
        result = run_as(pytester, backend, url, "--update-snapshots", "-p", "no:cacheprovider")
        result.assert_outcomes(passed=3)
        lines = [line for line in result.stdout.lines if leftover in line]
        assert len(lines) == 1, result.stdout.str()
        assert lines[0].startswith(f"{backend.title}: kept {leftover}, left by another run,")
        assert lines[0].endswith("its owner can.")
        assert namespace_exists(backend, leftover)


NO_RIGHTS = {
    "postgresql": [],  # a role may connect to a database, not create in it
    "mariadb": ["GRANT SELECT ON *.* TO '{user}'@'%'"],
}


@pytest.mark.parametrize("how", ["pytest", "nox"])
def test_a_user_without_the_rights_is_told_which_is_missing(pytester, backend, how):
    server_only(backend)
    make_project(pytester.path, {"page.md": PAGE})
    # `nox -s test` runs pytest with xdist workers: the sentence must not change.
    workers = ["--numprocesses=2", "--dist=loadfile"] if how == "nox" else []
    with limited_user(backend, *NO_RIGHTS[backend.name]) as url:
        error = one_sentence(run_as(pytester, backend, url, *workers, apart=True))
        user = make_url(url).username
        if backend is POSTGRESQL:
            assert error.startswith(
                f"ERROR: PostgreSQL: the role '{user}' of TUTORIAL_POSTGRESQL_URL may not "
                "create a schema in the database 'test' (permission denied for database test)"
            ), error
            assert error.endswith(f'TO "{user}", or use a role that may.')
        else:
            assert error.startswith(
                f"ERROR: MariaDB: the user '{user}' of TUTORIAL_MARIADB_URL may not create a "
                f"database and its tables (1044: Access denied for user '{user}'@"
            ), error
            assert error.endswith("or use a user that may.")
    # The probe left nothing behind.
    assert not [n for n in leftovers(backend, configured_url(backend)) if "rights_probe" in n]


def test_the_rights_a_page_needs_are_enough(pytester, backend):
    """The grants the sentences above advise are all a user needs."""
    server_only(backend)
    make_project(pytester.path, {"page.md": PAGE})
    with limited_user(backend, *PAGE_RIGHTS[backend.name]) as url:
        result = run_as(pytester, backend, url, "--update-snapshots", "-p", "no:cacheprovider")
        result.assert_outcomes(passed=3)
