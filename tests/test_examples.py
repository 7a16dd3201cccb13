"""Each worked example, run as a whole program on every selected database."""

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
    assert accounts.verify_password("pw", first)
    assert not accounts.verify_password("other", first)
