"""Do the checks bite? Apply faults a contributor could make, one at a time, and see.

Each fault is applied to a temporary copy of the project (its pages, examples,
snapshots and configuration), then the page it touches is run on SQLite. A
fault is caught when the run fails with a message that names the page (or the
snapshot file) and the line. ``nox -s mutations`` runs them all and prints
``caught N of M``; the exit status is non-zero if any fault slips through.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import yaml

from harness.pages import ROOT, python_blocks


@dataclass(frozen=True)
class Fault:
    description: str
    page: str  # the page to run afterwards, relative to docs/
    apply: Callable[[Path], None]  # changes the copy of the project
    expected: str  # a regular expression the failure output must match


def _edit(path: Path, old: str, new: str, count: int = 1) -> None:
    text = path.read_text()
    if old not in text:
        raise LookupError(f"{path.name} no longer contains {old!r}: update this fault")
    path.write_text(text.replace(old, new, count))


def _first_console_output(project: Path, page: str) -> tuple[str, str]:
    """The first line of output a ``>>>`` block shows, and a wrong version of it."""
    for block in python_blocks((project / "docs" / page).read_text()):
        if block.is_console:
            for line in block.source.splitlines():
                if line and not line.startswith((">>>", "...")):
                    return line, line + " (changed)"
    raise LookupError(f"{page} shows no output")


def change_expected_result(project: Path) -> None:
    old, new = _first_console_output(project, "engine.md")
    _edit(project / "docs" / "engine.md", f"\n{old}\n", f"\n{new}\n")


def _snapshot(project: Path, page: str) -> tuple[Path, dict]:
    path = project / "tests" / "snapshots" / Path(page).with_suffix(".yml")
    return path, yaml.safe_load(path.read_text())


def change_snapshot_sql(project: Path) -> None:
    path, entries = _snapshot(project, "engine.md")
    key = next(key for key, entry in entries.items() if "sqlite" in entry)
    first, _, rest = entries[key]["sqlite"].partition("\n")
    entries[key]["sqlite"] = f"{first} /* as a careless edit might leave it */\n{rest}"
    path.write_text(yaml.safe_dump(entries, sort_keys=False))


def delete_snapshot(project: Path) -> None:
    path, entries = _snapshot(project, "engine.md")
    del entries[next(key for key, entry in entries.items() if "sqlite" in entry)]
    path.write_text(yaml.safe_dump(entries, sort_keys=False))


def misspell_fence_language(project: Path) -> None:
    page = project / "docs" / "session.md"
    page.write_text(page.read_text() + "\n```pyhton\nraise SystemExit('never run')\n```\n")


def break_snippet_include(project: Path) -> None:
    _edit(
        project / "docs" / "session.md",
        "examples/accounts.py:models",
        "examples/accounts.py:modles",
    )


def break_internal_link(project: Path) -> None:
    page = project / "docs" / "index.md"
    page.write_text(page.read_text() + "\nRead on in [the sessions chapter](sessions.md).\n")


def break_anchor(project: Path) -> None:
    page = project / "docs" / "index.md"
    page.write_text(page.read_text() + "\nSee [pooling](engine.md#pooling-in-depth).\n")


def use_legacy_api(project: Path) -> None:
    page = project / "docs" / "loading.md"
    page.write_text(
        page.read_text()
        + "\n```python\nwith Session(engine) as session:\n"
        + "    everyone = session.query(User).all()\n```\n"
    )


def depend_on_another_page(project: Path) -> None:
    # ``doomed`` is an engine that only the Engine chapter defines.
    page = project / "docs" / "loading.md"
    page.write_text(page.read_text() + "\n```python\n>>> doomed.url.database\n'/x'\n```\n")


FAULTS = [
    Fault(
        "change an expected result",
        "engine.md",
        change_expected_result,
        r'File "docs/engine\.md", line \d+.*\n(.*\n)*?Expected:',
    ),
    Fault(
        "change a snapshot's SQL",
        "engine.md",
        change_snapshot_sql,
        r"docs/engine\.md, line \d+ \[sqlite\]: the SQL sent differs",
    ),
    Fault(
        "delete a block's snapshot",
        "engine.md",
        delete_snapshot,
        r"docs/engine\.md, line \d+ \[sqlite\]: this block sent SQL but .* has no snapshot",
    ),
    Fault(
        "add a python block that nothing collects (a fence language typo)",
        "session.md",
        misspell_fence_language,
        r"docs/session\.md, line \d+: a block in language 'pyhton'",
    ),
    Fault(
        "break a snippet include",
        "session.md",
        break_snippet_include,
        r"docs/session\.md, line \d+: examples/accounts\.py has no section named 'modles'",
    ),
    Fault(
        "break an internal link",
        "index.md",
        break_internal_link,
        r"docs/index\.md, line \d+: the link to sessions\.md points at no file",
    ),
    Fault(
        "break an anchor",
        "index.md",
        break_anchor,
        r"docs/index\.md, line \d+: the link to engine\.md#pooling-in-depth names an anchor",
    ),
    Fault(
        "use a legacy API outside the migration page",
        "loading.md",
        use_legacy_api,
        r"docs/loading\.md, line \d+: session\.query\(\) is SQLAlchemy 1\.x style",
    ),
    Fault(
        "make a block depend on a name defined only on another page",
        "loading.md",
        depend_on_another_page,
        r'File "docs/loading\.md", line \d+(.*\n)*?.*NameError: name \'doomed\' is not defined',
    ),
]

COPIED = ["docs", "examples", "tests/snapshots", "mkdocs.yml", "pyproject.toml"]


def copy_project(destination: Path) -> None:
    for name in COPIED:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, destination / name)
        else:
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(source, destination / name)


def try_fault(fault: Fault) -> tuple[bool, str]:
    """Apply one fault to a fresh copy; returns whether it was caught, and the evidence."""
    with tempfile.TemporaryDirectory(prefix="mutation_") as folder:
        project = Path(folder)
        copy_project(project)
        fault.apply(project)
        result = subprocess.run(
            [sys.executable, "-m", "pytest", f"docs/{fault.page}", "--backend=sqlite"]
            + ["-p", "no:cacheprovider", "-p", "no:xdist", "-q", "--tb=short"],
            cwd=project,
            capture_output=True,
            text=True,
        )
    output = result.stdout + result.stderr
    match = re.search(fault.expected, output)
    if result.returncode != 0 and match:
        return True, match.group(0).splitlines()[0]
    if result.returncode == 0:
        return False, "the run passed"
    return False, "the run failed, but without naming page and line:\n" + output[-2000:]


def main() -> int:
    caught = 0
    for fault in FAULTS:
        ok, evidence = try_fault(fault)
        caught += ok
        print(f"{'caught' if ok else 'MISSED'}: {fault.description}\n    {evidence}")
    print(f"\ncaught {caught} of {len(FAULTS)}")
    return 0 if caught == len(FAULTS) else 1


if __name__ == "__main__":
    raise SystemExit(main())
