"""The harness itself, on small fixture pages: every check must be able to fail.

Each test writes a tiny project (a page, perhaps a snapshot or an example) into
a temporary folder and runs pytest on it in a separate process, on each
selected database, then reads what the run reported.
"""

from __future__ import annotations

import re
import textwrap
from contextlib import contextmanager
from pathlib import Path

import pytest
from harness import snapshots
from harness.databases import BY_NAME, SQLITE, configured_url, leftovers
from harness.pages import python_blocks
from harness.render_sql_tabs import with_recordings
from sqlalchemy import make_url

pytest_plugins = ["pytester"]

FIRST_BLOCK = """\
```python
import os

from sqlalchemy import create_engine, text

engine = create_engine(os.environ.get("DATABASE_URL", "sqlite:///tutorial.db"))
```
"""

QUERY_BLOCK = """\
```python
>>> with engine.connect() as connection:
...     connection.execute(text("SELECT 40 + :n"), {"n": 2}).scalar()
42
```
"""


def page(*parts: str) -> str:
    return "# A page\n\nSome prose.\n\n" + "\n".join(parts)


@pytest.fixture
def project(pytester: pytest.Pytester):
    """A folder laid out like this project: docs/, tests/snapshots/, examples/."""
    pytester.makeini("[pytest]\ntestpaths = docs\n")
    (pytester.path / "docs").mkdir()
    return pytester


def write_page(project: pytest.Pytester, text: str, name: str = "page.md") -> None:
    (project.path / "docs" / name).write_text(text)


def run(project: pytest.Pytester, backend, *args: str) -> pytest.RunResult:
    """Run pytest on the fixture project, in this process: quick."""
    return project.runpytest_inprocess(f"--backend={backend.name}", "-p", "no:cacheprovider", *args)


def run_apart(project: pytest.Pytester, backend, *args: str) -> pytest.RunResult:
    """Run pytest on the fixture project in a process of its own, for runs that are
    interrupted by a timeout or a lost connection and must not disturb this one."""
    return project.runpytest_subprocess(
        f"--backend={backend.name}", "-p", "no:cacheprovider", *args
    )


def record(project: pytest.Pytester, backend) -> None:
    result = run(project, backend, "--update-snapshots")
    assert result.ret == 0, result.stdout.str()


@pytest.fixture
def namespaces(monkeypatch) -> list[str]:
    """The namespaces the runs of a test create (an SQLite file's path, or a schema or
    database name), noted as the page runner receives them."""
    import harness.run_page

    created = []
    original = harness.run_page.isolated_database

    @contextmanager
    def noting(*args, **kwargs):
        with original(*args, **kwargs) as database:
            created.append(database.name)
            yield database

    monkeypatch.setattr(harness.run_page, "isolated_database", noting)
    return created


def still_there(backend, namespace: str) -> bool:
    """Whether a namespace survives: SQLite's file (or its folder), or a server's schema."""
    if backend is SQLITE:
        return Path(namespace).exists() or Path(namespace).parent.exists()
    return namespace in leftovers(backend, configured_url(backend))


def test_a_correct_page_passes_and_leaves_nothing_behind(project, backend, namespaces):
    write_page(project, page(FIRST_BLOCK, QUERY_BLOCK))
    record(project, backend)
    assert len(namespaces) == 1
    result = run(project, backend)
    result.assert_outcomes(passed=3)
    assert len(namespaces) == 2  # the page ran in a namespace of its own each time
    assert not [name for name in namespaces if still_there(backend, name)]


def test_wrong_expected_output_fails_naming_page_and_line(project, backend):
    write_page(project, page(FIRST_BLOCK, QUERY_BLOCK.replace("42", "43")))
    result = run(project, backend)
    assert result.ret == 1
    output = result.stdout.str()
    assert 'File "docs/page.md", line 14' in output
    assert f"[{backend.name}] what the block printed differs from the page" in output
    assert "Expected:\n    43\nGot:\n    42" in output


def test_changed_sql_snapshot_fails_with_a_diff(project, backend):
    write_page(project, page(FIRST_BLOCK, QUERY_BLOCK))
    record(project, backend)
    snapshot = project.path / "tests" / "snapshots" / "page.yml"
    snapshot.write_text(snapshot.read_text().replace("SELECT 40 +", "SELECT 41 +"))
    result = run(project, backend)
    assert result.ret == 1
    output = result.stdout.str()
    assert f"docs/page.md, line 13 [{backend.name}]: the SQL sent differs" in output
    assert "-SELECT 41 +" in output and "+SELECT 40 +" in output


def test_block_without_snapshot_fails(project, backend):
    write_page(project, page(FIRST_BLOCK))
    record(project, backend)
    write_page(project, page(FIRST_BLOCK, QUERY_BLOCK))
    result = run(project, backend)
    assert result.ret == 1
    assert (
        f"docs/page.md, line 13 [{backend.name}]: tests/snapshots/page.yml has no recording "
        f"of this block on {backend.title}"
    ) in result.stdout.str()


def test_a_version_that_never_recorded_a_block_fails_naming_it(project, backend):
    """A server of a listed version must have recorded each block itself: the site
    says which versions sent the SQL it shows, and none stands in for another."""
    if not backend.versions:
        pytest.skip(f"{backend.title} is verified on one version, the one the run has")
    write_page(project, page(FIRST_BLOCK, QUERY_BLOCK))
    record(project, backend)
    snapshot = project.path / "tests" / "snapshots" / "page.yml"
    entry = snapshots.load(snapshot)[python_blocks(page(FIRST_BLOCK, QUERY_BLOCK))[1].key]
    [version] = entry["versions"][backend.name]
    other = next(v for v in backend.versions if v != version)
    snapshot.write_text(
        snapshot.read_text().replace(
            f"{backend.name}: ['{version}']", f"{backend.name}: ['{other}']"
        )
    )
    result = run(project, backend)
    assert result.ret == 1
    assert (
        f"docs/page.md, line 13 [{backend.name}]: tests/snapshots/page.yml has no recording "
        f"of this block on {backend.title} {version};"
    ) in result.stdout.str()


def test_each_version_keeps_what_it_did_and_shares_what_is_the_same(tmp_path):
    text = page(FIRST_BLOCK, QUERY_BLOCK)
    blocks = python_blocks(text)
    path = tmp_path / "page.yml"

    def recorded(version: str, sql: str) -> dict:
        done = {block.key: snapshots.Recording(sql) for block in blocks}
        snapshots.update(path, "docs/page.md", blocks, "postgresql", done, version)
        return snapshots.load(path)[blocks[1].key]

    recorded("15", "SELECT 1")
    entry = recorded("17", "SELECT 1")
    assert entry["postgresql"] == "SELECT 1"
    assert entry["versions"] == {"postgresql": ["15", "17"]}
    assert "versions: {postgresql: ['15', '17']}" in path.read_text()  # one line per entry
    # 17 sends something else: it keeps a recording of its own.
    entry = recorded("17", "SELECT 2")
    assert (entry["postgresql"], entry["postgresql 17"]) == ("SELECT 1", "SELECT 2")
    assert entry["versions"] == {"postgresql": ["15"]}
    assert snapshots.recording(entry, "postgresql", "17") == snapshots.Recording("SELECT 2")
    assert snapshots.recording(entry, "postgresql", "15") == snapshots.Recording("SELECT 1")
    # 15 now does the same as 17: one shared recording again.
    entry = recorded("15", "SELECT 2")
    assert entry["postgresql"] == "SELECT 2" and "postgresql 17" not in entry
    assert entry["versions"] == {"postgresql": ["15", "17"]}
    # 15 changes alone: 17 keeps what it was recorded doing, not 15's new SQL.
    entry = recorded("15", "SELECT 3")
    assert (entry["postgresql"], entry["postgresql 15"]) == ("SELECT 2", "SELECT 3")
    assert entry["versions"] == {"postgresql": ["17"]}
    assert snapshots.recording(entry, "postgresql", "17") == snapshots.Recording("SELECT 2")
    assert snapshots.recording(entry, "postgresql", "15") == snapshots.Recording("SELECT 3")
    # A version that never ran the block has no recording of it.
    assert snapshots.recording(entry, "mariadb", "11.8") is None


def test_stale_snapshot_fails_until_regenerated(project, backend):
    write_page(project, page(FIRST_BLOCK, QUERY_BLOCK))
    record(project, backend)
    write_page(project, page(FIRST_BLOCK, QUERY_BLOCK.replace("40 + :n", "39 + :n + 1")))
    result = run(project, backend)
    assert result.ret == 1
    output = result.stdout.str()
    assert re.search(
        r"tests/snapshots/page\.yml, line \d+: the snapshot of a block that is no longer", output
    )
    record(project, backend)
    run(project, backend).assert_outcomes(passed=3)


def test_broken_link_and_anchor_fail_naming_page_and_line(project):
    backend = SQLITE  # a check of the page's text: one database is enough
    write_page(project, "# Other\n\n## Real heading\n", "other.md")
    write_page(
        project,
        page(
            "See [the other page](other.md#real-heading).\n",
            "See [a missing page](missing.md).\n",
            "See [a missing anchor](other.md#no-such-heading).\n",
        ),
    )
    result = run(project, backend)
    output = result.stdout.str()
    assert result.ret == 1
    assert "docs/page.md, line 7: the link to missing.md points at no file" in output
    assert "docs/page.md, line 9: the link to other.md#no-such-heading names an anchor" in output
    assert "line 5" not in output


def test_missing_snippet_include_fails_naming_page_and_line(project):
    backend = SQLITE  # a check of the page's text: one database is enough
    (project.path / "examples").mkdir()
    (project.path / "examples" / "shop.py").write_text(
        "# --8<-- [start:answer]\nanswer = 42\n# --8<-- [end:answer]\n"
    )
    good = '```python\n--8<-- "examples/shop.py:answer"\n```\n\n```python\n>>> answer\n42\n```\n'
    write_page(project, page(good))
    record(project, backend)
    run(project, backend).assert_outcomes(passed=3)
    write_page(project, page(good.replace(":answer", ":question")))
    result = run(project, backend)
    assert result.ret == 1
    assert "docs/page.md, line 6: examples/shop.py has no section named 'question'" in (
        result.stdout.str()
    )


def test_python_block_in_a_misspelt_language_fails(project):
    backend = SQLITE  # a check of the page's text: one database is enough
    write_page(project, page(FIRST_BLOCK, "```pyhton\nprint('never run')\n```\n"))
    result = run(project, backend)
    assert result.ret == 1
    assert "docs/page.md, line 13: a block in language 'pyhton' is neither run" in (
        result.stdout.str()
    )


def test_skip_needs_a_reason(project):
    backend = SQLITE  # a check of the page's text: one database is enough
    skipped = "<!-- skip: next -->\n\n```python\nraise SystemExit\n```\n"
    write_page(project, page(FIRST_BLOCK, skipped))
    result = run(project, backend)
    assert result.ret == 1
    assert "docs/page.md, line 13: a skip needs a reason" in result.stdout.str()
    for blank in ('next ""', "next '   '"):
        write_page(project, page(FIRST_BLOCK, skipped.replace("next", blank)))
        assert "docs/page.md, line 13: a skip needs a reason" in run(project, backend).stdout.str()
    write_page(project, page(FIRST_BLOCK, skipped.replace("next", 'next "exits"')))
    record(project, backend)
    run(project, backend).assert_outcomes(passed=2, skipped=1)


@pytest.mark.parametrize(
    ("comment", "message"),
    [
        ("<!-- skip: start -->", "`skip: start` is not supported here"),
        (
            '<!-- skip: next if(True, reason="somewhere") -->',
            "a conditional skip hides from readers where a block runs",
        ),
    ],
)
def test_skips_other_than_next_with_a_reason_fail_at_their_line(project, comment, message):
    backend = SQLITE  # a check of the page's text: one database is enough
    write_page(project, page(FIRST_BLOCK, f"{comment}\n\n```python\nraise SystemExit\n```\n"))
    result = run(project, backend)
    assert result.ret == 1
    assert f"docs/page.md, line 13: {message}" in result.stdout.str()


def test_a_python_block_hidden_in_a_comment_fails(project):
    backend = SQLITE  # a check of the page's text: one database is enough
    hidden = "<!--\n```python\nsecret = 1\n```\n-->\n"
    write_page(project, page(FIRST_BLOCK, hidden))
    result = run(project, backend)
    assert result.ret == 1
    assert "docs/page.md, line 14: this python block is inside an HTML comment" in (
        result.stdout.str()
    )


TABBED_BLOCKS = """=== "PostgreSQL"

    ```python
    >>> engine.dialect.name
    'postgresql'
    ```

=== "SQLite and MariaDB"

    ```python
    >>> engine.dialect.name in ("sqlite", "mysql", "mariadb")
    True
    ```
"""


def test_a_block_under_a_database_tab_runs_on_that_database_only(project, backend):
    write_page(project, page(FIRST_BLOCK, TABBED_BLOCKS))
    record(project, backend)
    result = run(project, backend, "-rs")
    result.assert_outcomes(passed=3, skipped=1)
    shown = "PostgreSQL" if backend.name != "postgresql" else "SQLite and MariaDB"
    assert f'under the tab "{shown}"' in result.stdout.str()


PRINTING_BLOCK = """```python
with engine.connect() as connection:
    print("the database says", connection.execute(text("SELECT 6 * 7")).scalar())
```
"""


def test_what_a_plain_block_prints_is_recorded_and_checked(project, backend):
    write_page(project, page(FIRST_BLOCK, PRINTING_BLOCK))
    record(project, backend)
    snapshot = project.path / "tests" / "snapshots" / "page.yml"
    assert "the database says 42" in snapshot.read_text()
    run(project, backend).assert_outcomes(passed=3)
    snapshot.write_text(snapshot.read_text().replace("says 42", "says 41"))
    result = run(project, backend)
    assert result.ret == 1
    output = result.stdout.str()
    assert f"docs/page.md, line 13 [{backend.name}]: what the block printed differs" in output
    assert "-the database says 41" in output and "+the database says 42" in output


def test_showing_a_set_fails_because_its_order_is_chance(project):
    backend = SQLITE  # a check of the page's text: one database is enough
    write_page(project, page(FIRST_BLOCK, "```python\n>>> {'b', 'a'}\n{'a', 'b'}\n```\n"))
    result = run(project, backend)
    assert result.ret == 1
    assert "docs/page.md, line 13: a set is shown, and its order changes" in result.stdout.str()


def test_deleting_a_last_block_that_sends_nothing_is_caught(project):
    backend = SQLITE  # a check of the page's text: one database is enough
    write_page(project, page(FIRST_BLOCK, "```python\nanswer = 42\n```\n"))
    record(project, backend)
    write_page(project, page(FIRST_BLOCK))
    result = run(project, backend)
    assert result.ret == 1
    assert "the snapshot of a block that is no longer on docs/page.md" in result.stdout.str()


def test_a_page_sees_no_names_it_did_not_define(project):
    backend = SQLITE  # a check of the page's text: one database is enough
    write_page(
        project,
        page("```python\n>>> sorted(n for n in dir() if not n.startswith('__'))\n[]\n```\n"),
    )
    record(project, backend)
    run(project, backend).assert_outcomes(passed=2)


def unreachable(backend) -> str:
    """The backend's example URL, on a port where nothing listens."""
    url = make_url(backend.example_url).set(username="nobody", host="127.0.0.1", port=1)
    return url.render_as_string(hide_password=False)


def wrong_credentials(backend) -> str:
    """The configured URL with a user the server does not know, and a password."""
    url = make_url(configured_url(backend))
    url = url.set(username="no_such_role", password="not-the-password")
    return url.render_as_string(hide_password=False)


NO_DRIVER = {  # drivers this project never installs
    "postgresql": "postgresql+pg8000://postgres@127.0.0.1/test",
    "mariadb": "mysql+mysqldb://root@127.0.0.1/test",
}


def one_sentence(result: pytest.RunResult) -> str:
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    error = result.stderr.str().strip()
    assert "Traceback" not in error and len(error.splitlines()) == 1, error
    return error


def test_unreachable_database_stops_the_run_with_one_sentence(project, backend, monkeypatch):
    if backend is SQLITE:
        pytest.skip("SQLite needs no server")
    monkeypatch.setenv(backend.variable, unreachable(backend))
    write_page(project, page(FIRST_BLOCK))
    error = one_sentence(run(project, backend))
    assert error.startswith(f"ERROR: {backend.title}: cannot connect with {backend.variable}=")
    assert error.endswith("start the server or correct the URL.")


def test_wrong_credentials_are_one_sentence(project, backend, monkeypatch):
    if backend is SQLITE:
        pytest.skip("SQLite has no credentials")
    monkeypatch.setenv(backend.variable, wrong_credentials(backend))
    error = one_sentence(run(project, backend))
    assert error.startswith(f"ERROR: {backend.title}: cannot connect with {backend.variable}=")
    assert "not-the-password" not in error  # the password is never shown


def test_missing_driver_and_bad_url_are_one_sentence(project, backend, monkeypatch):
    if backend.name not in NO_DRIVER:
        pytest.skip(f"no driver that this project never installs is listed for {backend.title}")
    monkeypatch.setenv(backend.variable, NO_DRIVER[backend.name])
    error = one_sentence(run(project, backend))
    assert f"{backend.title}: the driver for {NO_DRIVER[backend.name]} is not installed" in error
    monkeypatch.setenv(backend.variable, "not a url")
    assert "is not a database URL" in one_sentence(run(project, backend))


def test_unconfigured_database_is_skipped_with_one_line(project, monkeypatch):
    monkeypatch.delenv("TUTORIAL_MARIADB_URL", raising=False)
    monkeypatch.delenv("TUTORIAL_POSTGRESQL_URL", raising=False)  # its driver may be missing
    write_page(project, page("No blocks here.\n"))
    result = project.runpytest_inprocess("-p", "no:cacheprovider")
    result.stdout.fnmatch_lines(
        ["mariadb: skipped, not configured; to include it, set TUTORIAL_MARIADB_URL=*"]
    )


def test_asking_for_an_unconfigured_database_is_one_sentence(project, monkeypatch):
    monkeypatch.delenv("TUTORIAL_MARIADB_URL", raising=False)
    write_page(project, page(FIRST_BLOCK))
    error = one_sentence(run(project, BY_NAME["mariadb"], "docs/page.md"))
    assert error == (
        "ERROR: --backend=mariadb asks for MariaDB, which is not configured: set "
        "TUTORIAL_MARIADB_URL, e.g. TUTORIAL_MARIADB_URL=mysql+pymysql://root@127.0.0.1:3306/test."
    )


def test_keys_do_not_churn_when_another_block_changes():
    before = python_blocks(page(FIRST_BLOCK, QUERY_BLOCK, "```python\nx = 1\n```\n"))
    after = python_blocks(page(FIRST_BLOCK, QUERY_BLOCK, "```python\nx = 2\n```\n"))
    assert [b.key for b in before[:2]] == [b.key for b in after[:2]]
    assert before[2].key != after[2].key


def test_identical_blocks_get_distinct_keys():
    blocks = python_blocks(page(FIRST_BLOCK, "```python\nx = 1\n```\n", "```python\nx = 1\n```\n"))
    assert len({b.key for b in blocks}) == 3


def test_site_shows_snapshot_sql_in_tabs_under_the_block(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    text = page(FIRST_BLOCK, '=== "Tab"\n\n' + textwrap.indent(QUERY_BLOCK, "    "))
    (docs / "page.md").write_text(text)
    key = python_blocks(text)[1].key
    snapshots.save(
        snapshots.snapshot_path(docs / "page.md", docs, tmp_path),
        "docs/page.md",
        {
            python_blocks(text)[0].key: {
                "block": "x",
                "sqlite": "",
                "postgresql": "",
                "mariadb": "",
            },
            key: {"block": "x", "sqlite": "SELECT 1", "postgresql": "SELECT 2", "mariadb": ""},
        },
    )

    html_source = with_recordings(text, docs / "page.md", docs, tmp_path)
    assert "    ```pycon\n    >>> with engine" in html_source
    box = '<details class="sql-box" data-search-exclude="sql"><summary>SQL sent by this block'
    assert "\n    " + box in html_source
    assert '<label for="sql-' + key + '-1">PostgreSQL</label>' in html_source
    assert '<pre class="sql-tab-panel">SELECT 2</pre>' in html_source
    assert "-- nothing is sent on this database" in html_source  # MariaDB
    assert html_source.count('class="sql-box"') == 1  # the first block sent nothing


def render(tmp_path, text: str, entries: dict) -> str:
    """The page as the site build renders it, with ``entries`` as its snapshot."""
    docs = tmp_path / "docs"
    docs.mkdir(exist_ok=True)
    (docs / "page.md").write_text(text)
    path = snapshots.snapshot_path(docs / "page.md", docs, tmp_path)
    snapshots.save(path, "docs/page.md", entries)
    return with_recordings(text, docs / "page.md", docs, tmp_path)


def test_site_shows_a_tabbed_block_only_on_its_databases_and_refuses_unrecorded_ones(tmp_path):
    text = page(TABBED_BLOCKS)
    postgresql_only, others = python_blocks(text)
    entries = {
        postgresql_only.key: {"block": "x", "postgresql": "SELECT 'pg'"},
        others.key: {"block": "x", "sqlite": "SELECT 'lite'", "mariadb": "SELECT 'maria'"},
    }
    html_source = render(tmp_path, text, entries)
    assert html_source.count("<label for=") == 3  # one tab for PostgreSQL, two for the others
    assert "nothing is sent" not in html_source
    del entries[others.key]["mariadb"]
    with pytest.raises(
        Exception, match=r"docs/page\.md, line 14: no run has recorded this block on MariaDB"
    ):
        render(tmp_path, text, entries)


def test_a_page_rendered_again_in_the_same_process_shows_what_changed(tmp_path):
    """`mkdocs serve` renders a page again in the process that rendered it before: what the
    build reads once is kept for the text it was read from, and for nothing else."""
    text = page(FIRST_BLOCK, QUERY_BLOCK)
    first, query = python_blocks(text)
    entries = {
        first.key: {"block": "x", "sqlite": "", "postgresql": "", "mariadb": ""},
        query.key: {"block": "x", "sqlite": "SELECT 1", "postgresql": "SELECT 1", "mariadb": ""},
    }
    covered = {"docs/page.md": ["sqlite"]}
    snapshots.record_verified_run(tmp_path, covered, {"sqlite": "3.45.0"}, "3.11.7", "2.1.0")
    before = render(tmp_path, text, entries)
    entries[query.key]["mariadb"] = "SELECT 2"
    snapshots.record_verified_run(tmp_path, covered, {"sqlite": "3.46.1"}, "3.11.7", "2.1.0")
    after = render(tmp_path, text, entries)
    assert "with SQLite 3.45.0 (SQLAlchemy 2.1.0" in before and "SELECT 2" not in before
    assert "with SQLite 3.46.1 (SQLAlchemy 2.1.0" in after and "3.45.0" not in after
    assert "SELECT 2" in after


def test_site_shows_each_databases_output_in_tabs_when_they_differ(tmp_path):
    text = page(FIRST_BLOCK, PRINTING_BLOCK)
    first, printing = python_blocks(text)
    quiet = {"block": "x", "sqlite": "", "postgresql": "", "mariadb": ""}
    same = {"sqlite": "42\n", "postgresql": "42\n", "mariadb": "42\n"}
    entries = {first.key: quiet, printing.key: {**quiet, "output": same}}
    html_source = render(tmp_path, text, entries)
    assert '<div class="block-output"><span>Output</span><pre>42&#10;</pre></div>' in html_source
    entries[printing.key]["output"] = {**same, "mariadb": "41\n"}
    html_source = render(tmp_path, text, entries)
    assert "Output, on each database" in html_source
    assert '<pre class="sql-tab-panel">41&#10;</pre>' in html_source


def test_site_names_the_versions_each_recording_was_checked_on(tmp_path):
    text = page(FIRST_BLOCK, PRINTING_BLOCK)
    first, printing = python_blocks(text)
    both = {"postgresql": ["15", "17"], "mariadb": ["10.11", "11.8"]}
    quiet = {"block": "x", "sqlite": "", "postgresql": "", "mariadb": "", "versions": both}
    entry = {**quiet, "postgresql": "SELECT 1", "output": {"postgresql": "1\n"}}
    html_source = render(tmp_path, text, {first.key: quiet, printing.key: entry})
    assert ">PostgreSQL 15 and 17</label>" in html_source
    assert ">MariaDB 10.11 and 11.8</label>" in html_source
    # A version that sent something else gets a tab of its own, in both boxes.
    entry = {
        **entry,
        "postgresql 17": "SELECT 2",
        "output": {"postgresql": "1\n", "postgresql 17": "2\n"},
        "versions": {**both, "postgresql": ["15"]},
    }
    html_source = render(tmp_path, text, {first.key: quiet, printing.key: entry})
    assert html_source.count(">PostgreSQL 15</label>") == 2
    assert html_source.count(">PostgreSQL 17</label>") == 2
    assert '<pre class="sql-tab-panel">SELECT 2</pre>' in html_source
    assert '<pre class="sql-tab-panel">2&#10;</pre>' in html_source


LOCKING_PAGE = """\
```python
import os

from sqlalchemy import create_engine, text

engine = create_engine(os.environ["DATABASE_URL"])
with engine.begin() as connection:
    connection.execute(text("CREATE TABLE counters (id INTEGER PRIMARY KEY, n INTEGER)"))
    connection.execute(text("INSERT INTO counters VALUES (1, 0)"))
holder = engine.connect()
holder.execute(text("UPDATE counters SET n = 1 WHERE id = 1"))
```

```python
with engine.begin() as waiter:
    waiter.execute(text("UPDATE counters SET n = 2 WHERE id = 1"))
```

```python
>>> 40 + 2
42
```
"""


def test_a_hanging_block_fails_in_bounded_time_and_the_page_goes_on(project, backend):
    if backend is SQLITE:
        pytest.skip("SQLite gives up on a lock by itself after its busy timeout")
    write_page(project, LOCKING_PAGE, "locks.md")
    # Long enough for the other blocks, page set-up included, on a loaded machine.
    result = run_apart(project, backend, "--update-snapshots", "-o", "timeout=8")
    result.assert_outcomes(passed=3, failed=1)
    output = result.stdout.str()
    assert "Timeout (>8.0s)" in output
    waiting_line = python_blocks(LOCKING_PAGE)[1].line
    assert f"FAILED docs/locks.md::sybil:{backend.name},line:{waiting_line}" in output
    left = leftovers(backend, configured_url(backend))
    assert not [name for name in left if name.startswith("tutorial_locks_")]


KILLED_PAGE = """\
```python
import os

from sqlalchemy import create_engine, text

engine = create_engine(os.environ["DATABASE_URL"])
connection = engine.connect()
```

```python
killer = create_engine(os.environ["DATABASE_URL"])
with killer.connect() as outside:
    if engine.dialect.name == "postgresql":
        pid = connection.execute(text("SELECT pg_backend_pid()")).scalar()
        outside.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    else:
        connection_id = connection.execute(text("SELECT CONNECTION_ID()")).scalar()
        outside.execute(text(f"KILL {int(connection_id)}"))
```

```python
connection.execute(text("SELECT 1"))
```
"""


def test_a_killed_connection_fails_its_page_only(project, backend):
    if backend is SQLITE:
        pytest.skip("an SQLite connection has no server side to kill")
    write_page(project, KILLED_PAGE, "killed.md")
    write_page(project, page(FIRST_BLOCK, QUERY_BLOCK), "healthy.md")
    result = run_apart(project, backend, "--update-snapshots")
    result.assert_outcomes(passed=6, failed=1)
    output = result.stdout.str()
    using_line = python_blocks(KILLED_PAGE)[2].line
    assert f"FAILED docs/killed.md::sybil:{backend.name},line:{using_line}" in output
    assert "sqlalchemy.exc.OperationalError" in output
    left = leftovers(backend, configured_url(backend))
    assert not [name for name in left if name.startswith(("tutorial_killed_", "tutorial_healthy_"))]


SLOW_BLOCK = """\
```python
import pathlib
import time

# Tell the test where this page runs, then take longer than it will wait.
pathlib.Path(os.environ["READY_FILE"]).write_text(os.environ["DATABASE_URL"])
time.sleep(60)
```
"""


def test_an_interrupted_run_leaves_nothing_behind(project, backend, tmp_path_factory):
    import os
    import signal
    import subprocess
    import sys
    import time

    from sqlalchemy import make_url

    write_page(project, page(FIRST_BLOCK, SLOW_BLOCK), "slow.md")
    ready = tmp_path_factory.mktemp("signals") / "ready"
    process = subprocess.Popen(
        [sys.executable, "-m", "pytest", f"--backend={backend.name}", "--update-snapshots"],
        cwd=project.path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "READY_FILE": str(ready)},
        # Ctrl-C must reach it even when this run was started in the background
        # by a shell, which has its children ignore SIGINT.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 60
    while not ready.exists() or not ready.read_text():
        assert process.poll() is None, process.communicate()[0]
        assert time.monotonic() < deadline, "the page never reached its slow block"
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)  # inside the slow block: the page said so
    output, _ = process.communicate(timeout=60)
    assert "KeyboardInterrupt" in output
    url = make_url(ready.read_text())
    if backend is SQLITE:
        namespace = url.database
    elif backend.name == "postgresql":
        namespace = url.query["application_name"]
    else:
        namespace = url.database
    assert namespace and "tutorial_slow_" in namespace, namespace
    assert not still_there(backend, namespace)


def test_leftovers_of_a_dead_run_are_removed_before_the_next(project, backend):
    import subprocess

    if backend is SQLITE:
        pytest.skip("SQLite namespaces are temporary files")
    finished = subprocess.Popen(["true"])
    finished.wait()  # its pid now belongs to no process, like that of an interrupted run
    name = f"tutorial_orphan_{finished.pid}_abcdef"
    with isolated_admin(backend) as connection:
        if backend.name == "postgresql":
            connection.exec_driver_sql(f'CREATE SCHEMA "{name}"')
        else:
            connection.exec_driver_sql(f"CREATE DATABASE `{name}`")
    write_page(project, page(FIRST_BLOCK))
    result = run(project, backend, "--update-snapshots")
    assert result.ret == 0
    assert name not in leftovers(backend, configured_url(backend))


def isolated_admin(backend):
    from sqlalchemy import NullPool, create_engine

    return create_engine(configured_url(backend), poolclass=NullPool).begin()


def test_legacy_idioms_need_a_reason():
    from harness.page_checks import page_problems

    legacy = "```python\nwith Session(engine) as session:\n    session.query(User).all()\n```\n"
    problems = page_problems(page(legacy), "docs/page.md")
    assert problems == [
        "docs/page.md, line 5: session.query() is SQLAlchemy 1.x style; show the 2.x way, "
        'or say why with <!-- legacy: next "reason" --> before the block'
    ]
    marked = '<!-- legacy: next "the old way, for comparison" -->\n\n' + legacy
    assert page_problems(page(marked), "docs/page.md") == []


def test_a_python_fence_the_lexer_misses_is_reported():
    from harness.page_checks import _uncounted_blocks

    text = page(FIRST_BLOCK)
    assert _uncounted_blocks(text, "docs/page.md", python_blocks(text)) == []
    assert _uncounted_blocks(text, "docs/page.md", []) == [
        "docs/page.md, line 5: this python block is not collected "
        "(is its fence indented or nested in a way Markdown does not allow?)"
    ]


def test_a_recording_run_notes_only_the_databases_it_covered(project, backend):
    from harness.render_sql_tabs import render_verified_line

    write_page(project, page(FIRST_BLOCK, QUERY_BLOCK))
    write_page(project, page(FIRST_BLOCK), "other.md")
    record(project, backend)
    noted = snapshots.verifications(project.path, "docs/page.md")
    assert [v.database for v in noted] == [backend.name]
    line = render_verified_line(project.path, project.path / "docs" / "page.md")
    assert f"with {backend.title} {noted[0].version} (SQLAlchemy" in line
    others = [b.title for b in BY_NAME.values() if b is not backend]
    assert not any(f"{title} " in line.split(". ")[0] for title in others), line
    assert f"No recording run has noted its versions on {' and '.join(others)}." in line
    # A run narrowed to one page notes that page alone.
    (project.path / "tests" / "snapshots" / "_verified-run.yml").unlink()
    result = run(project, backend, "--update-snapshots", "docs/other.md")
    assert result.ret == 0, result.stdout.str()
    assert snapshots.verifications(project.path, "docs/page.md") == []
    assert [v.database for v in snapshots.verifications(project.path, "docs/other.md")] == [
        backend.name
    ]


def test_a_failing_page_is_not_noted_as_verified(project):
    backend = SQLITE  # what is noted does not depend on the database
    write_page(project, page(FIRST_BLOCK, "```python\nraise RuntimeError('no')\n```\n"))
    result = run(project, backend, "--update-snapshots")
    assert result.ret == 1
    assert snapshots.verifications(project.path, "docs/page.md") == []


def test_an_edited_block_is_shown_against_what_it_did_before(project, backend):
    write_page(project, page(FIRST_BLOCK, QUERY_BLOCK))
    record(project, backend)
    edited = QUERY_BLOCK.replace("40 + :n", "41 + :n").replace("42", "43")
    write_page(project, page(FIRST_BLOCK, edited))
    result = run(project, backend)
    assert result.ret == 1
    output = result.stdout.str()
    assert (
        f"docs/page.md, line 13 [{backend.name}]: tests/snapshots/page.yml has no recording "
        f"of this block on {backend.title}"
    ) in output
    assert re.search(
        r"It looks like an edit of the block recorded at tests/snapshots/page\.yml, line \d+; "
        "against it:",
        output,
    )
    assert "--- SQL before the edit" in output and "+++ SQL now" in output
    assert "-SELECT 40 +" in output and "+SELECT 41 +" in output


def test_a_new_block_is_shown_against_nothing(project, backend):
    write_page(project, page(FIRST_BLOCK))
    record(project, backend)
    write_page(project, page(FIRST_BLOCK, QUERY_BLOCK))
    output = run(project, backend).stdout.str()
    assert "has no recording of this block" in output
    assert "It looks like an edit" not in output


def test_an_edited_block_is_found_by_its_first_line_when_blocks_move():
    tail = "```python\nx = 1\n```\n"
    first, query, last = python_blocks(page(FIRST_BLOCK, QUERY_BLOCK, tail))
    entries = {block.key: {"block": block.first_line} for block in (first, query, last)}
    # A block inserted before the edited one: positions shift, the first line stays.
    edited = QUERY_BLOCK.replace("40 + :n", "41 + :n")
    now = python_blocks(page(FIRST_BLOCK, "```python\ny = 2\n```\n", edited, tail))
    assert snapshots.predecessor(entries, now, now[2]) == query.key
    assert snapshots.predecessor(entries, now, now[1]) is None  # new, not an edit
    # An edit of the first line too: the block at the same position.
    rewritten = python_blocks(page(FIRST_BLOCK, "```python\nz = 3\n```\n", tail))
    assert snapshots.predecessor(entries, rewritten, rewritten[1]) == query.key
