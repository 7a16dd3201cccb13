"""Every environment the suite cannot run in ends in one sentence.

The sentence names the variable, says what is wrong with it and how to put it
right, with no traceback, whether the suite runs as plain ``pytest`` or as
``nox -s test`` does it (with xdist workers). A password in a URL is never shown.
"""

from __future__ import annotations

import pytest
from harness.databases import MARIADB, POSTGRESQL, configured_url
from harness.pytest_plugin import RUN
from sqlalchemy import make_url

pytest_plugins = ["pytester"]

PAGE = """\
# A page

```python
>>> 40 + 2
42
```
"""

#: (backend, URL, what the sentence must contain), on fixture pages. A URL given
#: as changes to make is the configured URL so changed: that case needs the server.
CASES = {
    "postgresql-port-not-a-number": (
        POSTGRESQL,
        "postgresql+psycopg://postgres:secret@127.0.0.1:notaport/test",
        "PostgreSQL: the port in TUTORIAL_POSTGRESQL_URL=postgresql+psycopg://postgres:***@"
        "127.0.0.1:notaport/test is 'notaport', not a number; write it in digits",
    ),
    "mariadb-port-not-a-number": (
        MARIADB,
        "mysql+pymysql://root@127.0.0.1:notaport/test",
        "MariaDB: the port in TUTORIAL_MARIADB_URL=mysql+pymysql://root@127.0.0.1:notaport/test "
        "is 'notaport', not a number",
    ),
    "postgres-scheme": (
        POSTGRESQL,
        "postgres://postgres@127.0.0.1:5432/test",
        "PostgreSQL: TUTORIAL_POSTGRESQL_URL=postgres://postgres@127.0.0.1:5432/test starts "
        "with postgres://, a spelling SQLAlchemy does not accept; write postgresql+psycopg://",
    ),
    "postgresql-unknown-driver": (
        POSTGRESQL,
        "postgresql+nosuchdriver://postgres@127.0.0.1:5432/test",
        "names the driver 'nosuchdriver', which SQLAlchemy does not know for PostgreSQL; "
        "write postgresql+psycopg://",
    ),
    "mariadb-unknown-driver": (
        MARIADB,
        "mysql+nosuchdriver://root@127.0.0.1:3306/test",
        "names the driver 'nosuchdriver', which SQLAlchemy does not know for MariaDB; "
        "write mysql+pymysql://",
    ),
    "mariadb-mysqldb": (
        MARIADB,
        "mysql+mysqldb://root@127.0.0.1:3306/test",
        "this project installs pymysql (uv sync --group mariadb), so set TUTORIAL_MARIADB_URL "
        "to a mysql+pymysql:// URL, or install the package that provides the module 'MySQLdb'",
    ),
    "mariadb-access-denied": (
        MARIADB,
        {"password": "not-the-password"},
        "the server is running but refused the user 'root': correct the user name or "
        "password in TUTORIAL_MARIADB_URL.",
    ),
    "postgresql-unknown-role": (
        POSTGRESQL,
        {"username": "no_such_role"},
        "the server is running but refused the user 'no_such_role': correct the user name or "
        "password in TUTORIAL_POSTGRESQL_URL.",
    ),
}

#: The arguments `nox -s test` adds to pytest's.
AS_NOX = ["--numprocesses=2", "--dist=loadfile"]


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeini("[pytest]\ntestpaths = docs\n")
    (pytester.path / "docs").mkdir()
    (pytester.path / "docs" / "page.md").write_text(PAGE)
    return pytester


def run(project: pytest.Pytester, how: str, *args: str) -> pytest.RunResult:
    if how == "nox":
        return project.runpytest_subprocess(*args, *AS_NOX, "-p", "no:cacheprovider")
    return project.runpytest_inprocess(*args, "-p", "no:cacheprovider")


@pytest.mark.parametrize("how", ["pytest", "nox"])
@pytest.mark.parametrize(
    "case",
    [
        # A case that changes the configured URL needs that database's server.
        pytest.param(case, marks=pytest.mark.on_database(backend.name))
        if isinstance(url, dict)
        else case
        for case, (backend, url, _) in CASES.items()
    ],
)
def test_a_bad_url_is_one_sentence(project, monkeypatch, request, case, how):
    backend, url, expected = CASES[case]
    if isinstance(url, dict):
        if backend not in [b for b, _ in request.config.stash[RUN].backends]:
            pytest.skip(f"{backend.title} is not among the databases of this run")
        url = make_url(configured_url(backend)).set(**url).render_as_string(hide_password=False)
    monkeypatch.setenv(backend.variable, url)
    result = run(project, how, f"--backend={backend.name}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR, result.stdout.str()
    error = result.stderr.str().strip()
    assert "Traceback" not in error and len(error.splitlines()) == 1, error
    assert len(result.stdout.lines) <= 1, result.stdout.str()
    assert error.startswith("ERROR: ") and error.endswith("."), error
    assert expected in error
    assert backend.variable in error
    assert "secret" not in error and "not-the-password" not in error


@pytest.mark.parametrize("how", ["pytest", "nox"])
def test_asking_for_a_database_whose_url_is_unset_is_one_sentence(project, monkeypatch, how):
    monkeypatch.delenv("TUTORIAL_POSTGRESQL_URL", raising=False)
    result = run(project, how, "--backend=postgresql", "docs/page.md")
    assert result.ret == pytest.ExitCode.USAGE_ERROR, result.stdout.str()
    assert len(result.stdout.lines) <= 1, result.stdout.str()
    assert result.stderr.str().strip() == (
        "ERROR: --backend=postgresql asks for PostgreSQL, which is not configured: set "
        "TUTORIAL_POSTGRESQL_URL, e.g. "
        "TUTORIAL_POSTGRESQL_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test."
    )


def test_a_time_zone_that_does_not_exist_is_one_sentence(project, monkeypatch, backend):
    if backend.variable is None:
        pytest.skip("SQLite has no session time zone")
    monkeypatch.setenv("TUTORIAL_DATABASE_TIME_ZONE", "Mars/Olympus_Mons")
    result = run(project, "pytest", f"--backend={backend.name}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert result.stderr.str().strip() == (
        "ERROR: TUTORIAL_DATABASE_TIME_ZONE=Mars/Olympus_Mons is not a time zone name; "
        "use an IANA name such as Asia/Kathmandu, or unset it."
    )
