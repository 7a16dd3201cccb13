"""What the site shows under each block: the SQL it sent, one tab per database.

It reads the same blocks and snapshots as the test run (``harness.pages`` and
``harness.snapshots``), so the site can only show SQL that a run recorded.
It also marks blocks written as an interactive session (``>>>``) as ``pycon``,
and gives their copy button the code alone (``data-copy``): no prompts, no
output, no traceback. Under the title of each chapter it links the chapter's
program (``harness.page_scripts``, written into the site by ``harness.site_files``)
and says which versions the last recording run used. The pictures a page asks
for (``harness.pictures``), a diagram of the tables a block created or a chart of
what blocks sent, are drawn here from the same recordings (``harness.draw_pictures``).

``with_recordings`` turns a page's Markdown and its recordings into the Markdown
the site renders; the Markdown extension ``harness.site_markdown`` calls it for
every page, under MkDocs and under Zensical alike.
"""

from __future__ import annotations

import html
import os
import re
from pathlib import Path

from harness import draw_pictures, pictures, snapshots
from harness.backends import BACKENDS as ORDER
from harness.backends import BY_NAME, titles, with_versions
from harness.page_scripts import copy_text, script_name
from harness.pages import Block, PageError, python_blocks, relative

VERIFIED_RUN_MARKER = "<!-- verified-run -->"


_TITLE = re.compile(r"^# .+\n", re.MULTILINE)


def with_recordings(markdown: str, source: Path, docs: Path, root: Path) -> str:
    """The page's Markdown with what its blocks printed and sent, its pictures and its facts.

    ``source`` is the page's file, under ``docs``; ``root`` holds tests/snapshots.
    """
    if VERIFIED_RUN_MARKER in markdown:
        markdown = markdown.replace(VERIFIED_RUN_MARKER, render_verified_run(root))
    entries = snapshots.load(snapshots.snapshot_path(source, docs, root))
    asked = page_pictures(markdown, source, root)
    markdown = with_charts(markdown, asked, entries, source, root)
    blocks = python_blocks(markdown)
    # Work from the end of the page, so earlier offsets stay valid.
    for block in reversed(blocks):
        fence = block.fence
        rendered = markdown[fence.start : fence.end]
        if block.is_console:
            rendered = with_copy_text(block, rendered.replace("python", "pycon", 1), source, root)
        rendered += render_recordings(block, entries.get(block.key), source, root)
        if block.key in asked.tables:
            rendered += render_diagram(block, entries.get(block.key), asked, source, root)
        markdown = markdown[: fence.start] + rendered + markdown[fence.end :]
    if blocks:
        markdown = with_page_facts(markdown, source, docs, root)
    return markdown


def render_recordings(block: Block, entry: dict | None, page: Path, root: Path) -> str:
    """What goes under a block: what it printed, the SQL it sent, or why it never runs.

    A block must have a recording for every database it runs on: the site shows
    nothing that no run recorded, and says nothing is sent only where a run saw that.
    """
    where = f"{relative(page, root)}, line {block.line}"
    if block.skip is not None:
        if block.skip.problem:
            raise PageError(f"{relative(page, root)}, line {block.skip.line}: {block.skip.problem}")
        note = html.escape(f"This block is not run by the tests: {block.skip.reason}")
        return f'\n{block.fence.indent}<p class="block-note">{note}</p>\n'
    runs_on = [name for name in ORDER if block.runs_on(name)]
    missing = [name for name in runs_on if snapshots.recording(entry, name) is None]
    if missing:
        titles = ", ".join(BY_NAME[name].title for name in missing)
        raise PageError(
            f"{where}: no run has recorded this block on {titles}; run `nox -s snapshots` "
            "with that database configured"
        )
    tabs = recorded_tabs(entry, runs_on)
    rendered = ""
    if any(recording.output for _, _, recording in tabs):
        rendered += "\n" + render_output(block, tabs)
    if any(recording.sql for _, _, recording in tabs):
        rendered += "\n" + render_sql_tabs(block, tabs)
    return rendered


def page_pictures(markdown: str, page: Path, root: Path) -> pictures.PagePictures:
    """The pictures the page asks for; a comment that cannot be obeyed stops the build."""
    asked = pictures.page_pictures(markdown, relative(page, root))
    if asked.problems:
        raise PageError("\n".join(asked.problems))
    return asked


def _picture_tabs(block: Block, entry: dict | None, page: Path, root: Path, what: str):
    """Each recording of a block that a picture is drawn from, refusing one that is missing."""
    runs_on = [name for name in ORDER if block.runs_on(name)]
    tabs = recorded_tabs(entry or {}, runs_on)
    missing = [
        label
        for _, label, recording in tabs
        if recording is None
        or (recording.tables if what == "tables" else recording.rows) in ("", None)
    ]
    if missing or not tabs:
        raise PageError(
            f"{relative(page, root)}, line {block.line}: no run has recorded the {what} of this "
            f"block on {', '.join(missing) or 'any database'}, from which its picture is drawn; "
            "run `nox -s snapshots`"
        )
    return tabs


def render_diagram(
    block: Block, entry: dict | None, asked: pictures.PagePictures, page: Path, root: Path
) -> str:
    """The diagram of the tables a block created, under its SQL box."""
    tabs = _picture_tabs(block, entry, page, root, "tables")
    marker = asked.tables[block.key]
    return draw_pictures.diagram_html(block.key, tabs, marker, block.fence.indent)


def with_charts(
    markdown: str, asked: pictures.PagePictures, entries: dict, page: Path, root: Path
) -> str:
    """Each ``<!-- chart: "title" -->`` of the page replaced by its chart."""
    blocks = {block.key: block for block in python_blocks(markdown)}
    for number, chart in reversed(list(enumerate(asked.charts))):
        bars = [
            (label, _picture_tabs(blocks[key], entries.get(key), page, root, "rows"))
            for key, label in chart.bars
        ]
        drawn = draw_pictures.chart_html(number, chart.marker.label, bars)
        marker = chart.marker
        indent = re.match(r"[ \t]*", markdown[marker.start :]).group()
        markdown = markdown[: marker.start] + f"{indent}{drawn}" + markdown[marker.end :]
    return markdown


def recorded_tabs(entry: dict, databases: list[str]) -> list[tuple[str, str, snapshots.Recording]]:
    """Each recording of a block to show, as (data-database, label, recording).

    A database verified on several versions is labelled with the versions that
    recorded it ("PostgreSQL 15 and 17"); a version that did something else
    gets a tab of its own ("PostgreSQL 17"), beside the shared one.
    """
    tabs = []
    for name in databases:
        backend = BY_NAME[name]
        shared = (entry.get("versions") or {}).get(name) or []
        tabs.append((name, with_versions(backend, shared), snapshots.recording(entry, name)))
        for version in backend.versions:
            if entry.get(f"{name} {version}") is not None:
                own = snapshots.recording(entry, name, version)
                tabs.append((f"{name}-{version}", with_versions(backend, [version]), own))
    return tabs


def render_output(block: Block, tabs: list[tuple[str, str, snapshots.Recording]]) -> str:
    """What a plain block printed, as each database's run recorded it.

    One panel when every database printed the same, a tab for each otherwise.
    """
    indent = block.fence.indent
    outputs = [(key, label, recording.output) for key, label, recording in tabs]
    if len({output for _, _, output in outputs}) == 1:
        text = html.escape(outputs[0][2])
        box = f'<div class="block-output"><span>Output</span><pre>{text}</pre></div>'
        return f"\n{indent}{box.replace(chr(10), '&#10;')}\n"
    box = "".join(
        [
            '<div class="block-output"><span>Output, on each database</span>',
            _tabs(f"out-{block.key}", outputs, lambda text: text),
            "</div>",
        ]
    )
    return f"\n{indent}{box.replace(chr(10), '&#10;')}\n"


def _tabs(name: str, panels: list[tuple[str, str, str]], shown) -> str:
    """CSS-only tabs: a radio input, a label and a panel for each (data-database, label, text)."""
    inputs, labels, texts = [], [], []
    for index, (database, label, text) in enumerate(panels):
        checked = " checked" if index == 0 else ""
        inputs.append(
            f'<input type="radio" name="{name}" id="{name}-{index}" '
            f'data-database="{database}"{checked}>'
        )
        labels.append(f'<label for="{name}-{index}">{html.escape(label)}</label>')
        texts.append(f'<pre class="sql-tab-panel">{html.escape(shown(text))}</pre>')
    return "".join(
        [
            '<div class="sql-tabs">',
            *inputs,
            '<div class="sql-tab-labels">',
            *labels,
            '</div><div class="sql-tab-panels">',
            *texts,
            "</div></div>",
        ]
    )


def with_copy_text(block: Block, rendered: str, page: Path, root: Path) -> str:
    """The block inside a ``data-copy`` element, which Material's copy button prefers.

    The CSS alone cannot leave out a traceback, whose lines are not marked as
    output; the code is therefore worked out here, as the page's program has it,
    each error the block shows caught and printed, so that the blocks of a page
    copied one after another into a file make a program that runs.
    """
    code = html.escape(copy_text(block, page, root), quote=True).replace("\n", "&#10;")
    indent = block.fence.indent
    return (
        f'{indent}<div class="console-block" data-copy="{code}" markdown>\n\n'
        f"{rendered}\n\n{indent}</div>"
    )


def with_page_facts(markdown: str, page: Path, docs: Path, root: Path) -> str:
    """Under the page's title: its program to download, and when it was last verified."""
    title = _TITLE.search(markdown)
    if title is None:
        return markdown
    script = script_name(page, docs)
    link = Path(os.path.relpath(docs / script, page.parent)).as_posix()
    facts = (
        '\n<div class="page-facts" markdown>\n\n'
        f'[Download this page as a script]({link}){{ download="{Path(script).name}" }}: '
        "every python block below, in order, as one program for SQLite, PostgreSQL "
        "or MariaDB.\n\n"
        f"{render_verified_line(root, page)}\n\n</div>\n"
    )
    return markdown[: title.end()] + facts + markdown[title.end() :]


def render_sql_tabs(block: Block, tabs: list[tuple[str, str, snapshots.Recording]]) -> str:
    """A collapsed box under the block, with a tab for each database (and version that differs).

    Plain HTML with CSS-only tabs (docs/stylesheets/tutorial.css), rather than
    the theme's content tabs: a chapter has dozens of these boxes, and the theme's
    script would spend a second setting up each tab set and code block before
    the page answers. The tabs wait in a ``<template>``, which the browser neither
    styles nor lays out, until docs/javascripts/sql-tabs.js draws them as the box
    first opens (or the page is printed): a long chapter loads without the
    thousand elements of its closed boxes. That script also keeps the chosen
    database the same in every box of the page.
    """
    sql = [(key, label, recording.sql) for key, label, recording in tabs]
    box = "".join(
        [
            # Out of the search index, which every page's first visit downloads: each
            # box holds the SQL of every database, and the code and prose above it say
            # what a search would look for.
            '<details class="sql-box" data-search-exclude="sql">',
            "<summary>SQL sent by this block</summary>",
            "<template>",
            _tabs(
                f"sql-{block.key}", sql, lambda text: text or "-- nothing is sent on this database"
            ),
            "</template></details>",
        ]
    )
    # One line of raw HTML: Markdown leaves it as it is, even inside a tab.
    return f"\n{block.fence.indent}{box.replace(chr(10), '&#10;')}\n"


def render_verified_run(root: Path) -> str:
    """A table of the runs that last recorded the pages: versions, date, and how many pages."""
    rows: dict[tuple[str, ...], int] = {}
    for found in snapshots.all_verifications(root).values():
        for v in found:
            row = (BY_NAME[v.database].title, v.version, v.sqlalchemy, v.python, v.date)
            rows[row] = rows.get(row, 0) + 1
    if not rows:
        return "*No run has recorded its versions yet.*"
    order = {BY_NAME[name].title: index for index, name in enumerate(ORDER)}
    lines = [
        "| Database | Version | SQLAlchemy | Python | Recorded on | Pages |",
        "|---|---|---|---|---|---|",
    ]
    for row, count in sorted(rows.items(), key=lambda item: (order[item[0][0]], item[0][4])):
        lines.append("| " + " | ".join(row) + f" | {count} |")
    return "\n".join(lines)


def render_verified_line(root: Path, page: Path | None = None) -> str:
    """One sentence naming the databases the last recording runs of ``page`` covered.

    A page recorded on some databases only is announced on those alone; each
    group of databases recorded by one run gets its date and versions.
    """
    name = relative(page, root) if page is not None else None
    found = snapshots.verifications(root, name) if name else []
    if not found:
        return "No run has noted the versions it recorded this page with yet."
    runs: dict[tuple[str, str, str], list[snapshots.Verification]] = {}
    for v in found:
        runs.setdefault((v.date, v.sqlalchemy, v.python), []).append(v)
    said = []
    for (day, sqlalchemy, python), group in sorted(runs.items(), reverse=True):
        by_database: dict[str, list[str]] = {}
        for v in group:
            by_database.setdefault(v.database, []).append(v.version)
        databases = [with_versions(BY_NAME[name], found) for name, found in by_database.items()]
        said.append(
            f"on {day} with {'; '.join(databases)} (SQLAlchemy {sqlalchemy}, Python {python})"
        )
    missing = [n for n in ORDER if n not in {v.database for v in found}]
    sentence = (
        f"Last verified {_and(said)}, by the "
        + ("run" if len(runs) == 1 else "runs")
        + " that recorded the SQL and output shown here, which wrote these versions down."
    )
    if missing:
        sentence += f" No recording run has noted its versions on {titles(missing)}."
    return sentence


def _and(words: list[str]) -> str:
    return ", ".join(words[:-1]) + f" and {words[-1]}" if len(words) > 1 else words[0]
