"""saas/api/openapi.py: a comma-separated list of choices is documented as text with a pattern,
and the pattern accepts exactly what the server accepts."""

import re

import pytest

from tests.factories import client_for

pytestmark = pytest.mark.django_db

SAMPLES = [
    "NEW",
    "NEW,DONE",
    "DONE,IN_PROGRESS,NEW,NEW",
    "NEW,",
    ",",
    "new",
    "NEW, DONE",
    "NEW,DONE,",
    "NEWS",
    " NEW",
]


def _parameter(organization, path, name):
    schema = client_for(None, organization).get("/api/schema/", HTTP_ACCEPT="application/json")
    (parameter,) = [
        p for p in schema.json()["paths"][path]["get"]["parameters"] if p["name"] == name
    ]
    return parameter


def test_a_list_of_choices_is_documented_as_text_with_a_pattern_over_the_choices(acme):
    parameter = _parameter(acme, "/api/tasks/", "status")

    assert parameter["schema"] == {
        "type": "string",
        "pattern": "^(DONE|IN_PROGRESS|NEW)(,(DONE|IN_PROGRESS|NEW))*$",
    }
    assert "explode" not in parameter and "style" not in parameter
    assert parameter["allowEmptyValue"] is True


@pytest.mark.parametrize("value", SAMPLES)
def test_the_server_accepts_exactly_what_the_pattern_matches(acme, acme_member, value):
    pattern = _parameter(acme, "/api/tasks/", "status")["schema"]["pattern"]

    response = client_for(acme_member, acme).get("/api/tasks/", {"status": value})

    assert response.status_code == (200 if re.fullmatch(pattern, value) else 400)
