"""What each block of a page did, per database: one YAML file per page under tests/snapshots/.

Entries are keyed by the digest of the block's code (see ``pages.block_key``),
so editing one block never renames the snapshot of another, and correcting the
output a ``>>>`` block shows renames nothing. Every block of the page has an
entry, so a deleted block leaves a stale entry that the run reports. An entry
holds the block's first line, for reviewers; the SQL it sent on each database it
was recorded on (an empty text: it was run there and sent nothing); and, for a
plain block that prints, what it printed on each database. A database missing
from an entry has no recording, which fails the run and the site build.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import yaml

from harness.backends import BACKENDS as BACKEND_NAMES
from harness.pages import DOCS, ROOT, Block


@dataclass(frozen=True)
class Recording:
    """What one block did on one database."""

    sql: str
    output: str = ""


def recording(entry: dict | None, backend: str) -> Recording | None:
    """The recording of ``backend`` in a snapshot entry; None if it has none."""
    if not entry or entry.get(backend) is None:
        return None
    return Recording(entry[backend], (entry.get("output") or {}).get(backend, ""))


def update(
    path: Path,
    page_name: str,
    blocks: list[Block],
    backend: str,
    recorded: dict[str, Recording],
) -> None:
    """Store what ``backend`` recorded, keeping other databases' recordings as they were.

    A block that does not run on ``backend`` (skipped, or under another database's
    tab) loses any recording it had there; a block the run did not reach keeps its own.
    """
    current = load(path)
    entries: dict[str, dict] = {}
    for block in blocks:
        entry = dict(current.get(block.key) or {})
        entry.pop("block", None)
        output = dict(entry.pop("output", None) or {})
        if block.skip is not None or not block.runs_on(backend):
            entry.pop(backend, None)
            output.pop(backend, None)
        elif block.key in recorded:
            entry[backend] = recorded[block.key].sql
            output[backend] = recorded[block.key].output
        sql = {name: entry[name] for name in BACKEND_NAMES if entry.get(name) is not None}
        printed = {name: output[name] for name in BACKEND_NAMES if output.get(name)}
        entries[block.key] = {"block": block.first_line, **sql}
        if printed:
            entries[block.key]["output"] = printed
    save(path, page_name, entries)


HEADER = (
    "# What each python block of {page} sent and printed, per database.\n"
    "# Written by `nox -s snapshots`: regenerate it, never edit it by hand.\n"
)


def snapshot_path(page: Path, docs: Path = DOCS, root: Path = ROOT) -> Path:
    """``docs/engine.md`` keeps its SQL in ``tests/snapshots/engine.yml``."""
    relative = Path(page).resolve().relative_to(docs.resolve())
    return root / "tests" / "snapshots" / relative.with_suffix(".yml")


def load(path: Path) -> dict[str, dict[str, str]]:
    if not path.is_file():
        return {}
    return yaml.safe_load(path.read_text()) or {}


def save(path: Path, page_name: str, entries: dict[str, dict[str, str]]) -> None:
    if not entries:
        path.unlink(missing_ok=True)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    body = yaml.dump(entries, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=1000)
    path.write_text(HEADER.format(page=page_name) + body)


def line_of_key(path: Path, key: str) -> int:
    """Where an entry starts in its file, to point a reviewer at it."""
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if line.startswith(f"{key}:") or line.startswith(f"'{key}':"):
            return number
    return 1


def diff(expected: str, actual: str, old: str = "snapshot", new: str = "this run") -> str:
    return "\n".join(
        difflib.unified_diff(expected.splitlines(), actual.splitlines(), old, new, lineterm="")
    )


def predecessor(entries: dict, blocks: list[Block], block: Block) -> str | None:
    """The key of the stale entry that ``block`` most likely replaces, if one does.

    A stale entry is an edited block's former self when it began with the same
    line; failing that, when it stood at the block's position (entries are
    written in the order of the page's blocks). Each stale entry is the former
    self of one block at most, so a block inserted beside an edited one is new.
    """
    keys = {other.key for other in blocks}
    stale = [(index, key) for index, key in enumerate(entries) if key not in keys]
    unrecorded = [(index, other) for index, other in enumerate(blocks) if other.key not in entries]
    pairs: dict[str, str] = {}
    for same in (
        lambda index, other, at, key: (entries[key] or {}).get("block") == other.first_line,
        lambda index, other, at, key: at == index,
    ):
        for index, other in unrecorded:
            for at, key in stale:
                if (
                    other.key not in pairs
                    and key not in pairs.values()
                    and same(index, other, at, key)
                ):
                    pairs[other.key] = key
    return pairs.get(block.key)


def against_predecessor(
    path: Path,
    shown: str,
    entries: dict,
    blocks: list[Block],
    block: Block,
    backend: str,
    actual: Recording,
) -> str:
    """What a block without a recording did, against what it did before an edit if it was edited.

    ``path`` is the snapshot file, ``shown`` its name in messages.
    """
    key = predecessor(entries, blocks, block)
    if key is None:
        return diff("", actual.sql)
    before = recording(entries[key], backend)
    where = f"{shown}, line {line_of_key(path, key)}"
    if before is None:
        return (
            f"It looks like an edit of the block recorded at {where}, which has no "
            f"recording on this database either.\n{diff('', actual.sql)}"
        )
    parts = [f"It looks like an edit of the block recorded at {where}; against it:"]
    if before.sql != actual.sql:
        parts.append(diff(before.sql, actual.sql, "SQL before the edit", "SQL now"))
    if before.output != actual.output:
        parts.append(diff(before.output, actual.output, "printed before the edit", "printed now"))
    if len(parts) == 1:
        parts.append("the same SQL and the same printed output as before the edit.")
    return "\n".join(parts)


class _Dumper(yaml.SafeDumper):
    """Writes multi-line SQL as literal blocks, so that diffs read like SQL."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _represent_str)


def verified_run_path(root: Path = ROOT) -> Path:
    return root / "tests" / "snapshots" / "_verified-run.yml"


@dataclass(frozen=True)
class Verification:
    """The run that last recorded a page on one database, and the versions it used."""

    database: str
    version: str
    date: str
    python: str
    sqlalchemy: str


def record_verified_run(
    root: Path,
    covered: dict[str, Iterable[str]],
    versions: dict[str, str],
    python: str,
    sqlalchemy: str,
) -> None:
    """Note, for each page a recording run covered, the databases it ran the page on.

    ``covered`` maps a page (``docs/engine.md``) to the databases it was recorded
    on; ``versions`` gives each database's server version. Other pages, and the
    page's other databases, keep what earlier runs noted.
    """
    path = verified_run_path(root)
    pages = _recorded_pages(load(path))
    today = date.today().isoformat()
    for page, databases in covered.items():
        noted = dict(pages.get(page) or {})
        for database in databases:
            noted[database] = {
                "date": today,
                "version": versions[database],
                "python": python,
                "sqlalchemy": sqlalchemy,
            }
        pages[page] = {name: noted[name] for name in BACKEND_NAMES if name in noted}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "# For each page and database, the run that last recorded it and its versions;\n"
        "# written by those runs (`nox -s snapshots`), never by hand.\n"
        + yaml.safe_dump({"pages": dict(sorted(pages.items()))}, sort_keys=False)
    )


def verifications(root: Path, page: str) -> list[Verification]:
    """The databases ``page`` (``docs/engine.md``) was last recorded on, in tab order."""
    noted = _recorded_pages(load(verified_run_path(root))).get(page) or {}
    return [
        Verification(
            name,
            str(noted[name]["version"]),
            str(noted[name]["date"]),
            str(noted[name]["python"]),
            str(noted[name]["sqlalchemy"]),
        )
        for name in BACKEND_NAMES
        if name in noted
    ]


def all_verifications(root: Path) -> dict[str, list[Verification]]:
    """:func:`verifications` of every page the record knows."""
    return {
        page: verifications(root, page) for page in _recorded_pages(load(verified_run_path(root)))
    }


def _recorded_pages(record: dict) -> dict[str, dict]:
    # A record of the older form (one run for every page) says nothing of which
    # pages it covered, so it counts as no record at all.
    return dict(record.get("pages") or {})
