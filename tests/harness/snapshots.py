"""What each block of a page did, per database: one YAML file per page under tests/snapshots/.

Entries are keyed by the digest of the block's code (see ``pages.block_key``),
so editing one block never renames the snapshot of another, and correcting the
output a ``>>>`` block shows renames nothing. Every block of the page has an
entry, so a deleted block leaves a stale entry that the run reports. An entry
holds the block's first line, for reviewers; the SQL it sent on each database it
was recorded on (an empty text: it was run there and sent nothing); and, for a
plain block that prints, what it printed on each database. A block that makes a
picture (``harness.pictures``) also has, on each database, the tables it created
as the database reported them (``tables``), or the rows it fetched (``rows``).
A database missing from an entry has no recording, which fails the run and the
site build.
"""

from __future__ import annotations

import difflib
import functools
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import yaml

from harness.backends import BACKENDS as BACKEND_NAMES
from harness.backends import BY_NAME, major
from harness.pages import DOCS, ROOT, Block


@dataclass(frozen=True)
class Recording:
    """What one block did on one database."""

    sql: str
    output: str = ""
    tables: str = ""  # the tables the block created, for a diagram (``harness.pictures``)
    rows: int | None = None  # the rows it fetched, for a chart


#: What a recording holds beside its SQL, each a mapping from database (and version) to
#: its value, with the value of a recording that has none.
SECTIONS = {"output": "", "tables": "", "rows": None}


def _recording(entry: dict, key: str) -> Recording:
    """The recording of ``key`` (``postgresql``, ``postgresql 17``) in an entry."""
    found = {name: (entry.get(name) or {}).get(key, empty) for name, empty in SECTIONS.items()}
    return Recording(entry[key], **found)


def recording(entry: dict | None, backend: str, version: str | None = None) -> Recording | None:
    """What ``backend`` was recorded doing in a snapshot entry; None if no run recorded it.

    ``version`` (one of the backend's :attr:`~harness.backends.Backend.versions`)
    asks for what that version did: its own recording where it differed, else the
    shared one if that version's run sent exactly that. Without ``version``, the
    shared recording, whichever versions sent it.
    """
    if not entry:
        return None
    if version is not None:
        variant = f"{backend} {version}"
        if entry.get(variant) is not None:
            return _recording(entry, variant)
        if version not in (entry.get("versions") or {}).get(backend, ()):
            return None
    if entry.get(backend) is None:
        return None
    return _recording(entry, backend)


def recorded_versions(entry: dict | None, backend: str) -> list[str]:
    """The versions of ``backend`` whose runs recorded this entry, in the registry's order."""
    if not entry:
        return []
    shared = (entry.get("versions") or {}).get(backend) or []
    own = [v for v in BY_NAME[backend].versions if entry.get(f"{backend} {v}") is not None]
    return [v for v in BY_NAME[backend].versions if v in shared or v in own]


def update(
    path: Path,
    page_name: str,
    blocks: list[Block],
    backend: str,
    recorded: dict[str, Recording],
    version: str | None = None,
) -> None:
    """Store what ``backend`` recorded, keeping other databases' recordings as they were.

    A block that does not run on ``backend`` (skipped, or under another database's
    tab) loses any recording it had there; a block the run did not reach keeps its own.

    ``version`` is the server's version, for a backend verified on several
    (:attr:`~harness.backends.Backend.versions`). Each entry then lists the
    versions whose runs sent its shared recording; a version that did something
    else keeps a recording of its own (``postgresql 17``), which the site shows
    in a tab of its own. Other versions' recordings are kept as they were.
    """
    current = load(path)
    entries: dict[str, dict] = {}
    for block in blocks:
        entry = dict(current.get(block.key) or {})
        runs_here = block.skip is None and block.runs_on(backend)
        if version is None:
            if not runs_here:
                entry.pop(backend, None)
                for name in SECTIONS:
                    (entry.get(name) or {}).pop(backend, None)
            elif block.key in recorded:
                entry[backend] = recorded[block.key].sql
                for name in SECTIONS:
                    entry[name] = {
                        **(entry.get(name) or {}),
                        backend: getattr(recorded[block.key], name),
                    }
        elif not runs_here or block.key in recorded:
            entry = _with_version(entry, backend, version, recorded.get(block.key))
        entries[block.key] = _tidy(entry, block.first_line)
    save(path, page_name, entries)


def _with_version(entry: dict, backend: str, version: str, new: Recording | None) -> dict:
    """``entry`` with what ``version`` of ``backend`` did (``new`` None: it does not run there)."""
    entry = dict(entry)
    sections = {name: dict(entry.get(name) or {}) for name in SECTIONS}
    versions = {name: list(listed) for name, listed in (entry.get("versions") or {}).items()}

    def put(key: str, recording: Recording) -> None:
        entry[key] = recording.sql
        for name, values in sections.items():
            values[key] = getattr(recording, name)

    def drop(key: str) -> None:
        entry.pop(key, None)
        for values in sections.values():
            values.pop(key, None)

    def kept(key: str) -> Recording:
        return _recording({**entry, **sections}, key)

    variant = f"{backend} {version}"
    drop(variant)
    shared = [v for v in versions.get(backend, []) if v != version]
    others = [v for v in BY_NAME[backend].versions if v != version]
    main = recording({**entry, **sections}, backend)
    if new is not None and main is not None and shared:
        if main == new:
            shared.append(version)
        else:
            put(variant, new)
    elif new is not None:
        # Nothing else vouches for the shared recording: this run's becomes it,
        # and the versions that did the same join it.
        put(backend, new)
        shared = [version]
        for other in others:
            mine = f"{backend} {other}"
            if entry.get(mine) is not None and kept(mine) == new:
                drop(mine)
                shared.append(other)
    elif not shared:
        # The block no longer runs on this version, which alone sent the shared
        # recording: another version's own recording takes its place, if any.
        drop(backend)
        for other in others:
            mine = f"{backend} {other}"
            if entry.get(mine) is not None:
                put(backend, kept(mine))
                drop(mine)
                shared = [other]
                break
    versions[backend] = shared
    entry.update(sections)
    entry["versions"] = versions
    return entry


def _tidy(entry: dict, first_line: str) -> dict:
    """An entry in the order reviewers read it, without empty parts."""
    output = entry.get("output") or {}
    versions = entry.get("versions") or {}
    tidy: dict = {"block": first_line}
    keys = [
        key
        for name in BACKEND_NAMES
        for key in (name, *(f"{name} {v}" for v in BY_NAME[name].versions))
    ]
    for key in keys:
        if entry.get(key) is not None:
            tidy[key] = entry[key]
    printed = {key: output[key] for key in keys if output.get(key) and key in tidy}
    if printed:
        tidy["output"] = printed
    tables = entry.get("tables") or {}
    reflected = {key: tables[key] for key in keys if tables.get(key) and key in tidy}
    if reflected:
        tidy["tables"] = reflected
    rows = entry.get("rows") or {}
    fetched = {key: rows[key] for key in keys if rows.get(key) is not None and key in tidy}
    if fetched:
        tidy["rows"] = _FlowMap(fetched)
    listed = {
        name: _Flow([v for v in BY_NAME[name].versions if v in versions[name]])
        for name in BACKEND_NAMES
        if versions.get(name) and name in tidy
    }
    if listed:
        tidy["versions"] = _FlowMap(listed)
    return tidy


HEADER = (
    "# What each python block of {page} sent and printed, per database.\n"
    "# Written by `nox -s snapshots`: regenerate it, never edit it by hand.\n"
)


def snapshot_path(page: Path, docs: Path = DOCS, root: Path = ROOT) -> Path:
    """``docs/engine.md`` keeps its SQL in ``tests/snapshots/engine.yml``."""
    relative = Path(page).resolve().relative_to(docs.resolve())
    return root / "tests" / "snapshots" / relative.with_suffix(".yml")


#: libyaml's parser where PyYAML was built with it: the same data, read ten times faster.
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load(path: Path) -> dict[str, dict[str, str]]:
    if not path.is_file():
        return {}
    return yaml.load(path.read_text(), Loader=_Loader) or {}  # noqa: S506 - a safe loader


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


class _Flow(list):
    """A list written on one line: the versions that sent a recording."""


class _FlowMap(dict):
    """A mapping written on one line."""


_Dumper.add_representer(str, _represent_str)
_Dumper.add_representer(
    _Flow, lambda dumper, value: dumper.represent_sequence("tag:yaml.org,2002:seq", value, True)
)
_Dumper.add_representer(
    _FlowMap,
    lambda dumper, value: dumper.represent_mapping("tag:yaml.org,2002:map", value, True),
)


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

    @property
    def major(self) -> str:
        """The version as the registry lists it ("17" for 17.7)."""
        return major(BY_NAME[self.database], self.version)


def record_verified_run(
    root: Path,
    covered: dict[str, Iterable[str]],
    versions: dict[str, str],
    python: str,
    sqlalchemy: str,
) -> None:
    """Note, for each page a recording run covered, the databases it ran the page on.

    ``covered`` maps a page (``docs/engine.md``) to the databases it was recorded
    on; ``versions`` gives each database's server version. Other pages, the page's
    other databases, and the other versions of a database verified on several
    (PostgreSQL 15 and 17) keep what earlier runs noted.
    """
    path = verified_run_path(root)
    pages = _recorded_pages(load(path))
    today = date.today().isoformat()
    for page, databases in covered.items():
        noted = {name: _as_list(runs) for name, runs in (pages.get(page) or {}).items()}
        for database in databases:
            version = versions[database]
            same = major(BY_NAME[database], version)
            kept = [
                run
                for run in noted.get(database, [])
                if BY_NAME[database].versions
                and major(BY_NAME[database], str(run["version"])) != same
            ]
            run = {"date": today, "version": version, "python": python, "sqlalchemy": sqlalchemy}
            noted[database] = sorted(
                [*kept, run], key=lambda r: _version_order(database, str(r["version"]))
            )
        pages[page] = {name: noted[name] for name in BACKEND_NAMES if name in noted}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "# For each page and database, the runs that last recorded it and their versions\n"
        "# (one for each version of the database the site is verified on); written by\n"
        "# those runs (`nox -s snapshots`), never by hand.\n"
        + yaml.safe_dump({"pages": dict(sorted(pages.items()))}, sort_keys=False)
    )


def _as_list(runs) -> list[dict]:
    return list(runs) if isinstance(runs, list) else [runs]


def _version_order(database: str, version: str) -> tuple:
    listed = BY_NAME[database].versions
    same = major(BY_NAME[database], version)
    return (listed.index(same) if same in listed else len(listed), version)


def verifications(root: Path, page: str) -> list[Verification]:
    """The runs that last recorded ``page`` (``docs/engine.md``), in tab and version order."""
    return _verifications(_recorded(root), page)


def _verifications(recorded: dict[str, dict], page: str) -> list[Verification]:
    noted = recorded.get(page) or {}
    return [
        Verification(
            name,
            str(run["version"]),
            str(run["date"]),
            str(run["python"]),
            str(run["sqlalchemy"]),
        )
        for name in BACKEND_NAMES
        for run in _as_list(noted.get(name) or [])
    ]


def all_verifications(root: Path) -> dict[str, list[Verification]]:
    """:func:`verifications` of every page the record knows."""
    recorded = _recorded(root)
    return {page: _verifications(recorded, page) for page in recorded}


def _recorded(root: Path) -> dict[str, dict]:
    """What the record notes of each page, read once for as long as its text is the same
    (the build asks it for every page); not to be changed by its callers."""
    path = verified_run_path(root)
    return _recorded_in(path.read_text()) if path.is_file() else {}


@functools.lru_cache(maxsize=8)
def _recorded_in(text: str) -> dict[str, dict]:
    return _recorded_pages(yaml.load(text, Loader=_Loader) or {})  # noqa: S506 - a safe loader


def _recorded_pages(record: dict) -> dict[str, dict]:
    # A record of the older form (one run for every page) says nothing of which
    # pages it covered, so it counts as no record at all.
    return dict(record.get("pages") or {})
