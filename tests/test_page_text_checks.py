"""Checks of a page's text: output typed by hand, tracebacks shown, errors swallowed whole,
and rows of a reference table that link to no block proving them."""

from __future__ import annotations

from harness.links import unproven_rows
from harness.page_checks import page_problems
from harness.pages import python_blocks

PRINTS = """\
# A page

```python
print(sorted({"b", "a"}))
```

```text
['a', 'b']
```
"""

SILENT = """\
# A page

```python
import logging
logging.getLogger("x").warning("to standard error")
```

```text
WARNING:x:to standard error
```
"""


def test_output_typed_under_a_block_that_prints_is_refused():
    assert page_problems(PRINTS, "docs/p.md") == [
        "docs/p.md, line 7: output typed by hand under the block at line 3, which prints; "
        "the site shows what it printed on each database under it, from the snapshot the "
        "run checks, so remove this fence"
    ]


def test_the_snapshot_says_which_blocks_print():
    key = python_blocks(SILENT)[0].key
    assert page_problems(SILENT, "docs/p.md") == []
    [problem] = page_problems(SILENT, "docs/p.md", printed={key})
    assert problem.startswith("docs/p.md, line 8: output typed by hand")


def test_compiled_sql_typed_under_the_block_that_prints_it_is_refused():
    page = (
        "# A page\n\n```python\nprint(select(users).compile(dialect=dialect))\n```\n\n"
        "```sql\nSELECT users.id FROM users\n```\n"
    )
    [problem] = page_problems(page, "docs/p.md")
    assert problem.startswith("docs/p.md, line 7: output typed by hand under the block at line 3")


def test_a_fence_after_prose_is_not_output():
    page = PRINTS.replace("```\n\n```text", "```\n\nIt prints a list:\n\n```text")
    assert page_problems(page, "docs/p.md") == []


SWALLOWING = """\
# A page

```python
try:
    engine.dispose(close=False)
except Exception:
    pass
```

```python
>>> from contextlib import suppress
>>> with suppress(BaseException):
...     engine.connect()
>>> try:
...     engine.connect()
... except (ValueError, Exception) as error:
...     ...
```

```python
try:
    engine.connect()
except:
    pass
```

```python
try:
    engine.connect()
except OperationalError as error:
    print(type(error.orig).__name__)
except Exception:
    raise
```
"""


def test_errors_swallowed_whole_are_refused_at_their_line():
    problems = page_problems(SWALLOWING, "docs/p.md")
    assert [problem.split(" swallows")[0] for problem in problems] == [
        "docs/p.md, line 6: `except Exception: pass`",
        "docs/p.md, line 12: `suppress(BaseException)`",
        "docs/p.md, line 16: `except (ValueError, Exception): pass`",
        "docs/p.md, line 23: `except: pass`",
    ]
    assert problems[0].endswith(
        "so this block would pass whatever went wrong in it; catch the error the page is "
        "about by name and print it, or let it propagate"
    )


SHOWS_A_TRACEBACK = """\
# A page

```python
>>> 1 + 1
2
>>> 1 / 0
Traceback (most recent call last):
  ...
ZeroDivisionError: division by zero
```

```python
>>> try:
...     1 / 0
... except ZeroDivisionError as error:
...     print(error)
division by zero
```
"""


def test_a_traceback_shown_as_an_example_s_output_is_refused_at_its_line():
    assert page_problems(SHOWS_A_TRACEBACK, "docs/p.md") == [
        "docs/p.md, line 6: this example's output is a traceback; catch the error in a "
        "visible try/except that prints it, so that the page's blocks copied into a file "
        "run as a program"
    ]


REFERENCE = """\
# Differences

| Difference | SQLite | Shown in |
|---|---|---|
| proven here | yes | [below](#proven) |
| `a | b` in code | yes | [elsewhere](other.md#with-a-block) |
| no link | yes | below |
| no anchor | yes | [elsewhere](other.md) |
| only prose | yes | [prose](#only-prose) |
| only a skipped block | yes | [skipped](#skipped) |
| a block further down | yes | [parent](#parent) |

## Proven

```python
print("shown")
```

## Only prose

Nothing runs here.

## Skipped

<!-- skip: next "needs a second terminal" -->

```python
print("never run")
```

## Parent

### Child

```python
print("in the child's section, not the parent's")
```
"""

OTHER = """\
# Other

## With a block

```python
>>> 1 + 1
2
```
"""


def test_each_row_of_a_reference_table_must_link_to_a_section_with_a_block(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "backend-differences.md").write_text(REFERENCE)
    (docs / "other.md").write_text(OTHER)
    page = "docs/backend-differences.md"
    assert unproven_rows(docs / "backend-differences.md", docs) == [
        f"{page}, line 7: the row 'no link' must end with one link, to the section whose "
        "block proves it",
        f"{page}, line 8: the row 'no anchor' links to other.md; link to the section whose "
        "block proves it, as page.md#anchor or #anchor",
        f"{page}, line 9: the row 'only prose' links to #only-prose, whose section has no "
        "python block that runs to prove it",
        f"{page}, line 10: the row 'only a skipped block' links to #skipped, whose section "
        "has no python block that runs to prove it",
        f"{page}, line 11: the row 'a block further down' links to #parent, whose section "
        "has no python block that runs to prove it",
    ]


def test_only_reference_pages_are_held_to_it(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "chapter.md").write_text(REFERENCE)
    assert unproven_rows(docs / "chapter.md", docs) == []
    (docs / "backend-differences.md").write_text("# Differences\n\nNo table.\n")
    assert unproven_rows(docs / "backend-differences.md", docs) == [
        "docs/backend-differences.md, line 1: a reference page needs its differences in tables"
    ]
