"""shared_apps/accounts/migrations/0006: public.word_junctions, the phrase search's index
expression, gives every junction of neighbouring words at 3 and 5 characters each side."""

import itertools

import pytest
from django.db import connection

pytestmark = pytest.mark.django_db


def _junctions(text):
    with connection.cursor() as cursor:
        cursor.execute("SELECT public.word_junctions(%s)", [text])
        return cursor.fetchone()[0]


def _expected(text: str) -> list[str]:
    """The same rule in Python: split on single spaces, then each neighbouring pair."""
    words = text.split(" ")
    return [
        f"{end}{start}:{first[-end:]} {second[:start]}"
        for first, second in itertools.pairwise(words)
        for end in (3, 5)
        for start in (3, 5)
    ]


@pytest.mark.parametrize(
    "text",
    [
        "FIX LOGIN SALES",
        "A B",
        "UPDATE THE DESIGN TEAM PAGE FOR Q3",
        "FIX  LOGIN",  # a double space: an empty word between
        " FIX",  # a leading space
        "STRASSE PRÜFEN UND ÖLWECHSEL",
        "50% OF THE UP-FRONT COSTS",
    ],
)
def test_every_junction_at_three_and_five_characters(text):
    assert _junctions(text) == _expected(text)


def test_a_single_word_or_nothing_has_no_junction():
    assert _junctions("REPORT") == []
    assert _junctions("") == []
    assert _junctions(None) is None


def test_a_short_word_is_taken_whole():
    assert _junctions("FIX UP") == ["33:FIX UP", "35:FIX UP", "53:FIX UP", "55:FIX UP"]
