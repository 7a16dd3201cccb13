"""The committed SQL of each page: one YAML file per page under tests/snapshots/.

Entries are keyed by the digest of the block's text (see ``pages.block_key``),
so editing one block never renames the snapshot of another. Each entry holds
the block's first line, for reviewers, and the SQL per backend; a backend that
is missing from an entry is expected to send nothing.
"""

from __future__ import annotations

import difflib
from datetime import date
from pathlib import Path

import yaml

from harness.pages import DOCS, ROOT

HEADER = (
    "# SQL sent by each python block of {page}, per database.\n"
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
