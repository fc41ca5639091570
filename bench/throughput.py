"""Task-list throughput under concurrency: this project against a bare DRF view and the floor.

Usage: DJANGO_SETTINGS_MODULE=saas.settings python -m bench.run --only throughput [--quick]
(`python -m bench.throughput [--quick]` runs this module alone.)

One gunicorn (2 sync workers on loopback, persistent database connections, bench/gunicorn_conf.py
over saas/gunicorn_conf.py) serves bench.settings: the product plus two reference views of the
same first page (bench/views.py). Organization `tp-bench`: 10,000 tasks in 4 projects by 4
members, 0-3 assignees each. The load generator is wrk (Debian's `wrk` package) with a Lua script
for the Authorization and Host headers, the same for the three views:
  * this project: GET /api/tasks/ (routing, token, membership, rate limits, filters, keyset
    page with signed cursor links, the `.values()` fast path, orjson);
  * bare DRF: ListAPIView + the API's TaskSerializer (nested ModelSerializers), token only;
  * floor: a plain Django view, the token and the same two queries as `.values()`, orjson.
8 and 32 concurrent connections, a fixed duration per point, the rounds interleaved (this
project, bare, floor, again); the table shows the median req/s of the rounds. No request may
fail: socket errors, timeouts and statuses >= 400 (wrk's counts; a run answered by nothing
counts too) fail the run, in quick mode as well.
Before loading, the three views' JSON for the page is compared (same tasks, same objects).
The floor run also records the CPU time of the server's workers and of wrk: the server, not
the client, must be what saturates.

Then the latency (p50 of fresh in-process requests, the two organizations in turn) of the
other read fast paths at scale: task detail, the activity list and a task's history on
`bench-scale` (1,000,000 tasks) against `tp-bench-1k` (1,000 tasks); `--quick` uses `tp-bench`
(10,000) instead of bench-scale. First each organization records a page of updates of the task
measured (51 activity entries; its tasks are not modified), so both lists answer a full page
of the same entries.
"""

import argparse
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.test.utils import override_settings  # noqa: E402
from django_tenants.utils import tenant_context  # noqa: E402
from knox.models import AuthToken  # noqa: E402
from rest_framework.test import APIClient  # noqa: E402

from bench.core import Report, Row, interleaved  # noqa: E402
from bench.data import EMAIL as SCALE_EMAIL  # noqa: E402
from bench.data import ensure_scale_org, users_analyze  # noqa: E402
from bench.http_load import LUA, Load, Server, wrk  # noqa: E402
from saas.api.pagination import KeysetPagination  # noqa: E402
from shared_apps.accounts.models import User  # noqa: E402
from shared_apps.accounts.services import user_create  # noqa: E402
from shared_apps.organizations.models import Membership, Organization, Role  # noqa: E402
from shared_apps.organizations.services import organization_create  # noqa: E402
from tenant_apps.activity.models import Activity, TargetType, Verb  # noqa: E402
from tenant_apps.activity.services import activity_record_many  # noqa: E402
from tenant_apps.projects.services import project_create  # noqa: E402
from tenant_apps.tasks.models import Task  # noqa: E402

SECTION = "throughput"
SLUG = "tp-bench"
TASKS = 10_000
SMALL_SLUG = "tp-bench-1k"
SMALL_TASKS = 1_000
SCALE_TASKS = 1_000_000
PROJECTS = 4
# The first is the organization's ADMIN (the benchmark's client); every user creates tasks
# and is assigned some.
PEOPLE = 4
EMAIL = "tp-bench-{n}@bench.example.com"


def ensure_org(slug: str = SLUG, tasks: int = TASKS) -> Organization:
    """An organization with `tasks` tasks in PROJECTS projects, created by PEOPLE members in
    turn, each task with 0 to 3 assignees; built once and reused."""
    people = []
    for n in range(PEOPLE):
        email = EMAIL.format(n=n)
        people.append(
            User.objects.filter(email=email).first()
            or user_create(
                email=email, password=None, full_name=f"Bench person {n}", email_verified=True
            )
        )
    organization = Organization.objects.filter(slug=slug).first()
    if organization is None:
        organization = organization_create(name=f"Bench {slug}", slug=slug, admin=people[0])
    for user in people[1:]:
        Membership.objects.get_or_create(
            user=user, organization=organization, defaults={"role": Role.MEMBER}
        )
    with tenant_context(organization):
        if Task.all_objects.count() >= tasks:
            return organization
        projects = [
            project_create(name=f"Throughput {n}", created_by=people[0]) for n in range(PROJECTS)
        ]
        started = time.perf_counter()
        ids = [user.pk for user in people]
        with connection.cursor() as cursor:
            # Server-side generation; every column varies: nulls, empty and long text.
            cursor.execute(
                """
                INSERT INTO tasks_task (project_id, title, description, status, priority,
                                        due_date, created_by_id, created_at, updated_at,
                                        deleted_with_project)
                SELECT (%(projects)s::bigint[])[1 + g %% %(nprojects)s],
                       'Task ' || g || ' "quoted" é',
                       CASE WHEN g %% 3 = 0 THEN '' ELSE repeat('Details of task ' || g || '. ', 4) END,
                       (ARRAY['NEW','IN_PROGRESS','DONE'])[1 + g %% 3],
                       (ARRAY['LOW','MEDIUM','HIGH'])[1 + (g / 3) %% 3],
                       CASE WHEN g %% 5 = 0 THEN NULL ELSE DATE '2026-01-01' + (g %% 730) END,
                       (%(people)s::bigint[])[1 + g %% %(npeople)s],
                       now() - g * interval '1.000137 second',
                       now() - g * interval '0.5 second', false
                FROM generate_series(1, %(tasks)s) AS g
                """,
                {
                    "projects": [project.pk for project in projects],
                    "nprojects": len(projects),
                    "people": ids,
                    "npeople": len(ids),
                    "tasks": tasks,
                },
            )
            # Task i has i % 4 assignees: none, one, two or three of the people.
            cursor.execute(
                """
                INSERT INTO tasks_task_assignees (task_id, user_id)
                SELECT t.id, (%(people)s::bigint[])[1 + (t.id + k) %% %(npeople)s]
                FROM tasks_task t, generate_series(1, 3) AS k
                WHERE k <= t.id %% 4
                ON CONFLICT DO NOTHING
                """,
                {"people": ids, "npeople": len(ids)},
            )
            cursor.execute("VACUUM (ANALYZE) tasks_task, tasks_task_assignees")
        print(f"{slug}: inserted {tasks:,} tasks in {time.perf_counter() - started:.1f} s")
    return organization


VIEWS = {
    "this project": "/api/tasks/",
    "bare DRF": "/api/bench/drf-tasks/",
    "floor": "/api/bench/floor-tasks/",
}
CLIENTS = (8, 32)


def same_json(server: Server, host: str, token: str) -> tuple[bool, str]:
    """Whether the three views answer the same 50 tasks, object for object."""
    pages = {
        "this project": server.get_json(VIEWS["this project"], host, token)["results"],
        "bare DRF": server.get_json(VIEWS["bare DRF"], host, token),
        "floor": server.get_json(VIEWS["floor"], host, token)["results"],
    }
    reference = pages["bare DRF"]
    differing = [name for name, page in pages.items() if page != reference]
    if len(reference) != 50:
        return False, f"{len(reference)} tasks on the bare view's page, expected 50"
    return not differing, ("differ: " + ", ".join(differing)) if differing else "identical"


def throughput(report: Report, organization: Organization, token: str, *, quick: bool) -> None:
    seconds, rounds, warmup = (3, 1, 1) if quick else (10, 3, 3)
    with tempfile.TemporaryDirectory(prefix="bench-throughput-") as folder:
        script = Path(folder) / "auth.lua"
        script.write_text(LUA.format(token=token, host=organization.domain))
        with Server(Path(folder) / "gunicorn.log") as server:
            identical, detail = same_json(server, organization.domain, token)
            report.add(
                Row(
                    SECTION,
                    "first page: the three views answer the same JSON objects",
                    float(identical),
                    "bool",
                    target="1",
                    passed=identical,
                    deterministic=True,
                    details={"comparison": detail},
                )
            )
            for path in VIEWS.values():  # workers import, connect and warm their caches
                wrk(server, path, script=script, clients=CLIENTS[0], seconds=warmup)
            loads: dict[tuple[str, int], list[Load]] = {}
            for clients in CLIENTS:
                for _ in range(rounds):
                    for name, path in VIEWS.items():
                        load = wrk(server, path, script=script, clients=clients, seconds=seconds)
                        loads.setdefault((name, clients), []).append(load)
                        print(
                            f"    {name:<13} {clients:>2} clients: {load.per_second:7.1f} req/s "
                            f"p50 {load.p50_ms:6.1f} ms, server CPU "
                            f"{1000 * load.server_cpu / max(load.requests, 1):5.2f} ms/request, "
                            f"{load.errors} errors",
                            flush=True,
                        )
            log_tail = (Path(folder) / "gunicorn.log").read_text()[-2000:]
    _throughput_rows(report, loads, seconds=seconds, rounds=rounds, log_tail=log_tail)


def _throughput_rows(report: Report, loads: dict, *, seconds: int, rounds: int, log_tail: str):
    for clients in CLIENTS:
        rate = {
            name: statistics.median([load.per_second for load in loads[(name, clients)]])
            for name in VIEWS
        }
        details = {
            name: {
                "req_per_s": [round(load.per_second, 1) for load in loads[(name, clients)]],
                "p50_ms": [round(load.p50_ms, 1) for load in loads[(name, clients)]],
                "p99_ms": [round(load.p99_ms, 1) for load in loads[(name, clients)]],
                "server_cpu_ms_per_request": [
                    round(1000 * load.server_cpu / max(load.requests, 1), 2)
                    for load in loads[(name, clients)]
                ],
            }
            for name in VIEWS
        }
        details["seconds_per_run"] = seconds
        details["rounds"] = rounds
        scenario = f"task list first page (50), {clients} clients"
        for reference, target in (("bare DRF", 2.0), ("floor", 0.6)):
            # No answer at all from a reference is a failed run (its errors row says why).
            ratio = rate["this project"] / rate[reference] if rate[reference] else 0.0
            report.add(
                Row(
                    SECTION,
                    f"{scenario}: vs {reference}",
                    rate["this project"],
                    "req/s",
                    reference=rate[reference],
                    reference_name=reference,
                    target=f">= {target}x",
                    passed=ratio >= target,
                    details=details,
                )
            )
        # The same comparison as CPU time of the server's workers per answer: information
        # that holds up better than req/s when other work shares the machine (it cannot see
        # waits, e.g. on locks, which req/s includes).
        cpu = {
            name: statistics.median(
                1000 * load.server_cpu / load.requests
                for load in loads[(name, clients)]
                if load.requests
            )
            if any(load.requests for load in loads[(name, clients)])
            else 0.0
            for name in VIEWS
        }
        for reference in ("bare DRF", "floor"):
            report.add(
                Row(
                    SECTION,
                    f"{scenario}: server CPU per request vs {reference} (information)",
                    cpu["this project"],
                    "ms",
                    reference=cpu[reference],
                    reference_name=reference,
                )
            )
        errors = sum(load.errors for name in VIEWS for load in loads[(name, clients)])
        report.add(
            Row(
                SECTION,
                f"{scenario}: errors (socket errors, timeouts, statuses >= 400; all three views)",
                errors,
                "errors",
                target="0",
                passed=errors == 0,
                deterministic=True,
                details={"server log tail": log_tail} if errors else {},
            )
        )
    # The floor is the fastest view: if anything saturates before the server, it shows here.
    floor = loads[("floor", CLIENTS[-1])]
    client_share = statistics.median([load.client_cpu / load.seconds for load in floor])
    server_cores = statistics.median([load.server_cpu / load.seconds for load in floor])
    report.add(
        Row(
            SECTION,
            f"load generator CPU during the floor run, {CLIENTS[-1]} clients (one wrk thread)",
            100 * client_share,
            "% of a core",
            target="< 50%",
            passed=client_share < 0.5,
            details={
                "server_workers_cores_busy": round(server_cores, 2),
                "machine_cores": os.cpu_count(),
                "meaning": "wrk runs one thread: below a full core it waits for the server, "
                "which is what limits the rate",
            },
        )
    )


# --- read fast paths at scale --------------------------------------------------------------


def _client(organization: Organization, token: str) -> APIClient:
    return APIClient(HTTP_HOST=organization.domain, HTTP_AUTHORIZATION=f"Bearer {token}")


def _middle_task(organization: Organization) -> Task:
    with tenant_context(organization):
        count = Task.objects.count()
        return Task.objects.order_by("id")[count // 2]


def _page_of_history(organization: Organization, task: Task, actor: User) -> int:
    """Record a page of updates of `task` by `actor` (one entry more than a page, through the
    activity service), so that the activity list and the task's history show a full page of
    the same entries on both organizations: the same request, not 50 entries against the
    few of an organization built by COPY. Returns the organization's entries."""
    with tenant_context(organization), transaction.atomic():
        activity_record_many(
            Activity(
                actor=actor,
                verb=Verb.UPDATED,
                target_type=TargetType.TASK,
                target_id=task.pk,
                target_label=task.title,
                project_id=task.project_id,
                changes={"status": ["NEW", "IN_PROGRESS"]},
            )
            for _ in range(KeysetPagination.page_size + 1)
        )
        return Activity.objects.count()


def latency(report: Report, large: tuple, small: tuple, *, runs: int) -> None:
    """p50 of each read fast path on the large organization against the small one, timed in
    turn, request by request."""
    sizes = {}
    paths = {}
    clients = {}
    for label, (organization, token, user) in {"large": large, "small": small}.items():
        task = _middle_task(organization)
        entries = _page_of_history(organization, task, user)
        with tenant_context(organization):
            sizes[label] = (Task.objects.count(), entries)
        clients[label] = _client(organization, token)
        paths[label] = {
            "task detail": f"/api/tasks/{task.pk}/",
            "activity list (first page)": "/api/activity/",
            "a task's history": f"/api/tasks/{task.pk}/activity/",
        }
    for scenario in ("task detail", "activity list (first page)", "a task's history"):

        def get(label: str, scenario: str = scenario) -> None:
            response = clients[label].get(paths[label][scenario])
            assert response.status_code == 200, (paths[label][scenario], response.status_code)
            if scenario != "task detail":
                assert len(response.json()["results"]) == KeysetPagination.page_size

        big, little = interleaved(lambda: get("large"), lambda: get("small"), runs)
        ratio = big.p50 / little.p50
        report.add(
            Row(
                SECTION,
                f"{scenario}, p50 at {sizes['large'][0]:,} vs {sizes['small'][0]:,} tasks",
                big.p50,
                "ms",
                reference=little.p50,
                reference_name=f"{sizes['small'][0]:,} tasks",
                target="<= 1.5x",
                passed=ratio <= 1.5,
                details={
                    "large": {"tasks": sizes["large"][0], "activity entries": sizes["large"][1]},
                    "small": {"tasks": sizes["small"][0], "activity entries": sizes["small"][1]},
                    "p99_ms": {"large": big.p99, "small": little.p99},
                    "runs": runs,
                },
            )
        )


def _token(user: User, made: list) -> str:
    """A new token of the user's; its row is kept in `made` to delete only it afterwards (other
    benchmarks sign in as the scale organization's user too)."""
    instance, token = AuthToken.objects.create(user=user)
    made.append(instance.pk)
    return token


def run(report: Report, *, quick: bool) -> None:
    if shutil.which("wrk") is None:
        report.add(
            Row(
                SECTION,
                "load generator available (wrk)",
                0,
                "bool",
                target="1",
                passed=False,
                deterministic=True,
                details={"fix": "apt-get install -y wrk"},
            )
        )
    organization = ensure_org(SLUG, TASKS)
    small = ensure_org(SMALL_SLUG, SMALL_TASKS)
    admin = User.objects.get(email=EMAIL.format(n=0))
    if quick:
        large, large_user = organization, admin
    else:
        large, large_user = ensure_scale_org(SCALE_TASKS), User.objects.get(email=SCALE_EMAIL)
    # The reference views read the assignees by such a join (saas/api/values/serializer.py).
    users_analyze()
    made: list = []
    tokens = {admin: _token(admin, made)}
    if large_user not in tokens:
        tokens[large_user] = _token(large_user, made)
    try:
        if shutil.which("wrk") is not None:
            throughput(report, organization, tokens[admin], quick=quick)
        # Far above what the bench sends: it measures the limits' counting, never a refusal.
        rates = {
            scope: "1000000/min" for scope in settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
        }
        with override_settings(
            DEBUG=False,  # no query log on every statement
            REST_FRAMEWORK={**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates},
        ):
            latency(
                report,
                (large, tokens[large_user], large_user),
                (small, tokens[admin], admin),
                runs=5 if quick else 15,
            )
    finally:
        AuthToken.objects.filter(pk__in=made).delete()
        connection.set_schema_to_public()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    arguments = parser.parse_args()
    result = Report(quick=arguments.quick)
    run(result, quick=arguments.quick)
    print(result.table())
