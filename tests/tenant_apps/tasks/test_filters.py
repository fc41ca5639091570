"""tenant_apps/tasks/filters.py: `?search=` served by the trigram index (and the terms it
refuses), and due-date bounds restated on the due-date ordering's sort key."""

import datetime
import itertools

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import tenant_context

from bench.plans import explain
from tenant_apps.tasks.filters import (
    SEARCH_MAX_LENGTH,
    SEARCH_NO_WORD,
    SEARCH_TOO_SHORT,
    has_trigram,
    phrase_junction,
)
from tenant_apps.tasks.models import TITLE_SEARCH_SPACE, Task
from tests.factories import client_for, make_project, make_task

pytestmark = pytest.mark.django_db

TASKS_URL = "/api/tasks/"
TODAY = datetime.date(2026, 3, 10)


@pytest.fixture
def project(acme, acme_manager):
    """A project of acme."""
    return make_project(acme, created_by=acme_manager)


@pytest.fixture
def member_client(acme, acme_member):
    """acme_member's API client on acme's host."""
    return client_for(acme_member, acme)


def _ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["results"]]


def _page_sql(client, params: dict) -> str:
    """The SQL of the request's page query, as sent."""
    with CaptureQueriesContext(connection) as captured:
        response = client.get(TASKS_URL, params)
    assert response.status_code == 200, response.content
    return next(
        query["sql"]
        for query in captured.captured_queries
        if query["sql"].startswith("SELECT") and 'FROM "tasks_task"' in query["sql"]
    )


# --- search -------------------------------------------------------------------------------


@pytest.mark.parametrize("term", ["a", "ab", "  ab  ", "é!", "-a"])
def test_a_search_term_under_three_characters_answers_400_saying_so(member_client, term):
    response = member_client.get(TASKS_URL, {"search": term})

    assert response.status_code == 400
    assert response.json() == {"search": [SEARCH_TOO_SHORT]}


@pytest.mark.parametrize("term", ["a!!", "!!!", "%%%", "a.-", "x?!"])
def test_a_search_term_without_a_trigram_answers_400_saying_why(member_client, term):
    response = member_client.get(TASKS_URL, {"search": term})

    assert response.status_code == 400
    assert response.json() == {"search": [SEARCH_NO_WORD]}


def test_a_search_term_over_the_maximum_length_answers_400(member_client):
    response = member_client.get(TASKS_URL, {"search": "x" * (SEARCH_MAX_LENGTH + 1)})

    assert response.status_code == 400
    assert list(response.json()) == ["search"]


def test_an_empty_search_does_not_filter(acme, acme_manager, project, member_client):
    task = make_task(acme, project=project, created_by=acme_manager, title="Anything")

    assert _ids(member_client.get(TASKS_URL, {"search": ""})) == [task.pk]
    assert _ids(member_client.get(TASKS_URL, {"search": "   "})) == [task.pk]


@pytest.mark.parametrize(
    ("term", "expected"),
    [
        ("ui", False),
        ("fix ui", True),  # "ui" after a space: the trigram "  u"
        ("a b", True),
        ("50%", True),  # "50" before a non-word character: "50 "
        ("e_n", True),
        ("a!!", False),
        ("!!a", True),
        ("ié", False),
        ("déjà", True),
        ("日本", False),
        ("日本語", True),
        ("--", False),
    ],
)
def test_has_trigram_agrees_with_pg_trgm(acme, term, expected):
    """pg_trgm's own answer: a GIN index over a row that holds no trigram returns that row
    only when the pattern has none either (a full index scan, then the recheck drops it)."""
    assert has_trigram(term) is expected
    escaped = connection.ops.prep_for_like_query(term)
    with tenant_context(acme), connection.cursor() as cursor:
        cursor.execute("CREATE TEMPORARY TABLE trigram_probe (title varchar(255)) ON COMMIT DROP")
        cursor.execute("INSERT INTO trigram_probe VALUES ('-')")
        cursor.execute("CREATE INDEX ON trigram_probe USING gin ((UPPER(title)) gin_trgm_ops)")
        plan = explain(
            "SELECT 1 FROM trigram_probe WHERE UPPER(title::text) LIKE UPPER(%s)",
            [f"%{escaped}%"],
            index_only=True,
        )
    removed = sum(node.get("Rows Removed by Index Recheck", 0) for node in plan.nodes())
    assert "trigram_probe_upper_idx" in plan.indexes()
    assert (removed == 0) is expected


def test_every_accepted_term_keeps_a_trigram_on_the_search_key():
    """The index is queried with the term's spaces turned into "0": joining words only
    lengthens them, so a term that passes validation never makes the index return every
    row (every term of up to 6 characters over letters, digits, spaces and punctuation)."""
    for length in range(1, 7):
        for chars in itertools.product("a !0", repeat=length):
            term = "".join(chars).strip()
            if term and has_trigram(term):
                assert has_trigram(term.replace(" ", TITLE_SEARCH_SPACE)), term


def test_search_finds_terms_with_short_words_and_punctuation(
    acme, acme_manager, project, member_client
):
    fix = make_task(acme, project=project, created_by=acme_manager, title="Fix UI glitch")
    make_task(acme, project=project, created_by=acme_manager, title="Fix API")

    assert _ids(member_client.get(TASKS_URL, {"search": "fix ui"})) == [fix.pk]


def test_search_is_answered_from_the_trigram_index(acme, acme_manager, project, member_client):
    make_task(acme, project=project, created_by=acme_manager, title="Quarterly report")
    sql = _page_sql(member_client, {"search": "report"})

    with tenant_context(acme), transaction.atomic(), connection.cursor() as cursor:
        # On a table this small any index can stand in for the disabled sequential scan (a
        # full scan of it, no condition); a bitmap scan needs a condition the index serves.
        cursor.execute("SET LOCAL enable_indexscan = off")
        cursor.execute("SET LOCAL enable_indexonlyscan = off")
        plan = explain(sql, index_only=True)
        transaction.set_rollback(True)

    assert "tasks_title_key_trgm" in plan.indexes()
    assert not plan.sequential_scans()


def _first_index_scan(client, term: str) -> dict:
    """The plan node of the index the page query of `?search=<term>` starts from."""
    sql = _page_sql(client, {"search": term})
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_indexscan = off")
        cursor.execute("SET LOCAL enable_indexonlyscan = off")
        plan = explain(sql, index_only=True)
    return next(node for node in plan.nodes() if node.get("Index Name"))


@pytest.mark.parametrize(
    ("term", "element"),
    [
        ("login sales", "55:LOGIN SALES"),
        ("fix login sales", "55:LOGIN SALES"),  # the junction with the most characters
        ("Fix Login", "35:FIX LOGIN"),  # "fix" may end a longer word: 3 characters known
        ("the design team", "35:THE DESIG"),  # a tie: the first
        ("sign up now", "35:IGN UP"),  # "up" is whole inside the phrase: 5 characters
    ],
)
def test_a_phrase_is_looked_up_by_the_junction_of_its_words(
    acme, acme_manager, project, member_client, term, element
):
    """A phrase's junction (where two of its words meet) is about as rare as the phrase,
    where each of its words' trigrams may be in a tenth of the titles."""
    make_task(acme, project=project, created_by=acme_manager, title="Fix login sales")

    with tenant_context(acme), transaction.atomic():
        index_scan = _first_index_scan(member_client, term)
        transaction.set_rollback(True)

    assert index_scan["Index Name"] == "tasks_title_junctions"
    assert element in index_scan["Index Cond"]


@pytest.mark.parametrize("term", ["fix ui", "up legacy", "report", "a  b"])
def test_a_term_without_a_usable_junction_is_looked_up_by_its_trigrams(
    acme, acme_manager, project, member_client, term
):
    """A single word, or a phrase whose only junctions touch a first or last word under 3
    characters (which may be the end or the start of any longer word)."""
    make_task(acme, project=project, created_by=acme_manager, title="Fix login sales")

    with tenant_context(acme), transaction.atomic():
        index_scan = _first_index_scan(member_client, term)
        transaction.set_rollback(True)

    assert index_scan["Index Name"] == "tasks_title_key_trgm"
    assert f"'%{term.upper().replace(' ', '0')}%'" in index_scan["Index Cond"]


@pytest.mark.parametrize(
    ("term", "junction"),
    [
        ("login sales", (0, 5, 5)),
        ("fix login sales", (1, 5, 5)),
        ("Fix Login", (0, 3, 5)),
        ("fix log", (0, 3, 3)),
        ("the design team", (0, 3, 5)),
        ("page for Q3", (0, 3, 5)),
        ("sign up now", (0, 3, 5)),
        ("fix ui", None),
        ("up legacy", None),
        ("a  b", None),
        ("report", None),
    ],
)
def test_phrase_junction_counts_only_the_characters_the_term_fixes(term, junction):
    assert phrase_junction(term) == junction


TITLES = [
    "Fix login sales",
    "Fix login sales report",
    "prefix loginsales",
    "Prefix login salesforce sync",
    "Fix  login sales",  # a double space
    " Fix login sales",  # a leading space
    "Fix login, sales",
    "Fix login for sales",
    "fix0login sales",
    "Straße prüfen und Ölwechsel planen",
    "Review 50% of the up-front costs",
    "Set up a new_user flow",
    "Sign up now",
    "the design team review",
    "update the design team page for Q3",
]


def _terms(titles: list[str]) -> set[str]:
    """Every run of whole words of each title, and each with its first word's start and its
    last word's end cut off (a term may begin or end inside a word), that the API accepts."""
    terms = set()
    for title in titles:
        words = title.split(" ")
        for first in range(len(words)):
            for last in range(first + 1, len(words) + 1):
                run = words[first:last]
                for cut_start in (0, 1, 2):
                    for cut_end in (0, 1, 2):
                        parts = list(run)
                        parts[0] = parts[0][cut_start:]
                        parts[-1] = parts[-1][: len(parts[-1]) - cut_end]
                        term = " ".join(parts).strip()
                        if len(term) >= 3 and has_trigram(term):
                            terms.add(term)
    return terms | {"sales login", "fix login sales report now", "LOGIN  SALES"}


def test_search_finds_exactly_the_titles_that_contain_the_term(
    acme, acme_manager, project, member_client
):
    """Either index, the same rows as a plain case-insensitive LIKE over every title."""
    for title in TITLES:
        make_task(acme, project=project, created_by=acme_manager, title=title)
    terms = _terms(TITLES)
    with tenant_context(acme):
        expected = {
            term: sorted(Task.objects.filter(title__icontains=term).values_list("id", flat=True))
            for term in terms
        }

    found = {term: sorted(_ids(member_client.get(TASKS_URL, {"search": term}))) for term in terms}

    assert len(terms) > 400
    assert sum(1 for term in terms if phrase_junction(term)) > 200
    assert found == expected


def test_a_phrase_matches_only_titles_holding_it_word_for_word(
    acme, acme_manager, project, member_client
):
    phrase = make_task(acme, project=project, created_by=acme_manager, title="Fix login sales")
    make_task(acme, project=project, created_by=acme_manager, title="Fix sales login")
    make_task(acme, project=project, created_by=acme_manager, title="Fix login for sales")
    make_task(acme, project=project, created_by=acme_manager, title="Fix loginsales")

    assert _ids(member_client.get(TASKS_URL, {"search": "login sales"})) == [phrase.pk]


def test_a_zero_in_a_title_does_not_stand_for_a_space_in_the_term(
    acme, acme_manager, project, member_client
):
    """The key turns spaces into "0": "fix0ui" and "fix ui" share it, the titles do not."""
    spaced = make_task(acme, project=project, created_by=acme_manager, title="Fix UI now")
    zeroed = make_task(acme, project=project, created_by=acme_manager, title="fix0ui build")

    assert _ids(member_client.get(TASKS_URL, {"search": "fix ui"})) == [spaced.pk]
    assert _ids(member_client.get(TASKS_URL, {"search": "fix0ui"})) == [zeroed.pk]


def test_an_export_refuses_a_search_term_the_index_cannot_serve(acme, acme_admin):
    client = client_for(acme_admin, acme)

    response = client.post("/api/exports/", {"search": "ab"}, format="json")

    assert response.status_code == 400
    assert response.json() == {"search": [SEARCH_TOO_SHORT]}


# --- due-date bounds on the sort key -------------------------------------------------------


@pytest.fixture
def dated(acme, acme_manager, project) -> dict[str, Task]:
    """Tasks due before, on and after TODAY, one without a due date and one done and late."""
    specs = {
        "early": {"due_date": TODAY - datetime.timedelta(days=5)},
        "yesterday": {"due_date": TODAY - datetime.timedelta(days=1)},
        "today": {"due_date": TODAY},
        "later": {"due_date": TODAY + datetime.timedelta(days=3)},
        "undated": {},
        "done_late": {"due_date": TODAY - datetime.timedelta(days=2), "status": "DONE"},
    }
    return {
        name: make_task(acme, project=project, created_by=acme_manager, title=name, **fields)
        for name, fields in specs.items()
    }


def _names(dated, ids) -> list[str]:
    by_id = {task.pk: name for name, task in dated.items()}
    return [by_id[pk] for pk in ids]


def test_due_after_ordered_by_due_date_lists_exactly_the_tasks_due_from_that_day(
    dated, member_client
):
    ids = _ids(member_client.get(TASKS_URL, {"due_after": TODAY, "ordering": "due_date"}))

    assert _names(dated, ids) == ["today", "later"]


def test_due_before_ordered_by_due_date_descending_skips_undated_tasks(dated, member_client):
    ids = _ids(member_client.get(TASKS_URL, {"due_before": TODAY, "ordering": "-due_date"}))

    assert _names(dated, ids) == ["today", "yesterday", "done_late", "early"]


def test_overdue_ordered_by_due_date_descending_lists_open_late_tasks(
    dated, member_client, monkeypatch
):
    monkeypatch.setattr("django.utils.timezone.localdate", lambda *args: TODAY)

    ids = _ids(member_client.get(TASKS_URL, {"overdue": "true", "ordering": "-due_date"}))

    assert _names(dated, ids) == ["yesterday", "early"]


@pytest.mark.parametrize(
    ("params", "bound"),
    [
        ({"due_after": "2026-03-10", "ordering": "due_date"}, "'9999-12-31'::date) >= "),
        ({"due_before": "2026-03-10", "ordering": "-due_date"}, "'0001-01-01'::date) <= "),
        ({"due_after": "2026-03-10", "ordering": "-due_date"}, "'0001-01-01'::date) >= "),
        ({"overdue": "true", "ordering": "-due_date"}, "'0001-01-01'::date) < "),
    ],
)
def test_due_bounds_are_restated_on_the_sort_key_of_a_due_date_ordering(
    member_client, params, bound
):
    sql = _page_sql(member_client, params)
    where = sql.split(" WHERE ", 1)[1].split(" ORDER BY ", 1)[0]

    assert f'COALESCE("tasks_task"."due_date", {bound}' in where


def test_due_bounds_are_not_restated_for_other_orderings(member_client):
    sql = _page_sql(member_client, {"due_after": "2026-03-10", "ordering": "-priority"})
    where = sql.split(" WHERE ", 1)[1].split(" ORDER BY ", 1)[0]

    assert "COALESCE" not in where


@pytest.mark.parametrize(
    "params",
    [
        {"due_before": "2026-03-10"},
        {"due_after": "2026-03-01", "due_before": "2026-03-10"},
        {"overdue": "true"},
    ],
)
def test_due_bounds_on_the_newest_first_listing_are_checked_in_its_index(
    acme, dated, member_client, params
):
    """The listing's index carries the due date: walking it newest first, a task due outside
    the bounds is passed over in the index, without reading its row (at a million seeded
    tasks, ~86,000 rows to pass before a window 60 days back)."""
    sql = _page_sql(member_client, params)

    with tenant_context(acme), transaction.atomic(), connection.cursor() as cursor:
        # The order of the page from an index, not from a sort, as at a million tasks.
        cursor.execute("SET LOCAL enable_sort = off")
        cursor.execute("SET LOCAL enable_bitmapscan = off")
        plan = explain(sql, index_only=True)
        transaction.set_rollback(True)

    scan = next(node for node in plan.nodes() if node.get("Relation Name") == "tasks_task")
    assert scan["Index Name"] == "tasks_created_id_due"
    assert '"due_date"' in scan["Index Cond"] or "due_date" in scan["Index Cond"]
