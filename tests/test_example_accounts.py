"""The account service of examples/accounts.py, on every selected database.

Each scrypt hash costs about half a second at the service's own cost, which
no test lowers: users that only need to exist get one hash made once for the
module, and each test hashes only what it is about.
"""

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from examples import accounts
from examples.accounts import Organisation, User
from examples.sqlite_transactions import take_over_sqlite_transactions

PASSWORD = "correct horse battery"


@pytest.fixture
def engine(engine):
    """The programs' engine: on SQLite, SQLAlchemy begins transactions, as savepoints need."""
    return take_over_sqlite_transactions(engine)


@pytest.fixture(scope="module")
def stored_hash() -> str:
    """``PASSWORD`` hashed once for the module, at the service's own cost."""
    return accounts.hash_password(PASSWORD)


@pytest.fixture
def tables(engine):
    accounts.Base.metadata.create_all(engine)
    return engine


def add_users(engine, stored_hash: str, *emails: str, organisation: str | None = None) -> None:
    """Users who exist without a sign-up, so without a hash each."""
    with Session(engine) as session:
        team = Organisation(name=organisation) if organisation else None
        for email in emails:
            name = email.split("@")[0].title()
            session.add(
                User(email=email, display_name=name, password_hash=stored_hash, organisation=team)
            )
        session.commit()


def recorder(sent: list[str]):
    """A listener that appends each statement the engine sends to ``sent``."""

    def record(connection, cursor, statement, parameters, context, executemany) -> None:
        sent.append(statement)

    return record


def test_sign_up_stores_a_normalised_email_and_refuses_it_twice(tables, stored_hash):
    add_users(tables, stored_hash, "ada@acme.test")
    with Session(tables) as session:
        with pytest.raises(accounts.EmailTaken, match="ada@acme.test already exists"):
            accounts.sign_up(session, "  ADA@Acme.test ", "Ada again", "another passphrase")
    with Session(tables) as session:
        assert session.scalars(select(User.display_name)).all() == ["Ada"]


def test_a_taken_email_is_found_by_the_database_constraint(tables, stored_hash):
    """No SELECT decides it: the INSERT fails in a savepoint, and only then is the row
    looked up."""
    add_users(tables, stored_hash, "ada@acme.test")
    sent = []
    with Session(tables) as session:
        event.listen(tables, "before_cursor_execute", recorder(sent))
        with pytest.raises(accounts.EmailTaken):
            accounts.sign_up(session, "ada@acme.test", "Ada", "another passphrase")
    words = [statement.split()[0].upper() for statement in sent]
    assert words[:4] == ["SAVEPOINT", "INSERT", "ROLLBACK", "SELECT"], sent


def test_another_constraint_failing_is_not_reported_as_a_taken_email(tables, stored_hash):
    add_users(tables, stored_hash, "ada@acme.test", organisation="Acme")
    with Session(tables) as session, pytest.raises(IntegrityError):
        accounts.sign_up(
            session, "bob@acme.test", "Bob", "another passphrase", Organisation(name="Acme")
        )


@pytest.mark.parametrize(
    ("email", "name", "password", "message"),
    [
        ("ada.acme.test", "Ada", PASSWORD, "'ada.acme.test' is not an email address"),
        ("ada@acme", "Ada", PASSWORD, "is not an email address"),
        ("ada@acme.test", "   ", PASSWORD, "a display name needs 1 to 100 characters"),
        ("ada@acme.test", "A" * 101, PASSWORD, "a display name needs 1 to 100 characters"),
        ("ada@acme.test", "Ada", "short", "a password needs at least 10 characters"),
    ],
)
def test_sign_up_refuses_malformed_input_before_any_hashing(email, name, password, message):
    with Session() as session, pytest.raises(accounts.InvalidInput, match=message):
        accounts.sign_up(session, email, name, password)


@pytest.fixture
def scrypt_calls(monkeypatch) -> list[tuple[int, int, int]]:
    """The cost of each scrypt run the service makes from now on."""
    calls = []
    real = accounts._scrypt

    def counted(password, salt, n, r, p):
        calls.append((n, r, p))
        return real(password, salt, n, r, p)

    monkeypatch.setattr(accounts, "_scrypt", counted)
    return calls


def test_an_unknown_email_and_a_wrong_password_get_the_same_answer_after_the_same_work(
    tables, stored_hash, scrypt_calls
):
    add_users(tables, stored_hash, "ada@acme.test")
    today = tuple(accounts.SCRYPT_COST.values())
    with Session(tables) as session:
        for email, password in [
            ("ada@acme.test", "wrong horse battery"),
            ("nobody@acme.test", PASSWORD),
            ("not an address", PASSWORD),
        ]:
            scrypt_calls.clear()
            assert accounts.authenticate(session, email, password) is None, email
            assert scrypt_calls == [today], email


def test_authenticate_finds_the_user_whatever_the_case_of_the_email(tables, stored_hash):
    add_users(tables, stored_hash, "ada@acme.test")
    with Session(tables) as session:
        assert accounts.authenticate(session, " Ada@ACME.test", PASSWORD).email == "ada@acme.test"


def test_a_right_password_is_rehashed_at_a_raised_cost_and_committed(
    tables, stored_hash, monkeypatch
):
    add_users(tables, stored_hash, "ada@acme.test")
    monkeypatch.setitem(accounts.SCRYPT_COST, "p", 2)  # raised, never lowered
    with Session(tables) as session:
        assert accounts.authenticate(session, "ada@acme.test", PASSWORD) is not None
        session.commit()
    with Session(tables) as session:
        stored = session.scalars(select(User.password_hash)).one()
    assert stored.startswith("$scrypt$ln=17,r=8,p=2$")
    assert not accounts.needs_rehash(stored)


def test_change_password_needs_the_current_one_and_an_existing_user(tables, stored_hash):
    add_users(tables, stored_hash, "ada@acme.test")
    with Session(tables) as session:
        ada = session.scalars(select(User.id)).one()
        with pytest.raises(accounts.WrongPassword, match="the current password is not right"):
            accounts.change_password(session, ada, "wrong horse battery", "a new passphrase")
        with pytest.raises(accounts.NoSuchUser, match="there is no user with id 999"):
            accounts.change_password(session, 999, PASSWORD, "a new passphrase")
        with pytest.raises(accounts.InvalidInput, match="at least 10 characters"):
            accounts.change_password(session, ada, PASSWORD, "short")
    with Session(tables) as session:
        assert session.scalars(select(User.password_hash)).one() == stored_hash


def test_update_profile_changes_only_the_fields_given(tables, stored_hash):
    add_users(tables, stored_hash, "ada@acme.test", "bob@acme.test")
    with Session(tables) as session:
        ada = session.scalars(select(User.id).where(User.email == "ada@acme.test")).one()
        accounts.update_profile(session, ada, display_name="Ada Lovelace")
        with pytest.raises(accounts.EmailTaken, match="bob@acme.test already exists"):
            accounts.update_profile(session, ada, email="BOB@acme.test", display_name="Bob?")
        with pytest.raises(accounts.NoSuchUser):
            accounts.update_profile(session, 999, display_name="Nobody")
        session.commit()  # the refusals left the first change in the transaction
    with Session(tables) as session:
        users = session.execute(select(User.email, User.display_name).order_by(User.email))
        assert users.all() == [("ada@acme.test", "Ada Lovelace"), ("bob@acme.test", "Bob")]


def test_the_listing_takes_two_statements_however_many_organisations(tables, stored_hash):
    for team in ["Acme", "Globex", "Initech"]:
        add_users(tables, stored_hash, f"a@{team}.test", f"b@{team}.test", organisation=team)
    sent = []
    with Session(tables) as session:
        event.listen(tables, "before_cursor_execute", recorder(sent))
        listing = {
            organisation.name: sorted(user.email for user in organisation.users)
            for organisation in accounts.organisations_with_members(session)
        }
    assert listing == {
        team: [f"a@{team.lower()}.test", f"b@{team.lower()}.test"]
        for team in ["Acme", "Globex", "Initech"]
    }
    assert len(sent) == 2, sent


def test_emails_are_unique_in_the_database_itself(tables, stored_hash):
    add_users(tables, stored_hash, "ada@acme.test")
    with Session(tables) as session, pytest.raises(IntegrityError):
        session.add(User(email="ada@acme.test", display_name="Ada", password_hash="-"))
        session.commit()
    with Session(tables) as session:
        assert session.scalar(select(func.count()).select_from(User)) == 1
