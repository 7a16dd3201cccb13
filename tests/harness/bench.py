"""How much the harness costs: the doc suite against its floor, per database.

The floor runs the same blocks of the same pages directly, one fresh module
and one fresh database namespace per page, with no pytest, no SQL capture and
no checks. Both are timed as whole processes, interpreter start included, so
the ratio is what a contributor feels. The site build is timed too.

Run with ``nox -s bench``; ``python -m harness.bench floor sqlite`` runs the
floor alone.
"""

from __future__ import annotations

import contextlib
import doctest
import io
import os
import subprocess
import sys
import tempfile
import time
import types

from harness.databases import BACKENDS, BY_NAME, configured_url, isolated_database
from harness.pages import DOCS, ROOT, expand_snippets, pages, python_blocks

SKIP = "<!-- skip: next"


def run_floor(backend_name: str) -> int:
    """Execute every block of every page on one database; returns the blocks run."""
    backend = BY_NAME[backend_name]
    executed = 0
    for page in pages(DOCS):
        text = page.read_text()
        blocks = python_blocks(text)
        if not blocks:
            continue
        module = types.ModuleType(f"floor_{page.stem.replace('-', '_')}")
        sys.modules[module.__name__] = module
        namespace = module.__dict__
        previous_end = 0
        with isolated_database(backend, configured_url(backend), page.stem) as database:
            os.environ["DATABASE_URL"] = database.url
            for block in blocks:
                between = text[previous_end : block.fence.start]
                previous_end = block.fence.end
                if SKIP in between and _skipped(between, namespace):
                    continue
                source = expand_snippets(block.source, page, block.line)
                _execute(source, block.is_console, namespace, str(page))
                executed += 1
            _close(namespace)
        sys.modules.pop(module.__name__, None)
    return executed


def _skipped(between: str, namespace: dict) -> bool:
    reason = between.split(SKIP, 1)[1].split("-->", 1)[0].strip()
    if reason.startswith("if"):
        condition = reason[2:].strip()
        return bool(eval(f"(lambda c, reason=None: c){condition}", dict(namespace)))  # noqa: S307
    return True


def _execute(source: str, console: bool, namespace: dict, filename: str) -> None:
    with contextlib.redirect_stdout(io.StringIO()):
        if not console:
            exec(compile(source, filename, "exec"), namespace)  # noqa: S102
            return
        for example in doctest.DocTestParser().get_examples(source):
            try:
                exec(compile(example.source, filename, "single"), namespace)  # noqa: S102
            except Exception:
                if example.exc_msg is None:
                    raise


def _close(namespace: dict) -> None:
    from sqlalchemy.engine import Engine
    from sqlalchemy.orm import close_all_sessions

    close_all_sessions()
    for value in list(namespace.values()):
        if isinstance(value, Engine):
            value.dispose()


def _timed(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    backends = [name for name in BACKENDS if configured_url(BY_NAME[name])]
    blocks = sum(len(python_blocks(page.read_text())) for page in pages(DOCS))
    print(f"{len(pages(DOCS))} pages, {blocks} python blocks\n")
    print(f"{'database':<12}{'suite s':>9}{'floor s':>9}{'ratio':>7}{'ms/block':>10}")
    for name in backends:
        suite = _timed(
            [sys.executable, "-m", "pytest", "docs", f"--backend={name}", "-q"]
            + ["-p", "no:cacheprovider", "-p", "no:xdist"]
        )
        floor = _timed([sys.executable, "-m", "harness.bench", "floor", name])
        print(
            f"{name:<12}{suite:>9.2f}{floor:>9.2f}{suite / floor:>7.2f}"
            f"{1000 * suite / blocks:>10.1f}"
        )
    with tempfile.TemporaryDirectory() as site:
        build = _timed(["mkdocs", "build", "--strict", "--quiet", "-d", site])
    count = len(pages(DOCS))
    print(f"\nsite build: {build:.2f} s, {1000 * build / count:.0f} ms per page")


if __name__ == "__main__":
    if sys.argv[1:2] == ["floor"]:
        print(run_floor(sys.argv[2]), "blocks")
    else:
        main()
