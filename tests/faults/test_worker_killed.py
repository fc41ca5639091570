"""A worker killed with SIGKILL in the middle of an export: a real Celery worker on a broker
of the test's own writes an export of 150,000 tasks (three COPY chunks), and is killed once
the first chunk is on disk.

- Its pool process killed (what the kernel's OOM killer does to the biggest process): the
  worker sees the child die, the job goes back to the queue (acks_late,
  reject_on_worker_lost) and runs again from the start, to a complete file.
- The whole worker killed (a lost container): nothing acknowledges the job, so Redis hands it
  to the next worker after the visibility timeout (CELERY_VISIBILITY_TIMEOUT, short here),
  which writes it in full.

Meanwhile the export is `running`, its download a 409 and its file absent (only a partial
file of the dead attempt, under another name): a partial file is never served as done.
"""

import datetime
import os
import signal
import time
import uuid

import pytest
from django.db import connection
from django.utils import timezone
from django_tenants.utils import tenant_context
from knox.models import AuthToken
from rest_framework.test import APIClient

from shared_apps.organizations.services import organization_create
from tenant_apps.exports.files import PARTIAL_SUFFIX, organization_folder
from tenant_apps.exports.models import Export, ExportStatus
from tenant_apps.exports.writer import CHUNK_ROWS
from tenant_apps.tasks.seeding import tasks_load
from tests.dev_server import committed
from tests.factories import make_project, make_user, users_delete
from tests.jobs import broker_at, real_worker_mode, remove_queue

from .jobs import export_file, pool_children, start_worker, wait_for_export
from .servers import RedisServer, wait_until

TASKS = 3 * CHUNK_ROWS
# Redelivery to the next worker after this long (production: 2 h, longer than any export).
VISIBILITY_SECONDS = 3

pytestmark = pytest.mark.skipif(
    not real_worker_mode(), reason="needs a broker configuration (REDIS_URL), as CI has"
)


@pytest.fixture(scope="module")
def big_organization(django_db_setup, django_db_blocker):
    """An organization of its own with TASKS tasks (bulk-loaded); dropped afterwards."""
    with committed(django_db_blocker):
        slug = f"faults-export-{uuid.uuid4().hex[:6]}"
        user = make_user(email=f"{slug}@test.example.com")
        organization = organization_create(name="Big export", slug=slug, admin=user)
        try:
            project = make_project(organization, created_by=user, name="Everything")
            with tenant_context(organization):
                tasks_load(
                    organization=organization,
                    count=TASKS,
                    project_ids=[project.pk],
                    member_ids=[user.pk],
                    seed=1,
                    until=timezone.now() + datetime.timedelta(days=1),
                )
            token = AuthToken.objects.create(user=user)[1]
            yield organization, user, token
        finally:
            connection.set_schema_to_public()
            with tenant_context(organization):
                for path in organization_folder().glob("*"):
                    path.unlink()
            organization.delete(force_drop=True)
            AuthToken.objects.filter(user=user).delete()
            users_delete("id = %s", [user.pk])


@pytest.fixture
def broker(tmp_path):
    server = RedisServer(folder=tmp_path)
    server.start()
    with broker_at(server.url):
        yield server
        remove_queue()
    server.stop()


def request_export(organization, token) -> int:
    client = APIClient(HTTP_HOST=organization.domain)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    response = client.post("/api/exports/", {}, format="json")
    assert response.status_code == 202, response.content
    return response.json()["id"]


def first_chunk_written(organization, export_id: int) -> bool:
    with tenant_context(organization):
        export = Export.objects.get(pk=export_id)
    assert export.status in (ExportStatus.QUEUED, ExportStatus.RUNNING), "finished too soon"
    return export.rows_written >= CHUNK_ROWS


def assert_nothing_served(organization, token, export_id: int) -> None:
    """Killed mid-way: running, a 409 to download, no file under the export's name."""
    client = APIClient(HTTP_HOST=organization.domain)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert client.get(f"/api/exports/{export_id}/").json()["status"] == "running"
    assert client.get(f"/api/exports/{export_id}/download/").status_code == 409
    assert not export_file(organization, export_id).exists()


def assert_complete(organization, export_id: int) -> None:
    export = wait_for_export(organization, export_id)
    assert export.status == ExportStatus.DONE, export.error
    assert export.rows_written == export.rows_total == TASKS
    path = export_file(organization, export_id)
    with path.open("rb") as csv_file:
        lines = sum(1 for _ in csv_file)
    # Header plus one line per task (the generated texts hold no line breaks).
    assert lines == TASKS + 1
    assert not list(path.parent.glob(f"{export_id}.csv.*{PARTIAL_SUFFIX}"))


def test_a_killed_pool_process_gets_its_export_run_again_to_completion(
    big_organization, broker, tmp_path, django_db_blocker
):
    organization, _, token = big_organization
    with committed(django_db_blocker):
        worker = start_worker(tmp_path, broker.url)
        try:
            export_id = request_export(organization, token)
            wait_until(
                lambda: first_chunk_written(organization, export_id),
                timeout=90,
                what="the first chunk",
            )
            (child,) = pool_children(worker.process.pid)
            os.kill(child, signal.SIGKILL)
            assert_nothing_served(organization, token, export_id)

            assert_complete(organization, export_id)
            log = worker.log()
            assert "WorkerLostError" in log
            assert log.count(f"Export {export_id} in schema {organization.schema_name}:") == 1
        finally:
            worker.stop()


def test_a_killed_worker_leaves_its_export_to_the_next_worker(
    big_organization, broker, tmp_path, django_db_blocker
):
    organization, _, token = big_organization
    visibility = {"CELERY_VISIBILITY_TIMEOUT": str(VISIBILITY_SECONDS)}
    with committed(django_db_blocker):
        first = start_worker(tmp_path, broker.url, **visibility)
        try:
            export_id = request_export(organization, token)
            wait_until(
                lambda: first_chunk_written(organization, export_id),
                timeout=90,
                what="the first chunk",
            )
            os.killpg(first.process.pid, signal.SIGKILL)  # the worker and its pool
            first.process.wait(timeout=10)
        finally:
            first.stop()
        assert_nothing_served(organization, token, export_id)
        time.sleep(1)
        assert_nothing_served(organization, token, export_id)  # nobody else took it

        second = start_worker(tmp_path, broker.url, **visibility)
        try:
            assert_complete(organization, export_id)
            assert f"Export {export_id} in schema {organization.schema_name}:" in second.log()
        finally:
            second.stop()
