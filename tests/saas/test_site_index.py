"""`GET /` on the base host answers a JSON index; loopback aliases reach the public site."""

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def test_the_base_host_answers_a_json_index_of_where_things_are(settings):
    settings.SITE_PORT = "8600"

    response = Client(HTTP_HOST="localhost:8600").get("/")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json() == {
        "name": "Task management API",
        "docs": "http://localhost:8600/api/docs/",
        "schema": "http://localhost:8600/api/schema/",
        "admin": "http://localhost:8600/admin/",
        "health": "http://localhost:8600/healthz",
        "register": "http://localhost:8600/api/auth/register/",
        "login": "http://localhost:8600/api/auth/login/",
        "organization_api": "http://{slug}.localhost:8600/api/",
    }


def test_an_organization_host_has_no_index(acme):
    assert Client(HTTP_HOST="acme.localhost").get("/").status_code == 404


def test_a_public_host_alias_serves_the_public_site(settings):
    settings.PUBLIC_HOST_ALIASES = ["127.0.0.1"]
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "127.0.0.1"]

    response = Client(HTTP_HOST="127.0.0.1:8000").get("/")

    assert response.status_code == 200
    assert response.json()["admin"] == "http://127.0.0.1:8000/admin/"


def test_without_aliases_an_ip_address_is_no_site(settings):
    settings.PUBLIC_HOST_ALIASES = []

    assert Client(HTTP_HOST="127.0.0.1").get("/").status_code == 404


def test_head_answers_like_get_without_a_body(db):
    # Uptime checks often probe a site's root with HEAD.
    get = Client(HTTP_HOST="localhost").get("/")
    head = Client(HTTP_HOST="localhost").head("/")

    assert head.status_code == get.status_code == 200
    assert head["Content-Type"] == get["Content-Type"]
    assert head.content == b""
