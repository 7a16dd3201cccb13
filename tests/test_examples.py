"""Each worked example, run as a whole program on every selected database."""

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from examples import accounts, notes


def test_notes_finds_titles_and_resists_injection(engine):
    assert notes.main(engine) == {
        "ea": ["Ideas"],
        "50%": ["Sale: 50% off"],
        "' OR '1'='1": [],
    }


def test_notes_escapes_like_wildcards():
    assert notes.escape_like("50%_off!") == "50!%!_off!!"


def test_accounts_signs_up_users_with_hashed_passwords(engine):
    assert accounts.main(engine) == [
        ("ada@acme.test", "Acme", True),
        ("bob@acme.test", "Acme", False),
        ("cy@example.test", None, True),
    ]


def test_password_hashes_are_salted_and_verifiable():
    first, second = accounts.hash_password("pw"), accounts.hash_password("pw")
    assert first != second
    assert first.startswith("$scrypt$ln=17,r=8,p=1$")
    assert accounts.verify_password("pw", first)
    assert not accounts.verify_password("other", first)
    assert not accounts.needs_rehash(first)


def test_a_hash_made_at_an_older_cost_still_verifies_and_asks_for_a_rehash():
    old = accounts.hash_password("pw", n=2**14)
    assert old.startswith("$scrypt$ln=14,r=8,p=1$")
    assert accounts.verify_password("pw", old)
    assert accounts.needs_rehash(old)
    user = accounts.User(email="a@b.test", display_name="A", password_hash=old)
    assert user.check_password("pw")
    assert not accounts.needs_rehash(user.password_hash)


def test_tokens_are_stored_as_sha256_digests():
    stored = accounts.hash_token("tok")
    assert stored == "sha256$" + hashlib.sha256(b"tok").hexdigest()
    assert accounts.verify_token("tok", stored)
    assert not accounts.verify_token("other", stored)


def test_emails_are_kept_trimmed_and_in_lower_case():
    assert accounts.User(email=" Ada@Acme.TEST ").email == "ada@acme.test"


def test_created_at_is_utc_and_aware(engine):
    accounts.main(engine)
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
