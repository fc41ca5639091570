"""A bug under /api/ answers the JSON 500 with DEBUG on or off (and is logged); elsewhere
Django's own handling stays."""

import pytest

from tenant_apps.tasks import apis
from tests.factories import client_for, make_member

pytestmark = pytest.mark.django_db


def broken_list():
    raise RuntimeError("a bug")


@pytest.mark.parametrize("debug", [False, True], ids=["DEBUG off", "DEBUG on"])
def test_an_unhandled_exception_under_the_api_is_a_json_500(
    acme, settings, monkeypatch, caplog, debug
):
    settings.DEBUG = debug
    monkeypatch.setattr(apis, "task_list", broken_list)
    client = client_for(make_member(acme), acme)
    client.raise_request_exception = False

    response = client.get("/api/tasks/")

    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "Internal server error."}
    assert any(
        record.name == "django.request" and record.exc_info and "a bug" in str(record.exc_info[1])
        for record in caplog.records
    )
