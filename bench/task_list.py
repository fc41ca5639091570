"""Task list at scale: every filter, ordering and deep page at a million tasks against the same
request on 1,000 tasks, the EXPLAIN of each, and keyset pages against LIMIT/OFFSET.

Usage: DJANGO_SETTINGS_MODULE=saas.settings python -m bench.run --only task_list [--quick]
(`python -m bench.task_list [--quick]` runs this module alone.)

Organizations: `bench-scale` (1,000,000 tasks, bench.data) and `tl-small`, 1,000 tasks seeded
by the same builder; `--quick` (CI) measures `tl-quick` (50,000 tasks, same builder) in place
of bench-scale. Ids in requests are each organization's own; search terms come from the large
organization's titles (search_terms) and are sent to both. Where the large organization fills
a page with more rows than the small one (a rare phrase, a week of due dates, one creator's
tasks, my open tasks), the small one first gets the matches it lacks (fill_matches), so each
pair compares pages of the same size. docs/PERFORMANCE.md explains each row.

Each scenario is one GET /api/tasks/... (or a task's detail) on both organizations:
  * API: the whole request through the test client (routing, token and membership, filters,
    page, serialization); p50 of fresh requests. Target: the large one within 1.5x.
  * SQL: the request's page query, captured as the API sent it and run again (fresh each
    run); information.
  * EXPLAIN (ANALYZE, BUFFERS) of that query on the large organization, in the row's details.
Deterministic rows (they fail `make bench-quick` too): no plan reads tasks_task or
tasks_task_assignees by a sequential scan (in quick mode with sequential scans disabled,
i.e. "an index can serve it", since a small table is rightly read whole); no list query uses
OFFSET or COUNT(*); the list, a filtered list, a deep page and the detail stay within their
query counts. Then keyset pages against LIMIT/OFFSET at several depths, fresh queries each run.
A full run also times 60 search terms from the large organization's titles on both
(search_spread): where the two pinned terms sit among the others.
"""

import argparse
import datetime
import re
import statistics
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlencode

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.core import signing  # noqa: E402
from django.db import connection, reset_queries  # noqa: E402
from django.db.models import Count, Max, Min  # noqa: E402
from django.test.utils import CaptureQueriesContext, override_settings  # noqa: E402
from django.utils import timezone  # noqa: E402
from django_tenants.utils import tenant_context  # noqa: E402
from knox.models import AuthToken  # noqa: E402
from rest_framework.test import APIClient  # noqa: E402

from bench.core import Report, Row, interleaved, timed  # noqa: E402
from bench.data import EMAIL, build_scale_org, ensure_scale_org  # noqa: E402
from bench.plans import explain  # noqa: E402
from saas.api.pagination import CURSOR_SALT, SORT_ALIAS, keyset_order, keyset_page  # noqa: E402
from shared_apps.accounts.models import User  # noqa: E402
from shared_apps.accounts.services import user_create  # noqa: E402
from shared_apps.organizations.models import Organization  # noqa: E402
from tenant_apps.projects.models import Project  # noqa: E402
from tenant_apps.tasks.apis import TaskViewSet  # noqa: E402
from tenant_apps.tasks.filters import (  # noqa: E402
    SEARCH_MAX_LENGTH,
    SEARCH_MIN_LENGTH,
    has_trigram,
)
from tenant_apps.tasks.models import Task  # noqa: E402
from tenant_apps.tasks.services import task_create  # noqa: E402

SECTION = "task list"
PAGE = 50
SCALE_TASKS = 1_000_000
RATIO_TARGET = 1.5
# Queries per request as the code runs them today: the schema (SET search_path; the domain
# lookup is cached), the token with its user and membership role (one query), the page (or
# the task) with its creator, and the assignees of every task on it. One more is a
# regression: a query per row, or a lookup that stopped being cached.
QUERY_PINS = {
    "first page": 4,
    "assignee=me": 4,
    "cursor page half way (-created_at)": 4,
    "task detail": 4,
}
# Terms of the search's spread (search_spread), from the large organization's titles.
SPREAD_TERMS = 60
# A user with no assignment anywhere: `?assignee=<id>` that matches nothing.
NOBODY_EMAIL = "tl-nobody@bench.example.com"


@dataclass(frozen=True)
class Sized:
    """An organization of the bench's own, seeded like bench-scale (bench.data)."""

    slug: str
    name: str
    tasks: int


SMALL = Sized("tl-small", "Task list (1k)", 1_000)
QUICK = Sized("tl-quick", "Task list (50k)", 50_000)


def bench_user() -> User:
    return User.objects.filter(email=EMAIL).first() or user_create(email=EMAIL, password=None)


def ensure_sized_org(sized: Sized) -> Organization:
    """`sized`'s organization, seeded once by bench-scale's own builder and reused, where the
    bench user (who sends the requests) is assigned at least a page of tasks, as in
    bench-scale: `assignee=me` then fills a page on both sides of a comparison."""
    organization = build_scale_org(slug=sized.slug, email=EMAIL, tasks=sized.tasks, name=sized.name)
    user = bench_user()
    through = Task.assignees.through
    with tenant_context(organization):
        if through.objects.filter(user_id=user.pk).count() < PAGE:
            newest = Task.objects.order_by("-id").values_list("id", flat=True)[: 2 * PAGE]
            through.objects.bulk_create(
                [through(task_id=pk, user_id=user.pk) for pk in newest], ignore_conflicts=True
            )
    return organization


# --- the organizations under test ---------------------------------------------------------


@dataclass
class Subject:
    """One organization as the scenarios see it: its client and the ids requests name."""

    organization: Organization
    client: APIClient
    tasks: int
    project_id: int  # its largest project
    creator_id: int  # the creator of its middle task
    nobody_id: int
    middle_task_id: int
    terms: dict[str, str]  # search terms (see search_terms), the same on both sides
    cursors: dict[str, str] = field(default_factory=dict)

    @property
    def depth(self) -> int:
        """Half way down: 500,000 rows deep at a million tasks."""
        return min(500_000, self.tasks // 2)

    def cursor(self, ordering: str) -> str:
        if ordering not in self.cursors:
            with tenant_context(self.organization):
                self.cursors[ordering] = cursor_for(self.depth, ordering)
        return self.cursors[ordering]


def subject(
    organization: Organization, token: str, nobody: User, terms: dict[str, str] | None = None
) -> Subject:
    """`organization` under test; `terms` None: take its own (for the large one)."""
    with tenant_context(organization):
        tasks = Task.objects.count()
        middle = Task.objects.order_by("id").values_list("id", "created_by_id")[tasks // 2]
        largest = (
            Task.objects.order_by()
            .values_list("project_id")
            .annotate(n=Count("*"))
            .order_by("-n", "project_id")
            .first()[0]
        )
        if terms is None:
            terms = search_terms(tasks, middle[0])
    client = APIClient(HTTP_HOST=organization.domain, HTTP_AUTHORIZATION=f"Bearer {token}")
    return Subject(
        organization=organization,
        client=client,
        tasks=tasks,
        project_id=largest,
        creator_id=middle[1],
        nobody_id=nobody.pk,
        middle_task_id=middle[0],
        terms=terms,
    )


# Titles' words, as pg_trgm reads them (letters and digits).
_WORD = re.compile(r"[^\W_]+")


def search_terms(tasks: int, middle_id: int) -> dict[str, str]:
    """Search terms from the current organization's own titles, whatever generated them:
    `few`, the term matching the fewest of its tasks (at least one) among the words and
    first three words of 20 titles from the middle; `page`, the word matching the most of
    them below a tenth (a full page, which the planner finds walking the newest first)."""
    titles = list(
        Task.objects.filter(id__gte=middle_id).order_by("id").values_list("title", flat=True)[:20]
    )
    words = sorted({word for title in titles for word in _WORD.findall(title) if len(word) >= 3})
    phrases = sorted({" ".join(title.split()[:3]) for title in titles})
    cap = max(tasks // 10, PAGE + 1)

    def matches(term: str) -> int:
        return Task.objects.filter(title__icontains=term).values("id")[:cap].count()

    counts = {term: matches(term) for term in [*words, *phrases]}
    few = min((n, len(term), term) for term, n in counts.items() if n)[2]
    common = [(n, term) for term, n in counts.items() if PAGE <= n < cap and term in words]
    page = max(common or [(counts[term], term) for term in words])[1]
    return {"few": few, "page": page}


def spread_terms(count: int) -> list[str]:
    """`count` search terms as users type them, from the current organization's titles: runs
    of 1, 2 and 3 consecutive words (in turn) of titles at evenly spaced ids, each a term the
    API accepts, no two alike. Deterministic: the same data gives the same terms."""
    bounds = Task.objects.aggregate(low=Min("id"), high=Max("id"))
    low, high = bounds["low"], bounds["high"]
    terms: list[str] = []
    for step in range(10 * count):
        if len(terms) == count:
            break
        at = low + (high - low) * (step % count) // count + step // count
        title = Task.objects.filter(id__gte=at).order_by("id").values_list("title", flat=True)
        words = (title.first() or "").split()
        size = 1 + len(terms) % 3
        if len(words) < size:
            continue
        first = step % (len(words) - size + 1)
        term = " ".join(words[first : first + size])
        accepted = SEARCH_MIN_LENGTH <= len(term) <= SEARCH_MAX_LENGTH and has_trigram(term)
        if accepted and term not in terms:
            terms.append(term)
    return terms


def sort_expression(ordering: str):
    spec = TaskViewSet.orderings[ordering.removeprefix("-")]
    descending = ordering.startswith("-")
    return (spec.desc if descending and spec.desc is not None else spec.asc), descending


def row_at(depth: int, ordering: str):
    """The (sort key, id) of the row at `depth` in this ordering: a real cursor position."""
    key, descending = sort_expression(ordering)
    return keyset_order(Task.objects.all(), key, descending).values_list(SORT_ALIAS, "id")[depth]


def cursor_for(depth: int, ordering: str) -> str:
    """A `next` cursor whose page starts at `depth`, signed like the paginator's own."""
    key, pk = row_at(depth - 1, ordering)
    key = key.isoformat() if hasattr(key, "isoformat") else key
    return signing.dumps({"k": key, "i": pk, "b": False, "o": ordering}, salt=CURSOR_SALT)


# --- scenarios ----------------------------------------------------------------------------


def week(offset: int = 0) -> str:
    """A day of the week that started 60 days ago (a week of due dates: ~1% of the tasks)."""
    return (timezone.localdate() - datetime.timedelta(days=60 - offset)).isoformat()


@dataclass(frozen=True)
class Scenario:
    name: str
    path: Callable[[Subject], str]


def listing(**fixed) -> Callable[[Subject], str]:
    def path(subject: Subject) -> str:
        params = {
            name: value(subject) if callable(value) else value for name, value in fixed.items()
        }
        return "/api/tasks/" + (f"?{urlencode(params)}" if params else "")

    return path


SCENARIOS = [
    Scenario("first page", listing()),
    Scenario("ordering=created_at", listing(ordering="created_at")),
    Scenario("ordering=-priority", listing(ordering="-priority")),
    Scenario("ordering=priority", listing(ordering="priority")),
    Scenario("ordering=due_date", listing(ordering="due_date")),
    Scenario("ordering=-due_date", listing(ordering="-due_date")),
    *(
        Scenario(
            f"cursor page half way ({ordering})",
            listing(cursor=lambda s, o=ordering: s.cursor(o)),
        )
        for ordering in ("-created_at", "-priority", "due_date")
    ),
    Scenario("status=DONE", listing(status="DONE")),
    Scenario("status=NEW,IN_PROGRESS", listing(status="NEW,IN_PROGRESS")),
    Scenario("priority=HIGH", listing(priority="HIGH")),
    Scenario("project=(its largest)", listing(project=lambda s: s.project_id)),
    Scenario("assignee=me", listing(assignee="me")),
    Scenario("assignee=(a user without tasks)", listing(assignee=lambda s: s.nobody_id)),
    Scenario("created_by=(a creator)", listing(created_by=lambda s: s.creator_id)),
    Scenario("overdue=true", listing(overdue="true")),
    Scenario("overdue=false", listing(overdue="false")),
    Scenario("due_before (a week)", listing(due_before=lambda s: week())),
    Scenario(
        "due_after+due_before (a week)",
        listing(due_after=lambda s: week(), due_before=lambda s: week(6)),
    ),
    # Upcoming work, soonest first: the bound is where the due-date index scan starts.
    Scenario(
        "due_after, ordering=due_date", listing(due_after=lambda s: week(), ordering="due_date")
    ),
    Scenario(
        "due_before, ordering=-due_date", listing(due_before=lambda s: week(), ordering="-due_date")
    ),
    Scenario("overdue=true, ordering=-due_date", listing(overdue="true", ordering="-due_date")),
    # The trigram index (tasks_title_trgm); the terms come from the titles (search_terms).
    Scenario("search=(a term few titles have)", listing(search=lambda s: s.terms["few"])),
    Scenario("search=(a word of a full page)", listing(search=lambda s: s.terms["page"])),
    # My open tasks, soonest due first.
    Scenario(
        "assignee=me, open, ordering=due_date",
        listing(assignee="me", status="NEW,IN_PROGRESS", ordering="due_date"),
    ),
    Scenario("task detail", lambda s: f"/api/tasks/{s.middle_task_id}/"),
]


# What a new task needs to match a scenario whose page a small organization may fill with
# fewer rows than a large one (task_create's arguments; `user` sends the requests and creates
# the tasks but for the creator's own). Each matches its scenario alone.
MATCHES: dict[str, Callable[[Subject, User], dict]] = {
    "created_by=(a creator)": lambda s, user: {"created_by": User.objects.get(pk=s.creator_id)},
    "due_after+due_before (a week)": lambda s, user: {
        "due_date": datetime.date.fromisoformat(week(3))
    },
    "search=(a term few titles have)": lambda s, user: {"title": f"{s.terms['few']} (bench)"},
    # Undated: no match of the week above.
    "assignee=me, open, ordering=due_date": lambda s, user: {"assignee_ids": [user.pk]},
}


def results(subject: Subject, path: str) -> int:
    response = subject.client.get(path)
    assert response.status_code == 200, (path, response.status_code, response.content)
    return len(response.json()["results"])


def fill_matches(big: Subject, little: Subject, user: User) -> dict[str, int]:
    """Give the small organization, through task_create, the matches it lacks for each
    scenario of MATCHES: as many rows as the large one answers, up to a page. A pair then
    compares pages of the same size (a page of 50 against one of 5 would time the rendering
    of 45 tasks, not the organization's size). Returns the tasks added, by scenario; none on
    a later run but where the dates moved (the week of due dates follows today)."""
    paths = {scenario.name: scenario.path for scenario in SCENARIOS}
    with tenant_context(little.organization):
        project = Project.objects.get(pk=little.project_id)
    added = {}
    for name, match in MATCHES.items():
        wanted = min(PAGE, results(big, paths[name](big)))
        missing = wanted - results(little, paths[name](little))
        if missing <= 0:
            continue
        fields = {"title": "Bench match", "created_by": user, **match(little, user)}
        with tenant_context(little.organization):
            for _ in range(missing):
                task_create(organization=little.organization, project=project, **fields)
        added[name] = missing
    if added:
        with tenant_context(little.organization):
            little.tasks = Task.objects.count()
    return added


# --- measuring ----------------------------------------------------------------------------


@dataclass
class Probe:
    """One scenario's request on one organization, with the page query it sent."""

    subject: Subject
    path: str
    page_sql: str
    queries: list[str]
    results: int

    def request(self) -> None:
        response = self.subject.client.get(self.path)
        assert response.status_code == 200, (self.path, response.status_code, response.content)

    def enter_schema(self) -> None:
        """The organization's schema on the connection, its SET sent now (untimed)."""
        connection.set_tenant(self.subject.organization)
        connection.cursor().close()

    def run_sql(self) -> None:
        with connection.cursor() as cursor:
            cursor.execute(self.page_sql)
            cursor.fetchall()


def page_query(queries: list[str]) -> str:
    """The request's main statement: the first SELECT from tasks_task (the page, or the
    detail's row); creator and assignees come with it or after it."""
    for sql in queries:
        if sql.lstrip().upper().startswith("SELECT") and 'FROM "tasks_task"' in sql:
            return sql
    raise AssertionError(f"no query on tasks_task among {queries}")


def probe(subject: Subject, path: str) -> Probe:
    def get():
        response = subject.client.get(path)
        assert response.status_code == 200, (path, response.status_code, response.content)
        return response

    get()  # warm: the first request of a connection does one-time lookups
    # The query log is a bounded deque: once full, CaptureQueriesContext would see nothing.
    reset_queries()
    with CaptureQueriesContext(connection) as captured:
        body = get().json()
    queries = [query["sql"] for query in captured.captured_queries]
    results = len(body["results"]) if "results" in body else 1
    return Probe(subject, path, page_query(queries), queries, results)


def run(report: Report, *, quick: bool) -> None:
    runs = 3 if quick else 15
    large = ensure_sized_org(QUICK) if quick else ensure_scale_org(SCALE_TASKS)
    small = ensure_sized_org(SMALL)
    user = bench_user()
    nobody = User.objects.filter(email=NOBODY_EMAIL).first() or user_create(
        email=NOBODY_EMAIL, password=None
    )
    _, token = AuthToken.objects.create(user=user)
    # Far above what the bench sends: it measures the limits' counting, never a refusal.
    rates = {scope: "1000000/min" for scope in settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]}
    try:
        with override_settings(
            DEBUG=False,  # no query log on every statement (CaptureQueriesContext has its own)
            REST_FRAMEWORK={**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates},
            # The host's organization stays remembered for the whole run, as in bench.dashboard:
            # its lookup, once per TENANT_CACHE_SECONDS, once landed in a pinned request.
            TENANT_CACHE_SECONDS=3600,
        ):
            big = subject(large, token, nobody)
            little = subject(small, token, nobody, terms=big.terms)
            added = fill_matches(big, little, user)
            if added:
                report.note(f"task list: matches added to {small.slug} (task_create): {added}")
            report.note(f"task list: search terms from {large.slug}'s titles: {big.terms}")
            scenarios(report, big, little, runs=runs, quick=quick)
            if not quick:
                search_spread(report, big, little, runs=5)
            with tenant_context(large):
                keyset_against_offset(report, big, runs=runs, quick=quick)
    finally:
        connection.set_schema_to_public()
        AuthToken.objects.filter(user=user).delete()


def label(tasks: int) -> str:
    return f"{tasks:,} tasks"


def scenarios(report: Report, big: Subject, little: Subject, *, runs: int, quick: bool) -> None:
    scans: dict[str, list[str]] = {}
    offset_or_count: dict[str, list[str]] = {}
    counts: dict[str, int] = {}
    for scenario in SCENARIOS:
        large = probe(big, scenario.path(big))
        small = probe(little, scenario.path(little))
        api_large, api_small = interleaved(large.request, small.request, runs)
        sql_large, sql_small = interleaved(
            large.run_sql, small.run_sql, runs, prepare=(large.enter_schema, small.enter_schema)
        )
        with tenant_context(big.organization):
            plan = explain(large.page_sql, index_only=quick)
        if plan.sequential_scans():
            scans[scenario.name] = plan.sequential_scans()
        if scenario.name != "task detail":
            flagged = [sql for sql in large.queries if " OFFSET " in sql or "COUNT(" in sql.upper()]
            if flagged:
                offset_or_count[scenario.name] = flagged
        counts[scenario.name] = len(large.queries)
        ratio = api_large.p50 / api_small.p50
        report.add(
            Row(
                section=SECTION,
                scenario=f"{scenario.name}: API request p50",
                value=api_large.p50,
                unit="ms",
                reference=api_small.p50,
                reference_name=label(little.tasks),
                target=f"<= {RATIO_TARGET}x",
                passed=ratio <= RATIO_TARGET,
                details={
                    "path": scenario.path(big),
                    "tasks": big.tasks,
                    "api_p99_ms": api_large.p99,
                    "reference_api_p99_ms": api_small.p99,
                    "results": [large.results, small.results],
                    "queries": len(large.queries),
                    "page_sql": large.page_sql,
                    "indexes": plan.indexes(),
                    "plan": plan.text,
                },
            )
        )
        report.add(
            Row(
                section=f"{SECTION} SQL",
                scenario=f"{scenario.name}: page query p50",
                value=sql_large.p50,
                unit="ms",
                reference=sql_small.p50,
                reference_name=label(little.tasks),
                details={"sql_p99_ms": sql_large.p99, "indexes": plan.indexes()},
            )
        )
    report.add(scan_row(scans, checked=len(SCENARIOS), quick=quick, tasks=big.tasks))
    report.add(
        Row(
            section=SECTION,
            scenario="list queries with OFFSET or COUNT(*)",
            value=len(offset_or_count),
            unit="requests",
            target="0",
            passed=not offset_or_count,
            deterministic=True,
            details={"offending": offset_or_count},
        )
    )
    for name, pin in QUERY_PINS.items():
        report.add(
            Row(
                section=SECTION,
                scenario=f"{name}: queries per request",
                value=counts[name],
                unit="queries",
                target=f"<= {pin}",
                passed=counts[name] <= pin,
                deterministic=True,
            )
        )


def search_spread(report: Report, big: Subject, little: Subject, *, runs: int) -> None:
    """The search at scale beyond the two pinned terms: SPREAD_TERMS terms from the large
    organization's titles (spread_terms), each sent to both organizations as `?search=`, and
    each request's page query timed on both (fresh queries, p50 of `runs`). Information,
    without a target: where one term's cost sits among the others (docs/PERFORMANCE.md
    "Search"). The small organization's pages hold fewer rows (its matches are not topped
    up here), so only the page query is compared, not the whole request. One deterministic
    row: no term's plan reads the task table by a sequential scan."""
    with tenant_context(big.organization):
        terms = spread_terms(SPREAD_TERMS)
    measured = []
    scans = {}
    for term in terms:
        path = f"/api/tasks/?{urlencode({'search': term})}"
        large, small = probe(big, path), probe(little, path)
        sql_large, sql_small = interleaved(
            large.run_sql, small.run_sql, runs, prepare=(large.enter_schema, small.enter_schema)
        )
        with tenant_context(big.organization):
            plan = explain(large.page_sql)
            if plan.sequential_scans():
                scans[term] = plan.sequential_scans()
            matches = (
                Task.objects.filter(title__icontains=term).values("id")[: big.tasks // 10].count()
            )
        measured.append(
            {
                "term": term,
                "words": len(term.split()),
                "matches": matches,
                "ms": round(sql_large.p50, 3),
                "reference_ms": round(sql_small.p50, 3),
                "indexes": plan.indexes(),
            }
        )
    measured.sort(key=lambda one: one["ms"])
    large_ms = [one["ms"] for one in measured]
    small_ms = sorted(one["reference_ms"] for one in measured)
    tenth = round(0.9 * (len(measured) - 1))
    prefix = f"search, {len(measured)} terms from its titles (1 to 3 words): page query"
    for name, value, reference, details in (
        ("median of the terms", statistics.median(large_ms), statistics.median(small_ms), {}),
        ("90th percentile of the terms", large_ms[tenth], small_ms[tenth], {}),
        (
            "slowest term",
            measured[-1]["ms"],
            measured[-1]["reference_ms"],
            {"term": measured[-1]["term"], "matches": measured[-1]["matches"]},
        ),
    ):
        report.add(
            Row(
                section=f"{SECTION} SQL",
                scenario=f"{prefix}, {name}",
                value=value,
                unit="ms",
                reference=reference,
                reference_name=label(little.tasks),
                details={**details, "terms": measured} if name == "slowest term" else details,
            )
        )
    report.add(
        scan_row(
            scans,
            checked=len(measured),
            quick=False,
            tasks=big.tasks,
            scenario=f"search, {len(measured)} terms from its titles: plans reading tasks_task "
            "by a sequential scan",
        )
    )


SCAN_SCENARIO = "plans reading tasks_task or tasks_task_assignees by a sequential scan"


def scan_row(
    scans: dict[str, list[str]],
    *,
    checked: int,
    quick: bool,
    tasks: int,
    scenario: str = SCAN_SCENARIO,
) -> Row:
    """The deterministic row: which of `checked` plans read a watched table whole."""
    mode = (
        "sequential scans disabled: a Seq Scan means no index can serve the query"
        if quick
        else f"the planner's own choice at {tasks:,} tasks"
    )
    return Row(
        section=SECTION,
        scenario=scenario,
        value=len(scans),
        unit="plans",
        target="0",
        passed=not scans,
        deterministic=True,
        details={"checked": checked, "mode": mode, "offending": scans},
    )


def keyset_against_offset(report: Report, big: Subject, *, runs: int, quick: bool) -> None:
    """The page query the paginator runs (keyset, at the cursor) against LIMIT/OFFSET at the
    same depth; both built afresh on every run (a QuerySet caches its rows once evaluated)."""
    scale = big.tasks / SCALE_TASKS
    depths = [int(depth * scale) for depth in (10_000, 100_000, 500_000, 900_000)]
    for ordering in ("-created_at", "-priority", "due_date"):
        key, descending = sort_expression(ordering)
        for depth in depths:
            after_key, after_id = row_at(depth - 1, ordering)

            def keyset(key=key, descending=descending, after_key=after_key, after_id=after_id):
                page = keyset_page(Task.objects.all(), key, descending, after_key, after_id)
                list(page.values_list("id", flat=True)[:PAGE])

            def offset(key=key, descending=descending, depth=depth):
                ordered = keyset_order(Task.objects.all(), key, descending)
                list(ordered.values_list("id", flat=True)[depth : depth + PAGE])

            keyset_ms = timed(keyset, runs).p50
            offset_ms = timed(offset, runs).p50
            report.add(
                Row(
                    section="keyset vs OFFSET",
                    scenario=f"ordering={ordering}, {depth:,} rows deep: keyset page SQL p50",
                    value=keyset_ms,
                    unit="ms",
                    reference=offset_ms,
                    reference_name="LIMIT/OFFSET",
                    details={"tasks": big.tasks},
                )
            )


def main() -> int:
    """This module alone: its table, nothing written (bench.run writes the results file)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    report = Report(quick=parser.parse_args().quick)
    run(report, quick=report.quick)
    print(report.table())
    for note in report.notes:
        print(f"note: {note}")
    return 1 if report.failures() else 0


if __name__ == "__main__":
    sys.exit(main())
