"""The account service's building blocks: password hashes, tokens, emails, UTC times.

The service itself (sign-up, login, listings) is tested on every database in
``tests/test_example_accounts.py``; each program as a whole, from the command
line, in ``tests/test_example_command_lines.py``.
"""

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from examples import accounts


def test_password_hashes_are_salted_and_verifiable():
    first, second = accounts.hash_password("pw"), accounts.hash_password("pw")
    assert first != second
    assert first.startswith("$scrypt$ln=17,r=8,p=1$")
    assert accounts.verify_password("pw", first)
    assert not accounts.verify_password("other", first)
    assert not accounts.needs_rehash(first)


def test_a_hash_made_before_the_cost_was_raised_still_verifies_and_asks_for_a_rehash(
    monkeypatch,
):
    old = accounts.hash_password("pw")
    monkeypatch.setitem(accounts.SCRYPT_COST, "p", 2)  # raised, never lowered
    assert accounts.needs_rehash(old)
    assert accounts.verify_password("pw", old)  # with the parameters recorded in it


def test_tokens_are_stored_as_sha256_digests():
    stored = accounts.hash_token("tok")
    assert stored == "sha256$" + hashlib.sha256(b"tok").hexdigest()
    assert accounts.verify_token("tok", stored)
    assert not accounts.verify_token("other", stored)


def test_emails_are_kept_trimmed_and_in_lower_case():
    assert accounts.User(email=" Ada@Acme.TEST ").email == "ada@acme.test"


def test_created_at_is_utc_and_aware(engine):
    accounts.Base.metadata.create_all(engine)
    with Session(engine) as session:
        session.add(accounts.User(email="ada@acme.test", display_name="Ada", password_hash="-"))
        session.commit()
    with Session(engine) as session:
        created = session.scalars(select(accounts.User.created_at)).first()
        now = session.scalar(select(accounts.utc_now()))
    assert created.tzinfo is UTC
    # the database's UTC clock, read raw, agrees with the stored value
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    assert abs(now - created) < timedelta(minutes=5)
    assert abs(datetime.now(UTC) - created) < timedelta(minutes=5)


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError, match="no time zone"):
        accounts.UTCDateTime().process_bind_param(datetime(2030, 1, 1), None)
