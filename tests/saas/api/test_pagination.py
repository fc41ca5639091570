"""saas/api/pagination.py: forged cursors are 400 `{"cursor": [...]}` on every keyset-paged list,
never a server error. Cursors are signed, so a forged one fails its signature before anything
else; and even a signed cursor with bad fields (as an older version of the code might have
signed) is checked by _is_valid_cursor before the key reaches keyset_page."""

import base64
import json
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core import signing
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import F

from saas.api.pagination import CURSOR_SALT, INVALID_CURSOR, _is_valid_cursor, keyset_page
from shared_apps.organizations.models import Membership, Role
from tenant_apps.tasks.models import Task
from tests.factories import client_for, make_member, make_project, make_task

pytestmark = pytest.mark.django_db

TASKS_URL = "/api/tasks/"
PROJECTS_URL = "/api/projects/"
MEMBERS_URL = "/api/members/"
ENDPOINTS = [TASKS_URL, PROJECTS_URL, MEMBERS_URL]
DEFAULT_ORDERING = {
    TASKS_URL: "-created_at",
    PROJECTS_URL: "-created_at",
    MEMBERS_URL: "created_at",
}
A_TIME = "2025-03-01T09:00:00+00:00"


def _unsigned_cursor(*, k: str, i: str = "1", b: str = "false", o: str) -> str:
    """What cursors used to be: base64 of JSON, which anyone could write."""
    text = f'{{"k": {k}, "i": {i}, "b": {b}, "o": {o}}}'
    return base64.urlsafe_b64encode(text.encode()).decode()


def _raw_cursor(*, k: str, i: str = "1", b: str = "false", o: str) -> str:
    """A cursor signed as the server signs them, from raw JSON tokens, so that values
    json.dumps cannot write (1e999) can be signed too."""
    text = f'{{"k": {k}, "i": {i}, "b": {b}, "o": {o}}}'
    payload = signing.b64_encode(text.encode()).decode()
    return signing.TimestampSigner(salt=CURSOR_SALT).sign(payload)


@pytest.fixture
def client(acme, acme_manager):
    """acme_manager's client on acme's host, with a few projects and tasks to page through."""
    for _ in range(2):
        project = make_project(acme, created_by=acme_manager)
        make_task(acme, project=project, created_by=acme_manager)
    make_member(acme, Role.MEMBER)
    return client_for(acme_manager, acme)


def _assert_invalid_cursor(response) -> None:
    assert response.status_code == 400, (response.status_code, response.content)
    assert response.json() == {"cursor": [INVALID_CURSOR]}


# --- the genuine cursor works on every endpoint (the forged ones below differ in one field) ---


@pytest.mark.parametrize("url", ENDPOINTS)
def test_a_next_link_cursor_decodes_to_k_i_b_o_and_is_accepted(client, url):
    first = client.get(url, {"page_size": 1})
    assert first.status_code == 200, first.content
    cursor = parse_qs(urlsplit(first.json()["next"]).query)["cursor"][0]
    payload = signing.loads(cursor, salt=CURSOR_SALT)
    assert set(payload) == {"k", "i", "b", "o"}
    assert payload["o"] == DEFAULT_ORDERING[url]

    second = client.get(url, {"page_size": 1, "cursor": cursor})

    assert second.status_code == 200, second.content
    assert second.json()["results"][0]["id"] != first.json()["results"][0]["id"]


@pytest.mark.parametrize("url", ENDPOINTS)
def test_a_well_formed_signed_cursor_is_accepted(client, url):
    # Control for the cases below: same shape, only valid values.
    cursor = _raw_cursor(k=json.dumps(A_TIME), i="1", o=json.dumps(DEFAULT_ORDERING[url]))

    response = client.get(url, {"cursor": cursor})

    assert response.status_code == 200, response.content


@pytest.mark.parametrize("url", ENDPOINTS)
def test_a_well_formed_unsigned_cursor_answers_400(client, url):
    cursor = _unsigned_cursor(k=json.dumps(A_TIME), i="1", o=json.dumps(DEFAULT_ORDERING[url]))

    _assert_invalid_cursor(client.get(url, {"cursor": cursor}))


@pytest.mark.parametrize("url", ENDPOINTS)
def test_an_altered_next_link_cursor_answers_400(client, url):
    cursor = parse_qs(urlsplit(client.get(url, {"page_size": 1}).json()["next"]).query)["cursor"]
    payload, rest = cursor[0].split(":", 1)
    altered = signing.b64_encode(
        json.dumps({**json.loads(signing.b64_decode(payload.encode())), "i": 1}).encode()
    ).decode()

    _assert_invalid_cursor(client.get(url, {"cursor": f"{altered}:{rest}"}))


@pytest.mark.parametrize("url", ENDPOINTS)
def test_a_cursor_signed_for_another_purpose_answers_400(client, url):
    payload = {"k": A_TIME, "i": 1, "b": False, "o": DEFAULT_ORDERING[url]}

    _assert_invalid_cursor(client.get(url, {"cursor": signing.dumps(payload)}))


@pytest.mark.parametrize(("url", "ordering"), [(PROJECTS_URL, "name"), (TASKS_URL, "-created_at")])
def test_a_forged_cursor_with_a_lone_surrogate_answers_400_not_500(client, url, ordering):
    # The key PostgreSQL cannot encode: unsigned it fails the signature; signed, the shape check.
    for forge in (_unsigned_cursor, _raw_cursor):
        cursor = forge(k='"\\ud800"', o=json.dumps(ordering))

        _assert_invalid_cursor(client.get(url, {"cursor": cursor, "ordering": ordering}))


# --- forged fields ----------------------------------------------------------------------------

FORGED_FIELDS = {
    "id-float-overflow": {"i": "1e999"},
    "id-fraction": {"i": "1.5"},
    "id-whole-float": {"i": "1.0"},
    "id-true": {"i": "true"},
    "id-negative": {"i": "-1"},
    "id-zero": {"i": "0"},
    "id-over-bigint": {"i": str(2**63)},
    "id-string": {"i": '"1"'},
    "id-null": {"i": "null"},
    "key-nul-byte": {"k": json.dumps("a\u0000b")},
    "key-null": {"k": "null"},
    "key-list": {"k": "[1]"},
    "key-object": {"k": '{"a": 1}'},
    "key-float-overflow": {"k": "1e999"},
    "key-too-long": {"k": json.dumps("x" * 1001)},
    "back-yes": {"b": '"yes"'},
    "back-one": {"b": "1"},
    "back-null": {"b": "null"},
    "ordering-number": {"o": "5"},
    "ordering-null": {"o": "null"},
    "ordering-list": {"o": '["-created_at"]'},
}


@pytest.mark.parametrize("url", ENDPOINTS)
@pytest.mark.parametrize("forged", FORGED_FIELDS.values(), ids=FORGED_FIELDS.keys())
def test_a_forged_cursor_field_answers_400_naming_cursor(client, url, forged):
    tokens = {
        "k": json.dumps(A_TIME),
        "i": "1",
        "b": "false",
        "o": json.dumps(DEFAULT_ORDERING[url]),
    }
    tokens.update(forged)

    response = client.get(url, {"cursor": _raw_cursor(**tokens)})

    _assert_invalid_cursor(response)


@pytest.mark.parametrize("ordering", ["-priority", "priority"])
@pytest.mark.parametrize("key", ["1e999", "-1e999"])
def test_an_overflowing_priority_key_answers_400(client, ordering, key):
    response = client.get(
        TASKS_URL, {"cursor": _raw_cursor(k=key, o=json.dumps(ordering)), "ordering": ordering}
    )

    _assert_invalid_cursor(response)


@pytest.mark.parametrize("with_ordering_parameter", [True, False])
def test_a_project_name_key_with_a_nul_byte_answers_400(client, with_ordering_parameter):
    # PostgreSQL text cannot hold NUL: it must never reach the query.
    params = {"cursor": _raw_cursor(k=json.dumps("a\u0000b"), o='"name"')}
    if with_ordering_parameter:
        params["ordering"] = "name"

    response = client.get(PROJECTS_URL, params)

    _assert_invalid_cursor(response)


def test_a_project_name_key_without_a_nul_byte_is_accepted(client):
    response = client.get(
        PROJECTS_URL,
        {"cursor": _raw_cursor(k=json.dumps("a b"), o='"name"'), "ordering": "name"},
    )

    assert response.status_code == 200, response.content


@pytest.mark.parametrize(
    ("url", "ordering", "key"),
    [
        (TASKS_URL, "-priority", "null"),
        (TASKS_URL, "due_date", "[1]"),
        (PROJECTS_URL, "name", "null"),
        (PROJECTS_URL, "name", "[1]"),
        (MEMBERS_URL, "-created_at", "null"),
        (MEMBERS_URL, "created_at", "[1]"),
    ],
)
def test_a_null_or_list_key_answers_400_in_any_ordering(client, url, ordering, key):
    response = client.get(
        url, {"cursor": _raw_cursor(k=key, o=json.dumps(ordering)), "ordering": ordering}
    )

    _assert_invalid_cursor(response)


@pytest.mark.parametrize("url", ENDPOINTS)
@pytest.mark.parametrize(
    "text",
    ["", "not base64 !", base64.urlsafe_b64encode(b"\xff\xfe").decode(), "e30="],  # "e30=" is {}
    ids=["empty-parameter-ignored", "not-base64", "not-utf8", "empty-object"],
)
def test_an_undecodable_cursor_answers_400(client, url, text):
    response = client.get(url, {"cursor": text})

    if text == "":
        assert response.status_code == 200, response.content  # no cursor: the first page
    else:
        _assert_invalid_cursor(response)


# --- the helpers themselves -----------------------------------------------------------------


def _cursor(**overrides) -> dict:
    return {"key": A_TIME, "id": 1, "back": False, "ordering": "-created_at", **overrides}


@pytest.mark.parametrize(
    "overrides",
    [{}, {"key": 3}, {"key": -3}, {"key": 2.5}, {"key": ""}, {"id": 2**63 - 1}, {"back": True}],
)
def test_is_valid_cursor_accepts_what_encode_can_produce(overrides):
    assert _is_valid_cursor(_cursor(**overrides))


@pytest.mark.parametrize(
    "overrides",
    [
        {"id": float("inf")},
        {"id": 1.5},
        {"id": 1.0},
        {"id": True},
        {"id": -1},
        {"id": 0},
        {"id": 2**63},
        {"key": float("inf")},
        {"key": float("-inf")},
        {"key": float("nan")},
        {"key": 2**63},
        {"key": True},
        {"key": "a\x00b"},
        {"key": None},
        {"key": [1]},
        {"back": "yes"},
        {"back": 0},
        {"ordering": 5},
        {"ordering": None},
    ],
    ids=repr,
)
def test_is_valid_cursor_rejects_anything_else(overrides):
    assert not _is_valid_cursor(_cursor(**overrides))


def test_keyset_page_refuses_a_null_key_before_any_query(acme):
    with pytest.raises(ValueError):
        keyset_page(Task.objects.all(), F("created_at"), False, None, 1)


def test_keyset_page_parses_the_key_by_its_field(acme):
    far_future = "2999-01-01T00:00:00+00:00"
    everyone = sorted(Membership.objects.values_list("id", flat=True), reverse=True)

    # Descending from a (far-future, id 1) cursor: every row; ascending: none.
    downwards = keyset_page(Membership.objects.all(), F("created_at"), True, far_future, 1)
    upwards = keyset_page(Membership.objects.all(), F("created_at"), False, far_future, 1)

    assert sorted(downwards.values_list("id", flat=True), reverse=True) == everyone
    assert list(upwards) == []


def test_keyset_page_raises_a_validation_error_for_a_key_its_field_cannot_parse(acme):
    with pytest.raises(DjangoValidationError):
        keyset_page(Membership.objects.all(), F("created_at"), False, "not-a-time", 1)
