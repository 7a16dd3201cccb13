"""The mkdocs hook that shows readers the SQL each block sent, one tab per database.

It reads the same blocks and snapshots as the test run (``harness.pages`` and
``harness.snapshots``), so the site can only show SQL that a run recorded.
It also marks blocks written as an interactive session (``>>>``) as ``pycon``,
so that the copy button leaves out their prompts and output.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

from harness import snapshots
from harness.databases import BY_NAME
from harness.pages import Block, python_blocks

ORDER = ("sqlite", "postgresql", "mariadb")


VERIFIED_RUN_MARKER = "<!-- verified-run -->"


def on_page_markdown(markdown: str, page, config, files) -> str:
    docs = Path(config["docs_dir"])
    root = Path(config["config_file_path"]).parent
    if VERIFIED_RUN_MARKER in markdown:
        markdown = markdown.replace(VERIFIED_RUN_MARKER, render_verified_run(root))
    source = Path(page.file.abs_src_path)
    entries = snapshots.load(snapshots.snapshot_path(source, docs, root))
    # Work from the end of the page, so earlier offsets stay valid.
    for block in reversed(python_blocks(markdown)):
        fence = block.fence
        rendered = markdown[fence.start : fence.end]
        if block.is_console:
            rendered = rendered.replace("python", "pycon", 1)
        entry = entries.get(block.key)
        if entry:
            rendered += "\n" + render_sql_tabs(block, entry)
        markdown = markdown[: fence.start] + rendered + markdown[fence.end :]
    return markdown


def render_sql_tabs(block: Block, entry: dict[str, str]) -> str:
    """A collapsed box under the block, with a tab for each database."""
    lines = ['\n??? sql "SQL sent by this block"\n']
    for name in ORDER:
        sql = entry.get(name) or "-- nothing is sent on this database"
        lines.append(f'    === "{BY_NAME[name].title}"\n')
        lines.append(textwrap.indent(f"```sql\n{sql}\n```\n", " " * 8))
    return textwrap.indent("\n".join(lines), block.fence.indent)


def render_verified_run(root: Path) -> str:
    """A table of the versions the last snapshot run verified the pages with."""
    record = snapshots.load(snapshots.verified_run_path(root))
    if not record:
        return "*No run has recorded its versions yet.*"
    rows = [
        ("Date", record["date"]),
        ("Python", record["python"]),
        ("SQLAlchemy", record["sqlalchemy"]),
    ]
    for name in ORDER:
        if name in record.get("databases", {}):
            rows.append((BY_NAME[name].title, record["databases"][name]))
    lines = ["| | Version |", "|---|---|"]
    lines += [f"| {label} | {value} |" for label, value in rows]
    return "\n".join(lines)
