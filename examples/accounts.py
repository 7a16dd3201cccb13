"""Organisations and their users: the account service of the core chapters.

An account service keeps organisations and the people who belong to them.
Passwords are stored only as salted, deliberately slow scrypt hashes (from
the standard library) that carry their own cost parameters, so the cost can
be raised later without locking anyone out; they are checked in constant
time, and a right one stored at an older cost is hashed again at today's.
Random API tokens are stored as SHA-256 digests. Email addresses are kept in
lower case, and are unique because the database says so; every timestamp is
stored in UTC whatever the time zone of the database server.

The service's functions (``sign_up``, ``authenticate``, ``change_password``,
``update_profile``, ``organisations_with_members``) take the ``Session`` to
work in, and none of them commits: the caller, a request handler say, decides
where the transaction ends. A request the service refuses raises an
``AccountError`` whose message is one sentence, and leaves the caller's
transaction as it was: a write that the database may refuse runs in a
savepoint. An unknown email and a wrong password get the same answer,
``None``, after the same work.

Run it from the command line on a database made for the purpose (it creates
its tables afresh):

    python -m examples.accounts sqlite:///accounts.db

or hand ``main()`` an engine of your own, on SQLite one that lets SQLAlchemy
begin transactions, as savepoints need:

```python
from sqlalchemy import create_engine

from examples import accounts
from examples.sqlite_transactions import take_over_sqlite_transactions

accounts.main(take_over_sqlite_transactions(create_engine("sqlite://")))
```
"""

# --8<-- [start:imports]
import hashlib
import hmac
import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from sqlalchemy import DateTime, Engine, ForeignKey, String, TypeDecorator, event, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    Session,
    mapped_column,
    relationship,
    selectinload,
    validates,
)
from sqlalchemy.sql.expression import FunctionElement

# --8<-- [end:imports]

# --8<-- [start:passwords]
# OWASP's recommended minimum for scrypt. Raising it later is safe: every
# stored hash names the parameters it was made with.
SCRYPT_COST = {"n": 2**17, "r": 8, "p": 1}


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    # scrypt needs 128 * r * (n + p + 2) bytes of memory, 128 MiB at the cost
    # above; OpenSSL refuses more than 32 MiB unless maxmem allows it.
    maxmem = 128 * r * (n + p + 2)
    return hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, maxmem=maxmem)


def hash_password(password: str, **cost: int) -> str:
    """A salted scrypt hash of ``password``, safe to store.

    The result is laid out like a PHC string, with the salt and the digest in
    hex: ``$scrypt$ln=17,r=8,p=1$<salt>$<digest>``. Keyword arguments
    ``n``, ``r`` and ``p`` override ``SCRYPT_COST``.
    """
    n, r, p = (cost.get(name, SCRYPT_COST[name]) for name in ("n", "r", "p"))
    salt = secrets.token_bytes(16)
    digest = _scrypt(password, salt, n, r, p)
    return f"$scrypt$ln={n.bit_length() - 1},r={r},p={p}${salt.hex()}${digest.hex()}"


def _parse(stored: str) -> tuple[dict[str, int], bytes, bytes]:
    """The cost, salt and digest recorded in a stored password hash."""
    _, algorithm, parameters, salt, digest = stored.split("$")
    if algorithm != "scrypt":
        raise ValueError(f"unknown password hash algorithm {algorithm!r}")
    values = dict(item.split("=") for item in parameters.split(","))
    cost = {"n": 2 ** int(values["ln"]), "r": int(values["r"]), "p": int(values["p"])}
    return cost, bytes.fromhex(salt), bytes.fromhex(digest)


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` is the one ``stored`` was made from.

    The hash is recomputed with the parameters recorded in ``stored``, not
    with today's ``SCRYPT_COST``.
    """
    cost, salt, expected = _parse(stored)
    return hmac.compare_digest(_scrypt(password, salt, **cost), expected)


def needs_rehash(stored: str) -> bool:
    """Whether ``stored`` was made with other parameters than ``SCRYPT_COST``."""
    cost, _, _ = _parse(stored)
    return cost != SCRYPT_COST


def hash_token(token: str) -> str:
    """The SHA-256 digest of a random API token, safe to store.

    A token from ``secrets.token_urlsafe(32)`` carries 256 random bits, far too
    many to guess, so there is nothing for key stretching to protect: a fast
    hash is enough, and checking a token costs microseconds, not a scrypt run.
    """
    return "sha256$" + hashlib.sha256(token.encode()).hexdigest()


def verify_token(token: str, stored: str) -> bool:
    """Whether ``token`` is the one ``stored`` was made from."""
    return hmac.compare_digest(hash_token(token), stored)


# --8<-- [end:passwords]


# --8<-- [start:models]
# --8<-- [start:utc]
class utc_now(FunctionElement):
    """The current time in UTC, as each database spells it."""

    type = DateTime(timezone=True)
    inherit_cache = True


@compiles(utc_now)
def _utc_now(element, compiler, **kw) -> str:
    # SQLite's CURRENT_TIMESTAMP is UTC; PostgreSQL's is a moment, not a reading.
    return "CURRENT_TIMESTAMP"


@compiles(utc_now, "mysql")
@compiles(utc_now, "mariadb")
def _utc_now_mariadb(element, compiler, **kw) -> str:
    # MariaDB's NOW() and CURRENT_TIMESTAMP follow the session's time zone.
    return "UTC_TIMESTAMP()"


class UTCDateTime(TypeDecorator):
    """An aware ``datetime``, stored in UTC and read back in UTC on every database."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"{value!r} has no time zone; pass an aware datetime")
        value = value.astimezone(UTC)
        # Only PostgreSQL keeps an offset; elsewhere, send the UTC digits alone.
        return value if dialect.name == "postgresql" else value.replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


# --8<-- [end:utc]


class Base(DeclarativeBase):
    """Every model of the account service derives from this."""

    # A plain ``str`` column becomes VARCHAR(255): MariaDB needs a length.
    type_annotation_map = {str: String(255), datetime: UTCDateTime}


class Organisation(Base):
    """A company or team that has an account."""

    __tablename__ = "organisations"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    users: Mapped[list["User"]] = relationship(back_populates="organisation")

    def __repr__(self) -> str:
        return f"Organisation(id={self.id!r}, name={self.name!r})"


class User(Base):
    """A person who signs in; belongs to at most one organisation."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    display_name: Mapped[str] = mapped_column(String(100))
    password_hash: Mapped[str]
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))
    created_at: Mapped[datetime] = mapped_column(server_default=utc_now())
    organisation: Mapped[Organisation | None] = relationship(back_populates="users")

    @validates("email")
    def _normalise_email(self, key: str, address: str) -> str:
        # One person, one account: Ada@Acme.test and ada@acme.test are the same
        # mailbox in practice, and not every database's unique check says so.
        return address.strip().lower()

    def set_password(self, password: str) -> None:
        self.password_hash = hash_password(password)

    def check_password(self, password: str) -> bool:
        """Whether ``password`` is right; a right one made at an old cost is rehashed."""
        if not verify_password(password, self.password_hash):
            return False
        if needs_rehash(self.password_hash):
            self.set_password(password)
        return True

    def __repr__(self) -> str:
        return f"User(id={self.id!r}, email={self.email!r})"


# --8<-- [end:models]


# --8<-- [start:errors]
class AccountError(Exception):
    """A request the account service refuses; its message is one sentence for the user."""


class InvalidInput(AccountError, ValueError):
    """An email address, name or password that the service does not accept."""


class EmailTaken(AccountError):
    """Another account already has this email address."""


class NoSuchUser(AccountError, LookupError):
    """No account has this id."""


class WrongPassword(AccountError):
    """The password given to prove who is asking is not the account's."""


#: The shortest new password accepted: a long passphrase beats clever rules.
MIN_PASSWORD_LENGTH = 10
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def normalise_email(address: str) -> str:
    """``address`` as the service keeps it: trimmed and in lower case.

    Raises:
        InvalidInput: ``address`` does not look like an email address.
    """
    normalised = address.strip().lower()
    if len(normalised) > 254 or not _EMAIL.fullmatch(normalised):
        raise InvalidInput(f"{address!r} is not an email address")
    return normalised


def _display_name(name: str) -> str:
    if not name.strip() or len(name.strip()) > 100:
        raise InvalidInput("a display name needs 1 to 100 characters")
    return name.strip()


def _new_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    return password


# --8<-- [end:errors]


# --8<-- [start:sign_up]
def sign_up(
    session: Session,
    email: str,
    display_name: str,
    password: str,
    organisation: Organisation | None = None,
) -> User:
    """Open an account, inserted at once in a savepoint; the caller commits.

    The database's unique constraint on ``users.email`` decides whether the
    address is free, so two sign-ups at the same moment cannot both win.

    Raises:
        InvalidInput: the email, name or password is not acceptable.
        EmailTaken: another account has this email address; the savepoint is
            rolled back, and the caller's transaction goes on as it was.
    """
    address = normalise_email(email)
    user = User(email=address, display_name=_display_name(display_name))
    user.set_password(_new_password(password))
    with _unless_taken(session, address):
        user.organisation = organisation
        session.add(user)
    return user


@contextmanager
def _unless_taken(session: Session, address: str) -> Iterator[None]:
    """Flush the block's changes in a savepoint; a violation on ``address`` is ``EmailTaken``."""
    try:
        with session.begin_nested():  # flushed when the block ends
            yield
    except IntegrityError:
        # Another constraint may have failed: only a row with the address says it was this one.
        if session.scalar(select(User.id).where(User.email == address)) is None:
            raise
        raise EmailTaken(f"an account with the email {address} already exists") from None


# --8<-- [end:sign_up]


# --8<-- [start:authenticate]
_dummy_hashes: dict[tuple[int, ...], str] = {}


def _dummy_hash() -> str:
    """A hash of nobody's password at today's ``SCRYPT_COST``, made once per cost."""
    cost = tuple(SCRYPT_COST.values())
    if cost not in _dummy_hashes:
        _dummy_hashes[cost] = hash_password(secrets.token_urlsafe(16))
    return _dummy_hashes[cost]


_dummy_hash()  # made now, so that no login waits for it


def authenticate(session: Session, email: str, password: str) -> User | None:
    """The user these credentials belong to, or None, whatever was wrong with them.

    An unknown email and a wrong password get the same answer after the same
    work: for an unknown email, the password is checked against a dummy hash
    made at today's cost, so the time a login takes does not tell anyone which
    addresses have accounts. A right password stored at an older cost is hashed
    again at today's (``User.check_password``); the caller's commit stores it.
    """
    address = email.strip().lower()  # as the model's validator stores it
    user = session.scalar(select(User).where(User.email == address))
    if user is None:
        verify_password(password, _dummy_hash())
        return None
    return user if user.check_password(password) else None


# --8<-- [end:authenticate]


# --8<-- [start:change_password]
def get_user(session: Session, user_id: int) -> User:
    """The user with this id.

    Raises:
        NoSuchUser: there is none.
    """
    user = session.get(User, user_id)
    if user is None:
        raise NoSuchUser(f"there is no user with id {user_id}")
    return user


def change_password(session: Session, user_id: int, old_password: str, new_password: str) -> None:
    """Replace a user's password, given the current one; the caller commits.

    Raises:
        NoSuchUser: there is no user with this id.
        WrongPassword: ``old_password`` is not the user's password.
        InvalidInput: ``new_password`` is too short.
    """
    _new_password(new_password)  # the cheap check first, before any hashing
    user = get_user(session, user_id)
    if not verify_password(old_password, user.password_hash):
        raise WrongPassword("the current password is not right")
    user.set_password(new_password)


def update_profile(
    session: Session, user_id: int, *, email: str | None = None, display_name: str | None = None
) -> User:
    """Change the fields given, and only those, in a savepoint; the caller commits.

    Raises:
        NoSuchUser: there is no user with this id.
        InvalidInput: a new value is not acceptable.
        EmailTaken: another account has the new email address; nothing is changed.
    """
    name = None if display_name is None else _display_name(display_name)
    address = None if email is None else normalise_email(email)
    user = get_user(session, user_id)
    with _unless_taken(session, address or user.email):
        if name is not None:
            user.display_name = name
        if address is not None:
            user.email = address
    return user


# --8<-- [end:change_password]


# --8<-- [start:listing]
def organisations_with_members(session: Session) -> list[Organisation]:
    """Every organisation, in name order, with its users loaded: two SELECTs in all.

    ``selectinload`` fetches the users of all the organisations at once, so
    reading ``organisation.users`` afterwards sends nothing, however many
    organisations there are.
    """
    query = (
        select(Organisation).options(selectinload(Organisation.users)).order_by(Organisation.name)
    )
    return list(session.scalars(query))


# --8<-- [end:listing]


# --8<-- [start:main]
def main(engine: Engine) -> None:
    """Create the tables afresh, then sign up, log in, and list, printing what happens."""
    Base.metadata.drop_all(engine)
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        acme = Organisation(name="Acme")
        ada = sign_up(session, "Ada@Acme.test", "Ada", "correct horse battery", acme)
        for email, name, password in [
            ("ADA@acme.test ", "Ada again", "another long one"),
            ("ada.example.test", "Ada", "correct horse battery"),
            ("cy@example.test", "Cy", "short"),
        ]:
            try:
                sign_up(session, email, name, password)
            except AccountError as refused:
                print(f"Signing up {email!r} is refused: {refused}")
        sign_up(session, "bob@acme.test", "Bob", "staple gun 1234", acme)
        session.commit()  # the refusals left the transaction as it was
        ada_id = ada.id
        print(f"Committed: {session.scalars(select(User.email).order_by(User.id)).all()}")

    with Session(engine) as session:
        for email, password in [
            ("ada@acme.test", "correct horse battery"),
            ("ada@acme.test", "wrong horse battery"),
            ("nobody@acme.test", "correct horse battery"),
        ]:
            user = authenticate(session, email, password)
            print(f"Log in as {email} with {password!r}: {user.display_name if user else None}")
        session.commit()  # stores a hash that a login made again at a raised cost

    with Session(engine) as session:
        try:
            change_password(session, ada_id, "not my password", "a new long passphrase")
        except AccountError as refused:
            print(f"Changing a password with the wrong one is refused: {refused}")
        change_password(session, ada_id, "correct horse battery", "a new long passphrase")
        session.commit()
        user = authenticate(session, "ada@acme.test", "a new long passphrase")
        print(f"After the change, the new password logs in {user.display_name}")

    statements = []

    def count(connection, cursor, statement, parameters, context, executemany) -> None:
        statements.append(statement)

    with Session(engine) as session:
        event.listen(engine, "before_cursor_execute", count)
        try:
            for organisation in organisations_with_members(session):
                members = sorted(user.display_name for user in organisation.users)
                print(f"{organisation.name}: {', '.join(members)}")
        finally:
            event.remove(engine, "before_cursor_execute", count)
    print(f"The listing took {len(statements)} statements")


# --8<-- [end:main]


if __name__ == "__main__":
    import sys

    from examples.command_line import run

    sys.exit(run(main, "sqlite:///accounts.db"))
