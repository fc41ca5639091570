"""bench/task_list.py: the deterministic checks of `make bench-quick` hold on this code, and
a plan that scans the task table fails even a quick run."""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import tenant_context
from knox.models import AuthToken

from bench import task_list
from bench.core import Report
from bench.plans import explain
from shared_apps.organizations.models import Role
from tenant_apps.tasks.models import Task
from tests.factories import make_member, make_project, make_task

pytestmark = pytest.mark.django_db


@pytest.fixture
def subject(acme, acme_manager, acme_member) -> task_list.Subject:
    """acme with a dozen tasks (half assigned to the member) as the scenarios see it."""
    project = make_project(acme, created_by=acme_manager)
    for index in range(12):
        make_task(
            acme,
            project=project,
            created_by=acme_manager,
            title=f"Task {424240 + index}",
            status=["NEW", "IN_PROGRESS", "DONE"][index % 3],
            due_date=None if index % 5 == 0 else datetime.date.fromisoformat(task_list.week()),
            assignee_ids=[acme_member.pk] if index % 2 else [],
        )
    _, token = AuthToken.objects.create(user=acme_member)
    return task_list.subject(acme, token, make_member(acme, Role.MEMBER))


def test_every_scenario_is_served_by_an_index_within_its_query_count(subject):
    scans, counts = {}, {}
    for scenario in task_list.SCENARIOS:
        path = scenario.path(subject)
        subject.client.get(path)  # one-time lookups are not what is pinned
        with CaptureQueriesContext(connection) as captured:
            response = subject.client.get(path)
        assert response.status_code == 200, (path, response.content)
        queries = [query["sql"] for query in captured.captured_queries]
        with tenant_context(subject.organization):
            plan = explain(task_list.page_query(queries), index_only=True)
        scans[scenario.name] = plan.sequential_scans()
        counts[scenario.name] = len(queries)

    assert {name: found for name, found in scans.items() if found} == {}
    for name, pin in task_list.QUERY_PINS.items():
        assert counts[name] <= pin, (name, counts[name])


def test_the_deep_cursor_is_signed_like_the_paginators_own(subject):
    deep = next(s for s in task_list.SCENARIOS if s.name == "cursor page half way (-created_at)")
    path = deep.path(subject)
    with tenant_context(subject.organization):
        expected = list(Task.objects.order_by("-created_at", "-id").values_list("id", flat=True))

    ids = [row["id"] for row in subject.client.get(path).json()["results"]]

    assert ids == expected[subject.depth :]


def test_search_terms_come_from_the_titles(subject):
    with tenant_context(subject.organization):
        few = Task.objects.filter(title__icontains=subject.terms["few"]).count()
        page = Task.objects.filter(title__icontains=subject.terms["page"]).count()
        project_id = Task.objects.values_list("project_id", flat=True).first()

    assert few == 1  # each number is in one title
    assert page == 12  # "Task" is in every title: the most common word
    assert subject.project_id == project_id


@pytest.fixture
def worded(subject, acme_manager) -> task_list.Subject:
    """`subject` with two titles long enough for terms of three words."""
    with tenant_context(subject.organization):
        project = Task.objects.select_related("project").first().project
    for title in ("Fix the login page", "Plan the sales review meeting"):
        make_task(subject.organization, project=project, created_by=acme_manager, title=title)
    return subject


def test_spread_terms_are_runs_of_one_to_three_words_the_api_accepts(worded):
    with tenant_context(worded.organization):
        terms = task_list.spread_terms(6)
        again = task_list.spread_terms(6)
        titles = list(Task.objects.values_list("title", flat=True))

    assert terms == again  # the same data, the same terms
    assert len(terms) == len(set(terms)) == 6
    assert [len(term.split()) for term in terms] == [1, 2, 3, 1, 2, 3]
    assert all(any(term in title for title in titles) for term in terms)
    for term in terms:
        assert worded.client.get("/api/tasks/", {"search": term}).status_code == 200


def test_the_search_spread_times_every_term_on_both_sides(worded, monkeypatch):
    monkeypatch.setattr(task_list, "SPREAD_TERMS", 4)
    report = Report(quick=False)

    task_list.search_spread(report, worded, worded, runs=1)

    rows = {row.scenario.split(": ", 1)[-1]: row for row in report.rows}
    slowest = rows["page query, slowest term"]
    assert len(slowest.details["terms"]) == 4
    assert all(one["ms"] > 0 and one["reference_ms"] > 0 for one in slowest.details["terms"])
    assert slowest.value == max(one["ms"] for one in slowest.details["terms"])
    assert rows["page query, median of the terms"].value <= slowest.value
    assert "plans reading tasks_task by a sequential scan" in rows
    assert rows["plans reading tasks_task by a sequential scan"].deterministic


def test_a_sequential_scan_fails_even_a_quick_run():
    report = Report(quick=True)
    failing = report.add(
        task_list.scan_row(
            {"search=x": ["Seq Scan on tasks_task"]}, checked=1, quick=True, tasks=1000
        )
    )

    assert failing.passed is False
    assert report.failures() == [failing]


def test_no_sequential_scan_passes():
    report = Report(quick=True)
    report.add(task_list.scan_row({}, checked=3, quick=True, tasks=1000))

    assert report.failures() == []


def test_the_small_side_gets_the_matches_it_lacks(subject, globex, acme_member):
    """A scenario the large side fills with more rows than the small one: the small one gets
    the missing matches through task_create, up to a page, and a second call adds none."""
    creator = make_member(globex, Role.MEMBER)
    make_task(globex, project=make_project(globex, created_by=creator), created_by=creator)
    globex.memberships.get_or_create(user=acme_member, defaults={"role": Role.MEMBER})
    _, token = AuthToken.objects.create(user=acme_member)
    little = task_list.subject(globex, token, make_member(globex, Role.MEMBER))
    little.terms = subject.terms
    paths = {scenario.name: scenario.path for scenario in task_list.SCENARIOS}
    name = "search=(a term few titles have)"
    assert task_list.results(little, paths[name](little)) == 0

    added = task_list.fill_matches(subject, little, acme_member)

    for scenario in task_list.MATCHES:
        wanted = min(task_list.PAGE, task_list.results(subject, paths[scenario](subject)))
        assert task_list.results(little, paths[scenario](little)) == wanted, scenario
    assert added[name] == 1
    assert task_list.fill_matches(subject, little, acme_member) == {}
