"""Each worked example, run as a whole program on every selected database."""

from examples import notes


def test_notes_finds_titles_and_resists_injection(engine):
    assert notes.main(engine) == {
        "ea": ["Ideas"],
        "50%": ["Sale: 50% off"],
        "' OR '1'='1": [],
    }


def test_notes_escapes_like_wildcards():
    assert notes.escape_like("50%_off!") == "50!%!_off!!"
