"""Static SVG of what the run recorded for a page's pictures (``harness.pictures``).

Called by ``harness.render_sql_tabs`` as the site is built. Nothing here is drawn by
hand or fetched: a table diagram is drawn from the tables a run reflected after
a block, a chart from the SQL and rows the run recorded for the blocks it
counts. Each picture is inline SVG with no script: its text takes the page's
colour (``currentColor``) and its boxes and bars the theme's colour variables
(``docs/stylesheets/tutorial.css``), so it reads in the light and the dark
scheme; its ``viewBox`` lets it shrink to a phone's width; its ``<title>`` and
``<desc>`` name the tables, columns and keys (or the bars and their numbers)
for readers who do not see it.

Where the databases (or versions) recorded different tables or numbers, the
picture gets a tab for each group of those that agree, like the SQL boxes; where
they all agree, one picture stands for all of them.

Layout of a diagram, enough for the handful of tables a chapter creates: each
table goes in a column after the tables it refers to (those with no foreign key
first, on the left), its foreign key columns point with an arrow at the columns
they refer to, each arrow in a lane of its own between the columns; an arrow
that would cross a column of tables runs above them all, and a table that
refers to itself gets a loop on its right. A table whose primary key is made of
its foreign keys to two tables or more is an association table, drawn dashed.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

from harness import pictures, snapshots
from harness.backends import titles
from harness.pictures import Table

FONT = 13  # px, in the drawing's own units
CHAR = 7.9  # the advance of one character of a monospace font at FONT, and a little more
ROW = 19
HEAD = 24
PAD = 8
GAP = 44  # between two columns of tables, before the arrows' lanes
LANE = 9
STACK = 22  # between two tables of one column
ARROW = 6


def _w(text: str) -> float:
    return len(text) * CHAR


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def _n(number: float) -> str:
    return f"{number:.1f}".rstrip("0").rstrip(".")


def _and(words: list[str]) -> str:
    return ", ".join(words[:-1]) + f" and {words[-1]}" if len(words) > 1 else "".join(words)


# Table diagrams -------------------------------------------------------------------


@dataclass
class _Box:
    table: Table
    rows: list[tuple[str, str, tuple[str, ...], str]]  # key, name, type's lines, flags
    notes: list[str]  # constraints shown under the columns
    width: float
    height: float
    level: int = 0
    x: float = 0
    y: float = 0
    association: bool = False

    @property
    def lines(self) -> int:
        """How many lines the columns take: a long type goes on over several."""
        return sum(max(len(row[2]), 1) for row in self.rows)

    def row_y(self, column: str) -> float:
        """The middle of the (first) line of the row of ``column``."""
        line = 0
        for row in self.rows:
            if row[1] == column:
                return self.y + HEAD + line * ROW + ROW / 2
            line += max(len(row[2]), 1)
        return self.y + HEAD / 2


#: The longest line of a type (MariaDB's ``LONGTEXT CHARACTER SET utf8mb4 COLLATE
#: utf8mb4_bin``, say) before it goes on over another, under itself.
TYPE_LINE = 24


def _type_lines(type_: str) -> tuple[str, ...]:
    lines: list[str] = []
    for word in type_.split(" ") if type_ else []:
        if lines and len(lines[-1]) + 1 + len(word) <= TYPE_LINE:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return tuple(lines)


def is_association(table: Table) -> bool:
    """A table whose primary key is its foreign keys to two tables or more."""
    referring = {column for key in table.foreign_keys for column in key.columns}
    targets = {key.table for key in table.foreign_keys}
    return bool(table.primary_key) and set(table.primary_key) <= referring and len(targets) >= 2


def _note(name: str | None, said: str) -> list[str]:
    return [f"{name}:", f"  {said}"] if name else [said]


def _box(table: Table, names: bool) -> _Box:
    single = {u.columns[0] for u in table.uniques if len(u.columns) == 1}
    referring = {column for key in table.foreign_keys for column in key.columns}
    rows = []
    for column in table.columns:
        key = " ".join(
            word
            for word, yes in (
                ("PK", column.name in table.primary_key),
                ("FK", column.name in referring),
            )
            if yes
        )
        flags = [
            word
            for word, yes in (("unique", column.name in single), ("nullable", column.nullable))
            if yes
        ]
        rows.append((key, column.name, _type_lines(column.type), " ".join(flags)))
    # Under the columns: the constraints a row cannot show, each named on a line of its
    # own when the diagram shows names, so that a long name does not widen the box.
    notes = []
    for unique in table.uniques:
        if names or len(unique.columns) > 1:
            kind = "unique index" if unique.index else "unique"
            notes += _note(unique.name if names else None, f"{kind} ({', '.join(unique.columns)})")
    for key in table.foreign_keys:
        if names or key.rules:
            rules = f" {key.rules}" if key.rules else ""
            said = f"foreign key ({', '.join(key.columns)}){rules}"
            notes += _note(key.name if names else None, said)
    keys = max((len(r[0]) for r in rows), default=0)
    widths = [
        max((_w(r[1]) for r in rows), default=0),
        max((_w(line) for r in rows for line in r[2]), default=0),
        max((_w(r[3]) for r in rows), default=0),
    ]
    inner = (keys * CHAR + PAD if keys else 0) + widths[0]
    inner += sum(PAD * 1.5 + width for width in widths[1:] if width)
    association = is_association(table)
    head = _w(table.name) + (_w("  association") if association else 0)
    width = 2 * PAD + max(inner, head, *(_w(n) * 0.9 for n in notes))
    box = _Box(table, rows, notes, width, 0, association=association)
    box.height = HEAD + ROW * box.lines + (len(notes) * ROW * 0.85 + PAD * 0.5 if notes else 0) + 4
    return box


def _levels(boxes: dict[str, _Box]) -> None:
    """Each table one column after the furthest table it refers to."""

    def level(name: str, seen: frozenset[str]) -> int:
        box = boxes[name]
        parents = {
            key.table
            for key in box.table.foreign_keys
            if key.table in boxes and key.table != name and key.table not in seen
        }
        return 1 + max((level(p, seen | {name}) for p in parents), default=-1)

    for name, box in boxes.items():
        box.level = level(name, frozenset())


@dataclass
class _Arrow:
    child: _Box
    parent: _Box
    column: str
    referred: str
    lane_x: float = 0  # the vertical lane by the child (or, for a loop, right of the table)
    over_x: float = 0  # for an arrow that runs above the tables: the lane by the parent
    over_y: float | None = None  # the height of that run, if it needs one

    @property
    def span(self) -> int | None:
        """How many columns the arrow crosses leftwards; None for a table's loop to itself."""
        return None if self.child is self.parent else self.child.level - self.parent.level


def layout(
    tables: list[Table], names: bool, stacked: bool = False
) -> tuple[list[_Box], list[_Arrow], float, float]:
    """Place the boxes and route the arrows; the drawing's width and height.

    ``stacked`` puts every table in one column, each after the tables it refers
    to, with the arrows in lanes on its left: the drawing a phone shows.
    """
    boxes = {table.name: _box(table, names) for table in tables}
    _levels(boxes)
    if stacked:
        order = sorted(boxes.values(), key=lambda box: box.level)
        boxes = {box.table.name: box for box in order}
        for box in order:
            box.level = 0
    arrows = [
        _Arrow(box, boxes[key.table], key.columns[0], key.referred[0])
        for box in boxes.values()
        for key in box.table.foreign_keys
        if key.table in boxes
    ]
    columns: dict[int, list[_Box]] = {}
    for box in boxes.values():
        columns.setdefault(box.level, []).append(box)
    levels = sorted(columns)
    # Each column in the order of the tables its tables refer to, so that arrows cross
    # as little as they can; the first column in the page's order.
    rank: dict[str, float] = {}
    for level in levels:
        stack = columns[level]
        if level:

            def parents(box: _Box) -> float:
                ranks = [rank[a.parent.table.name] for a in arrows if a.child is box]
                ranks = [r for r in ranks if r is not None]
                return sum(ranks) / len(ranks) if ranks else 0.5

            stack.sort(key=parents)
        for index, box in enumerate(stack):
            rank[box.table.name] = (index + 0.5) / len(stack)
    # The lanes of each gap: the arrows that leave a column leftwards, and those that
    # come down into the gap after their parent's column from above.
    lanes: dict[int, list[_Arrow]] = {level: [] for level in levels}
    over = [a for a in arrows if a.span is not None and a.span > 1]
    for arrow in arrows:
        if arrow.span is not None:
            lanes[arrow.child.level].append(arrow)
    for arrow in over:
        lanes[arrow.parent.level + 1].append(arrow)
    loops = {
        level: max(sum(1 for a in arrows if a.span is None and a.child is b) for b in stack)
        for level, stack in columns.items()
    }
    top = PAD + (len(over) * LANE + PAD if over else 0)
    heights = {
        level: sum(b.height for b in stack) + STACK * (len(stack) - 1)
        for level, stack in columns.items()
    }
    tallest = max(heights.values(), default=0)
    x = PAD
    for level in levels:
        if lanes[level] and level == levels[0]:
            x += PAD + LANE * len(lanes[level])  # arrows within the first column
        elif level != levels[0]:
            x += GAP + LANE * len(lanes[level])
        y = top + (tallest - heights[level]) / 2
        for box in columns[level]:
            box.x, box.y = x, y
            y += box.height + STACK
        width = max(box.width for box in columns[level])
        x += width + (loops[level] * LANE + PAD * 2 if loops[level] else 0)
    for level in levels:
        gap_right = min(b.x for b in columns[level])
        using = sorted(lanes[level], key=lambda a: a.child.row_y(a.column))
        for index, arrow in enumerate(using):
            lane = gap_right - PAD * 1.5 - index * LANE
            if arrow.child.level == level:
                arrow.lane_x = lane
            else:
                arrow.over_x = lane
    for index, arrow in enumerate(over):
        arrow.over_y = PAD + index * LANE + LANE / 2
    for box in boxes.values():
        mine = [a for a in arrows if a.span is None and a.child is box]
        for index, arrow in enumerate(mine):
            arrow.lane_x = box.x + box.width + PAD + index * LANE
    right = max(
        [b.x + b.width for b in boxes.values()] + [a.lane_x for a in arrows if a.span is None]
    )
    return list(boxes.values()), arrows, right + PAD, top + tallest + PAD


def _arrow_path(arrow: _Arrow) -> tuple[str, str]:
    """The path of an arrow from the child's column to the parent's, and its head."""
    child, parent = arrow.child, arrow.parent
    y1, y2 = child.row_y(arrow.column), parent.row_y(arrow.referred)
    if arrow.span is None:  # a loop on the right, back into the table
        start, end, pointing = child.x + child.width, child.x + child.width, -1
        path = f"M{_n(start)},{_n(y1)}H{_n(arrow.lane_x)}V{_n(y2)}"
    elif arrow.span == 0:  # a table of the same column: into its left side
        start, end, pointing = child.x, parent.x, 1
        path = f"M{_n(start)},{_n(y1)}H{_n(arrow.lane_x)}V{_n(y2)}"
    elif arrow.span == 1:
        start, end, pointing = child.x, parent.x + parent.width, -1
        path = f"M{_n(start)},{_n(y1)}H{_n(arrow.lane_x)}V{_n(y2)}"
    else:
        start, end, pointing = child.x, parent.x + parent.width, -1
        path = (
            f"M{_n(start)},{_n(y1)}H{_n(arrow.lane_x)}V{_n(arrow.over_y)}"
            f"H{_n(arrow.over_x)}V{_n(y2)}"
        )
    back = end - pointing * ARROW  # the line stops where the head begins
    path += f"H{_n(back)}"
    head = f"M{_n(end)},{_n(y2)}L{_n(back)},{_n(y2 - ARROW / 2 - 0.5)}V{_n(y2 + ARROW / 2 + 0.5)}z"
    return path, head


def describe_tables(tables: list[Table], names: bool) -> str:
    """The diagram in words: every table, column, key and arrow."""
    parts = []
    for table in tables:
        single = {u.columns[0] for u in table.uniques if len(u.columns) == 1}
        columns = []
        for column in table.columns:
            said = [f"{column.name} {column.type}".strip()]
            if column.name in table.primary_key:
                said.append("primary key" if len(table.primary_key) == 1 else "in the primary key")
            if column.name in single:
                said.append("unique")
            if column.nullable:
                said.append("nullable")
            columns.append(", ".join(said))
        sentence = f"Table {table.name}"
        if is_association(table):
            sentence += " (an association table)"
        sentence += ": " + "; ".join(columns) + "."
        for unique in table.uniques:
            if names or len(unique.columns) > 1:
                named = f" {unique.name}" if names and unique.name else ""
                sentence += f" Unique constraint{named} on {', '.join(unique.columns)}."
        for key in table.foreign_keys:
            named = f" {key.name}" if names and key.name else ""
            rules = f", {key.rules}" if key.rules else ""
            sentence += (
                f" Foreign key{named}: {', '.join(key.columns)} refers to "
                f"{key.table}.{', '.join(key.referred)}{rules}."
            )
        parts.append(sentence)
    return " ".join(parts)


#: A diagram wider than this gets a second drawing, stacked, for narrow screens.
NARROW = 480


def table_diagram(
    tables: list[Table], names: bool, ident: str, title: str, stacked: bool = False, kind: str = ""
) -> str:
    """One diagram of ``tables`` as inline SVG (``kind``: a class that says for which screens)."""
    boxes, arrows, width, height = layout(tables, names, stacked)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="picture{kind}" viewBox="0 0 {_n(width)} '
        f'{_n(height)}" width="{_n(width)}" role="img" aria-labelledby="{ident}-t {ident}-d" '
        f'font-size="{FONT}">',
        f'<title id="{ident}-t">{_e(title)}</title>',
        f'<desc id="{ident}-d">{_e(describe_tables(tables, names))}</desc>',
    ]
    for box in boxes:
        x, y = box.x, box.y
        dashed = ' class="td-link"' if box.association else ""
        out.append(f'<g transform="translate({_n(x)},{_n(y)})"{dashed}>')
        out.append(
            f'<rect class="td-box" width="{_n(box.width)}" height="{_n(box.height)}" rx="3"/>'
            f'<path class="td-head" d="M0,{HEAD}H{_n(box.width)}"/>'
            f'<text class="td-name" x="{PAD}" y="{HEAD - 7}">{_e(box.table.name)}'
            + ('<tspan class="td-muted" dx="8">association</tspan>' if box.association else "")
            + "</text>"
        )
        keys = max((len(r[0]) for r in box.rows), default=0)
        name_x = PAD + (keys * CHAR + PAD if keys else 0)
        type_x = name_x + max((_w(r[1]) for r in box.rows), default=0) + PAD * 1.5
        typed = max((_w(line) for r in box.rows for line in r[2]), default=0)
        flag_x = type_x + typed + PAD * 1.5 if typed else type_x
        line = 0
        for key, name, type_lines, flags in box.rows:
            row_y = HEAD + line * ROW + ROW / 2 + 4.5
            parts = []
            if key:
                parts.append(f'<tspan class="td-key" x="{PAD}">{key}</tspan>')
            parts.append(f'<tspan x="{_n(name_x)}">{_e(name)}</tspan>')
            for index, part in enumerate(type_lines):
                dy = f' dy="{ROW}"' if index else ""
                parts.append(f'<tspan class="td-muted" x="{_n(type_x)}"{dy}>{_e(part)}</tspan>')
            if flags:
                back = f' dy="{-ROW * (len(type_lines) - 1)}"' if len(type_lines) > 1 else ""
                parts.append(f'<tspan class="td-muted" x="{_n(flag_x)}"{back}>{flags}</tspan>')
            out.append(f'<text y="{_n(row_y)}">{"".join(parts)}</text>')
            line += max(len(type_lines), 1)
        if box.notes:
            top = HEAD + ROW * box.lines
            out.append(f'<path class="td-rule" d="M0,{_n(top)}H{_n(box.width)}"/>')
            for index, note in enumerate(box.notes):
                note_y = top + PAD * 0.5 + index * ROW * 0.85 + ROW * 0.6
                # SVG collapses spaces: a line that goes on from the one above is moved right.
                indent = (len(note) - len(note.lstrip())) * CHAR * 0.9
                out.append(
                    f'<text class="td-muted td-note" x="{_n(PAD + indent)}" y="{_n(note_y)}">'
                    f"{_e(note.lstrip())}</text>"
                )
        out.append("</g>")
    for arrow in arrows:
        path, head = _arrow_path(arrow)
        out.append(f'<path class="td-arrow" d="{path}"/><path class="td-tip" d="{head}"/>')
    out.append("</svg>")
    return "".join(out)


# Charts -----------------------------------------------------------------------------

CHART_PANEL = 110  # the longest bar of each panel


def bar_chart(bars: list[tuple[str, int, int]], ident: str, title: str) -> str:
    """Statements and rows for each bar's label, as two panels of horizontal bars."""
    label_width = max(_w(label) for label, _, _ in bars) + PAD * 2
    most = [max(max(b[i] for b in bars), 1) for i in (1, 2)]
    number = _w("000") + PAD
    panel = CHART_PANEL + number
    width = PAD + label_width + 2 * panel + PAD
    height = HEAD + len(bars) * (ROW + 6) + PAD
    said = "; ".join(f"{label}: {s} statements, {r} rows" for label, s, r in bars)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="picture" viewBox="0 0 {_n(width)} '
        f'{_n(height)}" width="{_n(width)}" role="img" aria-labelledby="{ident}-t {ident}-d" '
        f'font-size="{FONT}">',
        f'<title id="{ident}-t">{_e(title)}</title>',
        f'<desc id="{ident}-d">{_e(said)}.</desc>',
    ]
    for index, heading in enumerate(("statements", "rows")):
        x = PAD + label_width + index * panel
        out.append(f'<text class="td-muted" x="{_n(x)}" y="{HEAD - 8}">{heading}</text>')
    for row, (label, statements, rows) in enumerate(bars):
        y = HEAD + row * (ROW + 6)
        out.append(f'<text x="{PAD}" y="{_n(y + ROW / 2 + 4.5)}">{_e(label)}</text>')
        for index, value in enumerate((statements, rows)):
            x = PAD + label_width + index * panel
            length = max(CHART_PANEL * value / most[index], 1.5)
            out.append(
                f'<rect class="chart-bar" x="{_n(x)}" y="{_n(y + 2)}" width="{_n(length)}" '
                f'height="{ROW - 4}"/><text x="{_n(x + length + 5)}" '
                f'y="{_n(y + ROW / 2 + 4.5)}">{value}</text>'
            )
    out.append("</svg>")
    return "".join(out)


# On the page ------------------------------------------------------------------------


def _groups(panels: list[tuple[str, str, object]]) -> list[tuple[str, str, object]]:
    """Panels that show the same thing as one: (data-database keys, label, shown)."""
    grouped: list[tuple[list[str], list[str], object]] = []
    for key, label, shown in panels:
        for keys, labels, same in grouped:
            if same == shown:
                keys.append(key)
                labels.append(label)
                break
        else:
            grouped.append(([key], [label], shown))
    return [(" ".join(keys), ", ".join(labels), shown) for keys, labels, shown in grouped]


def _every(models: list[tuple[str, str, object]]) -> str:
    """The databases of the panels, as readers know them: "SQLite, PostgreSQL and MariaDB"."""
    return titles(dict.fromkeys(database.split("-")[0] for database, _, _ in models))


def _figure(name: str, panels: list[tuple[str, str, str]], caption: str, every: str) -> str:
    """A figure of one picture, or of a tab for each group of databases that agree."""
    if len(panels) == 1:
        body = panels[0][2]
        caption = caption.format(where=every)
    else:
        inputs, labels, shown = [], [], []
        for index, (database, label, svg) in enumerate(panels):
            checked = " checked" if index == 0 else ""
            inputs.append(
                f'<input type="radio" name="{name}" id="{name}-{index}" '
                f'data-database="{database}"{checked}>'
            )
            labels.append(f'<label for="{name}-{index}">{_e(label)}</label>')
            shown.append(f'<div class="sql-tab-panel picture-panel">{svg}</div>')
        body = "".join(
            [
                '<div class="sql-tabs">',
                *inputs,
                '<div class="sql-tab-labels">',
                *labels,
                '</div><div class="sql-tab-panels">',
                *shown,
                "</div></div>",
            ]
        )
        caption = caption.format(where="each database")
    return f'<figure class="picture-figure">{body}<figcaption>{_e(caption)}</figcaption></figure>'


def diagram_html(
    key: str, tabs: list[tuple[str, str, snapshots.Recording]], marker: pictures.Marker, indent: str
) -> str:
    """The diagram under a block, from each database's recording of its tables."""
    names = marker.names
    models = []
    for database, label, recording in tabs:
        tables = pictures.read_schema(recording.tables)
        models.append((database, label, tuple(_shown(tables, names, marker.types))))
    groups = _groups(models)
    every = _every(models)
    panels = []
    for index, (database, label, shown) in enumerate(groups):
        tables = list(shown)
        listed = _and([t.name for t in tables])
        where = "" if len(groups) == 1 else f", on {label}"
        title = f"Tables {listed}{where}"
        ident = f"td-{key}-{index}"
        drawn = table_diagram(tables, names, ident, title)
        if layout(tables, names)[2] > NARROW and len(tables) > 1:
            # Too wide to read on a phone once shrunk: the same tables, one under another,
            # for narrow screens (docs/stylesheets/tutorial.css shows one or the other).
            wide = table_diagram(tables, names, ident, title, kind=" picture-wide")
            narrow = table_diagram(tables, names, f"{ident}n", title, True, " picture-narrow")
            drawn = wide + narrow
        panels.append((database, label, drawn))
    caption = "The tables as {where} reported them after the block above ran."
    figure = _figure(f"td-{key}", panels, caption, every)
    return f"\n{indent}{figure}\n"


def _shown(tables: list[Table], names: bool, types: bool) -> list[Table]:
    """The tables as the diagram shows them: constraint names and types only if it shows them.

    Databases whose recordings differ only in what a diagram leaves out share a picture.
    """
    return [
        Table(
            t.name,
            tuple(pictures.Column(c.name, c.type if types else "", c.nullable) for c in t.columns),
            t.primary_key,
            tuple(
                pictures.Unique(u.name if names else None, u.columns, u.index) for u in t.uniques
            ),
            tuple(
                pictures.ForeignKey(
                    k.name if names else None, k.columns, k.table, k.referred, k.rules
                )
                for k in t.foreign_keys
            ),
        )
        for t in tables
    ]


def chart_html(
    number: int,
    title: str,
    bars: list[tuple[str, list[tuple[str, str, snapshots.Recording]]]],
) -> str:
    """A chart of statements and rows for the counted blocks (label, each database's tabs)."""
    databases = [(database, label) for database, label, _ in bars[0][1]]
    models = []
    for position, (database, label) in enumerate(databases):
        numbers = []
        for bar_label, tabs in bars:
            recording = tabs[position][2]
            statements, rows = pictures.bar_numbers(recording.sql, recording.rows)
            numbers.append((bar_label, statements, rows))
        models.append((database, label, tuple(numbers)))
    groups = _groups(models)
    every = _every(models)
    panels = []
    for index, (database, label, numbers) in enumerate(groups):
        where = "" if len(groups) == 1 else f", on {label}"
        panels.append(
            (database, label, bar_chart(list(numbers), f"chart-{number}-{index}", title + where))
        )
    caption = (
        title + ": the statements each block's SQL box lists on {where} (BEGIN, COMMIT "
        "and ROLLBACK left out), and the rows they returned."
    )
    return _figure(f"chart-{number}", panels, caption, every)
