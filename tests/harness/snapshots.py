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
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import yaml

from harness.pages import DOCS, ROOT, Block

BACKEND_NAMES = ("sqlite", "postgresql", "mariadb")


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


def diff(expected: str, actual: str) -> str:
    return "\n".join(
        difflib.unified_diff(
            expected.splitlines(),
            actual.splitlines(),
            "snapshot",
            "this run",
            lineterm="",
        )
    )


class _Dumper(yaml.SafeDumper):
    """Writes multi-line SQL as literal blocks, so that diffs read like SQL."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _represent_str)


def verified_run_path(root: Path = ROOT) -> Path:
    return root / "tests" / "snapshots" / "_verified-run.yml"


def record_verified_run(root: Path, versions: dict[str, str]) -> None:
    """Note the versions a snapshot run used, keeping databases it did not run on."""
    path = verified_run_path(root)
    record = load(path)
    databases = dict(record.get("databases") or {})
    databases.update({k: v for k, v in versions.items() if k not in ("python", "sqlalchemy")})
    record = {
        "date": date.today().isoformat(),
        "python": versions["python"],
        "sqlalchemy": versions["sqlalchemy"],
        "databases": databases,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "# The versions of the last run that recorded the snapshots; written by it.\n"
        + yaml.safe_dump(record, sort_keys=False)
    )
