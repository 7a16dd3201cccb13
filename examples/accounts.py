"""Organisations and their users: the running example of the core chapters.

An account service keeps organisations and the people who belong to them.
Passwords are stored only as salted, deliberately slow hashes (scrypt, from
the standard library), and checked in constant time.

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
from datetime import datetime

from sqlalchemy import DateTime, Engine, ForeignKey, String, func, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship

# --8<-- [start:passwords]
SCRYPT_COST = {"n": 2**14, "r": 8, "p": 1}


def hash_password(password: str) -> str:
    """A salted scrypt hash of ``password``, safe to store.

    The result names its algorithm and salt, so that it can be checked later
    and so that the cost can be raised for new hashes without breaking old ones.
    """
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, **SCRYPT_COST)
    return f"scrypt${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` is the one ``stored`` was made from."""
    algorithm, salt, expected = stored.split("$")
    if algorithm != "scrypt":
        raise ValueError(f"unknown password hash algorithm {algorithm!r}")
    digest = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt), **SCRYPT_COST)
    return hmac.compare_digest(digest.hex(), expected)


# --8<-- [end:passwords]


# --8<-- [start:models]
class Base(DeclarativeBase):
    """Every model of the account service derives from this."""

    # A plain ``str`` column becomes VARCHAR(255): MariaDB needs a length.
    type_annotation_map = {str: String(255)}


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
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    organisation: Mapped[Organisation | None] = relationship(back_populates="users")

    def set_password(self, password: str) -> None:
        self.password_hash = hash_password(password)

    def check_password(self, password: str) -> bool:
        return verify_password(password, self.password_hash)

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
            ("ada@acme.test", "Ada", "correct horse", acme),
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
