"""Detail routes take only whole-number ids (`lookup_value_regex = "[0-9]+"`): anything else is a
JSON 404 from routing, never a 500 from the database, for members, projects and tasks alike."""

import pytest

from shared_apps.organizations.models import Membership, Role
from tests.factories import client_for, make_member, make_project, make_task

pytestmark = pytest.mark.django_db

NOT_FOUND = {"detail": "Not found."}
COLLECTIONS = ["/api/members/", "/api/projects/", "/api/tasks/"]
NOT_IDS = [
    "abc",
    "1.5",
    "1e3",
    "-1",
    "+1",
    "0x1",
    "1abc",
    "%20",  # a space
    "%D9%A1",  # ARABIC-INDIC DIGIT ONE: int() accepts it, [0-9] does not
]


@pytest.fixture
def admin_client(acme, acme_admin):
    """An ADMIN of acme (allowed every method), with one row in each collection."""
    project = make_project(acme, created_by=acme_admin)
    make_task(acme, project=project, created_by=acme_admin)
    make_member(acme, Role.MEMBER)
    return client_for(acme_admin, acme)


def _send(client, method: str, path: str):
    if method == "get":
        return client.get(path)
    if method == "patch":
        return client.patch(path, {"role": "MANAGER", "name": "x", "title": "x"}, format="json")
    return client.delete(path)


@pytest.mark.parametrize("method", ["get", "patch", "delete"])
@pytest.mark.parametrize("collection", COLLECTIONS)
@pytest.mark.parametrize("lookup", NOT_IDS)
def test_a_non_numeric_id_answers_a_json_404(admin_client, method, collection, lookup):
    response = _send(admin_client, method, f"{collection}{lookup}/")

    assert response.status_code == 404, (response.status_code, response.content)
    assert response["Content-Type"].startswith("application/json")
    assert response.json() == NOT_FOUND


@pytest.mark.parametrize("path", ["/api/members/abc/", "/api/projects/abc/", "/api/tasks/1.5/"])
@pytest.mark.parametrize("method", ["get", "patch", "delete"])
def test_the_reported_paths_answer_a_json_404(admin_client, path, method):
    response = _send(admin_client, method, path)

    assert response.status_code == 404, (response.status_code, response.content)
    assert response.json() == NOT_FOUND


@pytest.mark.parametrize("method", ["get", "patch", "delete"])
@pytest.mark.parametrize("collection", COLLECTIONS)
@pytest.mark.parametrize("lookup", ["999999999", "9" * 25, "0"])
def test_a_numeric_id_of_no_row_answers_a_json_404(admin_client, method, collection, lookup):
    response = _send(admin_client, method, f"{collection}{lookup}/")

    assert response.status_code == 404, (response.status_code, response.content)
    assert set(response.json()) == {"detail"}  # DRF's "No <Model> matches the given query."


def test_numeric_ids_still_reach_their_rows(acme, acme_admin, admin_client):
    membership = Membership.objects.filter(organization=acme, role=Role.MEMBER).latest("id")
    project = make_project(acme, created_by=acme_admin)
    task = make_task(acme, project=project, created_by=acme_admin)

    assert admin_client.get(f"/api/members/{membership.pk}/").json()["id"] == membership.pk
    assert admin_client.get(f"/api/projects/{project.pk}/").json()["id"] == project.pk
    assert admin_client.get(f"/api/tasks/{task.pk}/").json()["id"] == task.pk
