"""Each worked example run from the command line, as a reader runs it, on every database;
and what each says, in one sentence, when the URL it is given cannot be used."""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

from examples.command_line import BadDatabaseURL, engine_from_url

ROOT = Path(__file__).resolve().parents[1]

#: What each program prints, the same on every database.
PRINTED = {
    "accounts": """\
Signing up 'ADA@acme.test ' is refused: an account with the email ada@acme.test already exists
Signing up 'ada.example.test' is refused: 'ada.example.test' is not an email address
Signing up 'cy@example.test' is refused: a password needs at least 10 characters
Committed: ['ada@acme.test', 'bob@acme.test']
Log in as ada@acme.test with 'correct horse battery': Ada
Log in as ada@acme.test with 'wrong horse battery': None
Log in as nobody@acme.test with 'correct horse battery': None
Changing a password with the wrong one is refused: the current password is not right
After the change, the new password logs in Ada
Acme: Ada, Bob
The listing took 2 statements
""",
    "notes": """\
Added the category 'tech'
Added the category 'home'
Adding 'tech ' is refused: there is already a category named 'tech'
Filing 'Quarterly plan' is refused: there is no category named 'work'
Searching for '50%' finds ['50% off the ORM book']
Searching for 'COOL' finds ['SQLAlchemy is cool']
Searching for '_' finds []
Searching for "' OR '1'='1" finds []
home: ['Groceries']
tech: ['SQLAlchemy is cool', '50% off the ORM book']
The listing took 2 statements
""",
    "blog": """\
A comment by Eve is refused: a comment needs some text
A comment by Mallory is refused: there is no article with id 404
Page 1 of 3
  2030-05-09 What we learned [news] 0 comments
  2030-05-07 Loading without N+1 [performance, sqlalchemy] 0 comments
Page 2 of 3
  2030-05-03 Sessions explained [orm, sqlalchemy] 0 comments
  2030-05-03 Mapping classes [orm, sqlalchemy] 2 comments
Page 3 of 3
  2030-05-01 Hello, blog [news] 0 comments
Page 1 of 2, tagged SQLAlchemy
  2030-05-07 Loading without N+1 [performance, sqlalchemy] 0 comments
  2030-05-03 Sessions explained [orm, sqlalchemy] 0 comments
Four pages took 12 statements
Asking for page 0 is refused: page 0 does not exist; pages start at 1
Mapping classes: [('Grace', 'Clear, thanks'), ('Alan', 'More please')]
""",
    "accounts_api": """\
POST /users -> 201 {'id': 1, 'email': 'ada@acme.test', 'display_name': 'Ada'}
POST /users -> 409 {'detail': 'an account with the email ada@acme.test already exists'}
POST /users -> 422 {'detail': 'a password needs at least 10 characters'}
POST /users -> 422 [('body display_name', 'Field required'), ('body password', 'Field required')]
GET /users/1 -> 200 {'id': 1, 'email': 'ada@acme.test', 'display_name': 'Ada'}
GET /users/99 -> 404 {'detail': 'there is no user with id 99'}
PATCH /users/1 -> 200 {'id': 1, 'email': 'ada@acme.test', 'display_name': 'Ada Lovelace'}
PATCH /users/1 -> 422 [('body display_name', 'Value error, may be left out, but not null')]
PATCH /users/99 -> 404 {'detail': 'there is no user with id 99'}
POST /login -> 200 {'id': 1, 'email': 'ada@acme.test', 'display_name': 'Ada Lovelace'}
POST /login -> 401 {'detail': 'wrong email or password'}
POST /login -> 401 {'detail': 'wrong email or password'}
PUT /users/1/password -> 403 {'detail': 'the current password is not right'}
""",
}


def run(program: str, *arguments: str, url: str | None = None) -> subprocess.CompletedProcess:
    """``python -m examples.<program> ARGUMENTS`` from the project's folder, DATABASE_URL=url."""
    environment = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    if url is not None:
        environment["DATABASE_URL"] = url
    return subprocess.run(
        [sys.executable, "-m", f"examples.{program}", *arguments],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.parametrize("program", list(PRINTED))
def test_each_program_runs_from_the_command_line(program, database_url, backend):
    result = run(program, database_url)
    assert (result.returncode, result.stderr) == (0, ""), f"[{backend.name}] {result.stderr}"
    assert result.stdout == PRINTED[program], f"[{backend.name}] {result.stdout}"


def test_the_url_may_come_from_database_url(database_url):
    result = run("notes", url=database_url)
    assert (result.returncode, result.stdout) == (0, PRINTED["notes"]), result.stderr


BAD_URLS = [
    (
        "no URL at all",
        [],
        "no database URL was given: pass one, such as sqlite:///notes.db, as the argument "
        "or in DATABASE_URL.",
    ),
    (
        "not a URL",
        ["::not a url::"],
        "the database URL could not be read; a URL looks like sqlite:///file.db or "
        "postgresql+psycopg://user@localhost/name.",
    ),
    (
        "an unknown database",
        ["oracel://scott@localhost/notes"],
        "oracel://scott@localhost/notes names a database or driver that SQLAlchemy does not "
        "know (oracel); use sqlite, postgresql+psycopg or mysql+pymysql.",
    ),
    (
        "a driver that is not installed",
        ["mysql+mysqldb://root@localhost/notes"],
        "the driver that mysql+mysqldb://root@localhost/notes needs is not installed (no module "
        "named MySQLdb); install it with pip and run the program again.",
    ),
    (
        "a server that does not answer",
        ["postgresql+psycopg://ada:s3cret@127.0.0.1:9/notes"],
        "could not connect to postgresql+psycopg://ada:***@127.0.0.1:9/notes: connection failed:",
    ),
    (
        "a folder that does not exist",
        ["sqlite:///no/such/folder/notes.db"],
        "could not connect to sqlite:///no/such/folder/notes.db: unable to open database file.",
    ),
]


# Runs where PostgreSQL's driver is installed too (test(postgresql) has it, test(sqlite) not).
@pytest.mark.on_database("postgresql")
def test_a_bad_url_stops_the_program_with_one_sentence():
    problems = []
    for case, arguments, said in BAD_URLS:
        if any("+psycopg" in a for a in arguments) and not importlib.util.find_spec("psycopg"):
            continue  # a server that does not answer needs the driver to try it
        result = run("notes", *arguments)
        one_sentence = (
            result.returncode == 2
            and result.stdout == ""
            and result.stderr.count("\n") == 1  # one line, no traceback
            and result.stderr.startswith(f"python -m examples.notes: {said}")
            and "s3cret" not in result.stderr
        )
        if not one_sentence:
            problems.append(f"{case}: exit status {result.returncode}, said\n{result.stderr}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("program", ["accounts", "blog", "accounts_api"])
def test_every_program_says_the_same_of_a_bad_url(program):
    result = run(program, "oracel://scott@localhost/x")
    assert result.returncode == 2
    assert result.stderr == (
        f"python -m examples.{program}: oracel://scott@localhost/x names a database or driver "
        "that SQLAlchemy does not know (oracel); use sqlite, postgresql+psycopg or mysql+pymysql.\n"
    )


def test_a_good_url_gives_an_engine_that_has_connected(database_url):
    engine = engine_from_url(database_url)
    try:
        assert engine.pool.checkedin() == 1
    finally:
        engine.dispose()


def test_the_password_of_a_url_is_never_shown():
    with pytest.raises(BadDatabaseURL) as refused:
        engine_from_url("mysql+pymysql://root:hunter22@127.0.0.1:9/x")
    assert "hunter22" not in str(refused.value)
    assert "root:***@" in str(refused.value)


def test_on_sqlite_the_engine_lets_a_rollback_undo_a_first_savepoint(tmp_path):
    """A transaction that starts with a savepoint is the programs' own, rolled back whole."""
    from sqlalchemy import text

    engine = engine_from_url(f"sqlite:///{tmp_path / 'savepoints.db'}")
    try:
        with engine.connect() as connection:
            connection.execute(text("CREATE TABLE kept (n INTEGER)"))
            connection.commit()
            with connection.begin():
                with connection.begin_nested():
                    connection.execute(text("INSERT INTO kept VALUES (1)"))
                connection.rollback()
            assert connection.execute(text("SELECT count(*) FROM kept")).scalar() == 0
    finally:
        engine.dispose()
