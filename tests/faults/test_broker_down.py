"""The job broker killed and started again: a redis-server of the test's own is the broker of
a real Celery worker and of the requests that queue exports.

While it is down, requesting an export answers a 503 JSON error within 2 s and leaves no
export behind (no row "queued" for a job that will never run), and reading exports still
works; once it is back the worker reconnects by itself, and each organization's exports are
written in its own schema, from its own tasks, with no job left over from the outage.
"""

import time

import pytest
from django_tenants.utils import tenant_context
from rest_framework.test import APIClient

from saas.api.messages import JOBS_UNAVAILABLE
from tenant_apps.exports.models import Export, ExportStatus
from tests.dev_server import committed
from tests.jobs import broker_at, real_worker_mode, remove_queue
from tests.tenant_apps.exports.csv_rows import parse

from .jobs import Member, export_file, exporters, start_worker, wait_for_export
from .servers import RedisServer

QUEUE_BUDGET = 2.0  # seconds a request may take to answer 503 when the broker is gone

pytestmark = pytest.mark.skipif(
    not real_worker_mode(), reason="needs a broker configuration (REDIS_URL), as CI has"
)


def client_of(member: Member) -> APIClient:
    client = APIClient(HTTP_HOST=member.organization.domain)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {member.token}")
    return client


def exported_titles(member: Member, export_id: int) -> list[str]:
    rows = parse(export_file(member.organization, export_id).read_bytes())
    return sorted(row[2] for row in rows[1:])


def test_a_dead_broker_is_a_quick_503_and_jobs_run_in_their_own_organization_once_back(
    django_db_setup, django_db_blocker, tmp_path
):
    broker = RedisServer(folder=tmp_path)
    broker.start()
    worker = None
    with committed(django_db_blocker), exporters() as people, broker_at(broker.url):
        try:
            worker = start_worker(tmp_path, broker.url)
            members = (people.acme, people.globex)
            expected = {m.organization.slug: [f"{m.marker} {n}" for n in range(3)] for m in members}

            # Up: an export from each organization is written.
            for member in members:
                response = client_of(member).post("/api/exports/", {}, format="json")
                assert response.status_code == 202, response.content
                export = wait_for_export(member.organization, response.json()["id"])
                assert export.status == ExportStatus.DONE, export.error

            broker.stop()
            for member in members:
                client = client_of(member)
                started = time.monotonic()
                response = client.post("/api/exports/", {}, format="json")
                took = time.monotonic() - started

                assert response.status_code == 503, response.content
                assert response.json() == {"detail": JOBS_UNAVAILABLE}
                assert response["Retry-After"] == "30"
                assert took < QUEUE_BUDGET, took
                # Nothing half-done: only the export made while the broker was up remains.
                assert client.get("/api/exports/").json()["results"][0]["status"] == "done"
                with tenant_context(member.organization):
                    assert Export.objects.filter(created_by=member.user).count() == 1

            broker.start()
            # Exports from both organizations, interleaved; the worker reconnects by itself.
            queued = []
            for _ in range(2):
                for member in members:
                    response = client_of(member).post("/api/exports/", {}, format="json")
                    assert response.status_code == 202, response.content
                    queued.append((member, response.json()["id"]))
            for member, export_id in queued:
                export = wait_for_export(member.organization, export_id)
                assert export.status == ExportStatus.DONE, export.error
                # Its own organization's tasks, and only them, in its own organization's folder.
                assert exported_titles(member, export_id) == expected[member.organization.slug]
                assert export.rows_written == 3

            log = worker.log()
            for member, export_id in queued:
                schema = member.organization.schema_name
                assert f"Export {export_id} in schema {schema}: 3 rows" in log
            # No job of the outage reached the worker (it would find its export gone).
            assert "is finished or gone" not in log
        finally:
            if worker is not None:
                worker.stop()
            if broker.ping():
                remove_queue()
            broker.stop()
