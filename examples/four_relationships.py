"""Four everyday relationships, mapped so that they work.

Articles have comments (one-to-many), tires belong to a car (many-to-one), a
person has at most one mobile phone (one-to-one), and students attend classes
(many-to-many). Each pair is mapped in both directions with
``back_populates``, and every ``ForeignKey`` names a table that exists.

```python
from sqlalchemy import create_engine

from examples import four_relationships

engine = create_engine("sqlite://")
print(four_relationships.main(engine))
```
"""

from sqlalchemy import Column, Engine, ForeignKey, String, Table, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship


# --8<-- [start:base]
class Base(DeclarativeBase):
    """Every model of the four examples derives from this."""

    # A plain ``str`` column becomes VARCHAR(255): MariaDB needs a length.
    type_annotation_map = {str: String(255)}


# --8<-- [end:base]


# --8<-- [start:articles]
class Article(Base):
    """A blog post; its comments are a list."""

    __tablename__ = "articles"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str]
    comments: Mapped[list["Comment"]] = relationship(back_populates="article")

    def __repr__(self) -> str:
        return f"Article(title={self.title!r})"


class Comment(Base):
    """A reader's comment; it always belongs to one article."""

    __tablename__ = "comments"

    id: Mapped[int] = mapped_column(primary_key=True)
    body: Mapped[str]
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id"))
    article: Mapped[Article] = relationship(back_populates="comments")

    def __repr__(self) -> str:
        return f"Comment(body={self.body!r})"


# --8<-- [end:articles]


# --8<-- [start:garage]
class Car(Base):
    """A car and the tires fitted to it."""

    __tablename__ = "cars"

    id: Mapped[int] = mapped_column(primary_key=True)
    model: Mapped[str]
    # Tire is defined below, so the other side is named through a lambda.
    tires: Mapped[list["Tire"]] = relationship(back_populates=lambda: Tire.car)

    def __repr__(self) -> str:
        return f"Car(model={self.model!r})"


class Tire(Base):
    """One tire; many tires share a car, and a tire in stock has none."""

    __tablename__ = "tires"

    id: Mapped[int] = mapped_column(primary_key=True)
    position: Mapped[str] = mapped_column(String(20))
    car_id: Mapped[int | None] = mapped_column(ForeignKey("cars.id"))
    # Car already exists here, so its attribute can be named directly.
    car: Mapped[Car | None] = relationship(back_populates=Car.tires)

    def __repr__(self) -> str:
        return f"Tire(position={self.position!r})"


# --8<-- [end:garage]


# --8<-- [start:phones]
class Person(Base):
    """Someone who may own one mobile phone."""

    __tablename__ = "people"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str]
    mobile_phone: Mapped["MobilePhone | None"] = relationship(back_populates="owner")

    def __repr__(self) -> str:
        return f"Person(name={self.name!r})"


class MobilePhone(Base):
    """A phone with exactly one owner, who owns no other phone."""

    __tablename__ = "mobile_phones"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(20))
    # unique=True is what makes it one-to-one in the database as well.
    owner_id: Mapped[int] = mapped_column(ForeignKey("people.id"), unique=True)
    owner: Mapped[Person] = relationship(back_populates="mobile_phone")

    def __repr__(self) -> str:
        return f"MobilePhone(number={self.number!r})"


# --8<-- [end:phones]


# --8<-- [start:school]
enrolments = Table(
    "enrolments",
    Base.metadata,
    Column("student_id", ForeignKey("students.id"), primary_key=True),
    Column("class_id", ForeignKey("classes.id"), primary_key=True),
)


class Student(Base):
    """A student, enrolled in any number of classes."""

    __tablename__ = "students"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str]
    classes: Mapped[list["SchoolClass"]] = relationship(
        secondary=enrolments, back_populates="students"
    )

    def __repr__(self) -> str:
        return f"Student(name={self.name!r})"


class SchoolClass(Base):
    """A class that students attend (``Class`` would read like a keyword)."""

    __tablename__ = "classes"

    id: Mapped[int] = mapped_column(primary_key=True)
    subject: Mapped[str]
    students: Mapped[list[Student]] = relationship(secondary=enrolments, back_populates="classes")

    def __repr__(self) -> str:
        return f"SchoolClass(subject={self.subject!r})"


# --8<-- [end:school]


def add_examples(session: Session) -> None:
    """Add a few objects of each pair to ``session``, linked from one side only.

    Args:
        session: the session to add them to; the caller commits.
    """
    article = Article(title="Mapping relationships")
    article.comments = [Comment(body="Clear, thanks"), Comment(body="More please")]

    roadster = Car(model="Roadster")
    for position in ["front left", "front right", "rear left", "rear right"]:
        Tire(position=position, car=roadster)
    spare = Tire(position="spare")

    ada = Person(name="Ada", mobile_phone=MobilePhone(number="+44 20 7946 0001"))

    maths, chemistry = SchoolClass(subject="Maths"), SchoolClass(subject="Chemistry")
    Student(name="Grace", classes=[maths, chemistry])
    Student(name="Alan", classes=[maths])

    # Adding the roots is enough: the other objects follow their relationships.
    session.add_all([article, roadster, spare, ada, maths])


def main(engine: Engine) -> dict[str, object]:
    """Create the tables, store the examples, and read each pair back.

    Args:
        engine: the database to use; its example tables are dropped and
            created again.

    Returns:
        What was read back from the other side of each relationship: the
        article of each comment, the tires of the car, the owner of the phone,
        and the students of each class.
    """
    Base.metadata.drop_all(engine)
    Base.metadata.create_all(engine)
    with Session(engine) as session, session.begin():
        add_examples(session)
    with Session(engine) as session:
        comments = session.scalars(select(Comment).order_by(Comment.id))
        car = session.scalars(select(Car)).one()
        phone = session.scalars(select(MobilePhone)).one()
        classes = session.scalars(select(SchoolClass).order_by(SchoolClass.subject))
        return {
            "comments": [(c.body, c.article.title) for c in comments],
            "tires": sorted(tire.position for tire in car.tires),
            "phone owner": phone.owner.name,
            "students": {
                school_class.subject: sorted(s.name for s in school_class.students)
                for school_class in classes
            },
        }


if __name__ == "__main__":
    import os

    from sqlalchemy import create_engine

    print(main(create_engine(os.environ.get("DATABASE_URL", "sqlite:///tutorial.db"))))
