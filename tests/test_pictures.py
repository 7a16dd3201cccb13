"""The pictures drawn from the run: table diagrams and charts (``harness.pictures``).

What a page asks for, what the run records and how it checks it, and what the
site draws from the recording: every table, column, key and arrow of a diagram,
and every number of a chart, come from the run, and a run whose tables or rows
differ from the recording fails at the block, on its database.
"""

from __future__ import annotations

import re
import textwrap
import xml.etree.ElementTree as ElementTree

import pytest
from harness import draw_pictures, pictures, snapshots
from harness.pages import DOCS, python_blocks

pytest_plugins = ["pytester"]

SVG = "{http://www.w3.org/2000/svg}"

ENGINE_BLOCK = """\
```python
import os

from sqlalchemy import ForeignKey, String, create_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

engine = create_engine(os.environ.get("DATABASE_URL", "sqlite:///tutorial.db"))


class Base(DeclarativeBase):
    type_annotation_map = {str: String(50)}


class Team(Base):
    __tablename__ = "teams"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(unique=True)


class Player(Base):
    __tablename__ = "players"

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"))
```
"""

CREATE_BLOCK = """\
<!-- tables: next -->

```python
Base.metadata.drop_all(engine)
Base.metadata.create_all(engine)
```
"""


def page(*parts: str) -> str:
    return "# A page\n\nSome prose.\n\n" + "\n".join(parts)


# What a page asks for -------------------------------------------------------------------


def test_a_page_asks_for_a_diagram_after_a_block_and_a_chart_of_counted_blocks():
    text = page(
        ENGINE_BLOCK,
        CREATE_BLOCK,
        '<!-- counted: next "one" -->\n\n```python\nx = 1\n```\n',
        '<!-- counted: next "two" -->\n\n```python\nx = 2\n```\n',
        '<!-- chart: "Two bars" -->\n',
        "<!-- tables: next, with constraint names, without types -->\n\n```python\ny = 1\n```\n",
    )
    blocks = python_blocks(text)
    asked = pictures.page_pictures(text, "docs/page.md")
    assert asked.problems == []
    assert list(asked.tables) == [blocks[1].key, blocks[4].key]
    assert (asked.tables[blocks[1].key].names, asked.tables[blocks[1].key].types) == (False, True)
    assert (asked.tables[blocks[4].key].names, asked.tables[blocks[4].key].types) == (True, False)
    [chart] = asked.charts
    assert chart.marker.label == "Two bars"
    assert chart.bars == [(blocks[2].key, "one"), (blocks[3].key, "two")]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("<!-- tables: next, in colour -->\n\n```python\nx = 1\n```\n", "unknown option"),
        ("<!-- tables: after -->\n\n```python\nx = 1\n```\n", "write <!-- tables: next -->"),
        ("<!-- tables: next -->\n\nProse.\n\n```python\nx = 1\n```\n", "just before its block"),
        ("Prose.\n\n<!-- tables: next -->\n", "no python block follows"),
        (
            '<!-- skip: next "why" -->\n<!-- tables: next -->\n\n```python\nx = 1\n```\n',
            "is skipped, so it makes no picture",
        ),
        (
            '=== "PostgreSQL"\n\n    <!-- tables: next -->\n\n    ```python\n    x = 1\n    ```\n',
            "runs on some databases only",
        ),
        ("<!-- counted: next -->\n\n```python\nx = 1\n```\n", "needs the label of its bar"),
        ('<!-- counted: next "a" -->\n\n```python\nx = 1\n```\n', "belongs to no chart"),
        ('<!-- chart: "Nothing" -->\n', "this chart has no bars"),
        ("<!-- chart: untitled -->\n", '<!-- chart: "what the chart shows" -->'),
    ],
)
def test_a_picture_comment_that_cannot_be_obeyed_is_a_problem_at_its_line(text, problem):
    problems = pictures.page_pictures(page(text), "docs/page.md").problems
    assert len(problems) == 1 and problem in problems[0], problems
    assert re.match(r"docs/page\.md, line \d+: ", problems[0])


def test_a_marker_written_in_a_fence_is_an_example_not_a_marker():
    text = page("```text\n<!-- tables: next -->\n```\n")
    asked = pictures.page_pictures(text, "docs/page.md")
    assert (asked.tables, asked.problems) == ({}, [])


# What the run records -------------------------------------------------------------------


RECORDED = """\
-- a new connection opens:
    BEGIN
    select pg_catalog.version()
    ROLLBACK
BEGIN
SELECT organisations.id, organisations.name
FROM organisations ORDER BY organisations.name
SELECT users.id
FROM users
WHERE $1::INTEGER = users.organisation_id
[parameters: $1 = '1']
INSERT INTO notes (body) VALUES ('SELECT 1')
RETURNING notes.id
CREATE TABLE teams (
    id SERIAL NOT NULL,
    PRIMARY KEY (id)
)
CREATE TABLE "order" (
    id SERIAL NOT NULL
)
COMMIT
ROLLBACK  -- the pool resets the returned connection

-- received by another database (#1): sqlite://, in memory (each connection has its own)
SELECT 2
CREATE TABLE elsewhere (id INTEGER)"""


def test_a_chart_counts_the_statements_its_sql_box_lists_without_transaction_control():
    found = pictures.statements_in(RECORDED)
    assert [statement.splitlines()[0] for statement in found] == [
        "SELECT organisations.id, organisations.name",
        "SELECT users.id",
        "INSERT INTO notes (body) VALUES ('SELECT 1')",
        "CREATE TABLE teams (",
        'CREATE TABLE "order" (',
    ]
    assert found[1].endswith("[parameters: $1 = '1']")


def test_a_diagram_draws_the_tables_the_block_created_on_its_own_database():
    assert pictures.created_tables(RECORDED) == ["teams", "order"]


TABLES = """\
teams
  id INTEGER NOT NULL
  name VARCHAR(50) NOT NULL
  PRIMARY KEY (id)
  UNIQUE uq_teams_name (name)
players
  id INTEGER NOT NULL
  team_id INTEGER
  "unique" INTEGER NOT NULL
  PRIMARY KEY (id)
  UNIQUE INDEX (team_id, "unique")
  FOREIGN KEY fk_players_team_id_teams (team_id) REFERENCES teams (id) ON DELETE CASCADE
positions
  player_id INTEGER NOT NULL
  team_id INTEGER NOT NULL
  label ENUM('a b','c') NOT NULL
  PRIMARY KEY (player_id, team_id)
  FOREIGN KEY (player_id) REFERENCES players (id)
  FOREIGN KEY (team_id) REFERENCES teams (id)
rounds
  id INTEGER NOT NULL
  previous_id INTEGER
  notes LONGTEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL
  PRIMARY KEY (id)
  FOREIGN KEY (previous_id) REFERENCES rounds (id)"""


def test_the_recording_of_tables_reads_back_as_it_was_written():
    tables = pictures.read_schema(TABLES)
    assert pictures.schema_text(tables) == TABLES
    players = tables[1]
    assert [c.name for c in players.columns] == ["id", "team_id", "unique"]
    assert players.uniques == (pictures.Unique(None, ("team_id", "unique"), index=True),)
    assert players.foreign_keys[0].rules == "ON DELETE CASCADE"
    assert tables[2].columns[2].type == "ENUM('a b','c')"
    with pytest.raises(pictures.SchemaTextError, match="line 2"):
        pictures.read_schema("teams\n  PRIMARY KEY id")


def test_reflection_records_columns_types_keys_and_uniques(tmp_path):
    from sqlalchemy import Column, ForeignKey, Integer, MetaData, String, Table, create_engine

    url = f"sqlite:///{tmp_path / 'page.db'}"
    metadata = MetaData()
    Table(
        "teams",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("name", String(50), nullable=False, unique=True),
    )
    Table(
        "players",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("team_id", ForeignKey("teams.id", ondelete="CASCADE")),
    )
    engine = create_engine(url)
    metadata.create_all(engine)
    engine.dispose()
    assert pictures.schema_text(pictures.reflect(url, ["players"])) == textwrap.dedent(
        """\
        players
          id INTEGER NOT NULL
          team_id INTEGER
          PRIMARY KEY (id)
          FOREIGN KEY (team_id) REFERENCES teams (id) ON DELETE CASCADE
        teams
          id INTEGER NOT NULL
          name VARCHAR(50) NOT NULL
          PRIMARY KEY (id)
          UNIQUE (name)"""
    )


def test_counting_reports_the_statements_and_rows_of_its_own_database_only(tmp_path):
    from sqlalchemy import create_engine, text

    url = f"sqlite:///{tmp_path / 'page.db'}"
    engine, other = create_engine(url), create_engine("sqlite://")
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE t (n INTEGER)"))
        connection.execute(text("INSERT INTO t VALUES (1), (2), (3)"))
    with pictures.counting(url) as counts:
        with engine.connect() as connection:
            assert len(connection.execute(text("SELECT n FROM t")).all()) == 3
            assert connection.execute(text("SELECT n FROM t")).first() == (1,)
            assert [row.n for row in connection.execute(text("SELECT n FROM t"))] == [1, 2, 3]
        with other.connect() as connection:
            connection.execute(text("SELECT 1")).all()
    assert (counts.statements, counts.rows) == (3, 7)
    engine.dispose()
    other.dispose()


# What the run checks --------------------------------------------------------------------


@pytest.fixture
def project(pytester: pytest.Pytester):
    pytester.makeini("[pytest]\ntestpaths = docs\n")
    (pytester.path / "docs").mkdir()
    return pytester


def run(project: pytest.Pytester, backend, *args: str) -> pytest.RunResult:
    return project.runpytest_inprocess(f"--backend={backend.name}", "-p", "no:cacheprovider", *args)


def test_a_model_changed_without_recording_again_fails_at_its_diagram(project, backend):
    (project.path / "docs" / "page.md").write_text(page(ENGINE_BLOCK, CREATE_BLOCK))
    recorded = run(project, backend, "--update-snapshots")
    assert recorded.ret == 0, recorded.stdout.str()
    assert "FOREIGN KEY" in (project.path / "tests/snapshots/page.yml").read_text()
    renamed = page(ENGINE_BLOCK.replace("team_id", "club_id"), CREATE_BLOCK)
    (project.path / "docs" / "page.md").write_text(renamed)
    result = run(project, backend)
    output = result.stdout.str()
    assert (
        f"docs/page.md, line 34 [{backend.name}]: the tables after this block, as the database "
        "reports them, differ from tests/snapshots/page.yml"
    ) in output
    assert re.search(r"^-  team_id INTEGER\S*$", output, re.MULTILINE), output
    assert re.search(r"^\+  club_id INTEGER\S*$", output, re.MULTILINE), output


def test_rows_changed_in_the_recording_fail_at_the_counted_block(project, backend):
    counted = (
        '<!-- counted: next "teams" -->\n\n```python\nfrom sqlalchemy import select, text\n\n'
        "with engine.connect() as connection:\n"
        '    connection.execute(text("SELECT 1 UNION ALL SELECT 2")).all()\n```\n'
    )
    (project.path / "docs" / "page.md").write_text(
        page(ENGINE_BLOCK, counted, '<!-- chart: "Rows" -->\n')
    )
    recorded = run(project, backend, "--update-snapshots")
    assert recorded.ret == 0, recorded.stdout.str()
    path = project.path / "tests/snapshots/page.yml"
    entries = snapshots.load(path)
    key = python_blocks((project.path / "docs" / "page.md").read_text())[1].key
    assert set(entries[key]["rows"].values()) == {2}
    path.write_text(path.read_text().replace(": 2", ": 3"))
    result = run(project, backend)
    assert (
        f"docs/page.md, line 34 [{backend.name}]: this block fetched 2 rows, and "
        "tests/snapshots/page.yml records 3"
    ) in result.stdout.str()


# What the site draws --------------------------------------------------------------------


def _svg(html: str, narrow: bool = False) -> list[ElementTree.Element]:
    """The pictures of ``html``; the drawings for narrow screens only if ``narrow``."""
    found = [ElementTree.fromstring(svg) for svg in re.findall(r"<svg.*?</svg>", html)]
    return [svg for svg in found if ("picture-narrow" in svg.get("class")) == narrow]


def _texts(svg: ElementTree.Element) -> str:
    return " ".join("".join(text.itertext()) for text in svg.iter(f"{SVG}text"))


def test_a_diagram_draws_every_table_column_key_and_arrow_with_its_text_alternative():
    tables = pictures.read_schema(TABLES)
    svg = ElementTree.fromstring(draw_pictures.table_diagram(tables, True, "d", "Tables"))
    shown = _texts(svg)
    for table in tables:
        assert table.name in shown
        for column in table.columns:
            # A long type goes on over several lines of the box.
            assert column.name in shown and all(word in shown for word in column.type.split())
            assert f"{column.name} {column.type}" in svg.find(f"{SVG}desc").text
    assert "fk_players_team_id_teams: foreign key (team_id) ON DELETE CASCADE" in shown
    assert shown.count("PK FK") == 2  # positions: an association table
    assert "association" in shown
    arrows = svg.findall(f"{SVG}path[@class='td-arrow']")
    assert len(arrows) == sum(len(t.foreign_keys) for t in tables)
    assert svg.get("aria-labelledby") == "d-t d-d" and svg.get("role") == "img"
    assert svg.find(f"{SVG}title").text == "Tables"
    described = svg.find(f"{SVG}desc").text
    assert "Foreign key fk_players_team_id_teams: team_id refers to teams.id" in described
    assert "Table positions (an association table)" in described
    assert "previous_id refers to rounds.id" in described
    width = float(svg.get("viewBox").split()[2])
    assert svg.get("width") == draw_pictures._n(width)
    assert not svg.findall(f".//{SVG}script") and "href" not in draw_pictures.table_diagram(
        tables, True, "d", "Tables"
    )


@pytest.mark.parametrize("stacked", [False, True], ids=["side by side", "stacked"])
def test_every_box_and_arrow_stays_inside_the_drawing(stacked):
    tables = pictures.read_schema(TABLES)
    boxes, arrows, width, height = draw_pictures.layout(tables, False, stacked)
    for box in boxes:
        assert 0 <= box.x and box.x + box.width <= width
        assert 0 <= box.y and box.y + box.height <= height
    for one in boxes:
        for other in boxes:
            if one is not other:
                apart = (
                    one.x + one.width <= other.x
                    or other.x + other.width <= one.x
                    or one.y + one.height <= other.y
                    or other.y + other.height <= one.y
                )
                assert apart, (one.table.name, other.table.name)
    for arrow in arrows:
        path, _ = draw_pictures._arrow_path(arrow)
        numbers = [float(n) for n in re.findall(r"-?\d+(?:\.\d+)?", path)]
        assert all(0 <= n <= max(width, height) for n in numbers), path


def _tabs(recordings: dict[str, str]) -> list[tuple[str, str, snapshots.Recording]]:
    return [
        (name, name.title(), snapshots.Recording("", tables=t)) for name, t in recordings.items()
    ]


def test_databases_that_agree_share_one_picture_and_those_that_differ_get_tabs():
    marker = pictures.Marker("tables", 1, 0, 0)
    both = dict.fromkeys(["sqlite", "postgresql"], TABLES)
    same = draw_pictures.diagram_html("k", _tabs(both), marker, "")
    assert len(_svg(same)) == 1 and "sql-tabs" not in same
    # Too wide for a phone: drawn a second time, one table under another, narrower.
    [wide], [narrow] = _svg(same), _svg(same, narrow=True)
    assert float(narrow.get("width")) < float(wide.get("width"))

    def words(svg):
        return sorted("".join(text.itertext()) for text in svg.iter(f"{SVG}text"))

    assert words(narrow) == words(wide)
    assert narrow.find(f"{SVG}desc").text == wide.find(f"{SVG}desc").text
    assert "The tables as SQLite and PostgreSQL reported them" in same
    other = TABLES.replace("id INTEGER NOT NULL", "id INTEGER(11) NOT NULL")
    three = {**both, "mariadb": other}
    differ = draw_pictures.diagram_html("k", _tabs(three), marker, "")
    assert len(_svg(differ)) == 2
    assert 'data-database="sqlite postgresql"' in differ and 'data-database="mariadb"' in differ
    assert '<label for="td-k-0">Sqlite, Postgresql</label>' in differ
    assert "The tables as each database reported them" in differ
    # Without types, INTEGER(11) and INTEGER draw alike.
    untyped = pictures.Marker("tables", 1, 0, 0, types=False)
    alike = draw_pictures.diagram_html("k", _tabs(three), untyped, "")
    assert len(_svg(alike)) == 1 and "INTEGER" not in alike


def test_the_loading_chart_agrees_with_the_sql_boxes_and_with_the_page():
    """Each bar's statements are those its block's SQL box lists, on every database, and
    the number the page's own counter printed under it (``len(sent)``)."""
    source = DOCS / "loading.md"
    text = source.read_text()
    asked = pictures.page_pictures(text, "docs/loading.md")
    entries = snapshots.load(snapshots.snapshot_path(source))
    blocks = {block.key: block for block in python_blocks(text)}
    [chart] = asked.charts
    assert [label for _, label in chart.bars] == [
        "lazy loading",
        "selectinload",
        "joinedload",
        "subqueryload",
        "raiseload",
    ]
    for key, label in chart.bars:
        entry = entries[key]
        shown = re.search(r">>> len\(sent\)\n(\d+)\n", blocks[key].source)
        for name in ("sqlite", "postgresql", "mariadb"):
            for version in [None, *snapshots.recorded_versions(entry, name)]:
                recording = snapshots.recording(entry, name, version)
                statements, rows = pictures.bar_numbers(recording.sql, recording.rows)
                selects = [line for line in recording.sql.splitlines() if line.startswith("SELECT")]
                assert statements == len(selects), (label, name, version)
                assert shown and statements == int(shown[1]), (label, name, version)
                assert rows is not None and rows > 0
    html = draw_pictures.chart_html(
        0,
        "Chart",
        [
            (label, [(n, n, snapshots.recording(entries[key], n)) for n in ("sqlite", "mariadb")])
            for key, label in chart.bars
        ],
    )
    [svg] = _svg(html)
    assert "lazy loading: 4 statements, 9 rows" in svg.find(f"{SVG}desc").text
