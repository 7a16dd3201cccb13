"""Blocks that await at their top level, as Python's asyncio prompt and Jupyter allow.

The page runner compiles every block with ``ast.PyCF_ALLOW_TOP_LEVEL_AWAIT`` and
runs the coroutine of a block that awaits on one event loop kept for the page
(``harness.run_page``); the SQL capture taps each database's asyncio driver
(``harness.capture_sql``), and lists what tasks running at the same time sent
task by task. These fixture pages show it on every database, as
``tests/test_harness.py`` shows the rest of the harness.
"""

from __future__ import annotations

import yaml
from test_harness import page, project, record, run, write_page

pytest_plugins = ["pytester"]
__all__ = ["project"]  # the fixture, from the harness's own tests

ASYNC_ENGINE = """\
```python
import asyncio
import os

from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import create_async_engine

url = make_url(os.environ["DATABASE_URL"])
drivers = {"sqlite": "aiosqlite", "postgresql": "psycopg", "mysql": "aiomysql"}
engine = create_async_engine(url.set(drivername=f"{url.get_backend_name()}+"
                                     f"{drivers[url.get_backend_name()]}"))
```
"""

PLAIN_AWAIT = """\
<!-- not in the browser: next "it awaits at its top level" -->

```python
async with engine.connect() as connection:
    print("the database says", await connection.scalar(text("SELECT 6 * 7")))
```
"""

CONSOLE_AWAIT = """\
<!-- not in the browser: next "it awaits at its top level" -->

```python
>>> async with engine.connect() as connection:
...     await connection.scalar(text("SELECT 40 + :n"), {"n": 2})
42
>>> await asyncio.sleep(0)
```
"""

# The first task waits between its two statements, so that the second task's
# statements are sent in the middle of the first's: the box lists them task by task.
TWO_TASKS = """\
<!-- not in the browser: next "it awaits at its top level" -->

```python
async def ask(n):
    async with engine.connect() as connection:
        first = await connection.scalar(text("SELECT :n"), {"n": n})
        await asyncio.sleep(0.3 if n == 1 else 0)
        return first, await connection.scalar(text("SELECT :n + 10"), {"n": n})

print(await asyncio.gather(ask(1), ask(2)))
```
"""

DISPOSE = """\
<!-- not in the browser: next "it awaits at its top level" -->

```python
await engine.dispose()
```
"""


def recorded(project, backend, block: int) -> str:
    """The SQL recorded for the ``block``-th python block of the page, on ``backend``."""
    entries = yaml.safe_load((project.path / "tests" / "snapshots" / "page.yml").read_text())
    return list(entries.values())[block][backend.name]


def test_blocks_that_await_share_the_page_s_loop_and_their_sql_is_captured(project, backend):
    write_page(project, page(ASYNC_ENGINE, PLAIN_AWAIT, CONSOLE_AWAIT, DISPOSE))
    record(project, backend)
    sql = recorded(project, backend, 1)
    assert "SELECT 6 * 7" in sql and sql.startswith("-- a new connection opens:")
    console = recorded(project, backend, 2)
    # The connection the pool kept from the block before: the same loop ran both.
    assert "a new connection opens" not in console
    assert "SELECT 40 + " in console
    run(project, backend).assert_outcomes(passed=5)


def test_what_tasks_send_at_the_same_time_is_listed_task_by_task(project, backend):
    # The block before opens the engine's first connection: whichever task opens the
    # first would send the dialect's first look at the server, and either may.
    write_page(project, page(ASYNC_ENGINE, PLAIN_AWAIT, TWO_TASKS, DISPOSE))
    record(project, backend)
    sql = recorded(project, backend, 2)
    headers = [line for line in sql.splitlines() if line.startswith("-- task")]
    assert headers == ["-- task 1, on connection 1:", "-- task 2, on connection 2:"], sql
    first, second = sql.split("-- task 2, on connection 2:")
    assert first.count("+ 10") == 1 and second.count("+ 10") == 1, sql
    for _ in range(2):  # the same listing, however the tasks' statements interleaved
        run(project, backend).assert_outcomes(passed=5)
