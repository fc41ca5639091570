"""bench/plans.py: EXPLAIN as the benchmark reads it, and the sequential scans it flags."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import tenant_context

from bench.plans import explain
from tests.factories import client_for, make_project, make_task

pytestmark = pytest.mark.django_db


def test_a_query_no_index_can_serve_is_flagged_as_a_scan_of_the_task_table(acme):
    with tenant_context(acme):
        plan = explain(
            "SELECT id FROM tasks_task WHERE description LIKE %s", ["%late%"], index_only=True
        )

    assert plan.sequential_scans() == ["Seq Scan on tasks_task"]
    assert "Seq Scan on tasks_task" in plan.text


def test_a_whole_read_of_the_assignments_is_flagged_too(acme):
    with tenant_context(acme):
        plan = explain(
            "SELECT * FROM tasks_task_assignees WHERE task_id::text LIKE %s",
            ["1%"],
            index_only=True,
        )

    assert plan.sequential_scans() == ["Seq Scan on tasks_task_assignees"]


def test_other_tables_are_not_watched(acme):
    with tenant_context(acme):
        plan = explain("SELECT name FROM projects_project WHERE description LIKE '%x%'")

    assert plan.sequential_scans() == []
    assert plan.sequential_scans(tables=("projects_project",)) == ["Seq Scan on projects_project"]


def test_the_task_list_first_page_is_read_from_its_index(acme, acme_manager, acme_member):
    project = make_project(acme, created_by=acme_manager)
    make_task(acme, project=project, created_by=acme_manager)
    with CaptureQueriesContext(connection) as captured:
        assert client_for(acme_member, acme).get("/api/tasks/").status_code == 200
    page = next(q["sql"] for q in captured.captured_queries if 'FROM "tasks_task"' in q["sql"])

    with tenant_context(acme):
        plan = explain(page, index_only=True)

    assert plan.sequential_scans() == []
    assert "tasks_created_id_due" in plan.indexes()
    assert plan.tree["Execution Time"] >= 0  # ANALYZE ran it


def test_explain_leaves_sequential_scans_enabled_afterwards(acme):
    with tenant_context(acme):
        explain("SELECT 1", index_only=True)
        with connection.cursor() as cursor:
            cursor.execute("SHOW enable_seqscan")
            assert cursor.fetchone()[0] == "on"
