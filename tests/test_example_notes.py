"""The notes application of examples/notes.py, on every selected database."""

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from examples import notes
from examples.notes import Category, Note
from examples.sqlite_transactions import take_over_sqlite_transactions


@pytest.fixture
def engine(engine):
    """The programs' engine: on SQLite, SQLAlchemy begins transactions, as savepoints need."""
    return take_over_sqlite_transactions(engine)


@pytest.fixture
def filed(engine):
    """Two categories with a note or two each."""
    notes.Base.metadata.create_all(engine)
    with Session(engine) as session:
        notes.add_category(session, "Tech")
        notes.add_category(session, "home")
        notes.add_note(session, "tech", "SQLAlchemy is cool", "No SQL by hand")
        notes.add_note(session, "TECH", "50% off the ORM book", "Until Friday")
        notes.add_note(session, "home", "Groceries", "Milk, eggs_and coffee")
        session.commit()
    return engine


def titles(found: list[Note]) -> list[str]:
    return [note.title for note in found]


@pytest.mark.parametrize("name", ["tech", "TECH", " Tech  "])
def test_a_second_category_of_the_same_name_is_refused_by_the_database(filed, name):
    with Session(filed) as session:
        with pytest.raises(notes.DuplicateCategory, match="already a category named 'tech'"):
            notes.add_category(session, name)
        # the session is usable again: the failed transaction was rolled back
        assert session.scalar(select(func.count()).select_from(Category)) == 2


def test_the_duplicate_is_caught_from_the_constraint_not_a_select(filed):
    sent = []

    def record(connection, cursor, statement, parameters, context, executemany) -> None:
        sent.append(statement)

    with Session(filed) as session:
        event.listen(filed, "before_cursor_execute", record)
        with pytest.raises(notes.DuplicateCategory):
            notes.add_category(session, "home")
    assert [statement.split()[0].upper() for statement in sent] == [
        "SAVEPOINT",
        "INSERT",
        "ROLLBACK",
    ], sent


def test_a_refusal_leaves_the_callers_transaction_and_the_caller_decides(engine):
    """The savepoint undoes the refused insert alone; the caller's rollback undoes the rest,
    even where a savepoint was the transaction's first statement."""
    notes.Base.metadata.create_all(engine)
    with Session(engine) as session:
        notes.add_category(session, "tech")
        with pytest.raises(notes.DuplicateCategory):
            notes.add_category(session, "Tech")
        notes.add_note(session, "tech", "Still here")
        assert [note.title for note in notes.search(session, "still")] == ["Still here"]
        session.rollback()
    with Session(engine) as session:
        assert session.scalar(select(func.count()).select_from(Category)) == 0


@pytest.mark.parametrize("name", ["", "   ", "x" * 51])
def test_a_blank_or_long_category_name_is_refused(name):
    with Session() as session, pytest.raises(notes.InvalidInput, match="1 to 50 characters"):
        notes.add_category(session, name)


def test_a_note_needs_an_existing_category_and_a_title(filed):
    with Session(filed) as session:
        with pytest.raises(notes.NoSuchCategory, match="no category named 'work'"):
            notes.add_note(session, "Work", "Plan")
        with pytest.raises(notes.InvalidInput, match="title needs 1 to 100 characters"):
            notes.add_note(session, "tech", "  ")
        assert session.scalar(select(func.count()).select_from(Note)) == 3


def test_find_category_ignores_case_and_answers_none_when_missing(filed):
    with Session(filed) as session:
        assert notes.find_category(session, "HOME").name == "home"
        assert notes.find_category(session, "work") is None


@pytest.mark.parametrize(
    ("typed", "found"),
    [
        ("50%", ["50% off the ORM book"]),  # % is the character, not "anything"
        ("%", ["50% off the ORM book"]),
        ("_", ["Groceries"]),  # only the body with an underscore
        ("COOL", ["SQLAlchemy is cool"]),  # case is ignored on every database
        ("friday", ["50% off the ORM book"]),  # bodies are searched too
        ("' OR '1'='1", []),
        ("o", ["SQLAlchemy is cool", "50% off the ORM book", "Groceries"]),  # oldest first
    ],
)
def test_search_matches_what_was_typed_as_plain_text(filed, typed, found):
    with Session(filed) as session:
        assert titles(notes.search(session, typed)) == found


def test_a_blank_search_is_refused():
    with Session() as session, pytest.raises(notes.InvalidInput, match="type something"):
        notes.search(session, "  ")


def test_notes_by_category_takes_two_statements(filed):
    with Session(filed) as session:
        for index in range(3):
            notes.add_category(session, f"extra {index}")
            notes.add_note(session, f"extra {index}", f"Note {index}")
        session.commit()
    sent = []

    def record(connection, cursor, statement, parameters, context, executemany) -> None:
        sent.append(statement)

    with Session(filed) as session:
        event.listen(filed, "before_cursor_execute", record)
        listing = {c.name: titles(c.notes) for c in notes.notes_by_category(session)}
    assert listing == {
        "extra 0": ["Note 0"],
        "extra 1": ["Note 1"],
        "extra 2": ["Note 2"],
        "home": ["Groceries"],
        "tech": ["SQLAlchemy is cool", "50% off the ORM book"],
    }
    assert len(sent) == 2, sent
