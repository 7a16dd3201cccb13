"""The SQL boxes against PostgreSQL's own statement log of the same run.

A few pages run in a separate pytest process on PostgreSQL, through a role
created for this test whose sessions log every statement they receive
(``log_statement = 'all'``). The harness's own connections pass
``-c log_statement=none`` in ``PGOPTIONS``, which libpq applies only to
connections whose URL sets no ``options``: a page's connections set
``search_path`` there, so only they are logged. The capture writes what it
recorded, with the server process of each connection, to a file; the test reads
the server's log through ``pg_read_file`` and compares, connection by
connection, statement and parameters alike. The role, and with it the setting,
is dropped afterwards.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from harness.capture_sql import RECORD_VARIABLE
from harness.databases import TIME_ZONE_VARIABLE
from harness.pytest_plugin import RUN
from sqlalchemy import NullPool, create_engine, make_url, text
from sqlalchemy.exc import DBAPIError

ROOT = Path(__file__).resolve().parent.parent
PAGES = ["docs/engine.md", "docs/session.md", "docs/querying.md", "docs/relationship-patterns.md"]


@pytest.mark.on_database("postgresql")
@pytest.mark.each_version
def test_boxes_match_the_postgresql_statement_log(tmp_path: Path, request) -> None:
    url = os.environ.get("TUTORIAL_POSTGRESQL_URL")
    if not url:
        pytest.skip("needs PostgreSQL: set TUTORIAL_POSTGRESQL_URL")
    if "postgresql" not in [backend.name for backend, _ in request.config.stash[RUN].backends]:
        pytest.skip("PostgreSQL is not among the databases of this run")
    base = make_url(url)
    if base.get_backend_name() != "postgresql" or base.get_driver_name() != "psycopg":
        pytest.skip(f"the capture is compared on postgresql+psycopg, not {base.drivername}")
    admin = create_engine(base, poolclass=NullPool)
    role = f"tutorial_log_{os.getpid()}_{secrets.token_hex(3)}"
    try:
        log, start, prefix = _open_log(admin)
        _create_logging_role(admin, role)
        try:
            record = tmp_path / "captured.jsonl"
            run = _run_pages(base.set(username=role), record)
        finally:
            _drop_role(admin, role)
        logged = _statements_in_log(_read_log(admin, log, start), prefix, role)
    finally:
        admin.dispose()

    captured = _captured_statements(record)
    assert captured, f"the pages sent nothing to PostgreSQL:\n{run.stdout[-3000:]}"
    problems = []
    for pid in sorted(set(captured) | set(logged)):
        ours, theirs = captured.get(pid, []), logged.get(pid, [])
        ours = [_without_parameters(ours_one, theirs) for ours_one in ours]
        if ours != theirs:
            diff = "\n".join(
                difflib.unified_diff(theirs, ours, "server log", "captured", lineterm="", n=2)
            )
            problems.append(f"connection served by PostgreSQL process {pid}:\n{diff}")
    total = sum(len(statements) for statements in logged.values())
    print(f"{total} statements on {len(logged)} connections, as the server logged them")
    assert not problems, (
        "the captured SQL differs from what PostgreSQL logged receiving:\n\n"
        + "\n\n".join(problems)
        + f"\n\npytest of the pages said:\n{run.stdout[-2000:]}"
    )


def _open_log(admin) -> tuple[str, int, str]:
    """Where the server writes its log, how long it is now, and its line prefix."""
    try:
        with admin.connect() as connection:
            superuser = connection.execute(
                text("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
            ).scalar()
            if not superuser:
                pytest.skip(
                    "turning on the server's statement log and reading it needs a superuser; "
                    "the URL's user is not one"
                )
            settings = dict(
                connection.execute(
                    text(
                        "SELECT name, setting FROM pg_settings WHERE name IN "
                        "('log_line_prefix', 'log_destination', 'logging_collector')"
                    )
                ).all()
            )
            log = connection.execute(text("SELECT pg_current_logfile('stderr')")).scalar()
            if log is None:
                # Without the logging collector, the server writes its log to its
                # standard error, which every server process inherits.
                log = "/proc/self/fd/2"
            stat = connection.execute(
                text("SELECT size, isdir FROM pg_stat_file(:path, true)"), {"path": log}
            ).one_or_none()
            if stat is not None and not stat.isdir:
                # A server in a container logs to a pipe, which it cannot read back.
                connection.execute(text("SELECT pg_read_file(:path, 0, 0)"), {"path": log})
    except DBAPIError as error:
        pytest.skip(f"PostgreSQL refused: {str(error.orig).splitlines()[0]}")
    if "stderr" not in settings["log_destination"].split(","):
        pytest.skip("the server does not write a plain log (log_destination has no stderr)")
    if stat is None or stat.size is None or stat.isdir:
        pytest.skip(f"the server's log ({log}) is not a file it can read back")
    if "%p" not in settings["log_line_prefix"]:
        pytest.skip("the server's log_line_prefix has no %p, so its lines name no connection")
    return log, stat.size, settings["log_line_prefix"]


def _create_logging_role(admin, role: str) -> None:
    with admin.begin() as connection:
        connection.execute(text(f'CREATE ROLE "{role}" LOGIN SUPERUSER'))
        for name, value in [
            ("log_statement", "all"),
            ("log_parameter_max_length", "-1"),
            ("log_error_verbosity", "default"),
        ]:
            connection.execute(text(f"ALTER ROLE \"{role}\" SET {name} = '{value}'"))


def _drop_role(admin, role: str) -> None:
    with admin.begin() as connection:
        connection.execute(
            text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = :role"),
            {"role": role},
        )
        connection.execute(text(f'DROP OWNED BY "{role}"'))
        connection.execute(text(f'DROP ROLE "{role}"'))


def _run_pages(url, record: Path) -> subprocess.CompletedProcess:
    environment = dict(os.environ)
    environment.update(
        {
            "TUTORIAL_POSTGRESQL_URL": url.render_as_string(hide_password=False),
            "PGOPTIONS": "-c log_statement=none",  # the harness's own connections
            RECORD_VARIABLE: str(record),
        }
    )
    environment.pop("PYTEST_ADDOPTS", None)
    # The log writes a moment in the session's time zone and the capture in UTC; the
    # comparison is about which statements arrived, so the sessions stay in UTC here.
    environment.pop(TIME_ZONE_VARIABLE, None)
    command = [sys.executable, "-m", "pytest", *PAGES, "--backend=postgresql"]
    command += ["-p", "no:xdist", "-p", "no:cacheprovider", "-q", "-p", "no:randomly"]
    return subprocess.run(
        command, cwd=ROOT, env=environment, capture_output=True, text=True, timeout=900
    )


def _read_log(admin, log: str, start: int) -> str:
    with admin.connect() as connection:
        size = connection.execute(
            text("SELECT size FROM pg_stat_file(:path)"), {"path": log}
        ).scalar()
        return connection.execute(
            text("SELECT pg_read_file(:path, :start, :length)"),
            {"path": log, "start": start, "length": size - start},
        ).scalar()


def _prefix_pattern(prefix: str) -> str:
    """A regular expression for ``log_line_prefix``, capturing the process and user."""
    escapes = {
        "m": r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+(?: \S+)?",
        "t": r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?: \S+)?",
        "n": r"\d+\.\d+",
        "p": r"(?P<pid>\d+)",
        "u": r"(?P<user>[^@\s]*)",
        "d": r"\S*",
        "l": r"\d+",
        "%": "%",
    }
    pattern, optional = "", False
    parts = re.split(r"(%-?\d*[a-zA-Z%])", prefix)
    for part in parts:
        match = re.fullmatch(r"%-?\d*([a-zA-Z%])", part)
        if match is None:
            pattern += re.escape(part)
        elif match[1] == "q":  # what follows is written only for sessions
            pattern += "(?:"
            optional = True
        else:
            pattern += escapes.get(match[1], r".*?")
    return pattern + (")?" if optional else "")


def _statements_in_log(log: str, prefix: str, role: str) -> dict[int, list[str]]:
    """Each logged statement of ``role``, with its parameters, by server process."""
    head = re.compile(rf"^{_prefix_pattern(prefix)}(?P<level>[A-Z]+):  (?P<message>.*)$")
    messages: list[list] = []  # [pid, user, level, text]
    for line in log.splitlines():
        match = head.match(line)
        if match and match["pid"]:
            messages.append([int(match["pid"]), match["user"], match["level"], match["message"]])
        elif messages:  # the server starts each further line of a message with a tab
            messages[-1][3] += "\n" + line.removeprefix("\t")
    statements: dict[int, list[str]] = {}
    last_was_execute: dict[int, bool] = {}
    refused: dict[int, bool] = {}  # the process's last message was an ERROR
    for pid, user, level, message in messages:
        if user != role:
            continue
        executed = re.fullmatch(r"(?:statement|execute [^:]+): (.*)", message, re.DOTALL)
        if level == "LOG" and executed:
            statements.setdefault(pid, []).append(_clean(executed[1]))
            last_was_execute[pid] = message.startswith("execute")
        elif level == "STATEMENT" and refused.get(pid):
            # A statement the server refused before running it (a window function in
            # WHERE, say) is never logged as run: its error names it instead.
            statement = _clean(message)
            last = statements.get(pid, [""])[-1].split("\n[parameters: ")[0]
            if last != statement:
                statements.setdefault(pid, []).append(statement + REFUSED)
            last_was_execute[pid] = False
        elif level == "DETAIL" and last_was_execute.get(pid) and message.startswith("parameters: "):
            statements[pid][-1] += "\n[parameters: " + message.removeprefix("parameters: ") + "]"
            last_was_execute[pid] = False
        else:
            last_was_execute[pid] = False
        # What the server adds to an error (DETAIL, HINT...) comes before its STATEMENT.
        refused[pid] = level == "ERROR" or (refused.get(pid, False) and level != "LOG")
    return statements


#: After a statement of the log that the server refused before binding its parameters.
REFUSED = "\n[refused before it ran: no parameters logged]"


def _without_parameters(captured: str, logged: list[str]) -> str:
    """``captured`` as the log shows it: without parameters if the server refused it."""
    statement = captured.split("\n[parameters: ")[0]
    return statement + REFUSED if statement + REFUSED in logged else captured


def _captured_statements(record: Path) -> dict[int, list[str]]:
    statements: dict[int, list[str]] = {}
    if not record.exists():
        return statements
    for line in record.read_text().splitlines():
        entry = json.loads(line)
        if entry["database"] != "postgresql":
            continue
        shown = _clean(entry["statement"])
        if entry["parameters"] is not None:
            shown += f"\n[parameters: {entry['parameters']}]"
        statements.setdefault(entry["pid"], []).append(shown)
    return statements


def _clean(statement: str) -> str:
    return "\n".join(line.rstrip() for line in statement.strip().splitlines())
