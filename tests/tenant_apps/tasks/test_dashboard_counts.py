"""The dashboard's running counts (kept by PostgreSQL triggers, tasks migrations 0005 and 0007)
equal a plain COUNT of the tasks after every kind of write, through the services or not, from
any search path, and stay equal through compaction."""

import datetime
import threading

import pytest
from django.db import DatabaseError, connection, transaction
from django.utils import timezone
from django_tenants.utils import tenant_context

from shared_apps.organizations.models import Membership, Organization, Role
from shared_apps.organizations.services import membership_delete
from tenant_apps.projects.models import Project
from tenant_apps.projects.services import project_delete, project_restore
from tenant_apps.tasks import cache as dashboard_cache
from tenant_apps.tasks.dashboard_counts import FOLD_PAST_DAYS, dashboard_counts_compact
from tenant_apps.tasks.models import Task
from tenant_apps.tasks.selectors import dashboard_pending_changes
from tenant_apps.tasks.services import (
    task_create,
    task_delete,
    task_restore,
    task_update,
    trash_purge,
)
from tests.factories import client_for, make_member, make_project, make_task

pytestmark = pytest.mark.django_db

# What each running count must equal, counted from the tasks themselves.
PLAIN = {
    "count": "SELECT project_id, status, priority, count(*) FROM tasks_task "
    "WHERE deleted_at IS NULL GROUP BY 1, 2, 3",
    "due": "SELECT project_id, {due}, count(*) FROM tasks_task "
    "WHERE deleted_at IS NULL AND status <> 'DONE' AND due_date IS NOT NULL GROUP BY 1, 2",
    "assignee": "SELECT a.user_id, t.project_id, count(*) FROM tasks_task t "
    "JOIN tasks_task_assignees a ON a.task_id = t.id "
    "WHERE t.deleted_at IS NULL AND t.status <> 'DONE' GROUP BY 1, 2",
    "assignee total": "SELECT a.user_id, count(*) FROM tasks_task t "
    "JOIN tasks_task_assignees a ON a.task_id = t.id "
    "WHERE t.deleted_at IS NULL AND t.status <> 'DONE' GROUP BY 1",
}
KEPT = {
    "count": "SELECT project_id, status, priority, sum(n) FROM tasks_dashboard_count "
    "GROUP BY 1, 2, 3 HAVING sum(n) <> 0",
    "due": "SELECT project_id, due_date, sum(n) FROM tasks_dashboard_due "
    "GROUP BY 1, 2 HAVING sum(n) <> 0",
    "assignee": "SELECT user_id, project_id, sum(n) FROM tasks_dashboard_assignee "
    "GROUP BY 1, 2 HAVING sum(n) <> 0",
    "assignee total": "SELECT user_id, sum(n) FROM tasks_dashboard_assignee_total "
    "GROUP BY 1 HAVING sum(n) <> 0",
}


def _by_key(sql: str, params=()) -> dict:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return {tuple(row[:-1]): row[-1] for row in cursor.fetchall()}


def counted(organization: Organization, *, fold_before: datetime.date | None = None) -> dict:
    """Each figure as a plain COUNT would give it (due dates before `fold_before` counted as
    that date, as the compaction folds them)."""
    due = "due_date" if fold_before is None else "GREATEST(due_date, %s)"
    with tenant_context(organization):
        return {
            name: _by_key(sql.format(due=due), [fold_before] if "%s" in sql.format(due=due) else [])
            for name, sql in PLAIN.items()
        }


def kept(organization: Organization) -> dict:
    """The running counts (sums of their rows); every one must be positive."""
    with tenant_context(organization):
        figures = {name: _by_key(sql) for name, sql in KEPT.items()}
    assert all(n > 0 for figure in figures.values() for n in figure.values()), figures
    return figures


def assert_counts_match(organization: Organization) -> None:
    assert kept(organization) == counted(organization)


def days(n: int) -> datetime.date:
    return timezone.localdate() + datetime.timedelta(days=n)


@pytest.fixture
def world(acme, acme_manager):
    """Two projects with tasks of each status, dated and not, assigned to two members."""
    m1, m2 = (make_member(acme, Role.MEMBER) for _ in range(2))
    alpha = make_project(acme, created_by=acme_manager, name="Counts Alpha")
    beta = make_project(acme, created_by=acme_manager, name="Counts Beta")
    specs = [
        (alpha, "NEW", "HIGH", -3, [m1.id, m2.id]),
        (alpha, "IN_PROGRESS", "LOW", 2, [m1.id]),
        (alpha, "DONE", "MEDIUM", -1, [m2.id]),
        (alpha, "NEW", "MEDIUM", None, []),
        (beta, "NEW", "LOW", 5, [m2.id]),
        (beta, "IN_PROGRESS", "HIGH", -40, [m1.id]),
    ]
    tasks = [
        make_task(
            acme,
            project=project,
            created_by=acme_manager,
            status=status,
            priority=priority,
            due_date=None if due is None else days(due),
            assignee_ids=assignees,
        )
        for project, status, priority, due, assignees in specs
    ]
    assert_counts_match(acme)
    return {
        "org": acme,
        "manager": acme_manager,
        "m1": m1,
        "m2": m2,
        "alpha": alpha,
        "beta": beta,
        "tasks": tasks,
    }


def _update(w, task, **data):
    task_update(organization=w["org"], task=task, data=data, actor=w["manager"])


WRITES = {
    "create": lambda w: task_create(
        organization=w["org"],
        project=w["beta"],
        title="Counts new",
        created_by=w["manager"],
        due_date=days(1),
        assignee_ids=[w["m1"].id],
    ),
    "status change": lambda w: _update(w, w["tasks"][0], status="DONE"),
    "reopen": lambda w: _update(w, w["tasks"][2], status="NEW"),
    "priority and due date": lambda w: _update(w, w["tasks"][1], priority="HIGH", due_date=None),
    "reassign": lambda w: _update(w, w["tasks"][0], assignee_ids=[w["m2"].id]),
    "project move": lambda w: _update(w, w["tasks"][1], project=w["beta"]),
    "delete": lambda w: task_delete(task=w["tasks"][4], actor=w["manager"]),
    "restore": lambda w: (
        task_delete(task=w["tasks"][4], actor=w["manager"]),
        task_restore(task=Task.all_objects.get(pk=w["tasks"][4].pk), actor=w["manager"]),
    ),
    "project delete": lambda w: project_delete(project=w["alpha"], actor=w["manager"]),
    "project restore": lambda w: (
        project_delete(project=w["alpha"], actor=w["manager"]),
        project_restore(project=Project.all_objects.get(pk=w["alpha"].pk), actor=w["manager"]),
    ),
    "purge": lambda w: (
        task_delete(task=w["tasks"][5], actor=w["manager"]),
        project_delete(project=w["alpha"], actor=w["manager"]),
        trash_purge(deleted_before=timezone.now() + datetime.timedelta(seconds=1)),
    ),
    "member removed": lambda w: membership_delete(
        membership=Membership.objects.get(organization=w["org"], user=w["m1"]),
        actor=w["manager"],
    ),
}


@pytest.mark.parametrize("write", WRITES.values(), ids=WRITES.keys())
def test_the_counts_equal_a_plain_count_after_each_kind_of_write(world, write):
    with tenant_context(world["org"]):
        write(world)

    assert_counts_match(world["org"])


def _sql(sql: str, params=()) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def test_bulk_statements_outside_the_services_are_counted_too(world):
    alpha, beta, m1 = world["alpha"].pk, world["beta"].pk, world["m1"].pk
    with tenant_context(world["org"]):
        # A seed: many tasks in one INSERT, then their assignments in one more.
        _sql(
            "INSERT INTO tasks_task (project_id, title, description, status, priority, due_date,"
            " created_by_id, created_at, updated_at, deleted_with_project)"
            " SELECT %s, 'Bulk ' || g, '', (ARRAY['NEW','IN_PROGRESS','DONE'])[1 + g %% 3],"
            " (ARRAY['LOW','MEDIUM','HIGH'])[1 + g %% 3], CURRENT_DATE + (g %% 11) - 5, %s,"
            " now(), now(), false FROM generate_series(1, 300) AS g",
            [alpha, world["manager"].pk],
        )
        _sql(
            "INSERT INTO tasks_task_assignees (task_id, user_id)"
            " SELECT id, %s FROM tasks_task WHERE title LIKE 'Bulk %%' AND id %% 2 = 0",
            [m1],
        )
        assert_counts_match(world["org"])
        # One UPDATE moving, finishing and trashing many of them at once.
        _sql(
            "UPDATE tasks_task SET project_id = %s, status = CASE WHEN id %% 5 = 0 THEN 'DONE'"
            " ELSE status END, deleted_at = CASE WHEN id %% 7 = 0 THEN now() END"
            " WHERE title LIKE 'Bulk %%'",
            [beta],
        )
        assert_counts_match(world["org"])
        _sql(
            "DELETE FROM tasks_task_assignees WHERE task_id IN"
            " (SELECT id FROM tasks_task WHERE title LIKE 'Bulk %%' AND id %% 3 = 0)"
        )
        _sql(
            "DELETE FROM tasks_task WHERE title LIKE 'Bulk %%' AND id %% 3 = 0"
            " AND NOT EXISTS (SELECT 1 FROM tasks_task_assignees WHERE task_id = tasks_task.id)"
        )
        assert_counts_match(world["org"])


def test_an_assignment_written_before_its_task_or_removed_after_it_is_counted_once(world):
    # Django's foreign keys are checked at commit: within a transaction, an assignment may
    # name a task inserted after it, and a task may be deleted before its assignments.
    m2 = world["m2"].pk
    with tenant_context(world["org"]), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT nextval(pg_get_serial_sequence('tasks_task', 'id'))")
            task_id = cursor.fetchone()[0]
        _sql("INSERT INTO tasks_task_assignees (task_id, user_id) VALUES (%s, %s)", [task_id, m2])
        _sql(
            "INSERT INTO tasks_task (id, project_id, title, description, status, priority,"
            " due_date, created_by_id, created_at, updated_at, deleted_with_project)"
            " VALUES (%s, %s, 'Early', '', 'NEW', 'LOW', CURRENT_DATE, %s, now(), now(), false)",
            [task_id, world["beta"].pk, world["manager"].pk],
        )
        assert_counts_match(world["org"])
        _sql("DELETE FROM tasks_task WHERE id = %s", [task_id])
        _sql("DELETE FROM tasks_task_assignees WHERE task_id = %s", [task_id])
        assert_counts_match(world["org"])


def test_truncating_the_tasks_empties_the_counts(world):
    with tenant_context(world["org"]):
        # The test's transaction has foreign key checks pending, which TRUNCATE refuses.
        _sql("SET CONSTRAINTS ALL IMMEDIATE")
        _sql("TRUNCATE tasks_task, tasks_task_assignees CASCADE")

    assert kept(world["org"]) == {"count": {}, "due": {}, "assignee": {}, "assignee total": {}}


def test_a_write_made_from_another_schema_counts_in_its_own(world, globex):
    # The trigger functions name their tables without a schema: they must count this write
    # into acme's tables, not into those of the schema first in the caller's path (globex).
    task = world["tasks"][0]
    globex_before = kept(globex)
    with tenant_context(globex):
        _sql("UPDATE org_acme.tasks_task SET status = 'DONE' WHERE id = %s", [task.pk])
        with connection.cursor() as cursor:
            cursor.execute("SHOW search_path")
            path_after = cursor.fetchone()[0]

    assert path_after == "org_globex, public"  # the caller's, as it was
    assert_counts_match(world["org"])
    assert kept(globex) == globex_before == counted(globex)


# --- Compaction ----------------------------------------------------------------------------


def test_compaction_keeps_every_figure_and_folds_dates_long_past(world):
    with tenant_context(world["org"]):
        for task in world["tasks"]:
            _update(world, task, title=f"{task.title} renamed", status="IN_PROGRESS")
        assert dashboard_pending_changes() > 0
        before = client_for(world["manager"], world["org"]).get("/api/dashboard/").json()

        assert dashboard_counts_compact(today=timezone.localdate()) is True

        assert dashboard_pending_changes() == 0
    fold_before = timezone.localdate() - datetime.timedelta(days=FOLD_PAST_DAYS)
    assert kept(world["org"]) == counted(world["org"], fold_before=fold_before)
    # The task due 40 days ago now counts under the folding date, still overdue.
    assert (world["beta"].pk, fold_before) in kept(world["org"])["due"]
    after = client_for(world["manager"], world["org"]).get("/api/dashboard/").json()
    assert {k: v for k, v in after.items() if k != "generated_at"} == {
        k: v for k, v in before.items() if k != "generated_at"
    }


def test_a_second_compaction_at_the_same_time_skips_it(world):
    with tenant_context(world["org"]):
        # Its lock is held until the transaction (here, the test's) ends.
        assert dashboard_counts_compact(today=timezone.localdate()) is True

    assert _compact_on_another_connection(world["org"]) is False


def _compact_on_another_connection(organization: Organization) -> bool:
    """dashboard_counts_compact() as another request would run it, on its own connection."""
    result = {}

    def run():
        try:
            with tenant_context(organization):
                result["compacted"] = dashboard_counts_compact(today=timezone.localdate())
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=15)
    return result["compacted"]


def test_the_uncached_dashboard_compacts_once_changes_pile_up(world, monkeypatch):
    monkeypatch.setattr(dashboard_cache, "COMPACT_AFTER", 3)
    with tenant_context(world["org"]):
        for task in world["tasks"][:4]:
            _update(world, task, priority="HIGH")
        assert dashboard_pending_changes() > 3

    body = client_for(world["manager"], world["org"]).get("/api/dashboard/").json()

    with tenant_context(world["org"]):
        assert dashboard_pending_changes() == 0
    assert body["by_priority"]["HIGH"] == sum(
        n for (_, _, priority), n in counted(world["org"])["count"].items() if priority == "HIGH"
    )


def test_a_failed_compaction_still_answers(world, monkeypatch, caplog):
    monkeypatch.setattr(dashboard_cache, "COMPACT_AFTER", 0)

    def broken(**kwargs):
        raise DatabaseError("disk full")

    monkeypatch.setattr(dashboard_cache, "dashboard_counts_compact", broken)
    with tenant_context(world["org"]):
        _update(world, world["tasks"][0], priority="LOW")

    response = client_for(world["manager"], world["org"]).get("/api/dashboard/")

    assert response.status_code == 200
    assert "Could not compact the dashboard counts of org_acme" in caplog.text
