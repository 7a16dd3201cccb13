"""Each chapter, downloaded as a script, runs on its own on every database.

The site offers every chapter as one program (``harness.page_scripts``). Here
each program runs as a separate process, outside the harness, on each selected
database, so a page that only works inside the test run fails. Small fixture
pages show that the program keeps the page's meaning: skips, expected errors,
included snippets.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from harness.page_scripts import Script, page_script
from harness.pages import DOCS, pages, python_blocks, relative

CHAPTERS = [page for page in pages(DOCS) if python_blocks(page.read_text())]
SCRIPT_TIMEOUT = 300  # seconds; a whole chapter takes a few


def run_script(script: Script, folder: Path, database_url: str) -> subprocess.CompletedProcess:
    """Run the program in ``folder`` as a reader would, with only DATABASE_URL set for it."""
    path = folder / script.page.with_suffix(".py").name
    path.write_text(script.text)
    env = {**os.environ, "DATABASE_URL": database_url}
    return subprocess.run(
        [sys.executable, path.name],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=SCRIPT_TIMEOUT,
    )


def failure_report(script: Script, result: subprocess.CompletedProcess) -> str:
    """The error, with the line of the page whose block raised it."""
    name = script.page.with_suffix(".py").name
    lines = [int(n) for n in re.findall(rf'File ".*{re.escape(name)}", line (\d+)', result.stderr)]
    where = relative(script.page)
    if lines and script.page_line(lines[-1]):
        where += f", in the block at line {script.page_line(lines[-1])}"
    tail = "\n".join(result.stderr.strip().splitlines()[-25:])
    return f"the script of {where} exited with {result.returncode}:\n{tail}"


@pytest.mark.parametrize("page", CHAPTERS, ids=lambda page: page.stem)
def test_each_chapter_runs_as_a_script(page, backend, database_url, tmp_path):
    script = page_script(page)
    result = run_script(script, tmp_path, database_url)
    assert result.returncode == 0, failure_report(script, result)


FIRST_BLOCK = """\
```python
import os

from sqlalchemy import create_engine

engine = create_engine(os.environ.get("DATABASE_URL", "sqlite:///tutorial.db"))
```
"""


def fixture_script(tmp_path: Path, *blocks: str) -> Script:
    page = tmp_path / "docs" / "page.md"
    page.parent.mkdir(exist_ok=True)
    page.write_text("# A page\n\n" + "\n".join([FIRST_BLOCK, *blocks]))
    return page_script(page, root=tmp_path)


def run_on_sqlite(script: Script, tmp_path: Path) -> subprocess.CompletedProcess:
    return run_script(script, tmp_path, f"sqlite:///{tmp_path / 'page.db'}")


def test_prompts_and_output_are_left_out(tmp_path):
    script = fixture_script(
        tmp_path,
        "```python\n>>> for n in range(2):\n...     print(n * 21)\n0\n21\n>>> 40 + 2\n42\n```\n",
    )
    code = script.text.split('"""', 2)[2]
    assert "for n in range(2):\n    print(n * 21)\n40 + 2\n" in code
    assert ">>>" not in code and "..." not in code
    assert "\n42\n" not in code and "\n21\n" not in code
    assert run_on_sqlite(script, tmp_path).returncode == 0


def test_the_header_says_how_to_run_it_on_postgresql_and_mariadb(tmp_path):
    header = fixture_script(tmp_path).text.split('"""', 2)[1]
    assert "DATABASE_URL=postgresql+psycopg://" in header
    assert "DATABASE_URL=mysql+pymysql://" in header
    assert 'pip install "sqlalchemy>=2.1,<2.2" "psycopg[binary]"' in header


TRACEBACK = "Traceback (most recent call last):\n  ...\n"


def test_the_error_a_page_shows_is_expected_by_name(tmp_path):
    script = fixture_script(
        tmp_path, f'```python\n>>> {{}}["missing"]\n{TRACEBACK}KeyError: ...\n```\n'
    )
    assert "except KeyError:" in script.text
    result = run_on_sqlite(script, tmp_path)
    assert result.returncode == 0, result.stderr


def test_a_dotted_error_name_is_imported_to_be_caught(tmp_path):
    script = fixture_script(
        tmp_path,
        "```python\n>>> from sqlalchemy import text\n"
        ">>> with engine.connect() as connection:\n"
        '...     connection.execute(text("SELECT * FROM nowhere"))\n'
        f"{TRACEBACK}sqlalchemy.exc.OperationalError: (sqlite3.OperationalError) "
        "no such table: nowhere\n```\n",
    )
    assert "import sqlalchemy.exc" in script.text
    result = run_on_sqlite(script, tmp_path)
    assert result.returncode == 0, result.stderr


def test_the_script_fails_when_the_error_the_page_shows_does_not_happen(tmp_path):
    script = fixture_script(
        tmp_path, f"```python\n>>> 1 + 1\n{TRACEBACK}ZeroDivisionError: ...\n```\n"
    )
    result = run_on_sqlite(script, tmp_path)
    assert result.returncode != 0
    assert "AssertionError: expected ZeroDivisionError, but nothing was raised" in result.stderr


def test_the_script_fails_when_another_error_happens(tmp_path):
    script = fixture_script(tmp_path, f"```python\n>>> 1 / 0\n{TRACEBACK}KeyError: ...\n```\n")
    result = run_on_sqlite(script, tmp_path)
    assert result.returncode != 0
    assert "ZeroDivisionError" in result.stderr
    assert "docs/page.md, in the block at line 11" in failure_report(script, result)


SKIPPED_ON_SQLITE = """\
<!-- skip: next if(engine.dialect.name == "sqlite", reason="not on SQLite") -->
```python
raise SystemExit("this block ran where the page skips it")
```
"""

ONLY_ON_SQLITE = """\
<!-- skip: next if(engine.dialect.name != "sqlite", reason="SQLite only") -->
```python
>>> print("ran on SQLite")
ran on SQLite
```
"""


def test_a_conditional_skip_becomes_the_inverse_condition(tmp_path):
    script = fixture_script(tmp_path, SKIPPED_ON_SQLITE, ONLY_ON_SQLITE)
    assert (
        '# not on SQLite\nif engine.dialect.name != "sqlite":\n    raise SystemExit' in script.text
    )
    assert '# SQLite only\nif engine.dialect.name == "sqlite":\n    print(' in script.text
    result = run_on_sqlite(script, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "ran on SQLite\n"


def test_a_condition_that_is_no_simple_comparison_is_negated_whole(tmp_path):
    script = fixture_script(
        tmp_path,
        '<!-- skip: next if(engine.dialect.name in ("sqlite", "mysql"), '
        'reason="PostgreSQL only") -->\n'
        "```python\nraise SystemExit('ran where the page skips it')\n```\n",
    )
    assert 'if not (engine.dialect.name in ("sqlite", "mysql")):' in script.text
    assert run_on_sqlite(script, tmp_path).returncode == 0


def test_an_unconditional_skip_is_kept_as_a_comment_with_its_reason(tmp_path):
    script = fixture_script(
        tmp_path,
        '<!-- skip: next "needs a second terminal" -->\n'
        "```python\nraise SystemExit('ran although the page skips it')\n```\n",
    )
    assert "# Not run: needs a second terminal\n# raise SystemExit(" in script.text
    assert run_on_sqlite(script, tmp_path).returncode == 0


def test_included_snippets_are_expanded(tmp_path):
    (tmp_path / "examples").mkdir()
    (tmp_path / "examples" / "shapes.py").write_text(
        "# --8<-- [start:square]\ndef square(n):\n    return n * n\n# --8<-- [end:square]\n"
    )
    script = fixture_script(
        tmp_path,
        '```python\n--8<-- "examples/shapes.py:square"\n\nassert square(7) == 49\n```\n',
    )
    assert "def square(n):\n    return n * n\n" in script.text
    assert "--8<--" not in script.text
    assert run_on_sqlite(script, tmp_path).returncode == 0


def test_sections_of_the_page_are_marked(tmp_path):
    script = fixture_script(tmp_path, "## Counting\n\nProse.\n\n```python\nn = 1\n```\n")
    assert "# %% Counting\n\n# docs/page.md, line 15\nn = 1\n" in script.text


def test_a_page_without_python_blocks_has_no_script(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("# Prose only\n\n```bash\necho hi\n```\n")
    assert page_script(page, root=tmp_path) is None
