"""The dashboard's race, with real commits on separate connections: figures computed while a
write commits are stored, but under the version before the write, so the read after the write
misses them and computes afresh.

No `db` fixture (see test_assignee_race.py); everything committed here is removed at the end.
"""

import threading

import pytest
from django.db import connection
from django_tenants.utils import tenant_context
from knox.models import AuthToken

from shared_apps.organizations.models import Membership, Organization, Role
from tenant_apps.activity.models import Activity
from tenant_apps.projects.models import Project
from tenant_apps.projects.services import project_create
from tenant_apps.tasks import cache as dashboard_cache
from tenant_apps.tasks.models import Task
from tenant_apps.tasks.services import task_create, task_update
from tests.concurrency import TIMEOUT, Worker
from tests.factories import client_for


@pytest.fixture
def committed(django_db_setup, django_db_blocker):
    """Committed for real in acme: a project with one NEW task, created by acme's founder
    (an ADMIN); removed afterwards, with their activity entries."""
    with django_db_blocker.unblock():
        if not connection.settings_dict["NAME"].startswith("test_"):
            pytest.fail("not on the test database: select a test that uses `db` as well")
        acme = Organization.objects.get(slug="acme")
        founder = Membership.objects.filter(organization=acme, role=Role.ADMIN).first().user
        state = {"acme": acme, "founder": founder, "project": None}
        try:
            with tenant_context(acme):
                state["project"] = project_create(name="Race dashboard", created_by=founder)
                state["task"] = task_create(
                    organization=acme,
                    project=state["project"],
                    title="Race task",
                    created_by=founder,
                )
            yield state
        finally:
            connection.set_schema_to_public()
            AuthToken.objects.filter(user=founder).delete()
            if state["project"] is not None:
                with tenant_context(acme):
                    Task.all_objects.filter(project=state["project"]).delete()
                    Activity.objects.filter(project_id=state["project"].pk).delete()
                    Project.all_objects.filter(pk=state["project"].pk).delete()


def test_figures_computed_while_a_write_commits_are_never_served_after_it(committed, monkeypatch):
    acme, task = committed["acme"], committed["task"]
    project_id = committed["project"].pk
    computed, release = threading.Event(), threading.Event()
    real_figures = dashboard_cache.dashboard_figures

    def figures_then_wait(**kwargs):
        figures = real_figures(**kwargs)
        if threading.current_thread() is reader:
            computed.set()  # its snapshot is read: the task is NEW there
            if not release.wait(timeout=TIMEOUT):
                raise TimeoutError("never released")
        return figures

    monkeypatch.setattr(dashboard_cache, "dashboard_figures", figures_then_wait)

    def compute():
        with tenant_context(acme):
            version = dashboard_cache.current_version()
            return version, dashboard_cache.dashboard_read(project_id=project_id)

    reader = Worker(compute)
    try:
        reader.start()
        assert computed.wait(timeout=TIMEOUT), reader.error
        # Meanwhile a write commits (its own transaction bumps the change version).
        with tenant_context(acme):
            task_update(
                organization=acme, task=task, data={"status": "DONE"}, actor=committed["founder"]
            )
    finally:
        release.set()
        reader.join(timeout=TIMEOUT)
    assert reader.error is None, reader.error
    version_read, (stale, hit) = reader.result
    assert not hit
    assert stale["by_status"] == {"NEW": 1, "IN_PROGRESS": 0, "DONE": 0}

    # The stale figures were stored: under the version they describe, the one before the write.
    with tenant_context(acme):
        today = dashboard_cache.timezone.localdate()
        stale_key = dashboard_cache.dashboard_key(version_read, project_id=project_id, today=today)
        assert dashboard_cache.cache.get(stale_key)["by_status"] == stale["by_status"]
        assert dashboard_cache.current_version().change > version_read.change

    # So the next read misses them and answers with the write.
    response = client_for(committed["founder"], acme).get(f"/api/dashboard/?project={project_id}")
    assert response.status_code == 200, response.content
    assert response["X-Cache"] == "MISS"
    assert response.json()["by_status"] == {"NEW": 0, "IN_PROGRESS": 0, "DONE": 1}
