"""Exports with real commits: through the real Celery worker when REDIS_URL names a broker
(eagerly otherwise, see the test header), isolated by schema; queued only after commit; a
broker that is down or hangs is a quick 503 that leaves nothing behind.

No `db` fixture: a worker sees only committed rows (and a transactional test would flush
the session's organizations). Everything committed here is removed afterwards.
"""

import time
import uuid
from dataclasses import dataclass, field
from datetime import date
from unittest import mock

import pytest
from django.db import connection, transaction
from django_tenants.utils import tenant_context
from knox.models import AuthToken

from shared_apps.accounts.models import User
from shared_apps.organizations.models import Membership, Organization, Role
from tenant_apps.exports.files import export_path, organization_folder
from tenant_apps.exports.jobs import export_run
from tenant_apps.exports.models import Export, ExportStatus
from tenant_apps.exports.services import export_create
from tenant_apps.projects.models import Project
from tenant_apps.tasks.models import Task
from tests.concurrency import delete_activity_after, last_activity_id
from tests.factories import client_for, make_project, make_task, make_user, users_delete
from tests.jobs import hanging_broker, refusing_broker

from .csv_rows import expected_rows, parse

JOB_TIMEOUT = 60  # a loaded 2-core machine starts a job in well under this
EXPORT_RUN = export_run._get_current_object()  # the task itself, not its lazy proxy


@dataclass
class Committed:
    acme: Organization
    globex: Organization
    user: User
    globex_user: User
    export_ids: dict[str, list[int]] = field(default_factory=lambda: {"acme": [], "globex": []})


def _remove(organization: Organization, user: User, export_ids: list[int]) -> None:
    with tenant_context(organization):
        for export_id in export_ids:
            export_path(export_id).unlink(missing_ok=True)
        Export.objects.filter(pk__in=export_ids).delete()
        Export.objects.filter(created_by_id=user.pk).delete()
        Task.all_objects.filter(created_by_id=user.pk).delete()
        Project.all_objects.filter(created_by_id=user.pk).delete()


@pytest.fixture
def committed(django_db_setup, django_db_blocker):
    """Real commits: a MEMBER of acme with a project and tasks there, and a globex ADMIN with
    a task of globex's; all of it (exports and their files included) deleted afterwards."""
    with django_db_blocker.unblock():
        if not connection.settings_dict["NAME"].startswith("test_"):
            pytest.fail("not on the test database")
        acme = Organization.objects.get(slug="acme")
        globex = Organization.objects.get(slug="globex")
        last = {org.slug: last_activity_id(org) for org in (acme, globex)}
        suffix = uuid.uuid4().hex[:8]
        user = make_user(email=f"exporter-{suffix}@test.example.com")
        globex_user = make_user(email=f"globex-{suffix}@test.example.com")
        state = Committed(acme=acme, globex=globex, user=user, globex_user=globex_user)
        try:
            Membership.objects.create(user=user, organization=acme, role=Role.MEMBER)
            Membership.objects.create(user=globex_user, organization=globex, role=Role.ADMIN)
            project = make_project(acme, created_by=user, name=f"Worker {suffix}")
            for number in range(3):
                make_task(
                    acme,
                    project=project,
                    created_by=user,
                    title=f"Acme task {number}, with a comma",
                    due_date=date(2026, 1, 1 + number),
                    assignee_ids=[user.pk] if number else [],
                )
            globex_project = make_project(globex, created_by=globex_user, name="Globex only")
            make_task(globex, project=globex_project, created_by=globex_user, title="Globex task")
            yield state
        finally:
            connection.set_schema_to_public()
            _remove(acme, user, state.export_ids["acme"])
            _remove(globex, globex_user, state.export_ids["globex"])
            for organization in (acme, globex):
                delete_activity_after(organization, last[organization.slug])
            for person in (user, globex_user):
                AuthToken.objects.filter(user_id=person.pk).delete()
                Membership.objects.filter(user_id=person.pk).delete()
                users_delete("id = %s", [person.pk])


def wait_for(organization: Organization, export_id: int) -> Export:
    """The export once the job has finished it (done or failed)."""
    deadline = time.monotonic() + JOB_TIMEOUT
    while True:
        with tenant_context(organization):
            export = Export.objects.get(pk=export_id)
        if export.status in (ExportStatus.DONE, ExportStatus.FAILED):
            return export
        if time.monotonic() > deadline:
            pytest.fail(f"export {export_id} still {export.status} after {JOB_TIMEOUT} s")
        time.sleep(0.1)


def test_an_export_is_queued_run_by_the_worker_and_downloaded(job_worker, committed):
    client = client_for(committed.user, committed.acme)

    response = client.post("/api/exports/", {"assignee": "me"}, format="json")

    assert response.status_code == 202, response.content
    export_id = response.json()["id"]
    committed.export_ids["acme"].append(export_id)
    export = wait_for(committed.acme, export_id)
    assert export.status == ExportStatus.DONE, export.error
    detail = client.get(f"/api/exports/{export_id}/").json()
    assert detail["progress"] == {"rows_written": 2, "rows_total": 2}
    download = client.get(f"/api/exports/{export_id}/download/")
    assert download.status_code == 200
    rows = parse(b"".join(download.streaming_content))
    assert rows == expected_rows(committed.acme, assignees=committed.user)
    assert len(rows) == 3
    if job_worker is not None:  # it was the worker process that wrote it
        assert f"Export {export_id} in schema org_acme: 2 rows" in job_worker.log()


def test_a_job_queued_from_acme_writes_only_in_acmes_schema(job_worker, committed):
    """Ids are per schema: globex gets an export with the very id acme's job is given, and
    it must stay as it was while acme's is written."""
    acme, globex = committed.acme, committed.globex
    with tenant_context(acme):
        acme_id = Export.objects.create(created_by=committed.user).pk
    committed.export_ids["acme"].append(acme_id)
    with tenant_context(globex):
        Export.objects.filter(pk=acme_id).delete()  # an id a rolled-back test left? none
        twin = Export.objects.create(id=acme_id, created_by=committed.globex_user)
        committed.export_ids["globex"].append(twin.pk)
        globex_folder = organization_folder()
        before = Export.objects.values().get(pk=twin.pk)

    with tenant_context(acme):
        EXPORT_RUN.delay(acme_id)

    export = wait_for(acme, acme_id)
    assert export.status == ExportStatus.DONE, export.error
    with tenant_context(acme):
        rows = parse(export_path(acme_id).read_bytes())
    assert rows == expected_rows(acme)
    assert "Globex task" not in {row[2] for row in rows}
    with tenant_context(globex):
        assert Export.objects.values().get(pk=twin.pk) == before
        assert not export_path(acme_id).exists()
    assert not (globex_folder / f"{acme_id}.csv").exists()
    if job_worker is not None:
        assert f"Export {acme_id} in schema org_acme: 3 rows" in job_worker.log()


def test_a_job_is_sent_only_once_its_transaction_commits(committed):
    sent = []
    with (
        mock.patch.object(EXPORT_RUN, "apply_async", side_effect=lambda **kw: sent.append(kw)),
        tenant_context(committed.acme),
    ):
        with pytest.raises(RuntimeError), transaction.atomic():
            export_create(created_by=committed.user, filters={})
            raise RuntimeError("the request fails after creating the export")
        assert sent == []
        assert not Export.objects.filter(created_by=committed.user).exists()

        with transaction.atomic():
            export = export_create(created_by=committed.user, filters={})
            committed.export_ids["acme"].append(export.pk)
            assert sent == []  # not before the commit
        assert sent == [
            {"args": (export.pk,), "kwargs": {}, "headers": {"_schema_name": "org_acme"}}
        ]


@pytest.mark.parametrize("broker", [refusing_broker, hanging_broker], ids=["refused", "hanging"])
def test_a_broker_that_is_down_is_a_quick_503_and_nothing_is_left(committed, broker):
    client = client_for(committed.user, committed.acme)

    with broker():
        started = time.monotonic()
        response = client.post("/api/exports/", {"status": "NEW"}, format="json")
        elapsed = time.monotonic() - started

    assert response.status_code == 503, response.content
    assert response.json() == {
        "detail": "Background jobs cannot be queued right now (the job queue does not "
        "answer), so nothing was created: try again in a minute."
    }
    assert response["Retry-After"] == "30"
    assert elapsed < 3, elapsed  # JOB_QUEUE_TIMEOUT is 1 s: never a hang
    with tenant_context(committed.acme):
        assert not Export.objects.filter(created_by=committed.user).exists()
    # The queue is back: the next request is accepted.
    with mock.patch.object(EXPORT_RUN, "apply_async"):
        again = client.post("/api/exports/", {"status": "NEW"}, format="json")
    assert again.status_code == 202
    committed.export_ids["acme"].append(again.json()["id"])
