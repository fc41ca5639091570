"""manage.py seed_tasks: the rows it loads (counts, distributions, assignees who are members,
ids that a following insert continues), the indexes and keys it drops and puts back, the
dashboard right after it, many organizations at once, and clear errors for bad arguments."""

import datetime
import io
from collections import Counter

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone
from django_tenants.utils import tenant_context

from bench.data import build_scale_org
from shared_apps.accounts.models import User
from shared_apps.organizations.models import Membership, Organization, Role
from tenant_apps.activity.models import Activity, ChangeCounter, TargetType, Verb
from tenant_apps.projects.models import Project
from tenant_apps.tasks.models import Task
from tenant_apps.tasks.seeding import (
    LoadError,
    bulk,
    load,
    organization_seed,
    seeded_email,
    tasks_load,
)
from tenant_apps.tasks.seeding.bulk import CopySource
from tenant_apps.tasks.seeding.rows import HISTORY_DAYS, TaskPlan, task_lines
from tenant_apps.tasks.services import task_create
from tests.factories import client_for, users_delete
from tests.tenant_apps.tasks.test_dashboard import figures_of, read, sql_figures

UNTIL = timezone.make_aware(datetime.datetime(2026, 6, 1))


def seed(*args: str) -> str:
    """Run the command as from the shell; its output."""
    out = io.StringIO()
    call_command("seed_tasks", *args, "--no-progress", stdout=out)
    return out.getvalue()


def shares(values) -> dict:
    counts = Counter(values)
    total = sum(counts.values())
    return {key: count / total for key, count in counts.items()}


def schema_objects(organization: Organization) -> dict[str, str]:
    """The task tables' indexes and constraints, by name: what a load must leave as it was."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = %s"
            " AND tablename IN ('tasks_task', 'tasks_task_assignees')",
            [organization.schema_name],
        )
        objects = dict(cursor.fetchall())
        cursor.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid IN"
            " (%s::regclass, %s::regclass)",
            [
                f"{organization.schema_name}.tasks_task",
                f"{organization.schema_name}.tasks_task_assignees",
            ],
        )
        objects.update(cursor.fetchall())
    return objects


# --- One organization ------------------------------------------------------------------------


@pytest.mark.django_db
def test_seeding_a_new_organization_loads_realistic_tasks_for_its_members():
    output = seed(
        "--org", "seedtest-one", "--tasks", "4000", "--projects", "5", "--users", "12",
        "--seed", "7",
    )  # fmt: skip
    organization = Organization.objects.get(slug="seedtest-one")
    memberships = Membership.objects.filter(organization=organization)
    members = set(memberships.values_list("user_id", flat=True))
    seeded = User.objects.filter(email__in=[seeded_email("seedtest-one", n) for n in range(1, 13)])
    assert set(seeded.values_list("pk", flat=True)) == members
    assert memberships.get(user__email=seeded_email("seedtest-one", 1)).role == Role.ADMIN
    assert "4,000 tasks" in output and "peak RSS" in output

    today = timezone.localdate()
    with tenant_context(organization):
        assert Project.objects.count() == 5
        tasks = list(Task.objects.values_list("id", "status", "priority", "due_date", "title"))
        created = list(Task.objects.values_list("created_at", "updated_at", "created_by_id"))
        assignments = list(Task.assignees.through.objects.values_list("task_id", "user_id"))
        per_project = Counter(Task.objects.values_list("project_id", flat=True))
    assert len(tasks) == 4000
    ids = sorted(task[0] for task in tasks)
    assert ids == list(range(ids[0], ids[0] + 4000))  # one block from the sequence

    status = shares(task[1] for task in tasks)
    assert abs(status["DONE"] - 0.50) < 0.04
    assert abs(status["IN_PROGRESS"] - 0.20) < 0.03
    assert abs(status["NEW"] - 0.30) < 0.04
    priority = shares(task[2] for task in tasks)
    assert abs(priority["LOW"] - 0.30) < 0.04 and abs(priority["HIGH"] - 0.20) < 0.03
    due = [task[3] for task in tasks]
    assert abs(due.count(None) / 4000 - 0.20) < 0.03
    assert any(d < today for d in due if d) and any(d >= today for d in due if d)
    # Varied titles from a small vocabulary: a trigram search has something to select.
    titles = [task[4] for task in tasks]
    assert len(set(titles)) > 3000
    invoice = sum("invoice" in title for title in titles) / 4000
    assert 0.005 < invoice < 0.10

    now = timezone.now()
    assert all(now - datetime.timedelta(days=HISTORY_DAYS + 1) < c < now for c, _, _ in created)
    assert all(u >= c for c, u, _ in created)
    assert {creator for _, _, creator in created} <= members
    # A few large projects and many smaller ones, every one used.
    assert len(per_project) == 5 and max(per_project.values()) > min(per_project.values())

    assigned = Counter(task_id for task_id, _ in assignments)
    assert abs(len(assigned) / 4000 - 0.05) < 0.015
    assert set(assigned.values()) <= {1, 2, 3} and 1 in assigned.values()
    assert {user_id for _, user_id in assignments} <= members


@pytest.mark.django_db
def test_a_following_insert_continues_the_sequence():
    result = organization_seed(slug="seedtest-seq", tasks=300, projects=2, users=3, seed=1)
    organization = result.organization
    admin = Membership.objects.filter(organization=organization, role=Role.ADMIN).first().user
    with tenant_context(organization):
        project = Project.objects.first()
        task = task_create(
            organization=organization, project=project, title="After", created_by=admin
        )
        again = organization_seed(slug="seedtest-seq", tasks=10, projects=2, users=3, seed=2)
    assert task.pk == result.load.first_id + 300
    assert again.load.first_id == task.pk + 1


@pytest.mark.django_db
def test_the_same_seed_gives_the_same_rows():
    def rows(slug):
        result = organization_seed(slug=slug, tasks=500, projects=3, users=4, seed=42, until=UNTIL)
        members = sorted(
            Membership.objects.filter(organization=result.organization).values_list(
                "user_id", flat=True
            )
        )
        first = result.load.first_id
        with tenant_context(result.organization):
            tasks = list(
                Task.objects.order_by("id").values_list(
                    "title", "description", "status", "priority", "due_date", "created_at"
                )
            )
            links = sorted(
                (task_id - first, members.index(user_id))
                for task_id, user_id in Task.assignees.through.objects.values_list(
                    "task_id", "user_id"
                )
            )
        return tasks, links

    assert rows("seedtest-same-a") == rows("seedtest-same-b")


@pytest.mark.django_db
def test_the_dashboard_after_seeding_shows_the_new_rows_not_a_cached_answer():
    organization = organization_seed(
        slug="seedtest-dash", tasks=1500, projects=4, users=30, seed=3
    ).organization
    admin = Membership.objects.filter(organization=organization, role=Role.ADMIN).first().user
    client = client_for(admin, organization)
    before, _ = read(client)
    assert read(client)[1] == "HIT"
    with tenant_context(organization):
        version = ChangeCounter.objects.get().version

    organization_seed(slug="seedtest-dash", tasks=700, projects=4, users=30, seed=4)

    after, cache = read(client)
    assert cache == "MISS"
    assert figures_of(after) == sql_figures(organization)
    assert sum(after["by_status"].values()) == sum(before["by_status"].values()) + 700
    assert after["assignees"]  # some of the open tasks are assigned
    with tenant_context(organization):
        assert ChangeCounter.objects.get().version == version + 1  # one bump for the load
        entries = list(
            Activity.objects.filter(verb=Verb.UPDATED, target_type=TargetType.PROJECT).order_by(
                "id"
            )
        )
        live = dict(Project.objects.values_list("id", "name"))
        per_project = Counter(Task.objects.values_list("project_id", flat=True))
    # The loads are recorded per project, by no one (a system job): old and new task counts.
    last_load = entries[-len(per_project) :]
    assert {entry.target_id for entry in last_load} == set(per_project)
    for entry in last_load:
        assert entry.actor_id is None and entry.target_label == live[entry.target_id]
        assert entry.changes["tasks"][1] == per_project[entry.target_id]
    assert sum(e.changes["tasks"][1] - e.changes["tasks"][0] for e in last_load) == 700


# --- Indexes, keys and the two ways of checking them ---------------------------------------


@pytest.mark.django_db
def test_a_big_load_rebuilds_the_secondary_indexes_and_an_append_keeps_them(monkeypatch):
    monkeypatch.setattr(bulk, "BULK_MIN_ROWS", 100)
    organization = organization_seed(
        slug="seedtest-idx", tasks=0, projects=2, users=3, seed=1
    ).organization
    with tenant_context(organization):
        before = schema_objects(organization)

    big = organization_seed(slug="seedtest-idx", tasks=400, projects=2, users=3, seed=1).load
    assert big.frozen and big.foreign_key_checks == "verified in bulk"
    assert "tasks_created_id_due" in big.rebuilt_indexes
    assert "tasks_task_pkey" not in big.rebuilt_indexes  # the primary key stays
    small = organization_seed(slug="seedtest-idx", tasks=150, projects=2, users=3, seed=2).load
    assert small.rebuilt_indexes == {} and not small.frozen  # 150 rows into 400: kept

    with tenant_context(organization):
        assert schema_objects(organization) == before
        assert Task.objects.count() == 550


@pytest.mark.django_db
def test_without_the_right_to_skip_triggers_rows_are_checked_one_by_one(monkeypatch):
    monkeypatch.setattr(bulk, "BULK_MIN_ROWS", 100)
    monkeypatch.setattr(bulk, "skip_row_checks", lambda tables: None)
    organization = organization_seed(
        slug="seedtest-rows", tasks=0, projects=2, users=3, seed=1
    ).organization
    with tenant_context(organization):
        before = schema_objects(organization)
    load = organization_seed(slug="seedtest-rows", tasks=300, projects=2, users=3, seed=1).load
    assert load.foreign_key_checks == "checked per row" and load.rebuilt_indexes
    with tenant_context(organization):
        # The keys within the organization were dropped for the load and are back, validated.
        assert schema_objects(organization) == before
        assert Task.objects.count() == 300


@pytest.mark.django_db
def test_rows_that_break_a_foreign_key_are_found_by_the_bulk_check(acme):
    with tenant_context(acme):
        creator = User.objects.first()
        skipped = bulk.skip_row_checks(["tasks_task"])
        assert skipped  # the test database's role is a superuser, as `make run`'s is
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO tasks_task (project_id, title, description, status, priority,"
                " created_by_id, created_at, updated_at, deleted_with_project)"
                " VALUES (987654321, 'Orphan', '', 'NEW', 'LOW', %s, now(), now(), false)"
                " RETURNING id",
                [creator.pk],
            )
            orphan = cursor.fetchone()[0]
        bulk.restore_row_checks(skipped)
        with pytest.raises(bulk.ForeignKeyViolation, match="project_id = 987654321"):
            bulk.verify_foreign_keys("tasks_task", "t.id = %s", [orphan])
        Task.all_objects.filter(pk=orphan).delete()  # before the commit's deferred checks


@pytest.mark.django_db
def test_a_load_refuses_users_who_are_not_members(acme, globex):
    outsider = Membership.objects.filter(organization=globex).first().user_id
    with tenant_context(acme):
        project = Project.objects.create(name="Load", created_by_id=outsider)
        with pytest.raises(LoadError, match="not members of acme"):
            tasks_load(
                organization=acme,
                count=10,
                project_ids=[project.pk],
                member_ids=[outsider],
                seed=1,
                until=UNTIL,
            )


def test_rows_are_streamed_in_batches_through_a_file_for_copy():
    plan = TaskPlan(
        count=1000, first_id=1, project_ids=[1], creator_ids=[1], member_ids=[1], seed=1,
        until=UNTIL,
    )  # fmt: skip
    batches = list(task_lines(plan, batch=128))
    assert all(count <= 128 for _, count in batches)
    assert sum(count for _, count in batches) == 1000
    source = CopySource(iter(batches))
    chunks = iter(lambda: source.read(1000), b"")
    data = b"".join(chunk for chunk in chunks if len(chunk) <= 1000)
    assert data.decode() == "".join(text for text, _ in batches)
    assert data.count(b"\n") == 1000


@pytest.fixture
def committed(django_db_setup, django_db_blocker):
    """Work committed for real (VACUUM cannot run inside a test's transaction); organization
    seedtest-vacuum, its schema and its seeded users are removed afterwards."""
    with django_db_blocker.unblock():
        if not connection.settings_dict["NAME"].startswith("test_"):
            pytest.fail("not on the test database: select a test that uses `db` as well")
        try:
            yield
        finally:
            connection.set_schema_to_public()
            for organization in Organization.objects.filter(slug="seedtest-vacuum"):
                organization.delete(force_drop=True)
            users_delete("email LIKE %s", ["seedtest-vacuum-%@seed.example.com"])


def all_pages_visible(organization: Organization) -> bool:
    """Whether the visibility map covers every page of tasks_task (index-only scans then
    read no heap page)."""
    with tenant_context(organization), connection.cursor() as cursor:
        cursor.execute(
            "SELECT relpages, relallvisible FROM pg_class WHERE oid = 'tasks_task'::regclass"
        )
        pages, visible = cursor.fetchone()
    return pages > 0 and visible == pages


@pytest.mark.parametrize("bulk_from", [100, 10_000])
def test_after_a_committed_load_every_page_is_visible_for_index_only_scans(
    committed, monkeypatch, bulk_from
):
    # Loads from 100 rows are maintained (ANALYZE, VACUUM) here. A big load (from 100 rows)
    # into the empty table writes its rows frozen, then a VACUUM; a small one (below 10,000)
    # is vacuumed after the commit. The second load goes into 2,000 rows: its indexes rebuilt
    # or kept, then VACUUM either way.
    monkeypatch.setattr(load, "MAINTAIN_MIN_ROWS", 100)
    monkeypatch.setattr(bulk, "BULK_MIN_ROWS", bulk_from)
    args = ("--org", "seedtest-vacuum", "--projects", "2", "--users", "3")
    first = seed(*args, "--tasks", "2000")
    assert ("COPY FREEZE" in first) == (bulk_from == 100) and "VACUUM skipped" not in first
    organization = Organization.objects.get(slug="seedtest-vacuum")
    assert all_pages_visible(organization)

    second = seed(*args, "--tasks", "3000")
    assert "COPY FREEZE" not in second and "VACUUM skipped" not in second
    assert ("dropped, built after the load" in second) == (bulk_from == 100)
    assert all_pages_visible(organization)


@pytest.mark.django_db
def test_a_load_under_the_maintenance_size_leaves_analyze_and_vacuum_to_autovacuum():
    result = organization_seed(slug="seedtest-small", tasks=600, projects=2, users=3, seed=1)
    assert not result.load.maintained and not result.vacuumed
    assert "analyze" not in result.load.seconds

    # Unanalyzed since the schema was made (empty), the table is still planned on its size:
    # the planner counts its pages and guesses the rows in them from the columns' types
    # (132 for these 600 here), not the 0 rows it held when analyzed.
    with tenant_context(result.organization), connection.cursor() as cursor:
        cursor.execute("EXPLAIN (FORMAT JSON) SELECT * FROM tasks_task")
        estimate = cursor.fetchone()[0][0]["Plan"]["Plan Rows"]
    assert 60 <= estimate <= 6000

    output = seed("--org", "seedtest-small", "--tasks", "50", "--projects", "2", "--users", "3")
    assert "ANALYZE and VACUUM left to autovacuum" in output


@pytest.mark.django_db
def test_a_load_of_the_maintenance_size_is_analyzed_at_once(monkeypatch):
    monkeypatch.setattr(load, "MAINTAIN_MIN_ROWS", 500)
    result = organization_seed(slug="seedtest-small", tasks=600, projects=2, users=3, seed=1)
    assert result.load.maintained and "analyze" in result.load.seconds

    with tenant_context(result.organization), connection.cursor() as cursor:
        cursor.execute("SELECT reltuples FROM pg_class WHERE oid = 'tasks_task'::regclass")
        assert cursor.fetchone()[0] == 600


# --- Many organizations --------------------------------------------------------------------


@pytest.mark.django_db
def test_orgs_creates_that_many_organizations_each_with_its_own_rows():
    output = seed(
        "--orgs", "3", "--tasks-per-org", "60", "--prefix", "seedtest-m", "--projects", "2",
        "--users", "3",
    )  # fmt: skip
    organizations = list(Organization.objects.filter(slug__startswith="seedtest-m-"))
    assert [o.slug for o in organizations] == [
        "seedtest-m-0001",
        "seedtest-m-0002",
        "seedtest-m-0003",
    ]
    assert "3 organizations" in output
    titles = []
    for organization in organizations:
        assert Membership.objects.filter(organization=organization).count() == 3
        with tenant_context(organization):
            assert Task.objects.count() == 60
            titles.append(list(Task.objects.order_by("id").values_list("title", flat=True)))
    assert titles[0] != titles[1] != titles[2]


# --- Bad arguments -----------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "args, message",
    [
        ((), "one of the arguments --org --orgs is required"),
        (("--org", "seedtest-x", "--orgs", "2"), "not allowed with argument"),
        (("--org", "seedtest-x"), "Say how many tasks to add: --tasks N."),
        (("--org", "seedtest-x", "--tasks", "-5"), "expected a whole number >= 0, got '-5'"),
        (("--org", "seedtest-x", "--tasks", "many"), "expected a whole number >= 0"),
        (("--org", "seedtest-x", "--tasks", "5", "--prefix", "p"), "--prefix goes with --orgs"),
        (("--org", "seedtest-x", "--tasks", "5", "--tasks-per-org", "3"), "--tasks-per-org goes"),
        (("--org", "Not A Slug", "--tasks", "5"), "Use only lowercase letters"),
        (("--org", "admin", "--tasks", "5"), '"admin" is reserved'),
        (("--org", "seedtest-x", "--tasks", "5", "--projects", "0"), "at least one project"),
        (("--org", "seedtest-x", "--tasks", "5", "--users", "0"), "needs an admin"),
        (("--orgs", "0"), "--orgs must be at least 1"),
        (("--orgs", "2", "--prefix", "seedtest-x", "--users", "0"), "seedtest-x-0001: A new org"),
        (("--orgs", "2", "--tasks", "5"), "--tasks goes with --org"),
        (("--orgs", "2", "--name", "X"), "--name goes with --org"),
        (
            ("--orgs", "2", "--prefix", "9lives"),
            "--prefix '9lives' gives invalid slugs: Start with a",
        ),
        (("--orgs", "2", "--prefix", "x" * 40), "gives invalid slugs"),
    ],
)
def test_bad_arguments_are_refused_with_a_clear_message(args, message):
    with pytest.raises(CommandError, match=message.replace("(", r"\(")):
        seed(*args)
    assert not Organization.objects.filter(slug__startswith="seedtest-x").exists()


# --- The benchmark's large organization ------------------------------------------------------


@pytest.mark.django_db
def test_the_bench_builder_makes_the_bench_user_an_admin_and_an_assignee():
    email = "seedtest-scale-bench@bench.example.com"
    organization = build_scale_org(
        slug="seedtest-scale", email=email, tasks=3000, projects=5, users=20
    )
    bench_user = User.objects.get(email=email)
    membership = Membership.objects.get(organization=organization, user=bench_user)
    assert membership.role == Role.ADMIN
    assert Membership.objects.filter(organization=organization).count() == 21
    with tenant_context(organization):
        assert Task.objects.count() == 3000
        assert Task.objects.filter(assignees=bench_user).exists()
        assert Project.objects.count() == 5
        # A load under the maintenance size, analyzed by the builder as autovacuum would
        # (this machine's server runs without it): the references are planned on statistics.
        with connection.cursor() as cursor:
            cursor.execute("SELECT reltuples FROM pg_class WHERE oid = 'tasks_task'::regclass")
            assert cursor.fetchone()[0] == 3000
    # Built once: asking again for as many (or fewer) tasks reuses it as it is.
    assert build_scale_org(slug="seedtest-scale", email=email, tasks=2000) == organization
    with tenant_context(organization):
        assert Task.objects.count() == 3000
