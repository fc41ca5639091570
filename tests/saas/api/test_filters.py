"""Lists of choices in a query string (saas/api/filters.py ChoiceInFilter): every item must be
a choice, an empty item included; the whole parameter empty means no filter."""

import pytest

from tests.factories import client_for

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("value", ["NEW,", ",NEW", "NEW,,DONE", ","])
def test_a_list_with_an_empty_item_is_refused_naming_the_parameter(acme, acme_member, value):
    response = client_for(acme_member, acme).get(f"/api/tasks/?status={value}")

    assert response.status_code == 400
    assert response.json() == {
        "status": [
            '"" is not a status: use NEW, IN_PROGRESS, DONE, or several separated by commas.'
        ]
    }


def test_an_empty_list_means_no_filter(acme, acme_member):
    response = client_for(acme_member, acme).get("/api/activity/?verb=")

    assert response.status_code == 200
