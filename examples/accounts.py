"""Organisations and their users: the running example of the core chapters.

An account service keeps organisations and the people who belong to them.
Passwords are stored only as salted, deliberately slow scrypt hashes (from
the standard library) that carry their own cost parameters, so the cost can
be raised later without locking anyone out; they are checked in constant
time. Random API tokens are stored as SHA-256 digests. Email addresses are
kept in lower case, and every timestamp is stored in UTC whatever the time
zone of the database server.

```python
from sqlalchemy import create_engine

from examples import accounts

engine = create_engine("sqlite://")
print(accounts.main(engine))
```
"""

import hashlib
import hmac
import secrets
from datetime import UTC, datetime

from sqlalchemy import DateTime, Engine, ForeignKey, String, TypeDecorator, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    Session,
    mapped_column,
    relationship,
    validates,
)
from sqlalchemy.sql.expression import FunctionElement

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


def main(engine: Engine) -> list[tuple[str, str | None, bool]]:
    """Create the tables, sign up three users and check a password.

    Returns:
        Each user's email, organisation name, and whether "correct horse"
        is their password, in email order.
    """
    Base.metadata.drop_all(engine)
    Base.metadata.create_all(engine)
    with Session(engine) as session, session.begin():
        acme = Organisation(name="Acme")
        for email, name, password, organisation in [
            ("Ada@Acme.test", "Ada", "correct horse", acme),
            ("bob@acme.test", "Bob", "battery staple", acme),
            ("cy@example.test", "Cy", "correct horse", None),
        ]:
            user = User(email=email, display_name=name, organisation=organisation)
            user.set_password(password)
            session.add(user)
    with Session(engine) as session:
        users = session.scalars(select(User).order_by(User.email))
        return [
            (
                user.email,
                user.organisation.name if user.organisation else None,
                user.check_password("correct horse"),
            )
            for user in users
        ]


if __name__ == "__main__":
    import os

    from sqlalchemy import create_engine

    print(main(create_engine(os.environ.get("DATABASE_URL", "sqlite:///tutorial.db"))))
