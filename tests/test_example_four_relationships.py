"""The four relationship examples, run as a whole program on every selected database."""

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from examples import four_relationships as example


def test_each_side_reads_back_what_the_other_stored(engine):
    assert example.main(engine) == {
        "comments": [
            ("Clear, thanks", "Mapping relationships"),
            ("More please", "Mapping relationships"),
        ],
        "tires": ["front left", "front right", "rear left", "rear right"],
        "phone owner": "Ada",
        "students": {"Chemistry": ["Grace"], "Maths": ["Alan", "Grace"]},
    }


def test_both_sides_agree_before_any_flush():
    comment = example.Comment(body="First!")
    article = example.Article(title="News", comments=[comment])
    assert comment.article is article
    tire = example.Tire(position="spare")
    car = example.Car(model="Van")
    tire.car = car
    assert car.tires == [tire]
    student = example.Student(name="Edsger")
    course = example.SchoolClass(subject="Logic", students=[student])
    assert student.classes == [course]


def test_a_spare_tire_needs_no_car(engine):
    example.main(engine)
    with Session(engine) as session:
        spare = session.scalars(select(example.Tire).where(example.Tire.position == "spare")).one()
        assert spare.car is None


def test_a_person_cannot_have_two_phones(engine):
    example.main(engine)
    with Session(engine) as session:
        ada = session.scalars(select(example.Person)).one()
        session.add(example.MobilePhone(number="+44 20 7946 0002", owner_id=ada.id))
        with pytest.raises(IntegrityError):
            session.flush()
