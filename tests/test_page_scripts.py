"""Each chapter, downloaded as a script, runs on its own on every database.

The site offers every chapter as one program (``harness.page_scripts``). Here
each program runs as a separate process in a fresh folder, outside the harness,
on each selected database, and what it prints is compared with the page: under
each line it names, the output the page shows after a ``>>>`` line (read as
doctest reads it), or what the last recording run saw a plain block print on
that database. Small fixture pages show that the program keeps the page's
meaning: tabs, errors caught by the page's own code, included snippets, what is
shown.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from harness.databases import BY_NAME, IsolatedDatabase, isolated_database
from harness.legacy_warnings import script_command
from harness.page_scripts import (
    Script,
    Shown,
    copy_text,
    matches,
    page_script,
    printed_sections,
    shown_output,
)
from harness.pages import DOCS, PageError, pages, python_blocks, relative
from harness.pytest_plugin import RUN
from harness.run_page import normalise_output

CHAPTERS = [page for page in pages(DOCS) if python_blocks(page.read_text())]
SCRIPT_TIMEOUT = 300  # seconds; a whole chapter takes a few


def run_script(script: Script, folder: Path, database_url: str) -> subprocess.CompletedProcess:
    """Run the program in ``folder`` as a reader would, with only DATABASE_URL set for it.

    SQLAlchemy's deprecation warnings are errors in it, as they fail the page's blocks
    (``harness.legacy_warnings``).
    """
    path = folder / script.page.with_suffix(".py").name
    path.write_text(script.text)
    env = {**os.environ, "DATABASE_URL": database_url}
    return subprocess.run(
        script_command(relative(script.page), Path(path.name)),
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


@pytest.fixture
def database(backend, request) -> IsolatedDatabase:
    """A fresh, empty namespace on ``backend``, with the name readers see in its place."""
    run = request.config.stash[RUN]
    url = dict((b.name, u) for b, u in run.backends)[backend.name]
    with isolated_database(backend, url, request.node.name) as isolated:
        yield isolated


def normalised(printed: str, database: IsolatedDatabase) -> str:
    """Printed output as the recording run keeps it: no times, the reader's database name."""
    return normalise_output(printed, {database.name: database.reader_name})


def differences(
    page: Path,
    text: str,
    backend: str,
    stdout: str,
    database: IsolatedDatabase,
    version: str | None = None,
) -> list[str]:
    """Where the program's output and the page part ways, each with page, line and database."""
    name = relative(page)
    before, sections = printed_sections(stdout)
    problems = []
    if before.strip():
        problems.append(
            f"{name} [{backend}]: printed before any block that shows output:\n{before}"
        )
    for shown in shown_output(page, backend, text, version=version):
        where = f"{name}, line {shown.line} [{backend}]"
        if shown.line not in sections:
            problems.append(f"{where}: the script printed nothing here")
            continue
        printed = sections.pop(shown.line)
        if not shown.as_doctest:
            printed = normalised(printed, database)
        if not matches(shown, printed):
            source = "the page shows" if shown.as_doctest else "the snapshot recorded"
            problems.append(
                f"{where}: the script printed\n{printed.rstrip()}\nwhere {source}\n"
                f"{shown.text.rstrip()}"
            )
    for line, printed in sections.items():
        problems.append(
            f"{name}, line {line} [{backend}]: printed where the page shows nothing:\n{printed}"
        )
    return problems


@pytest.mark.parametrize("page", CHAPTERS, ids=lambda page: page.stem)
def test_each_chapter_as_a_script_prints_what_the_page_shows(
    page, backend, database, tmp_path, request
):
    text = page.read_text()  # once: the script and what it is compared with agree
    script = page_script(page, text)
    result = run_script(script, tmp_path, database.url)
    assert result.returncode == 0, failure_report(script, result)
    version = request.config.stash[RUN].listed_version(backend)
    problems = differences(page, text, backend.name, result.stdout, database, version)
    assert not problems, "\n\n".join(problems)


FIRST_BLOCK = """\
```python
import os

from sqlalchemy import create_engine

engine = create_engine(os.environ.get("DATABASE_URL", "sqlite:///tutorial.db"))
```
"""


def fixture_script(tmp_path: Path, *blocks: str, name: str = "page") -> Script:
    page = tmp_path / "docs" / f"{name}.md"
    page.parent.mkdir(exist_ok=True)
    page.write_text("# A page\n\n" + "\n".join([FIRST_BLOCK, *blocks]))
    return page_script(page, root=tmp_path)


def run_on_sqlite(script: Script, tmp_path: Path) -> subprocess.CompletedProcess:
    return run_script(script, tmp_path, f"sqlite:///{tmp_path / 'page.db'}")


def code_of(script: Script) -> str:
    """The script after its docstring and its two helpers."""
    return script.text.split('"""', 2)[2].split("print(repr(value))\n", 1)[1]


def test_prompts_are_left_out_and_what_the_page_shows_is_printed_under_its_line(tmp_path):
    script = fixture_script(
        tmp_path,
        "```python\n>>> for n in range(2):\n...     print(n * 21)\n0\n21\n>>> 40 + 2\n42\n```\n",
    )
    code = code_of(script)
    assert (
        "page_line(12)\nfor n in range(2):\n    print(n * 21)\npage_line(16)\ndisplay(40 + 2)\n"
        in code
    )
    assert ">>>" not in code and "..." not in code
    result = run_on_sqlite(script, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "--- page.md, line 12\n0\n21\n--- page.md, line 16\n42\n"


def test_each_value_the_prompt_would_show_is_displayed_and_none_is_not(tmp_path):
    script = fixture_script(
        tmp_path,
        "```python\n>>> shown = []\n>>> with open(__file__) as file:\n"
        "...     shown.append(1)\n...     len(shown), 'tuple'\n...     None\n(1, 'tuple')\n"
        ">>> shown.append(2)\n>>> shown\n[1, 2]\n```\n",
    )
    code = code_of(script)
    assert "    shown.append(1)\n    display((len(shown), 'tuple'))\n" in code
    assert "    display(None)\nshown.append(2)\npage_line(19)\ndisplay(shown)\n" in code
    result = run_on_sqlite(script, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "--- page.md, line 13\n(1, 'tuple')\n--- page.md, line 19\n[1, 2]\n"


def test_the_header_says_how_to_run_it_on_each_database_of_the_registry(tmp_path):
    header = fixture_script(tmp_path).text.split('"""', 2)[1]
    for backend in BY_NAME.values():
        assert backend.title in header
        if backend.driver:
            assert f"+{backend.driver}://USER@HOST:" in header
    assert 'pip install "sqlalchemy>=2.1,<2.2" "psycopg[binary]"' in header
    assert 'pip install "sqlalchemy>=2.1,<2.2" pymysql' in header
    assert "DATABASE_URL=postgresql+psycopg://USER@HOST:5432/DATABASE python page.py" in header
    assert "DATABASE_URL=mysql+pymysql://USER@HOST:3306/DATABASE python page.py" in header


def test_a_page_whose_script_would_shadow_a_module_is_refused(tmp_path):
    for name in ("types", "sqlalchemy", "pymysql"):
        with pytest.raises(PageError) as refused:
            fixture_script(tmp_path, name=name)
        assert str(refused.value) == (
            f"docs/{name}.md: its script would be called {name}.py, which Python would "
            f"import in place of the {name} module it needs; rename the page."
        )


def test_a_page_using_the_name_of_a_helper_of_its_script_is_refused(tmp_path):
    with pytest.raises(PageError, match=r"docs/page.md, line 11: the name display is"):
        fixture_script(tmp_path, "```python\ndef display(value):\n    pass\n```\n")


CAUGHT = """\
```python
>>> try:
...     {}["missing"]
... except KeyError as error:
...     print("missing:", error)
missing: 'missing'
```
"""


def test_an_error_the_page_catches_is_printed_by_the_page_s_own_code(tmp_path):
    script = fixture_script(tmp_path, CAUGHT)
    assert code_of(script).count("except") == 1, "the script adds its own except"
    result = run_on_sqlite(script, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "--- page.md, line 12\nmissing: 'missing'\n"


def test_the_copy_of_a_block_that_catches_an_error_is_its_code_and_runs(tmp_path):
    page = tmp_path / "docs" / "page.md"
    page.parent.mkdir()
    page.write_text(CAUGHT)
    (block,) = python_blocks(page.read_text())
    copied = copy_text(block, page, tmp_path)
    assert copied == (
        'try:\n    {}["missing"]\nexcept KeyError as error:\n    print("missing:", error)'
    )
    result = subprocess.run([sys.executable, "-c", copied], capture_output=True, text=True)
    assert (result.returncode, result.stdout) == (0, "missing: 'missing'\n")


def test_a_traceback_shown_as_output_is_not_caught_and_stops_the_script_at_its_block(tmp_path):
    # The page's check refuses such an example; the script adds no hidden except for it.
    traceback = "Traceback (most recent call last):\n  ...\nZeroDivisionError: division by zero\n"
    script = fixture_script(tmp_path, f"```python\n>>> 1 / 0\n{traceback}```\n")
    assert "except" not in code_of(script)
    result = run_on_sqlite(script, tmp_path)
    assert result.returncode != 0
    assert "ZeroDivisionError" in result.stderr
    assert "docs/page.md, in the block at line 11" in failure_report(script, result)


def test_a_deprecated_call_stops_the_script_at_its_block(tmp_path):
    # As it fails the page's block (harness.legacy_warnings), on every page but one.
    script = fixture_script(
        tmp_path, "```python\nfrom sqlalchemy import select\n\nselect(1).as_scalar()\n```\n"
    )
    result = run_on_sqlite(script, tmp_path)
    assert result.returncode != 0
    assert "SADeprecationWarning: The SelectBase.as_scalar() method is deprecated" in result.stderr
    assert "docs/page.md, in the block at line 11" in failure_report(script, result)


TABBED = """\
=== "PostgreSQL"

    ```python
    >>> print("only on PostgreSQL")
    only on PostgreSQL
    ```

=== "SQLite and MariaDB"

    ```python
    >>> print("on SQLite or MariaDB")
    on SQLite or MariaDB
    ```
"""


def test_a_block_under_a_database_tab_runs_only_on_the_databases_it_names(tmp_path):
    script = fixture_script(tmp_path, TABBED)
    assert (
        "# PostgreSQL only\nif engine.dialect.name in ('postgresql',):\n"
        "    page_line(14)\n    print(" in script.text
    )
    assert (
        "# SQLite and MariaDB only\nif engine.dialect.name in ('mysql', 'mariadb', 'sqlite'):"
        in script.text
    )
    result = run_on_sqlite(script, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "--- page.md, line 21\non SQLite or MariaDB\n"


def test_a_conditional_skip_is_refused_for_tabs(tmp_path):
    with pytest.raises(PageError, match="put per-database blocks under content tabs"):
        fixture_script(
            tmp_path,
            '<!-- skip: next if(engine.dialect.name == "sqlite", reason="not on SQLite") -->\n'
            "```python\nraise SystemExit('ran where the page skips it')\n```\n",
        )


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


def test_output_is_read_under_the_line_it_names_with_doctest_and_exactly():
    before, sections = printed_sections("stray\n--- p.md, line 3\n'a'\n--- p.md, line 9\nx  y\n")
    assert before == "stray\n" and sections == {3: "'a'\n", 9: "x  y\n"}
    assert matches(Shown(9, "x ...\n", as_doctest=True), sections[9])
    assert not matches(Shown(9, "x y", as_doctest=False), sections[9])
    assert matches(Shown(9, "x  y", as_doctest=False), sections[9])


AWAITING = """\
```python
import asyncio

async def later(value):
    await asyncio.sleep(0)
    return value

answer = await later(6 * 7)
```

```python
>>> await later("shown")
'shown'
>>> for name in ["loop"]:
...     await later(name)
'loop'
```
"""


def test_a_page_whose_blocks_await_runs_as_one_coroutine(tmp_path):
    script = fixture_script(tmp_path, AWAITING)
    code = code_of(script)
    assert code.startswith("\n\nimport asyncio\n\n\nasync def main():\n")
    assert "\n    # docs/page.md, line 3\n    import os\n" in code
    assert "\n    answer = await later(6 * 7)\n" in code
    assert '\n    page_line(22)\n    display(await later("shown"))\n' in code
    assert code.endswith("\n\nasyncio.run(main())\n")
    assert 'pip install "sqlalchemy[asyncio]>=2.1,<2.2" aiosqlite\n' in script.text
    assert 'pip install "sqlalchemy[asyncio]>=2.1,<2.2" aiomysql\n' in script.text
    result = run_on_sqlite(script, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "--- page.md, line 22\n'shown'\n--- page.md, line 24\n'loop'\n"


def test_a_page_that_awaits_may_not_call_anything_main(tmp_path):
    with pytest.raises(PageError, match=r"docs/page.md, line 11: the name main is"):
        fixture_script(tmp_path, "```python\nasync def main():\n    pass\n\nawait main()\n```\n")
