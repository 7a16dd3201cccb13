"""Notes filed in categories: the notes application of seed 004, done right with the ORM.

A ``Category`` has many ``Note`` objects. Every function takes the
``Session`` to work in as its first argument: there is no session kept in a
module, and no class method that hides one; and none of them commits, the
caller does. A category's name is unique because the database says so; a
second category of the same name is refused by that constraint, in a
savepoint, and the caller hears of it as ``DuplicateCategory``, a sentence it
can show, with its transaction as it was, instead of an error printed and
swallowed inside a ``save()`` helper. The search matches what a user typed as plain text, with
``%`` and ``_`` escaped, through a bound parameter. Notes are listed per
category in two SELECTs, however many categories there are.

Run it from the command line on a database made for the purpose (it creates
its tables afresh):

    python -m examples.notes sqlite:///notes.db

or hand ``main()`` an engine of your own, on SQLite one that lets SQLAlchemy
begin transactions, as savepoints need:

```python
from sqlalchemy import create_engine

from examples import notes
from examples.sqlite_transactions import take_over_sqlite_transactions

notes.main(take_over_sqlite_transactions(create_engine("sqlite://")))
```
"""

# --8<-- [start:imports]
from sqlalchemy import Engine, ForeignKey, String, Text, event, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    Session,
    mapped_column,
    relationship,
    selectinload,
    validates,
)

# --8<-- [end:imports]


# --8<-- [start:models]
class Base(DeclarativeBase):
    """Every model of the notes application derives from this."""


class Category(Base):
    """A named group of notes, such as "recipes"; names are unique, in lower case."""

    __tablename__ = "categories"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50), unique=True)
    notes: Mapped[list["Note"]] = relationship(
        back_populates="category", cascade="all, delete-orphan", order_by="Note.id"
    )

    @validates("name")
    def _normalise_name(self, key: str, name: str) -> str:
        # "Recipes", "recipes" and "recipes " are one category to a person: kept in
        # one spelling, they are one name to the unique constraint on every database.
        return name.strip().lower()

    def __repr__(self) -> str:
        return f"Category(name={self.name!r})"


class Note(Base):
    """A note with a title and a body, in exactly one category."""

    __tablename__ = "notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(100))
    body: Mapped[str] = mapped_column(Text)
    category_id: Mapped[int] = mapped_column(ForeignKey("categories.id"))
    category: Mapped[Category] = relationship(back_populates="notes")

    def __repr__(self) -> str:
        return f"Note(title={self.title!r})"


# --8<-- [end:models]


# --8<-- [start:errors]
class NotesError(Exception):
    """A request the notes application refuses; its message is one sentence."""


class DuplicateCategory(NotesError):
    """A category of that name exists already."""


class NoSuchCategory(NotesError, LookupError):
    """No category has that name."""


class InvalidInput(NotesError, ValueError):
    """A name, title or search text that the application does not accept."""


# --8<-- [end:errors]


# --8<-- [start:categories]
def add_category(session: Session, name: str) -> Category:
    """Create a category, inserted at once in a savepoint; the caller commits.

    Raises:
        InvalidInput: the name is blank or longer than 50 characters.
        DuplicateCategory: the database's unique constraint refused the name; the
            savepoint is rolled back, and the caller's transaction goes on as it was.
    """
    category = Category(name=name)
    if not category.name or len(category.name) > 50:
        raise InvalidInput("a category name needs 1 to 50 characters")
    try:
        with session.begin_nested():  # flushed when the block ends
            session.add(category)
    except IntegrityError:
        raise DuplicateCategory(f"there is already a category named {category.name!r}") from None
    return category


def find_category(session: Session, name: str) -> Category | None:
    """The category called ``name``, in any case; None if there is none."""
    query = select(Category).where(Category.name == name.strip().lower())
    return session.scalars(query).one_or_none()


def get_category(session: Session, name: str) -> Category:
    """The category called ``name``, in any case.

    Raises:
        NoSuchCategory: there is none.
    """
    category = find_category(session, name)
    if category is None:
        raise NoSuchCategory(f"there is no category named {name.strip().lower()!r}")
    return category


# --8<-- [end:categories]


# --8<-- [start:notes]
def add_note(session: Session, category_name: str, title: str, body: str = "") -> Note:
    """File a new note under an existing category; the caller commits.

    Raises:
        InvalidInput: the title is blank or longer than 100 characters.
        NoSuchCategory: no category has that name.
    """
    if not title.strip() or len(title.strip()) > 100:
        raise InvalidInput("a note's title needs 1 to 100 characters")
    note = Note(title=title.strip(), body=body, category=get_category(session, category_name))
    session.add(note)
    return note


def search(session: Session, typed: str) -> list[Note]:
    """The notes whose title or body contains ``typed``, ignoring case, oldest first.

    ``typed`` is what a user typed, untrusted: it reaches the database as a
    bound parameter, and ``autoescape=True`` escapes the ``%`` and ``_`` in it,
    so that "50%" finds "50%", not every note with "50" in it.

    Raises:
        InvalidInput: ``typed`` is blank.
    """
    if not typed.strip():
        raise InvalidInput("type something to search for")
    query = (
        select(Note)
        .where(
            or_(
                Note.title.icontains(typed, autoescape=True),
                Note.body.icontains(typed, autoescape=True),
            )
        )
        .order_by(Note.id)
    )
    return list(session.scalars(query))


def notes_by_category(session: Session) -> list[Category]:
    """Every category in name order, with its notes loaded: two SELECTs in all."""
    query = select(Category).options(selectinload(Category.notes)).order_by(Category.name)
    return list(session.scalars(query))


# --8<-- [end:notes]


# --8<-- [start:main]
def main(engine: Engine) -> None:
    """Create the tables afresh, file a few notes, search them, and list them by category."""
    Base.metadata.drop_all(engine)
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        for name in ["Tech", "home", "tech "]:
            try:
                category = add_category(session, name)
                print(f"Added the category {category.name!r}")
            except NotesError as refused:
                print(f"Adding {name!r} is refused: {refused}")

        for category, title, body in [
            ("tech", "SQLAlchemy is cool", "Sessions, engines, and no SQL by hand"),
            ("Tech", "50% off the ORM book", "Until Friday"),
            ("home", "Groceries", "Milk, eggs, coffee"),
            ("work", "Quarterly plan", "Nobody made this category"),
        ]:
            try:
                add_note(session, category, title, body)
            except NotesError as refused:
                print(f"Filing {title!r} is refused: {refused}")
        session.commit()  # the refusals left the transaction as it was

        for typed in ["50%", "COOL", "_", "' OR '1'='1"]:
            titles = [note.title for note in search(session, typed)]
            print(f"Searching for {typed!r} finds {titles}")

    statements = []

    def count(connection, cursor, statement, parameters, context, executemany) -> None:
        statements.append(statement)

    with Session(engine) as session:
        event.listen(engine, "before_cursor_execute", count)
        try:
            for category in notes_by_category(session):
                print(f"{category.name}: {[note.title for note in category.notes]}")
        finally:
            event.remove(engine, "before_cursor_execute", count)
    print(f"The listing took {len(statements)} statements")


# --8<-- [end:main]


if __name__ == "__main__":
    import sys

    from examples.command_line import run

    sys.exit(run(main, "sqlite:///notes.db"))
