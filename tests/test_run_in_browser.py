"""What the site's Run buttons get: which blocks, as what, with which wheels.

The runs themselves are in the browser tests (tests/test_site.py, which need
Chromium); these need nothing but the harness.
"""

from __future__ import annotations

from importlib.metadata import version

from harness.page_checks import page_problems
from harness.pages import ROOT
from harness.run_in_browser import WHEELS, locked_wheels, page_data

PAGE = """\
# A page

```python
import threading
```

<!-- not in the browser: next "it starts a thread" -->

```python
threading.Thread(target=print).start()
```

```python
>>> 1 + 1
2
>>> print("a")
a
```

=== "PostgreSQL"

    ```python
    print("only on PostgreSQL")
    ```
"""


def test_the_browser_runs_the_blocks_that_run_on_sqlite_and_are_not_marked(tmp_path):
    page = tmp_path / "docs" / "page.md"
    page.parent.mkdir()
    page.write_text(PAGE)
    assert page_data(page, tmp_path) == {
        "page": "docs/page.md",
        "blocks": [
            {"line": 3, "code": "import threading"},
            {
                "line": 13,
                "examples": [
                    {"line": 14, "source": "1 + 1\n"},
                    {"line": 16, "source": 'print("a")\n'},
                ],
            },
        ],
    }


def test_a_marker_is_read_as_a_skip_is():
    assert page_problems(PAGE, "docs/p.md") == []
    blank = PAGE.replace('next "it starts a thread"', 'next "  "')
    assert page_problems(blank, "docs/p.md") == [
        "docs/p.md, line 7: a skip needs a reason a reader can judge; write "
        '<!-- not in the browser: next "why this block cannot run" -->'
    ]
    started = PAGE.replace('next "it starts a thread"', "start")
    assert page_problems(started, "docs/p.md") == [
        "docs/p.md, line 7: `not in the browser: start` is not supported here; write "
        '<!-- not in the browser: next "why this block cannot run" -->'
    ]


def test_a_marker_on_a_block_the_browser_never_runs_is_refused():
    tab = '=== "PostgreSQL"\n\n'
    page = PAGE.replace(tab, tab + '    <!-- not in the browser: next "x" -->\n\n')
    [problem] = page_problems(page, "docs/p.md")
    assert problem.startswith("docs/p.md, line 22: the block at line 24 never runs in the browser")


def test_a_block_that_awaits_must_say_why_it_is_not_run_in_the_browser():
    awaiting = "```python\n>>> import asyncio\n>>> await asyncio.sleep(0)\n```\n"
    assert page_problems(PAGE + "\n" + awaiting, "docs/p.md") == [
        "docs/p.md, line 26: this block awaits at its top level, and the Run buttons run no "
        'block that does; say why before it, <!-- not in the browser: next "why" -->'
    ]
    marked = '<!-- not in the browser: next "it awaits" -->\n\n' + awaiting
    assert page_problems(PAGE + "\n" + marked, "docs/p.md") == []


def test_the_browser_installs_the_wheels_the_tests_run():
    """The wheels are uv.lock's, so the browser's SQLAlchemy is the one this run imports."""
    wheels = {wheel.name: wheel for wheel in locked_wheels(ROOT)}
    assert list(wheels) == list(WHEELS)
    for name in ("sqlalchemy", "typing-extensions"):
        assert wheels[name].filename.split("-")[1] == version(name)
        assert wheels[name].filename.endswith("-none-any.whl")
        assert len(wheels[name].sha256) == 64
