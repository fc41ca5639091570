"""CSV exports through the API: request, follow, download; who sees what; filters as on the
task list; live tasks only. Jobs run eagerly here, inside the test's transaction (the real
worker's run is in test_export_worker.py)."""

import logging
import zlib
from urllib.parse import urlencode

import psycopg2
import pytest
import yaml
from django.db import connection
from django_tenants.utils import tenant_context

from shared_apps.organizations.models import Membership, Role
from tenant_apps.exports import services
from tenant_apps.exports.files import export_path, partial_path
from tenant_apps.exports.filters import KINDS
from tenant_apps.exports.jobs import export_run
from tenant_apps.exports.models import Export, ExportStatus
from tenant_apps.exports.services import export_create, export_write
from tenant_apps.tasks.filters import TaskFilter
from tests.factories import client_for, make_member

from .csv_rows import HEADER, expected_rows, parse

pytestmark = pytest.mark.django_db


def test_a_member_exports_every_live_task_and_downloads_the_csv(
    acme, acme_tasks, acme_clients, request_export, download
):
    client = acme_clients["member"]

    response = request_export(client)

    assert response.status_code == 202, response.content
    body = response.json()
    assert {"id", "status", "progress", "created_at"} <= set(body)
    assert body["status"] == "queued"  # as it was when the request answered
    assert body["progress"] == {"rows_written": 0, "rows_total": None}
    assert response["Location"] == f"http://{acme.domain}/api/exports/{body['id']}/"
    export = client.get(f"/api/exports/{body['id']}/").json()
    assert export["status"] == "done"
    assert export["progress"] == {"rows_written": 4, "rows_total": 4}
    assert export["download_url"] == f"http://{acme.domain}/api/exports/{body['id']}/download/"
    assert export["created_by"]["id"] == acme_tasks.member.id
    assert export["error"] == ""
    response, content = download(client, body["id"])
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == (
        f'attachment; filename="acme-tasks-{body["id"]}.csv"'
    )
    rows = parse(content)
    assert rows == expected_rows(acme)
    assert len(rows) == 1 + 4  # header + live tasks; the trashed one is not there
    assert acme_tasks.trashed.title not in content.decode()


def test_the_csv_quotes_what_needs_quoting_and_disarms_formulas(
    acme, acme_tasks, acme_clients, request_export, download
):
    client = acme_clients["admin"]
    export_id = request_export(client).json()["id"]

    rows = {
        row[0]: dict(zip(HEADER, row, strict=True))
        for row in parse(download(client, export_id)[1])[1:]
    }

    first, formula, done, plain = (rows[str(task.id)] for task in acme_tasks.tasks)
    assert first["title"] == 'Say "hello", world'
    assert first["description"] == "Line one\nline two, with a comma\r\nand «ünïcödé» ✓"
    assert first["project"] == "Launch, phase 1"
    assert first["assignees"] == ";".join(
        sorted([acme_tasks.member.email, acme_tasks.manager.email])
    )
    assert first["due_date"] == "2026-01-15"
    # Spreadsheets would run these as formulas: the export makes them text.
    assert formula["title"] == "'=SUM(A1:A9)"
    assert formula["description"] == "'@mention +1 -1"
    assert done["project"] == '\'=HYPERLINK("x")'
    assert plain["due_date"] == "2030-06-01" and formula["due_date"] == ""
    assert done["assignees"] == ""


FILTERS = [
    {"status": "NEW,IN_PROGRESS"},
    {"priority": "HIGH"},
    {"assignee": "me"},
    {"search": "HELLO"},
    {"overdue": True},
    {"overdue": "false"},
    {"due_before": "2026-12-31"},
    {"due_after": "2026-02-01", "status": "NEW"},
    {"status": "", "search": "plain"},  # empty means "not filtered", as on the list
]


@pytest.mark.parametrize("filters", FILTERS, ids=lambda f: urlencode(f))
def test_an_export_holds_exactly_what_the_task_list_shows_with_the_same_filters(
    acme, acme_tasks, acme_clients, request_export, download, filters
):
    client = acme_clients["member"]
    query = {k: str(v).lower() if isinstance(v, bool) else v for k, v in filters.items()}
    listed = client.get(f"/api/tasks/?{urlencode({**query, 'page_size': 200})}").json()

    export_id = request_export(client, filters).json()["id"]

    exported = [int(row[0]) for row in parse(download(client, export_id)[1])[1:]]
    assert exported == sorted(task["id"] for task in listed["results"])


def test_filters_by_project_and_creator_and_me_is_stored_as_the_requesters_id(
    acme, acme_tasks, acme_clients, request_export, download
):
    client = acme_clients["member"]
    body = {"project": acme_tasks.project.id, "created_by": acme_tasks.admin.id, "assignee": "me"}

    export_id = request_export(client, body).json()["id"]

    export = client.get(f"/api/exports/{export_id}/").json()
    assert export["filters"] == {
        "project": str(acme_tasks.project.id),
        "created_by": str(acme_tasks.admin.id),
        "assignee": str(acme_tasks.member.id),
    }
    rows = parse(download(client, export_id)[1])
    assert rows == expected_rows(
        acme, project=acme_tasks.project, assignees=acme_tasks.member, created_by=acme_tasks.admin
    )
    assert len(rows) == 3


@pytest.mark.parametrize(
    "body, field",
    [
        ({"status": "LATE"}, "status"),
        ({"due_before": "31/12/2026"}, "due_before"),
        ({"project": 1.5}, "project"),
        ({"assignee": "you"}, "assignee"),
        ({"overdue": "yes"}, "overdue"),
        ({"deleted": True}, "deleted"),  # exports hold live tasks only
        ({"stauts": "NEW"}, "stauts"),  # a typo must not silently export everything
        ({"status": ["NEW"]}, "status"),
        ({"search": 5}, "search"),  # text filters take strings, as in a query string
        ({"overdue": 1}, "overdue"),
    ],
)
def test_invalid_filters_are_400s_naming_the_parameter_and_nothing_is_queued(
    acme, acme_tasks, acme_clients, django_capture_on_commit_callbacks, body, field
):
    with tenant_context(acme):
        before = Export.objects.count()

    with django_capture_on_commit_callbacks() as queued:
        response = acme_clients["member"].post("/api/exports/", body, format="json")

    assert response.status_code == 400, response.content
    assert list(response.json()) == [field]
    assert queued == []
    with tenant_context(acme):
        assert Export.objects.count() == before


def test_every_task_list_filter_but_the_trash_has_a_json_form_in_exports():
    # A filter added to the task list must be given one here too (or the export refuses it).
    assert set(KINDS) == set(TaskFilter.base_filters) - {"deleted"}


def test_a_body_that_is_not_an_object_is_a_400(acme, acme_clients):
    response = acme_clients["member"].post("/api/exports/", ["status"], format="json")

    assert response.status_code == 400
    assert "non_field_errors" in response.json()


# --- Who sees an export -------------------------------------------------------------------


def test_an_export_is_visible_to_its_creator_and_the_organizations_admins_only(
    acme, acme_tasks, acme_clients, request_export, download
):
    export_id = request_export(acme_clients["member"]).json()["id"]
    other_member = client_for(make_member(acme, Role.MEMBER), acme)

    for name in ("member", "admin"):
        client = acme_clients[name]
        assert client.get(f"/api/exports/{export_id}/").status_code == 200, name
        assert download(client, export_id)[0].status_code == 200, name
    for client in (acme_clients["manager"], other_member):
        detail = client.get(f"/api/exports/{export_id}/")
        assert detail.status_code == 404
        assert detail.json() == {"detail": "No Export matches the given query."} or set(
            detail.json()
        ) == {"detail"}
        assert download(client, export_id)[0].status_code == 404


def test_members_list_their_own_exports_and_admins_list_all(
    acme, acme_tasks, acme_clients, request_export
):
    by_member = request_export(acme_clients["member"]).json()["id"]
    by_manager = request_export(acme_clients["manager"], {"status": "DONE"}).json()["id"]

    def listed(name):
        response = acme_clients[name].get("/api/exports/")
        assert response.status_code == 200
        return [export["id"] for export in response.json()["results"]]

    assert listed("member") == [by_member]
    assert listed("manager") == [by_manager]
    assert listed("admin") == [by_manager, by_member]  # newest first


def test_an_export_is_not_found_from_another_organizations_host(
    acme, globex, acme_tasks, acme_clients, request_export, download
):
    export_id = request_export(acme_clients["member"]).json()["id"]
    # The creator is an ADMIN of globex too: globex's ADMINs see every globex export, and
    # acme's export is still not one of them.
    Membership.objects.create(user=acme_tasks.member, organization=globex, role=Role.ADMIN)
    on_globex = client_for(acme_tasks.member, globex)
    with tenant_context(globex):
        assert not Export.objects.filter(pk=export_id).exists()

    assert on_globex.get(f"/api/exports/{export_id}/").status_code == 404
    assert download(on_globex, export_id)[0].status_code == 404
    assert on_globex.get("/api/exports/").json()["results"] == []


def test_a_non_member_is_refused_on_the_organizations_host(acme, acme_tasks, globex):
    outsider = client_for(make_member(globex, Role.ADMIN), acme)

    assert outsider.post("/api/exports/", {}, format="json").status_code == 403
    assert outsider.get("/api/exports/").status_code == 403
    assert outsider.get("/api/exports/1/download/").status_code == 403


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_exports_cannot_be_changed_or_deleted_through_the_api(
    acme, acme_tasks, acme_clients, request_export, method
):
    export_id = request_export(acme_clients["admin"]).json()["id"]

    response = getattr(acme_clients["admin"], method)(
        f"/api/exports/{export_id}/", {}, format="json"
    )

    assert response.status_code == 405


def test_starting_exports_is_rate_limited_per_user_and_following_them_is_not(
    acme, acme_tasks, acme_clients, request_export, settings
):
    rest_framework = settings.REST_FRAMEWORK
    rates = {**rest_framework["DEFAULT_THROTTLE_RATES"], "exports": "1/h"}
    settings.REST_FRAMEWORK = {**rest_framework, "DEFAULT_THROTTLE_RATES": rates}
    client = acme_clients["member"]
    export_id = request_export(client).json()["id"]

    refused = request_export(client)

    assert refused.status_code == 429
    assert refused.json()["scope"] == "exports"
    assert int(refused["Retry-After"]) > 0
    assert client.get(f"/api/exports/{export_id}/").status_code == 200
    assert request_export(acme_clients["admin"]).status_code == 202  # per user
    with tenant_context(acme):
        assert Export.objects.filter(created_by=acme_tasks.member).count() == 1


# --- Download before it is done, failures, progress ---------------------------------------


def test_downloading_an_export_that_is_not_done_is_a_409_saying_so(acme, acme_tasks, download):
    client = client_for(acme_tasks.member, acme)
    with tenant_context(acme):
        queued = Export.objects.create(created_by=acme_tasks.member)
        failed = Export.objects.create(
            created_by=acme_tasks.member, status=ExportStatus.FAILED, error="x"
        )

    response, body = download(client, queued.pk)
    assert response.status_code == 409
    assert "queued" in response.json()["detail"]
    response, body = download(client, failed.pk)
    assert response.status_code == 409
    assert "failed" in response.json()["detail"]


def test_a_download_answers_csv_even_to_a_client_that_asks_for_csv_only(
    acme, acme_tasks, acme_clients, request_export
):
    client = acme_clients["member"]
    export_id = request_export(client).json()["id"]

    response = client.get(f"/api/exports/{export_id}/download/", HTTP_ACCEPT="text/csv")
    missing = client.get("/api/exports/999999/download/", HTTP_ACCEPT="text/csv")

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert b"".join(response.streaming_content).startswith(b"id,project,title,")
    assert missing.status_code == 404
    assert missing["Content-Type"] == "application/json"


def test_a_failing_export_is_marked_failed_logged_with_its_schema_and_leaves_no_file(
    acme, acme_tasks, monkeypatch, caplog
):
    def broken(tasks, out, progress=None):
        out.write(b"id,project\n")
        raise RuntimeError("disk full")

    monkeypatch.setattr(services, "write_csv", broken)
    with tenant_context(acme):
        export = Export.objects.create(created_by=acme_tasks.member)
        with caplog.at_level(logging.ERROR, logger="tenant_apps.exports.services"):
            export_write(export_id=export.pk)
        export.refresh_from_db()
        assert export.status == ExportStatus.FAILED
        assert export.error == services.EXPORT_FAILED
        assert export.finished_at is not None
        assert not export_path(export.pk).exists()
        assert not partial_path(export.pk).exists()
    assert f"Export {export.pk} failed in schema org_acme" in caplog.text
    assert "disk full" in caplog.text  # the traceback is in the log, not in the API


def test_progress_is_recorded_after_every_chunk(acme, acme_tasks, monkeypatch):
    monkeypatch.setattr("tenant_apps.exports.writer.CHUNK_ROWS", 3)
    recorded = []
    record = services._set

    def spy(export_id, **fields):
        if "rows_written" in fields:
            recorded.append(fields["rows_written"])
        return record(export_id, **fields)

    monkeypatch.setattr(services, "_set", spy)
    with tenant_context(acme):
        export = Export.objects.create(created_by=acme_tasks.member)
        export_write(export_id=export.pk)
        content = export_path(export.pk).read_bytes()

    # 3 rows, then the last one, then the final count when done.
    assert recorded == [3, 4, 4]
    assert parse(content) == expected_rows(acme)


def test_a_duplicate_delivery_of_a_finished_export_changes_nothing(acme, acme_tasks):
    with tenant_context(acme):
        export = Export.objects.create(created_by=acme_tasks.member)
        export_write(export_id=export.pk)
        path = export_path(export.pk)
        first = path.stat().st_mtime_ns, Export.objects.get(pk=export.pk).finished_at

        assert export_write(export_id=export.pk) is None

        assert (path.stat().st_mtime_ns, Export.objects.get(pk=export.pk).finished_at) == first


def test_an_export_another_worker_is_writing_is_left_to_it(acme, acme_tasks):
    """Redis hands an unacknowledged job to a second worker only after the visibility
    timeout; should both ever run it, the second sees the first's lock and leaves it."""
    with tenant_context(acme):
        export = Export.objects.create(created_by=acme_tasks.member, status=ExportStatus.RUNNING)
        key = zlib.crc32(f"export:org_acme:{export.pk}".encode())
        other = psycopg2.connect(**_dsn())
        try:
            with other.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_lock(%s)", [key])

            assert export_write(export_id=export.pk) is None
            export.refresh_from_db()
            assert export.status == ExportStatus.RUNNING  # untouched: the other worker owns it
            assert not export_path(export.pk).exists()

            # Once the other worker lets go, the export can be written.
            with other.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [key])
            assert export_write(export_id=export.pk).status == ExportStatus.DONE
        finally:
            other.close()


def test_redis_waits_longer_than_any_export_may_run_before_redelivering_it(settings):
    visibility = settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"]

    assert visibility > export_run.time_limit


def _dsn() -> dict:
    database = connection.settings_dict
    return {
        "dbname": database["NAME"],
        "user": database["USER"],
        "password": database["PASSWORD"],
        "host": database["HOST"],
        "port": database["PORT"] or None,
    }


def test_a_redelivered_running_export_starts_over(acme, acme_tasks):
    """A worker lost mid-way leaves the export `running` and a partial file; the message is
    delivered again (acks_late) and the export is written from the start."""
    with tenant_context(acme):
        export = Export.objects.create(
            created_by=acme_tasks.member, status=ExportStatus.RUNNING, rows_written=2
        )
        partial_path(export.pk).parent.mkdir(parents=True, exist_ok=True)
        partial_path(export.pk).write_bytes(b"half a file")

        export_write(export_id=export.pk)

        export.refresh_from_db()
        assert export.status == ExportStatus.DONE and export.rows_written == 4
        assert parse(export_path(export.pk).read_bytes()) == expected_rows(acme)
        assert not partial_path(export.pk).exists()


def test_export_create_queues_its_job_only_when_the_transaction_commits(
    acme, acme_tasks, django_capture_on_commit_callbacks
):
    with tenant_context(acme), django_capture_on_commit_callbacks() as queued:
        export = export_create(created_by=acme_tasks.member, filters={})

        assert Export.objects.get(pk=export.pk).status == ExportStatus.QUEUED
    assert len(queued) == 1  # waiting for the commit, not sent


# --- Documentation ------------------------------------------------------------------------


def test_the_schema_documents_exports_their_503_and_the_csv_download(acme):
    response = client_for(None, acme).get("/api/schema/")
    paths = yaml.safe_load(response.content)["paths"]

    create = paths["/api/exports/"]["post"]
    assert "202" in create["responses"] and "503" in create["responses"]
    assert {"status", "assignee", "due_before", "overdue"} <= set(
        create["requestBody"]["content"]["application/json"]["schema"].get("properties", {})
        or _component_properties(response, create)
    )
    download = paths["/api/exports/{id}/download/"]["get"]
    assert "text/csv" in download["responses"]["200"]["content"]
    assert {"404", "409"} <= set(download["responses"])
    assert set(paths["/api/exports/{id}/"]) == {"get"}


def _component_properties(response, operation) -> dict:
    schema = yaml.safe_load(response.content)
    ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    return schema["components"]["schemas"][ref.rsplit("/", 1)[-1]]["properties"]
